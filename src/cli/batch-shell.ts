/**
 * What every batch command of the CLI shares, whatever the API: one JSON line per input in `--out`, a
 * progress bar on a terminal (nothing but the final lines otherwise), a summary, Ctrl-C that stops
 * submitting and says how to resume, and the exit code: 0 all processed, 1 some failed, 130 interrupted,
 * and the usual codes (2 authentication, 3 not found) for an error that stopped the batch.
 *
 * `--out` is the batch's record for people and scripts; the journal is its record for itself. On resume
 * the lines already in `--out` are kept and never written twice, so a document the journal hands back
 * (its outcome was reached but not yet recorded as delivered when the process died) is not duplicated.
 */
import { open, readFile, stat, truncate } from "node:fs/promises";
import { AbortedError, type RateLimit } from "../core/errors.js";
import { UsageError } from "./args.js";
import type { Output, ProgressTerminal, Rendered } from "./output.js";

/** One input's end, as a batch command hands it to the shell. */
export interface ShellOutcome {
  /** How the input is named in `--out` and in the summary; unique in the batch. */
  readonly name: string;
  readonly status: "processed" | "failed";
  /** The rest of its `--out` line: the results, or the error as `toJSON()`. */
  readonly detail: Readonly<Record<string, unknown>>;
  /** The error's code, for a failure. */
  readonly code?: string | undefined;
}

/** Where the batch stands; the library's progress, as much of it as the shell shows. */
export interface ShellProgress {
  readonly submitted: number;
  readonly sent: number;
  readonly done: number;
  readonly failed: number;
  readonly total?: number | undefined;
  readonly rateLimit?: RateLimit | undefined;
}

export interface BatchShellOptions {
  readonly output: Output;
  /** The `--out` file. */
  readonly out: string;
  /** The journal file, refused without `--resume` when it exists. */
  readonly journal: string;
  readonly resume: boolean;
  /** How many inputs the batch has. */
  readonly total: number;
  /** What the inputs are, for the summary: "documents". */
  readonly noun: string;
  /** What an input that ended well is called in the summary's text [processed]. */
  readonly doneWord?: string | undefined;
  /** The command line that resumes this batch. */
  readonly resumeCommand: string;
  /** Runs the batch until `signal` aborts. */
  run(signal: AbortSignal, onProgress: (progress: ShellProgress) => void): AsyncIterable<ShellOutcome>;
  /** Resolves on the first Ctrl-C (or SIGTERM); a second one ends the process at once. */
  readonly interrupted?: Promise<unknown> | undefined;
}

/** What `--out` holds: the inputs it has lines for, how they ended, and the first failures, to name them. */
interface Written {
  readonly names: Set<string>;
  processed: number;
  readonly failed: Map<string, number>;
  readonly failures: Failure[];
}

interface Failure {
  readonly input: string;
  readonly code: string;
  readonly message: string;
}

/** Failures the summary names; the rest are counted, their lines in `--out` saying why. */
const NAMED_FAILURES = 10;

/** Runs a batch command to its summary. Errors that stop the batch are thrown, after saying how to resume. */
export async function runBatchShell(options: BatchShellOptions): Promise<Rendered> {
  const { output } = options;
  await checkStart(options);
  const written = options.resume ? await readWritten(options.out) : emptyWritten();
  const handle = await open(options.out, "a").catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`Cannot write --out ${options.out}: ${error.code ?? error.message}`, "Choose another --out path");
  });
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  const interrupted = options.interrupted ?? firstSignal();
  void interrupted.then(() => {
    if (!controller.signal.aborted && !output.json) output.note("\nStopping: no more submissions; letting the journal settle (Ctrl-C again to quit at once)");
    stop();
  });
  const bar = await progressBar(output.terminal(), options.total, written.names.size, options.doneWord ?? "processed");
  const rate = new RateMeter();
  const started = Date.now();
  let stopped: AbortedError | undefined;
  try {
    for await (const outcome of options.run(controller.signal, (progress) => {
      rate.observe(progress);
      bar?.update(progress, written.names.size);
    })) {
      if (!written.names.has(outcome.name)) {
        const line = { input: outcome.name, status: outcome.status, ...outcome.detail };
        await handle.appendFile(`${output.mask(JSON.stringify(line))}\n`, "utf8");
        // The journal records the outcome as delivered right after this: the line must be on disk first.
        await handle.datasync();
        written.names.add(outcome.name);
        if (outcome.status === "processed") written.processed += 1;
        else addFailure(written, { input: outcome.name, code: outcome.code ?? "UNKNOWN", message: messageIn(outcome.detail) });
      }
      bar?.written(written.names.size);
    }
  } catch (error) {
    if (!(error instanceof AbortedError && controller.signal.aborted)) {
      bar?.stop();
      if (!output.json) output.note(`Stopped after ${seconds(started)} s: ${counts(written, options)}. Once that is fixed, resume with:\n  ${options.resumeCommand}`);
      throw error;
    }
    stopped = error;
  } finally {
    bar?.stop();
    await handle.close();
  }
  return summary(options, written, rate, started, stopped !== undefined);
}

/** Without `--resume`, a batch never writes over another's results or journal. */
async function checkStart(options: BatchShellOptions): Promise<void> {
  if (options.resume) return;
  for (const [path, what] of [
    [options.out, "--out"],
    [options.journal, "journal"],
  ] as const) {
    const info = await stat(path).catch(() => undefined);
    if (info !== undefined && (what === "journal" || info.size > 0)) {
      throw new UsageError(
        `The ${what} file ${path} already exists`,
        "Pass --resume to go on with that batch, or choose another --out (and --journal)",
      );
    }
  }
}

/**
 * The lines `--out` holds. What follows its last newline is a line a crash cut short: it is removed (its
 * document is handed back by the journal and written again whole).
 */
async function readWritten(path: string): Promise<Written> {
  const written = emptyWritten();
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return written;
    throw new UsageError(`Cannot read --out ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const end = text.lastIndexOf("\n") + 1;
  for (const [index, line] of text.slice(0, end).split("\n").slice(0, -1).entries()) {
    const parsed = parse(line);
    if (parsed === undefined) {
      throw new UsageError(`--out ${path} line ${index + 1} is not a batch result`, "Pass the --out this batch wrote, or another path");
    }
    if (written.names.has(parsed.input)) continue;
    written.names.add(parsed.input);
    if (parsed.status === "processed") written.processed += 1;
    else addFailure(written, { input: parsed.input, code: parsed.code, message: parsed.message });
  }
  if (end < text.length) await truncate(path, Buffer.byteLength(text.slice(0, end)));
  return written;
}

function emptyWritten(): Written {
  return { names: new Set(), processed: 0, failed: new Map(), failures: [] };
}

function addFailure(written: Written, failure: Failure): void {
  written.failed.set(failure.code, (written.failed.get(failure.code) ?? 0) + 1);
  if (written.failures.length < NAMED_FAILURES) written.failures.push(failure);
}

/** The error message of an outcome's `--out` line. */
function messageIn(detail: Readonly<Record<string, unknown>>): string {
  const error = detail["error"];
  const message = error !== null && typeof error === "object" ? (error as { message?: unknown }).message : undefined;
  return typeof message === "string" ? message : "";
}

function parse(line: string): { input: string; status: string; code: string; message: string } | undefined {
  try {
    const value = JSON.parse(line) as { input?: unknown; status?: unknown; error?: { code?: unknown } };
    if (typeof value.input !== "string" || (value.status !== "processed" && value.status !== "failed")) return undefined;
    const code = typeof value.error?.code === "string" ? value.error.code : "UNKNOWN";
    return { input: value.input, status: value.status, code, message: messageIn(value) };
  } catch {
    return undefined;
  }
}

/** Submissions per minute this run achieved, and the submission tier the server announced. */
class RateMeter {
  #first: number | undefined;
  #last: number | undefined;
  #sent = 0;
  #limit: number | undefined;
  #windowMs = 0;

  observe(progress: ShellProgress): void {
    if (progress.sent > this.#sent) {
      const now = Date.now();
      this.#first ??= now;
      this.#last = now;
      this.#sent = progress.sent;
    }
    const { limit, resetMs } = progress.rateLimit ?? {};
    if (limit !== undefined) this.#limit = limit;
    // The first request of a window is told the whole window: the longest reset seen is the window.
    if (resetMs !== undefined) this.#windowMs = Math.max(this.#windowMs, Math.ceil(resetMs / 1000) * 1000);
  }

  get sent(): number {
    return this.#sent;
  }

  /** (n − 1) submissions over the time from the first to the last: the pace, whatever came before or after. */
  perMinute(): number | undefined {
    if (this.#sent < 2 || this.#first === undefined || this.#last === undefined || this.#last === this.#first) return undefined;
    return ((this.#sent - 1) * 60_000) / (this.#last - this.#first);
  }

  tierPerMinute(): number | undefined {
    return this.#limit === undefined || this.#windowMs === 0 ? undefined : (this.#limit * 60_000) / this.#windowMs;
  }
}

function summary(options: BatchShellOptions, written: Written, rate: RateMeter, started: number, interrupted: boolean): Rendered {
  const failed = [...written.failed.values()].reduce((a, b) => a + b, 0);
  const perMinute = rate.perMinute();
  const tier = rate.tierPerMinute();
  const remaining = options.total - written.names.size;
  const data = {
    out: options.out,
    total: options.total,
    processed: written.processed,
    failed,
    failedByCode: Object.fromEntries([...written.failed].sort(([a], [b]) => a.localeCompare(b))),
    remaining,
    seconds: Number(seconds(started)),
    submitted: rate.sent,
    submissionsPerMinute: perMinute === undefined ? null : Math.round(perMinute),
    tierPerMinute: tier === undefined ? null : Math.round(tier),
    ...(interrupted ? { interrupted: true, resume: options.resumeCommand } : {}),
  };
  const lines = [
    `${interrupted ? "Interrupted" : "Finished"} in ${seconds(started)} s: ${counts(written, options)} of ${options.total} ${options.noun}${remaining > 0 ? `, ${remaining} to go` : ""}`,
    `Submitted ${rate.sent} in this run${perMinute === undefined ? "" : ` at ${Math.round(perMinute)}/min`}${
      tier === undefined ? "" : ` against a tier of ${Math.round(tier)}/min${perMinute === undefined ? "" : ` (${Math.round((perMinute / tier) * 100)} %)`}`
    }`,
    ...failureLines(written, failed, options.out),
    `Results: ${options.out}`,
    ...(interrupted ? ["Nothing is lost. Resume with:", `  ${options.resumeCommand}`] : []),
  ];
  return { data, text: lines.join("\n"), exitCode: interrupted ? 130 : failed > 0 || remaining > 0 ? 1 : 0 };
}

function counts(written: Written, options: Pick<BatchShellOptions, "doneWord">): string {
  const failed = [...written.failed].sort(([a], [b]) => a.localeCompare(b));
  const total = failed.reduce((sum, [, n]) => sum + n, 0);
  const done = `${written.processed} ${options.doneWord ?? "processed"}`;
  return `${done}, ${total} failed${total === 0 ? "" : ` (${failed.map(([code, n]) => `${code} ${n}`).join(", ")})`}`;
}

/** The failures by name, the first few of them: a failure is never only a count. */
function failureLines(written: Written, failed: number, out: string): string[] {
  if (failed === 0) return [];
  const lines = written.failures.map((f) => `  ${f.input}: ${f.code}${f.message === "" ? "" : ` ${oneLine(f.message, 160)}`}`);
  const more = failed - written.failures.length;
  return ["Failed:", ...lines, ...(more > 0 ? [`  and ${more} more: their lines in ${out} say why`] : [])];
}

function oneLine(text: string, max: number): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

function seconds(since: number): string {
  return ((Date.now() - since) / 1000).toFixed(1);
}

/** The first SIGINT or SIGTERM; a second one ends the process at once (the journal stays consistent). */
function firstSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const first = (signal: NodeJS.Signals): void => {
      process.off("SIGINT", first);
      process.off("SIGTERM", first);
      process.once("SIGINT", () => process.exit(130));
      process.once("SIGTERM", () => process.exit(143));
      resolve(signal);
    };
    process.on("SIGINT", first);
    process.on("SIGTERM", first);
  });
}

interface Bar {
  update(progress: ShellProgress, written: number): void;
  written(count: number): void;
  stop(): void;
}

/** A progress bar on the terminal, if there is one; `cli-progress` is loaded only then. */
async function progressBar(terminal: ProgressTerminal | undefined, total: number, start: number, doneWord: string): Promise<Bar | undefined> {
  if (terminal === undefined) return undefined;
  // A CommonJS module: its exports arrive as the default export.
  const { SingleBar, Presets } = (await import("cli-progress")).default;
  const bar = new SingleBar(
    {
      stream: terminal as unknown as NodeJS.WritableStream,
      format: `{bar} {value}/{total} | {processed} ${doneWord}, {failed} failed, {submitted} submitted | {eta_formatted} left`,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
      fps: 10,
    },
    Presets.shades_classic,
  );
  let payload = { processed: 0, failed: 0, submitted: 0 };
  let value = start;
  let stopped = false;
  bar.start(total, value, payload);
  return {
    update(progress, written) {
      payload = { processed: progress.done, failed: progress.failed, submitted: progress.submitted };
      value = Math.max(written, progress.done + progress.failed);
      bar.update(Math.min(value, total), payload);
    },
    written(count) {
      value = Math.max(value, count);
      bar.update(Math.min(value, total), payload);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}
