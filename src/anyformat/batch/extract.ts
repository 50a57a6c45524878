/**
 * `af.batch.extract`: many documents through a workflow, resumable from a journal, never submitting a
 * document twice. The runner (`core/batch/`) does the bookkeeping; this module says how anyformat
 * submits (`run/`), waits (`results.waitFor`), finds a lost submission (its collections, by name) and
 * which errors end the document, the batch, or neither.
 */
import {
  AbortedError,
  AccessDeniedError,
  ApiError,
  AuthFailedError,
  ConnectionError,
  CredentialsError,
  FaultlineError,
  InvalidArgumentError,
  LockedError,
  NotFoundError,
  ResponseTooLargeError,
  ResponseValidationError,
  TimeoutError,
} from "../../core/errors.js";
import { mayHaveReachedServer } from "../../core/retry.js";
import { runBatch, type BatchProgress, type BatchTask, type Submitted, type Verdict } from "../../core/batch/runner.js";
import type { Anyformat } from "../client.js";
import type { Results } from "../schemas.js";
import { describeInput, documentOf, isOneShot, type BatchInput } from "./inputs.js";
import { reconcile } from "./reconcile.js";

/** Where a batch stands; see `BatchExtractOptions.onProgress`. */
export type { BatchProgress } from "../../core/batch/runner.js";

/**
 * `af.batch.extract`'s options.
 *
 * @example
 * ```ts
 * const options: BatchExtractOptions = { journal: "./invoices.journal", concurrency: 8, signal: controller.signal };
 * for await (const outcome of af.batch.extract(workflowId, paths, options)) console.log(outcome.status);
 * ```
 */
export interface BatchExtractOptions {
  /**
   * Documents in flight at once, from submission to results [16]. Submissions are paced by the rate
   * limit: each goes through the client like any call, and a 429 is waited out as its `Retry-After` says.
   */
  readonly concurrency?: number | undefined;
  /**
   * A file to journal the batch in: every state change of every document is written there (and flushed
   * to disk) before it is acted on. Run again with the same journal and the same inputs, the batch goes on
   * where it stopped: documents done are not sent again, submitted ones are waited for, and one whose
   * submission was in flight is looked for on the server before it is ever sent again. Without it the
   * journal is kept in memory: nothing is submitted twice in this run, but nothing can resume.
   */
  readonly journal?: string | undefined;
  /** Stops the batch: nothing more is submitted, the journal settles, the iteration throws `AbortedError`. */
  readonly signal?: AbortSignal | undefined;
  /** Called after every submission and every outcome. */
  readonly onProgress?: ((progress: BatchProgress) => void) | undefined;
  /** Ms between the first polls of a document's results; the gaps grow from there, as in `waitFor` [1000]. */
  readonly pollInterval?: number | undefined;
  /**
   * Ms a submission whose answer was lost (a reset, a timeout, a crash) is given to show up on the server
   * before it is looked for; not found then, it never reached the server and is sent again [2000].
   */
  readonly reconcileAfter?: number | undefined;
}

/**
 * One document's end: `processed` with its results, or `failed` with the typed error that ended it.
 *
 * @example
 * ```ts
 * for await (const outcome of af.batch.extract(workflowId, paths)) {
 *   if (outcome.status === "processed") save(outcome.input, outcome.results);
 *   else console.error(outcome.input, outcome.error.code);
 * }
 * ```
 */
export type BatchOutcome<I extends BatchInput = BatchInput> =
  | { readonly input: I; readonly status: "processed"; readonly results: Results; readonly error?: undefined }
  | { readonly input: I; readonly status: "failed"; readonly error: FaultlineError; readonly results?: undefined };

/**
 * Batches of documents.
 *
 * @example
 * ```ts
 * for await (const outcome of af.batch.extract(workflowId, ["a.pdf", "b.pdf"], { journal: "batch.journal" })) {
 *   console.log(outcome.input, outcome.status);
 * }
 * ```
 */
export class BatchResource {
  constructor(private readonly client: Anyformat) {}

  /**
   * Extracts every document of `inputs` (an iterable or async iterable of paths, `{ file, filename }` or
   * `{ text, name }`), yielding one outcome per document in the order they end. A document that fails for
   * itself (a 400, a file too big, a run that ended in error) is reported and the batch goes on; a key that
   * is refused (401, 403), a locked account (423) or a missing workflow stops it at once, by throwing that
   * error. Breaking out of the loop stops it too; the journal then lets it resume.
   *
   * @example
   * ```ts
   * const controller = new AbortController();
   * process.once("SIGINT", () => controller.abort());
   * for await (const outcome of af.batch.extract(workflowId, paths, {
   *   journal: "./invoices.journal",
   *   signal: controller.signal,
   *   onProgress: ({ done, failed, total }) => console.error(`${done + failed}/${total ?? "?"}`),
   * })) {
   *   await appendFile("results.jsonl", JSON.stringify({ input: outcome.input, results: outcome.results }) + "\n");
   * }
   * ```
   */
  extract<I extends BatchInput>(
    workflowId: string,
    inputs: Iterable<I> | AsyncIterable<I>,
    options: BatchExtractOptions = {},
  ): AsyncIterable<BatchOutcome<I>> {
    const client = this.client;
    return {
      async *[Symbol.asyncIterator]() {
        const id = client.id(workflowId, "workflow");
        // Every document would fail on a missing workflow or a refused key: find out before the first.
        await client.workflows.get(id, { signal: options.signal });
        const batch = runBatch(extractTask<I>(client, id, options), inputs, {
          concurrency: options.concurrency,
          journal: options.journal,
          signal: options.signal,
          onProgress: options.onProgress,
          settleMs: options.reconcileAfter,
        });
        for await (const result of batch) {
          yield result.status === "processed"
            ? { input: result.input, status: "processed", results: result.value }
            : { input: result.input, status: "failed", error: result.error };
        }
      },
    };
  }
}

/** anyformat's part of a batch. */
function extractTask<I extends BatchInput>(af: Anyformat, workflowId: string, options: BatchExtractOptions): BatchTask<I, Results> {
  const pollInterval = options.pollInterval ?? 1_000;
  const defaults = af.effectiveOptions(undefined);
  const sent = new Set<string>();
  // The client's own signal still stops its calls; the batch adds its own.
  const both = (signal: AbortSignal): AbortSignal => (defaults.signal === undefined ? signal : AbortSignal.any([defaults.signal, signal]));
  return {
    identity: { kind: "anyformat.extract", target: workflowId },
    describe: (input) => describeInput(input),
    async submit(input, item, signal): Promise<Submitted> {
      if (isOneShot(input) && sent.has(item.key)) {
        throw new InvalidArgumentError(`${item.label} is a stream, read by its first submission: it cannot be sent again`, {
          hint: "Pass a path or bytes to let a batch resubmit a document whose submission failed.",
        });
      }
      sent.add(item.key);
      // The governor paces every submission to the tier: its queue time is the batch's.
      const { data, rateLimit, queuedMs } = await af.workflows.run(workflowId, documentOf(input), { signal: both(signal) }).withResponse();
      return { ref: data.id, queuedMs, rateLimit };
    },
    collect: (_input, ref, signal) =>
      af.results.waitFor(workflowId, ref, { pollInterval, initialDelay: pollInterval, signal: both(signal) }),
    reconcile: (items, claimed, signal) => reconcile(af, workflowId, items, claimed, both(signal)),
    judge,
  };
}

/**
 * Which failures end the batch, which the document, and which neither. Every document would meet a
 * refused key, a locked account, a deleted workflow or an abort the same way: those end the batch.
 */
export function judge(error: FaultlineError, step: "submit" | "collect"): Verdict {
  if (
    error instanceof AuthFailedError ||
    error instanceof AccessDeniedError ||
    error instanceof LockedError ||
    error instanceof CredentialsError ||
    error instanceof AbortedError ||
    (error instanceof ApiError && [401, 403, 423].includes(error.status)) ||
    (step === "submit" && error instanceof NotFoundError)
  ) {
    return "fatal";
  }
  if (step === "submit" && mayHaveActed(error)) return "uncertain";
  return error.retryable ? "again" : "failed";
}

/**
 * A submission that failed after it may have reached the server: the connection broke or timed out once
 * sent, or a 2xx came back unreadable (the collection exists, its id was lost).
 */
function mayHaveActed(error: FaultlineError): boolean {
  if (error instanceof ConnectionError) return mayHaveReachedServer(error);
  return error instanceof TimeoutError || error instanceof ResponseValidationError || error instanceof ResponseTooLargeError;
}
