import { APIPromise, type ApiResponse } from "../../core/api-promise.js";
import {
  AbortedError,
  ExtractionFailedError,
  FaultlineError,
  PreconditionFailedError,
  TimeoutError,
  withAttempts,
  type ApiError,
} from "../../core/errors.js";
import type { PollRecorder } from "../../core/tracing/trace.js";
import type { RequestOptions } from "../../core/transport.js";
import { WaitWindow, pauseBetweenPolls, renamedOption, waitOption } from "../../core/wait.js";
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
 * How `results.waitFor` (and `workflows.extract`) wait. `waitTimeout` bounds the whole wait; `timeout`
 * is the per-attempt limit of each request, as everywhere else; the rest are per-call overrides for
 * each poll.
 */
export interface WaitForOptions extends RequestOptions {
  /** Ms between the first polls (the first is sent at once); each gap is half as long again as the last [1000]. */
  readonly pollInterval?: number | undefined;
  /** The longest gap between polls [10000, or `pollInterval` if larger]. */
  readonly maxPollInterval?: number | undefined;
  /**
   * Ms to keep polling for the results [600000]. The wait polls until this time is really spent (its
   * last sleep shortened to end with it, and one last poll sent then), then throws `TimeoutError`. The
   * call's `deadline`, a hard bound, ends it first when shorter.
   */
  readonly waitTimeout?: number | undefined;
  /**
   * @deprecated The old name of `timeout`, the per-attempt limit of each request. Passing both is an
   * `InvalidArgumentError`. (Before `waitTimeout` existed, `timeout` here bounded the whole wait.)
   */
  readonly requestTimeout?: number | undefined;
  /**
   * Ms to wait before the first poll, at most half the wait [0; `extract` waits `pollInterval`, as a run
   * just submitted is never done].
   */
  readonly initialDelay?: number | undefined;
  /** Called after each poll. */
  readonly onPoll?: ((info: PollInfo) => void) | undefined;
}

const DEFAULT_POLL_INTERVAL = 1_000;
const DEFAULT_MAX_POLL_INTERVAL = 10_000;
const DEFAULT_WAIT_TIMEOUT = 600_000;
const WAITING_STATUSES = ["pending", "queued", "in_progress"] as const;

/** The per-request part of waitFor's options; throws `InvalidArgumentError` for `timeout` and `requestTimeout` together. */
export function requestOptionsOf(options: WaitForOptions): RequestOptions {
  const { pollInterval: _p, maxPollInterval: _m, waitTimeout: _w, requestTimeout, initialDelay: _i, onPoll: _o, ...request } =
    options;
  const timeout = renamedOption(request.timeout, requestTimeout, { current: "timeout", deprecated: "requestTimeout" });
  return timeout === undefined ? request : { ...request, timeout };
}

/** waitFor's own options, checked: a bad value is an `InvalidArgumentError` before any request. */
export function waitSettings(options: WaitForOptions): { pollInterval: number; maxPollInterval: number; waitTimeout: number; initialDelay: number } {
  const pollInterval = waitOption("pollInterval", options.pollInterval, DEFAULT_POLL_INTERVAL);
  const maxPollInterval = Math.max(waitOption("maxPollInterval", options.maxPollInterval, DEFAULT_MAX_POLL_INTERVAL), pollInterval);
  const waitTimeout = waitOption("waitTimeout", options.waitTimeout, DEFAULT_WAIT_TIMEOUT, Number.MIN_VALUE);
  const initialDelay = waitOption("initialDelay", options.initialDelay, 0);
  return { pollInterval, maxPollInterval, waitTimeout, initialDelay };
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
        operation: "results.get",
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
   * `EXTRACTION_FAILED`/`EXTRACTION_CANCELLED`), `TimeoutError` once `waitTimeout` (or the `deadline`) is
   * really spent, saying how long it waited and how many polls it made, and `AbortedError` on `signal`.
   * Each poll is a call under the retry policy (429s and 5xx are retried in it).
   *
   * @example
   * ```ts
   * const results = await af.results.waitFor(wf.id, run.id, { waitTimeout: 120_000, pollInterval: 2_000 });
   * ```
   */
  waitFor(workflowId: string, collectionId: string, options: WaitForOptions = {}): APIPromise<Results> {
    return new APIPromise(this.client.traced("results.waitFor", (trace) => this.#poll(workflowId, collectionId, options, trace)));
  }

  async #poll(workflowId: string, collectionId: string, options: WaitForOptions, trace: PollRecorder | undefined): Promise<ApiResponse<Results>> {
    const settings = waitSettings(options);
    // Polls are GETs: an `idempotencyKey` (meant for extract's run) would let a server that replays by key
    // answer every poll with the first poll's 412, so the wait could never end.
    const { idempotencyKey: _key, ...request } = this.client.effectiveOptions(requestOptionsOf(options));
    const signal = request.signal;
    const { deadline, ...perPoll } = request;
    const window = new WaitWindow(settings.waitTimeout, positive(deadline));
    const aborted = (): AbortedError => withAttempts(new AbortedError("Waiting for results was aborted"), window.requests);
    if (settings.initialDelay > 0) {
      await pauseBetweenPolls(window.firstSleep(settings.initialDelay), signal, trace, 0).catch(() => {
        throw aborted();
      });
    }
    let interval = settings.pollInterval;
    for (;;) {
      if (signal?.aborted) throw aborted();
      const began = Date.now();
      let error: PreconditionFailedError;
      try {
        const response = await this.get(workflowId, collectionId, { ...perPoll, deadline: window.pollDeadline() }).withResponse();
        window.polled(began, response.attempts);
        options.onPoll?.({ status: "processed", attempt: window.polls });
        return { ...response, attempts: window.requests };
      } catch (caught) {
        if (!(caught instanceof FaultlineError)) throw caught;
        window.polled(began, caught.attempts);
        if (window.endedBy(caught)) throw notReady(collectionId, window, caught);
        if (!(caught instanceof PreconditionFailedError)) throw withAttempts(caught, window.requests);
        error = caught;
      }
      if (bodyFlag(error) === false) throw terminal(error, window.requests);
      options.onPoll?.({ status: statusIn(error), attempt: window.polls, error });
      const pause = window.nextSleep(interval, error.retryAfterMs);
      if (pause === undefined) throw notReady(collectionId, window, error);
      await pauseBetweenPolls(pause, signal, trace, window.polls).catch(() => {
        throw aborted();
      });
      interval = Math.min(Math.round(interval * 1.5), settings.maxPollInterval);
    }
  }
}

/** The wait's own `TimeoutError`: how long it waited, how many polls, and which limit ended it. */
function notReady(collectionId: string, window: WaitWindow, cause: FaultlineError): TimeoutError {
  return new TimeoutError(`The results of collection ${collectionId} were not ready after ${window.describe()}`, {
    method: "GET",
    url: cause.url,
    attempts: window.requests,
    retryable: true,
    cause,
    hint:
      window.boundBy === "waitTimeout"
        ? "Wait longer (`waitTimeout`), or ask again later with results.get."
        : "Give the call a longer `deadline`, or ask again later with results.get.",
  });
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
function terminal(error: PreconditionFailedError, requests: number): ExtractionFailedError {
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
    attempts: requests,
  });
}

function positive(value: number | undefined): number | undefined {
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : undefined;
}
