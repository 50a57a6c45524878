import { APIPromise, type ApiResponse } from "../../core/api-promise.js";
import {
  AbortedError,
  ExtractionFailedError,
  PreconditionFailedError,
  TimeoutError,
  withAttempts,
  type ApiError,
} from "../../core/errors.js";
import { sleep } from "../../core/retry.js";
import type { RequestOptions } from "../../core/transport.js";
import type { Anyformat } from "../client.js";
import { Results, type RunStatus } from "../schemas.js";

/** What `onPoll` is told after each poll. */
export interface PollInfo {
  /** `"processed"` when the results came; while waiting, the run's status when the API names it, else `"processing"`. */
  readonly status: RunStatus | "processing";
  /** 1 for the first poll. */
  readonly attempt: number;
  /** The 412 that said "not yet", when it was one. */
  readonly error?: PreconditionFailedError | undefined;
}

/**
 * How `results.waitFor` (and `workflows.extract`) wait. `timeout` here bounds the whole wait; the
 * per-request timeout is `requestTimeout`. Everything else is a per-call override for each poll.
 */
export interface WaitForOptions extends Omit<RequestOptions, "timeout"> {
  /** Ms between the first polls (the first is sent at once); each gap is half as long again as the last [1000]. */
  readonly pollInterval?: number | undefined;
  /** The longest gap between polls [10000, or `pollInterval` if larger]. */
  readonly maxPollInterval?: number | undefined;
  /** Ms to wait for the results in all; then a `TimeoutError` [600000]. */
  readonly timeout?: number | undefined;
  /** Per-request timeout for each poll (the client's `timeout` otherwise). */
  readonly requestTimeout?: number | undefined;
  /** Ms to wait before the first poll [0; `extract` waits `pollInterval`, as a run just submitted is never done]. */
  readonly initialDelay?: number | undefined;
  /** Called after each poll. */
  readonly onPoll?: ((info: PollInfo) => void) | undefined;
}

const DEFAULT_POLL_INTERVAL = 1_000;
const DEFAULT_MAX_POLL_INTERVAL = 10_000;
const DEFAULT_WAIT_TIMEOUT = 600_000;
const WAITING_STATUSES = ["pending", "queued", "in_progress"] as const;

/** The per-request part of waitFor's options. */
export function requestOptionsOf(options: WaitForOptions): RequestOptions {
  const { pollInterval: _p, maxPollInterval: _m, timeout: _t, requestTimeout, initialDelay: _i, onPoll: _o, ...request } =
    options;
  return requestTimeout === undefined ? request : { ...request, timeout: requestTimeout };
}

/**
 * The results of a run (a file collection).
 *
 * @example
 * ```ts
 * const run = await af.workflows.run(wf.id, { file: "./invoice.pdf" });
 * const results = await af.results.waitFor(wf.id, run.id, { onPoll: ({ status }) => console.log(status) });
 * console.log(results.extraction);
 * ```
 */
export class ResultsResource {
  constructor(private readonly client: Anyformat) {}

  /**
   * `GET /v2/workflows/{id}/files/{collection_id}/results/`. Throws `PreconditionFailedError` at once while
   * the run is processing (never retried: that wait is `waitFor`'s), `ExtractionFailedError` on a 422 once
   * it failed or was cancelled.
   */
  get(workflowId: string, collectionId: string, options?: RequestOptions): APIPromise<Results> {
    return this.client.call(
      () => ({
        method: "GET",
        path: this.client.path(
          "v2",
          "workflows",
          this.client.id(workflowId, "workflow"),
          "files",
          this.client.id(collectionId, "collection"),
          "results",
        ),
        schema: Results,
        finalStatuses: [412],
      }),
      options,
    );
  }

  /**
   * Polls `get` until the results come: while it answers 412 with `retryable: true` (or no flag), waiting
   * from `pollInterval` (about 1 s) up to about 10 s between polls, longer when the API sends `Retry-After`.
   * Ends with `ExtractionFailedError` on either terminal form (412 `retryable: false`, or 422
   * `EXTRACTION_FAILED`/`EXTRACTION_CANCELLED`), `TimeoutError` past `timeout` or the `deadline`, and
   * `AbortedError` on `signal`. Each poll is a call under the retry policy (429s and 5xx are retried in it).
   */
  waitFor(workflowId: string, collectionId: string, options: WaitForOptions = {}): APIPromise<Results> {
    return new APIPromise(this.#poll(workflowId, collectionId, options));
  }

  async #poll(workflowId: string, collectionId: string, options: WaitForOptions): Promise<ApiResponse<Results>> {
    const started = Date.now();
    // Polls are GETs: an `idempotencyKey` (meant for extract's run) would let a server that replays by key
    // answer every poll with the first poll's 412, so the wait could never end.
    const { idempotencyKey: _key, ...request } = this.client.effectiveOptions(requestOptionsOf(options));
    const signal = request.signal;
    const first = positive(options.pollInterval) ?? DEFAULT_POLL_INTERVAL;
    const ceiling = Math.max(positive(options.maxPollInterval) ?? DEFAULT_MAX_POLL_INTERVAL, first);
    const waitTimeout = positive(options.timeout) ?? DEFAULT_WAIT_TIMEOUT;
    const deadline = positive(request.deadline);
    const until = Math.min(started + waitTimeout, deadline === undefined ? Infinity : started + deadline);
    let interval = first;
    const initialDelay = positive(options.initialDelay);
    if (initialDelay !== undefined && Date.now() + initialDelay < until) {
      await sleep(initialDelay, signal).catch(() => {
        throw withAttempts(new AbortedError("Waiting for results was aborted"), 0);
      });
    }
    for (let poll = 1; ; poll++) {
      if (signal?.aborted) throw withAttempts(new AbortedError("Waiting for results was aborted"), poll - 1);
      const left = Math.max(1, until - Date.now());
      let error: PreconditionFailedError;
      try {
        const response = await this.get(workflowId, collectionId, {
          ...request,
          ...(Number.isFinite(left) ? { deadline: left } : {}),
        }).withResponse();
        options.onPoll?.({ status: "processed", attempt: poll });
        return { ...response, attempts: poll };
      } catch (caught) {
        if (!(caught instanceof PreconditionFailedError)) throw caught;
        error = caught;
      }
      if (bodyFlag(error) === false) throw terminal(error, poll);
      options.onPoll?.({ status: statusIn(error), attempt: poll, error });
      const wait = Math.max(interval, error.retryAfterMs ?? 0);
      if (Date.now() + wait >= until) {
        const byTimeout = started + waitTimeout <= until;
        throw new TimeoutError(
          `The results of collection ${collectionId} were not ready after ${Date.now() - started} ms (${poll} polls; ${
            byTimeout ? `timeout ${waitTimeout} ms` : `deadline ${deadline} ms`
          })`,
          { method: "GET", url: error.url, attempts: poll, retryable: true, cause: error, hint: "Wait longer (`timeout`), or ask again later with results.get." },
        );
      }
      await sleep(wait, signal).catch(() => {
        throw withAttempts(new AbortedError("Waiting for results was aborted"), poll);
      });
      interval = Math.min(Math.round(interval * 1.5), ceiling);
    }
  }
}

/** The body's own `retryable`, which the error's field blends with the policy's verdict. */
function bodyFlag(error: ApiError): boolean | undefined {
  const body = error.body;
  if (body === null || typeof body !== "object") return undefined;
  const flag = (body as { retryable?: unknown }).retryable;
  return typeof flag === "boolean" ? flag : undefined;
}

/** The run's status when the 412 names it (`detail: "Run is queued"`), else `"processing"`. */
function statusIn(error: ApiError): RunStatus | "processing" {
  const text = `${typeof error.detail === "string" ? error.detail : ""} ${error.message}`.toLowerCase();
  return WAITING_STATUSES.find((s) => new RegExp(`\\b${s}\\b`).test(text)) ?? "processing";
}

/**
 * The Error Handling page's terminal form: 412 with `retryable: false` once the run ended in error or was
 * cancelled. Reported like the 422 form, so callers handle one class; "cancel" in its text picks the code.
 */
function terminal(error: PreconditionFailedError, polls: number): ExtractionFailedError {
  const text = `${typeof error.detail === "string" ? error.detail : ""} ${error.message}`;
  return new ExtractionFailedError({
    status: error.status,
    code: /cancel/i.test(text) ? "EXTRACTION_CANCELLED" : "EXTRACTION_FAILED",
    message: error.message,
    detail: error.detail,
    retryable: false,
    requestId: error.requestId,
    referenceId: error.referenceId,
    hint: error.hint,
    retryAfterMs: error.retryAfterMs,
    rateLimit: error.rateLimit,
    headers: error.headers,
    body: error.body,
    method: error.method,
    url: error.url,
    attempts: polls,
  });
}

function positive(value: number | undefined): number | undefined {
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : undefined;
}
