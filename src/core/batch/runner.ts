/**
 * The batch runner: many documents through an API that takes a submission (not safe to repeat) and then
 * answers a wait (safe to repeat), surviving a crash at any point without submitting anything twice.
 *
 * It knows no API. A `BatchTask` says how to name a document, submit it, wait for it, recognise it among
 * what the server holds, and judge an error; the runner does the rest: concurrency, the journal written
 * before every step, resuming from it, reconciliation of submissions whose answer was lost, outcomes in
 * completion order, progress, and stopping on a signal or on an error that would fail every document.
 */
import { AbortedError, FaultlineError, InvalidArgumentError, type RateLimit } from "../errors.js";
import { backoffMs, sleep } from "../retry.js";
import { memoryJournal, openJournal, type BatchJournal, type JournalEntry, type JournalIdentity } from "./journal.js";

/** How a task knows one input: `key` names it in the journal, `label` is the name the server knows it by. */
export interface BatchItem {
  readonly key: string;
  readonly label: string;
}

/** A submission whose answer was lost, to be looked for on the server. */
export interface InFlight extends BatchItem {
  /** When its intent was recorded (ms since the epoch): nothing made before it can be it. */
  readonly at: number;
}

/** What the runner does with a failed step. */
export type Verdict =
  /** Every document would fail the same way (a rejected key, a locked account): stop the batch. */
  | "fatal"
  /** The submission may or may not have been carried out: look for it on the server before sending again. */
  | "uncertain"
  /** Passing trouble (a 429, a 5xx): try the step again later. */
  | "again"
  /** This document cannot be done: report it, and go on with the others. */
  | "failed";

/** What a submission gave back. */
export interface Submitted {
  /** The server's handle for the document (a collection id). */
  readonly ref: string;
  /** Ms the submission waited for its turn before it was sent (rate limits). */
  readonly queuedMs?: number | undefined;
  /** The submission tier's state after it, from its `x-ratelimit-*` headers. */
  readonly rateLimit?: RateLimit | undefined;
}

/**
 * What the journal knows of earlier tries of a document's second step, for the submission it follows.
 *
 * @example
 * ```ts
 * const collect = async (input: string, ref: string, signal: AbortSignal, history: CollectHistory) =>
 *   history.done ? { ref } : annotate(ref, { signal, alreadyOurs: history.begun });
 * ```
 */
export interface CollectHistory {
  /**
   * An earlier try began it (in this run, or in one the journal records, for a task whose `collect`
   * writes): what it writes may be on the server already, put there by this batch.
   */
  readonly begun: boolean;
  /** An earlier run finished it; only its outcome was not delivered. */
  readonly done: boolean;
}

/** One API's part of a batch. */
export interface BatchTask<I, T> {
  /** Written in the journal: a journal of another batch is refused. */
  readonly identity: JournalIdentity;
  /** Names an input; throws a `FaultlineError` for one that cannot be a document (reported as failed). */
  describe(input: I): BatchItem;
  /** Sends the document. Not safe to repeat: the runner records its intent first. */
  submit(input: I, item: BatchItem, signal: AbortSignal): Promise<Submitted>;
  /**
   * Takes a submitted document to its result: a wait, safe to repeat, or (with `collectWrites`) a second
   * write, which `history` tells apart from one an earlier try of this batch already made.
   */
  collect(input: I, ref: string, signal: AbortSignal, history: CollectHistory): Promise<T>;
  /**
   * Whether `collect` changes the server for this input (it annotates what was uploaded, say) rather than
   * waits: the runner then journals its start, so that a resumed run can tell the write it finds from
   * another's [never].
   */
  collectWrites?(input: I): boolean;
  /**
   * Finds which of `items` the server already holds, by key; refs in `claimed` belong to other documents.
   * An item not in the answer never reached the server, and will be submitted again.
   */
  reconcile(items: readonly InFlight[], claimed: ReadonlySet<string>, signal: AbortSignal): Promise<ReadonlyMap<string, string>>;
  /** Judges a step's failure. */
  judge(error: FaultlineError, step: "submit" | "collect"): Verdict;
}

/** One document's end, in the order documents end. */
export type BatchResult<I, T> =
  | { readonly input: I; readonly status: "processed"; readonly value: T }
  | { readonly input: I; readonly status: "failed"; readonly error: FaultlineError };

/**
 * Where the batch stands, told after every submission and every outcome. Counts cover the whole batch,
 * earlier runs of its journal included; `sent` only this run's submissions.
 *
 * @example
 * ```ts
 * const onProgress = ({ done, failed, total, queuedMs }: BatchProgress): void =>
 *   console.error(`${done + failed}/${total ?? "?"} (last submission waited ${queuedMs} ms)`);
 * ```
 */
export interface BatchProgress {
  /** Documents the server has accepted, earlier runs of the same journal included. */
  readonly submitted: number;
  /** Of those, the ones this run submitted. */
  readonly sent: number;
  /** Documents processed. */
  readonly done: number;
  /** Documents failed. */
  readonly failed: number;
  /** How many inputs there are, once known (at once for an array). */
  readonly total?: number | undefined;
  /** Ms the latest submission waited for its turn before it was sent. */
  readonly queuedMs: number;
  /** The submission tier's state after the latest submission. */
  readonly rateLimit?: RateLimit | undefined;
}

export interface RunBatchOptions {
  /** Documents in flight at once, submission to result [16]. */
  readonly concurrency?: number | undefined;
  /** A file to keep the journal in; without it the journal lives in memory and the batch cannot resume. */
  readonly journal?: string | undefined;
  /** Stops the batch: no more submissions, the journal settles, the iteration ends with `AbortedError`. */
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: ((progress: BatchProgress) => void) | undefined;
  /**
   * Ms a lost submission is given to show up on the server before it is looked for; one not found then
   * never reached it [2000].
   */
  readonly settleMs?: number | undefined;
  /** Tries of a step that meets passing trouble, beyond the client's own retries, before it fails [5]. */
  readonly maxRounds?: number | undefined;
}

const DEFAULT_CONCURRENCY = 16;
const MAX_CONCURRENCY = 1_000;
const DEFAULT_SETTLE_MS = 2_000;
const DEFAULT_MAX_ROUNDS = 5;

/**
 * Runs `inputs` through `task`, yielding one result per input in the order they end. Nothing starts until
 * the iteration does; breaking out of it stops the batch (what was in flight resumes from the journal).
 */
export function runBatch<I, T>(
  task: BatchTask<I, T>,
  inputs: Iterable<I> | AsyncIterable<I>,
  options: RunBatchOptions = {},
): AsyncIterable<BatchResult<I, T>> {
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY) {
    throw new InvalidArgumentError(`\`concurrency\` must be a whole number from 1 to ${MAX_CONCURRENCY}, got ${String(concurrency)}`);
  }
  if (inputs == null || (typeof (inputs as Iterable<I>)[Symbol.iterator] !== "function" && typeof (inputs as AsyncIterable<I>)[Symbol.asyncIterator] !== "function")) {
    throw new InvalidArgumentError("`inputs` must be an iterable or an async iterable of documents");
  }
  return {
    async *[Symbol.asyncIterator]() {
      const journal = options.journal === undefined ? memoryJournal() : await openJournal(options.journal, task.identity);
      const run = new Run(task, journal, { ...options, concurrency });
      try {
        run.start(inputs);
        for (;;) {
          const ended = await run.next();
          if (ended === undefined) return;
          await run.report(ended);
          yield ended.result;
          run.delivered(ended);
        }
      } finally {
        await run.stop();
      }
    },
  };
}

interface Ended<I, T> {
  /** The document's journal key; `undefined` for an input that could not be named (nothing to record). */
  readonly key: string | undefined;
  readonly result: BatchResult<I, T>;
  /** Lets the worker that ended it go on to the next document. */
  readonly taken: () => void;
}

type Options = RunBatchOptions & { readonly concurrency: number };

/** A document's place in this run. */
interface Doc<I> {
  readonly input: I;
  readonly item: BatchItem | undefined;
  readonly problem: FaultlineError | undefined;
  readonly entry: JournalEntry | undefined;
}

class Run<I, T> {
  readonly #task: BatchTask<I, T>;
  readonly #journal: BatchJournal;
  readonly #options: Options;
  readonly #stop = new AbortController();
  readonly #seen = new Set<string>();
  readonly #claimed = new Set<string>();
  readonly #labels = new Labels();
  readonly #ended: Ended<I, T>[] = [];
  #wake: (() => void) | undefined;
  #workers: Promise<void> | undefined;
  #finished = false;
  #failure: unknown;
  #source: Iterator<I> | AsyncIterator<I> | undefined;
  #pulling: Promise<IteratorResult<I>> | undefined;
  #recovered: Promise<void> | undefined;
  readonly #reconciler: Reconciler;
  /** Lost submissions of the last run that the server turned out to hold, by key. */
  #adopted: ReadonlyMap<string, string> = new Map();
  #counts: { submitted: number; sent: number; done: number; failed: number; pulled: number; total: number | undefined; queuedMs: number; rateLimit: RateLimit | undefined } =
    { submitted: 0, sent: 0, done: 0, failed: 0, pulled: 0, total: undefined, queuedMs: 0, rateLimit: undefined };
  readonly #onAbort = (): void => this.#halt(new AbortedError("The batch was stopped"));

  constructor(task: BatchTask<I, T>, journal: BatchJournal, options: Options) {
    this.#task = task;
    this.#journal = journal;
    this.#options = options;
    for (const entry of journal.entries.values()) if (entry.ref !== undefined) this.#claimed.add(entry.ref);
    this.#reconciler = new Reconciler(task, this.#claimed, this.#stop.signal, {
      settleMs: options.settleMs ?? DEFAULT_SETTLE_MS,
      rounds: options.maxRounds ?? DEFAULT_MAX_ROUNDS,
    });
  }

  start(inputs: Iterable<I> | AsyncIterable<I>): void {
    const signal = this.#options.signal;
    if (signal?.aborted) {
      this.#onAbort();
      return;
    }
    signal?.addEventListener("abort", this.#onAbort, { once: true });
    if (Array.isArray(inputs)) this.#counts.total = inputs.length;
    this.#source =
      typeof (inputs as AsyncIterable<I>)[Symbol.asyncIterator] === "function"
        ? (inputs as AsyncIterable<I>)[Symbol.asyncIterator]()
        : (inputs as Iterable<I>)[Symbol.iterator]();
    this.#recovered = this.#recover();
    this.#workers = Promise.all(Array.from({ length: this.#options.concurrency }, () => this.#work())).then(() => {
      this.#finished = true;
      this.#notify();
    });
  }

  /** The next document to end, `undefined` once all have; throws what stopped the batch. */
  async next(): Promise<Ended<I, T> | undefined> {
    for (;;) {
      if (this.#failure !== undefined) throw this.#failure;
      const ended = this.#ended.shift();
      if (ended !== undefined) {
        ended.taken();
        return ended;
      }
      if (this.#finished) return undefined;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  /** Records the end before the caller hears of it. */
  async report(ended: Ended<I, T>): Promise<void> {
    if (ended.key !== undefined) {
      await this.#journal.record(
        ended.result.status === "processed"
          ? { event: "done", key: ended.key }
          : { event: "failed", key: ended.key, code: ended.result.error.code },
      );
    }
    if (ended.result.status === "processed") this.#counts.done += 1;
    else this.#counts.failed += 1;
    this.#progress();
  }

  /** The caller has taken the outcome. Not waited for: the next record's flush carries it to disk. */
  delivered(ended: Ended<I, T>): void {
    if (ended.key !== undefined) this.#journal.record({ event: "delivered", key: ended.key }).catch(() => undefined);
  }

  /** Stops everything in flight, waits for it to let go, and settles the journal. */
  async stop(): Promise<void> {
    this.#options.signal?.removeEventListener("abort", this.#onAbort);
    this.#stop.abort();
    this.#notify();
    await this.#workers?.catch(() => undefined);
    await this.#recovered?.catch(() => undefined);
    try {
      await (this.#source as AsyncIterator<I> | undefined)?.return?.();
    } catch {
      // The caller's iterator failing to close is not the batch's failure.
    }
    await this.#journal.close();
  }

  #halt(error: unknown): void {
    this.#failure ??= error;
    this.#stop.abort();
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Submissions the last run left without an answer, looked for on the server before anything is sent. */
  async #recover(): Promise<void> {
    const lost: InFlight[] = [];
    for (const [key, entry] of this.#journal.entries) {
      if (entry.state === "intent" && entry.label !== undefined && entry.at !== undefined) lost.push({ key, label: entry.label, at: entry.at });
    }
    if (lost.length === 0) return;
    const found = await this.#reconciler.resolve(lost, this.#journal.lastWrittenAt);
    for (const item of lost) {
      const ref = found.get(item.key);
      if (ref !== undefined) await this.#journal.record({ event: "submitted", key: item.key, ref });
    }
    this.#adopted = found;
  }

  async #work(): Promise<void> {
    try {
      for (;;) {
        if (this.#stop.signal.aborted) return;
        const doc = await this.#pull();
        if (doc === undefined) return;
        const result = await this.#process(doc);
        if (result !== undefined) await this.#end(doc.item?.key, result);
      }
    } catch (error) {
      if (!this.#stop.signal.aborted) this.#halt(error);
    }
  }

  /** The next input, described; inputs are pulled one at a time, as workers free up. */
  async #pull(): Promise<Doc<I> | undefined> {
    while (this.#pulling !== undefined) await this.#pulling.catch(() => undefined);
    const source = this.#source;
    if (source === undefined || this.#stop.signal.aborted) return undefined;
    this.#pulling = Promise.resolve(source.next());
    let next: IteratorResult<I>;
    try {
      next = await this.#pulling;
    } finally {
      this.#pulling = undefined;
    }
    if (next.done === true) {
      this.#counts.total = this.#counts.pulled;
      this.#source = undefined;
      return undefined;
    }
    this.#counts.pulled += 1;
    return this.#describe(next.value);
  }

  #describe(input: I): Doc<I> {
    let item: BatchItem;
    try {
      item = this.#task.describe(input);
    } catch (error) {
      if (!(error instanceof FaultlineError)) throw error;
      return { input, item: undefined, problem: error, entry: undefined };
    }
    if (this.#seen.has(item.key)) {
      const problem = new InvalidArgumentError(`${item.key} is given twice in this batch: a document is submitted once`);
      return { input, item: undefined, problem, entry: undefined };
    }
    this.#seen.add(item.key);
    return { input, item, problem: undefined, entry: this.#journal.entries.get(item.key) };
  }

  /** Takes one document to its end; `undefined` when an earlier run already delivered it. */
  async #process(doc: Doc<I>): Promise<BatchResult<I, T> | undefined> {
    const { input, item } = doc;
    // What the journal says of this document, as long as its submission is the one the journal knows.
    let entry = doc.entry;
    if (doc.problem !== undefined || item === undefined) return { input, status: "failed", error: doc.problem as FaultlineError };
    if (entry?.delivered === true && (entry.state === "done" || entry.state === "failed")) {
      if (entry.ref !== undefined) this.#counts.submitted += 1;
      if (entry.state === "done") this.#counts.done += 1;
      else this.#counts.failed += 1;
      this.#progress();
      return undefined;
    }
    let ref = entry?.ref;
    if (entry?.state === "intent") {
      await this.#recovered;
      ref = this.#adopted.get(item.key);
    }
    if (ref !== undefined) this.#counts.submitted += 1;

    const rounds = this.#options.maxRounds ?? DEFAULT_MAX_ROUNDS;
    let collected = false;
    for (let round = 1; ; round++) {
      let trouble: FaultlineError;
      if (ref === undefined) {
        entry = undefined;
        const sent = await this.#submit(input, item);
        if ("ref" in sent) {
          ref = sent.ref;
          round = 0;
          continue;
        }
        trouble = sent.error;
      } else {
        // Outside the try: a journal that cannot be written stops the batch, as it does for an intent.
        const history = await this.#beginCollect(input, item.key, entry, collected);
        collected = true;
        try {
          return { input, status: "processed", value: await this.#task.collect(input, ref, this.#stop.signal, history) };
        } catch (error) {
          trouble = this.#judged(error, "collect");
        }
      }
      // Refused before it was sent, with a time to come back (no rate-limit slot in time, an open circuit):
      // that is a wait for a turn, not trouble met, and spends no round.
      if (trouble.attempts === 0 && retryAfter(trouble) !== undefined) round -= 1;
      else if (this.#task.judge(trouble, ref === undefined ? "submit" : "collect") === "failed" || round >= rounds) {
        return { input, status: "failed", error: trouble };
      }
      await sleep(retryAfter(trouble) ?? backoffMs(round), this.#stop.signal);
    }
  }

  /**
   * What earlier tries of the document's second step left: `tried` in this run, or the journal's record of
   * an earlier run. A task whose `collect` writes has its first try journalled before it is made.
   */
  async #beginCollect(input: I, key: string, entry: JournalEntry | undefined, tried: boolean): Promise<CollectHistory> {
    const begun = tried || entry?.collecting === true;
    if (!begun && this.#task.collectWrites?.(input) === true) await this.#journal.record({ event: "collecting", key });
    return { begun, done: entry?.state === "done" };
  }

  /**
   * A step's failure, unless it ends more than the document: a stop rethrows, and a fatal error stops the
   * batch. A lost submission the server turned out not to have is passing trouble (it is sent again).
   */
  #judged(error: unknown, step: "submit" | "collect"): FaultlineError {
    if (this.#stop.signal.aborted || !(error instanceof FaultlineError)) throw error;
    if (this.#task.judge(error, step) === "fatal") {
      this.#halt(error);
      throw error;
    }
    return error;
  }

  /**
   * Submits under the document's label: two documents the server would name alike are never in flight
   * together, so a lost answer can always be told apart from the other's. Gives the server's handle, or
   * the error that kept the document from being submitted (a lost one the server does not have included).
   */
  async #submit(input: I, item: BatchItem): Promise<{ readonly ref: string } | { readonly error: FaultlineError }> {
    await this.#recovered;
    const release = await this.#labels.acquire(item.label, this.#stop.signal);
    try {
      const at = Date.now();
      await this.#journal.record({ event: "intent", key: item.key, label: item.label, at });
      let submitted: Submitted;
      try {
        submitted = await this.#task.submit(input, item, this.#stop.signal);
      } catch (caught) {
        const error = this.#judged(caught, "submit");
        if (this.#task.judge(error, "submit") !== "uncertain") return { error };
        // The answer was lost, not the submission perhaps: ask the server before sending it again. If it
        // cannot be asked, the batch stops, and the journal's intent has it asked on resume.
        const found = (await this.#reconciler.resolve([{ ...item, at }], Date.now())).get(item.key);
        if (found === undefined) return { error };
        submitted = { ref: found };
      }
      this.#claimed.add(submitted.ref);
      await this.#journal.record({ event: "submitted", key: item.key, ref: submitted.ref });
      this.#counts.submitted += 1;
      this.#counts.sent += 1;
      this.#counts.queuedMs = submitted.queuedMs ?? 0;
      if (submitted.rateLimit !== undefined) this.#counts.rateLimit = submitted.rateLimit;
      this.#progress();
      return { ref: submitted.ref };
    } finally {
      release();
    }
  }

  /**
   * Hands a result to the iteration, and waits until it is taken: a slow reader holds the batch back. Once
   * the batch is stopped nobody takes it (a document that ended after the stop is resumed later), and an
   * abort listener added now would never fire: the worker would wait for ever, and `stop()` with it.
   */
  async #end(key: string | undefined, result: BatchResult<I, T>): Promise<void> {
    if (this.#stop.signal.aborted) return;
    await new Promise<void>((resolve) => {
      this.#ended.push({ key, result, taken: resolve });
      this.#notify();
      this.#stop.signal.addEventListener("abort", () => resolve(), { once: true });
    });
  }

  #progress(): void {
    const { submitted, sent, done, failed, total, queuedMs, rateLimit } = this.#counts;
    try {
      this.#options.onProgress?.({ submitted, sent, done, failed, ...(total === undefined ? {} : { total }), queuedMs, ...(rateLimit === undefined ? {} : { rateLimit }) });
    } catch {
      // A progress callback that throws must not lose a document.
    }
  }
}

function retryAfter(error: FaultlineError): number | undefined {
  const ms = (error as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof ms === "number" && ms >= 0 ? ms : undefined;
}

/** One submission at a time per label; the rest wait their turn in order. */
class Labels {
  readonly #queues = new Map<string, Array<() => void>>();

  async acquire(label: string, signal: AbortSignal): Promise<() => void> {
    const queue = this.#queues.get(label);
    if (signal.aborted) throw new AbortedError("The batch was stopped");
    if (queue === undefined) {
      this.#queues.set(label, []);
    } else {
      await new Promise<void>((resolve, reject) => {
        const turn = (): void => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        };
        const onAbort = (): void => {
          const index = queue.indexOf(turn);
          if (index !== -1) queue.splice(index, 1);
          reject(new AbortedError("The batch was stopped"));
        };
        queue.push(turn);
        signal.addEventListener("abort", onAbort, { once: true });
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const waiting = this.#queues.get(label);
      const next = waiting?.shift();
      if (next === undefined) this.#queues.delete(label);
      else next();
    };
  }
}

/**
 * Looks for lost submissions on the server. Lookups asked for while one is under way share the next, so a
 * burst of lost answers costs one listing, not one each. A lookup that meets passing trouble is tried again;
 * one that still fails stops the batch (its intents stay in the journal, to be looked for on resume).
 */
class Reconciler {
  #queued: Array<{
    readonly items: readonly InFlight[];
    readonly resolve: (found: ReadonlyMap<string, string>) => void;
    readonly reject: (error: unknown) => void;
  }> = [];
  #running: Promise<void> | undefined;

  constructor(
    private readonly task: Pick<BatchTask<unknown, unknown>, "reconcile" | "judge">,
    private readonly claimed: Set<string>,
    private readonly signal: AbortSignal,
    private readonly limits: { readonly settleMs: number; readonly rounds: number },
  ) {}

  /**
   * Finds `items` on the server, waiting first until `settleMs` after `since` (when their requests may
   * last have been on the wire), so that one still being taken in is not missed.
   */
  async resolve(items: readonly InFlight[], since: number): Promise<ReadonlyMap<string, string>> {
    const wait = since + this.limits.settleMs - Date.now();
    if (wait > 0) await sleep(wait, this.signal);
    return new Promise((resolve, reject) => {
      this.#queued.push({ items, resolve, reject });
      this.#running ??= this.#drain();
    });
  }

  async #drain(): Promise<void> {
    while (this.#queued.length > 0) {
      const batch = this.#queued;
      this.#queued = [];
      try {
        const found = await this.#lookup(batch.flatMap((b) => b.items));
        for (const waiter of batch) waiter.resolve(found);
      } catch (error) {
        for (const waiter of batch) waiter.reject(error);
      }
    }
    this.#running = undefined;
  }

  async #lookup(items: readonly InFlight[]): Promise<ReadonlyMap<string, string>> {
    for (let round = 1; ; round++) {
      try {
        const found = await this.task.reconcile(items, new Set(this.claimed), this.signal);
        for (const ref of found.values()) this.claimed.add(ref);
        return found;
      } catch (error) {
        if (this.signal.aborted || !(error instanceof FaultlineError)) throw error;
        if (this.task.judge(error, "collect") !== "again" || round >= this.limits.rounds) throw error;
        await sleep(retryAfter(error) ?? backoffMs(round), this.signal);
      }
    }
  }
}
