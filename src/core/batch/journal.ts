/**
 * A batch's journal: an append-only JSON Lines file, one record per state change of a document, each
 * written and flushed to disk (`fdatasync`) before the change is acted on. Records that arrive while a
 * flush is under way share the next one (group commit), so many documents in flight cost one flush per
 * round rather than one each.
 *
 * Why a JSONL file and not `node:sqlite`: `node:sqlite` is still experimental on Node 22 and 24 (it prints
 * an `ExperimentalWarning` on every user's stderr the moment it loads), while an append-only file needs
 * nothing but `node:fs`, is crash-safe by construction (a record is a line; a line cut by a crash is the
 * last one, and is dropped), and can be read with `tail -f` while the batch runs.
 */
import { closeSync, createReadStream, fsyncSync, openSync } from "node:fs";
import { mkdir, open, readFile, rm, stat, writeFile, type FileHandle } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { InvalidArgumentError } from "../errors.js";

/** Names the batch a journal belongs to, so that resuming with another batch's journal is refused. */
export interface JournalIdentity {
  /** What the batch does (`anyformat.extract`). */
  readonly kind: string;
  /** What it does it to (the workflow id). */
  readonly target: string;
}

/** One state change of one document, as written. `key` names the document; `at` is ms since the epoch. */
export type JournalRecord =
  /** About to send the submission; `label` is the name the server will know the document by. */
  | { readonly event: "intent"; readonly key: string; readonly label: string; readonly at: number }
  /** The server accepted it; `ref` is its handle there (a collection id). */
  | { readonly event: "submitted"; readonly key: string; readonly ref: string }
  /** About to take the document's second step, one that writes (tasks whose `collect` changes the server). */
  | { readonly event: "collecting"; readonly key: string }
  /** Finished well; about to be reported. */
  | { readonly event: "done"; readonly key: string }
  /** Finished badly with `code`; about to be reported. */
  | { readonly event: "failed"; readonly key: string; readonly code: string }
  /** The caller has taken the outcome: the document is settled for good. */
  | { readonly event: "delivered"; readonly key: string };

/** Where a document stood when the journal was opened, folded from its records. */
export interface JournalEntry {
  /** The last state change: `intent` means a submission may or may not have reached the server. */
  readonly state: "intent" | "submitted" | "done" | "failed";
  readonly label: string | undefined;
  /** When the last intent was recorded. */
  readonly at: number | undefined;
  /** The server's handle, once known. */
  readonly ref: string | undefined;
  /** Whether the second step was begun for this submission: what it writes may be there already, made by this batch. */
  readonly collecting: boolean;
  /** The error code of a failure. */
  readonly code: string | undefined;
  /** Whether its outcome reached the caller. */
  readonly delivered: boolean;
}

/** A journal open for a batch: what it held, and a way to add to it. */
export interface BatchJournal {
  /** Documents as the journal left them, by key. */
  readonly entries: ReadonlyMap<string, JournalEntry>;
  /** When the journal was last written before it was opened (ms since the epoch); 0 for a new one. */
  readonly lastWrittenAt: number;
  /** Appends a record; resolves once it is on disk. */
  record(record: JournalRecord): Promise<void>;
  /** Flushes what is pending and releases the journal. */
  close(): Promise<void>;
}

const FORMAT = "faultline.batch-journal";
const VERSION = 1;
const EVENTS = new Set(["intent", "submitted", "collecting", "done", "failed", "delivered"]);

/** A journal kept in memory only: a batch without a `journal` path still never submits a document twice. */
export function memoryJournal(): BatchJournal {
  return { entries: new Map(), lastWrittenAt: 0, record: () => Promise.resolve(), close: () => Promise.resolve() };
}

/**
 * Opens the journal at `path`, creating it (and its folder) when absent. A journal of another batch, one
 * written by a newer faultline, a corrupt one, or one in use by a live process is an `InvalidArgumentError`.
 */
export async function openJournal(path: string, identity: JournalIdentity): Promise<BatchJournal> {
  if (typeof path !== "string" || path.trim() === "") throw new InvalidArgumentError("`journal` must be a file path");
  const lock = await acquireLock(path);
  try {
    const loaded = await load(path, identity);
    const handle = await open(path, "a");
    if (loaded.created) syncDirectory(dirname(path));
    return new FileJournal(path, handle, loaded.entries, loaded.lastWrittenAt, lock);
  } catch (error) {
    await rm(lock, { force: true });
    throw error;
  }
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

class FileJournal implements BatchJournal {
  readonly #path: string;
  readonly #handle: FileHandle;
  readonly #lock: string;
  #pending: string[] = [];
  #waiters: Waiter[] = [];
  #flushing: Promise<void> | undefined;
  #broken: InvalidArgumentError | undefined;
  #closed = false;

  constructor(
    path: string,
    handle: FileHandle,
    readonly entries: ReadonlyMap<string, JournalEntry>,
    readonly lastWrittenAt: number,
    lock: string,
  ) {
    this.#path = path;
    this.#handle = handle;
    this.#lock = lock;
  }

  record(record: JournalRecord): Promise<void> {
    if (this.#broken !== undefined) return Promise.reject(this.#broken);
    if (this.#closed) return Promise.reject(new InvalidArgumentError(`The journal ${this.#path} is closed`));
    return new Promise((resolve, reject) => {
      this.#pending.push(`${JSON.stringify(record)}\n`);
      this.#waiters.push({ resolve, reject });
      this.#flushing ??= this.#flush();
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#flushing;
    await this.#handle.close().catch(() => undefined);
    await rm(this.#lock, { force: true });
  }

  /** Writes everything pending in one write and one flush, until nothing is pending. */
  async #flush(): Promise<void> {
    while (this.#pending.length > 0) {
      const lines = this.#pending.join("");
      const waiters = this.#waiters;
      this.#pending = [];
      this.#waiters = [];
      try {
        await this.#handle.appendFile(lines, "utf8");
        await this.#handle.datasync();
        for (const waiter of waiters) waiter.resolve();
      } catch (error) {
        // A record that could not be made durable must not be acted on: every later one fails too.
        this.#broken = new InvalidArgumentError(`Cannot write the journal ${this.#path}: ${(error as Error).message}`, {
          cause: error,
          hint: "Check the disk (space, permissions), then resume from the same journal.",
        });
        for (const waiter of [...waiters, ...this.#waiters]) waiter.reject(this.#broken);
        this.#pending = [];
        this.#waiters = [];
      }
    }
    this.#flushing = undefined;
  }
}

interface Loaded {
  readonly entries: Map<string, JournalEntry>;
  readonly created: boolean;
  readonly lastWrittenAt: number;
}

/**
 * Reads a journal line by line (never whole into memory) and folds its records. A crash can only cut the
 * last write: trailing bytes that are not a whole record are cut off before anything is appended. A bad
 * record followed by good ones is corruption.
 */
async function load(path: string, identity: JournalIdentity): Promise<Loaded> {
  let lastWrittenAt: number;
  try {
    lastWrittenAt = (await stat(path)).mtimeMs;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw unusable(path, error);
    await writeFile(path, header(identity), { flag: "wx" }).catch((e: unknown) => {
      throw unusable(path, e);
    });
    return { entries: new Map(), created: true, lastWrittenAt: 0 };
  }

  const entries = new Map<string, JournalEntry>();
  let size = 0;
  let kept = 0;
  let line = 0;
  let badLine: number | undefined;
  let headerSeen = false;
  const take = (bytes: Buffer, end: number): void => {
    line += 1;
    const value = parseLine(bytes.toString("utf8"));
    if (value === undefined) {
      badLine ??= line;
      return;
    }
    if (badLine !== undefined) {
      throw new InvalidArgumentError(`The journal ${path} is corrupt at line ${badLine}`, {
        hint: "It was not written by faultline, or was edited; start a new journal (and check what the server already has).",
      });
    }
    if (!headerSeen) {
      checkHeader(path, value, identity);
      headerSeen = true;
    } else {
      fold(entries, value as JournalRecord, path, line);
    }
    kept = end;
  };
  try {
    let carry = Buffer.alloc(0);
    for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
      let data = carry.length === 0 ? chunk : Buffer.concat([carry, chunk]);
      let offset = size - carry.length;
      size += chunk.length;
      // UTF-8 never puts a newline byte inside a character: splitting bytes on it is safe.
      for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10)) {
        take(data.subarray(0, nl), offset + nl + 1);
        offset += nl + 1;
        data = data.subarray(nl + 1);
      }
      carry = Buffer.from(data);
    }
    // What follows the last newline is a write the crash cut short.
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw error;
    throw unusable(path, error);
  }

  if (!headerSeen) {
    // Nothing whole, not even the header: a crash while the journal was being created.
    await writeFile(path, header(identity));
    return { entries, created: false, lastWrittenAt };
  }
  if (kept !== size) await truncate(path, kept);
  return { entries, created: false, lastWrittenAt };
}

function parseLine(line: string): unknown {
  if (line.trim() === "") return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return value !== null && typeof value === "object" && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function header(identity: JournalIdentity): string {
  return `${JSON.stringify({ format: FORMAT, version: VERSION, kind: identity.kind, target: identity.target })}\n`;
}

function checkHeader(path: string, value: unknown, identity: JournalIdentity): void {
  const head = value as { format?: unknown; version?: unknown; kind?: unknown; target?: unknown };
  if (head.format !== FORMAT) {
    throw new InvalidArgumentError(`${path} is not a faultline batch journal`, { hint: "Pass another --journal path." });
  }
  if (head.version !== VERSION) {
    throw new InvalidArgumentError(`The journal ${path} was written by another version of faultline (format ${String(head.version)})`);
  }
  if (head.kind !== identity.kind || head.target !== identity.target) {
    throw new InvalidArgumentError(
      `The journal ${path} belongs to another batch (${String(head.kind)} of ${String(head.target)}), not ${identity.kind} of ${identity.target}`,
      { hint: "Resume with the same workflow, or pass another journal." },
    );
  }
}

function fold(entries: Map<string, JournalEntry>, record: JournalRecord, path: string, line: number): void {
  const bad = (): never => {
    throw new InvalidArgumentError(`The journal ${path} has an unknown record at line ${line}`);
  };
  if (!EVENTS.has(record.event) || typeof record.key !== "string") bad();
  const previous = entries.get(record.key);
  const base: JournalEntry = previous ?? {
    state: "intent",
    label: undefined,
    at: undefined,
    ref: undefined,
    collecting: false,
    code: undefined,
    delivered: false,
  };
  switch (record.event) {
    case "intent":
      if (typeof record.label !== "string" || typeof record.at !== "number") bad();
      // A new submission: whatever happened before it (a failure not yet delivered) is superseded.
      entries.set(record.key, { ...base, state: "intent", label: record.label, at: record.at, ref: undefined, collecting: false, code: undefined, delivered: false });
      return;
    case "submitted":
      if (typeof record.ref !== "string") bad();
      entries.set(record.key, { ...base, state: "submitted", ref: record.ref });
      return;
    case "collecting":
      entries.set(record.key, { ...base, collecting: true });
      return;
    case "done":
      entries.set(record.key, { ...base, state: "done", delivered: false });
      return;
    case "failed":
      entries.set(record.key, { ...base, state: "failed", code: typeof record.code === "string" ? record.code : undefined, delivered: false });
      return;
    case "delivered":
      if (previous !== undefined) entries.set(record.key, { ...previous, delivered: true });
      return;
  }
}

async function truncate(path: string, length: number): Promise<void> {
  const handle = await open(path, "r+");
  try {
    await handle.truncate(length);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

/** Makes a newly created file's name durable: its directory entry lives in the folder. */
function syncDirectory(path: string): void {
  try {
    const fd = openSync(path, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some filesystems (and Windows) cannot fsync a folder; the file's own flushes still hold.
  }
}

/**
 * One batch at a time per journal: two processes appending to it would each submit what the other is
 * submitting. The lock names its process; one whose process is gone (killed, crashed) is taken over.
 */
async function acquireLock(path: string): Promise<string> {
  const lock = `${path}.lock`;
  const me = JSON.stringify({ pid: process.pid, host: hostname() });
  await mkdir(dirname(path), { recursive: true }).catch((error: unknown) => {
    throw unusable(path, error);
  });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(lock, me, { flag: "wx" });
      return lock;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw unusable(path, error);
    }
    const holder = await readFile(lock, "utf8").then(
      (text) => parseLine(text) as { pid?: unknown; host?: unknown } | undefined,
      () => undefined,
    );
    if (holder !== undefined && holder.host === hostname() && typeof holder.pid === "number" && alive(holder.pid)) {
      throw new InvalidArgumentError(`The journal ${path} is in use by process ${holder.pid}`, {
        hint: `Wait for that batch to end. If no batch is running, delete ${lock}.`,
      });
    }
    if (holder !== undefined && holder.host !== hostname()) {
      throw new InvalidArgumentError(`The journal ${path} is in use by a batch on ${String(holder.host)}`, {
        hint: `If no batch is running there, delete ${lock}.`,
      });
    }
    // Its process is gone: the batch it ran was killed, and this one takes over.
    await rm(lock, { force: true });
  }
  throw new InvalidArgumentError(`Could not lock the journal ${path}`, { hint: `Delete ${lock} if no batch is running.` });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function unusable(path: string, error: unknown): InvalidArgumentError {
  const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  return new InvalidArgumentError(`Cannot use ${path} as a journal: ${reason}`, { cause: error });
}
