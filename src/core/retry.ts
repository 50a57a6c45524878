import pRetry from "p-retry";
import type { Breaker } from "./breaker.js";
import type { RetryBudget, RetryKind } from "./budget.js";
import {
  AbortedError,
  ApiError,
  CircuitOpenError,
  ConnectionError,
  FaultlineError,
  TimeoutError,
  withAttempts,
} from "./errors.js";

/** What `onRetry` is told before each retry. */
export interface RetryInfo {
  /** The number of the attempt about to start (2 for the first retry). */
  readonly attempt: number;
  /** How long faultline waits before it. */
  readonly delayMs: number;
  /** Why the previous attempt failed. */
  readonly error: FaultlineError;
}

/** How a failed attempt came to fail, beyond the error itself. */
export interface AttemptFacts {
  readonly method: string;
  /** Whether the request can be sent again (a one-shot stream body cannot). */
  readonly replayable: boolean;
  /** Whether sending it twice is harmless: an idempotent method, or an `Idempotency-Key`. */
  readonly repeatable: boolean;
  /** Statuses the caller handles itself: never retried. */
  readonly finalStatuses?: readonly number[] | undefined;
}

export interface RetryDecision {
  readonly retry: boolean;
  readonly delayMs: number;
}

/** A key does not become valid, nor a missing thing appear, however often it is asked: whatever the body says. */
const NEVER_WHATEVER_THE_BODY = new Set([401, 403, 404]);
/**
 * Refusals on the request's merits, and 5xx that name a lasting condition (501 Not Implemented, 505 HTTP
 * Version Not Supported, 507 Insufficient Storage): not retried unless the body says otherwise.
 */
const NOT_BY_STATUS = new Set([400, 401, 403, 404, 409, 422, 423, 501, 505, 507]);

export const BACKOFF_BASE_MS = 500;
export const BACKOFF_CAP_MS = 8_000;

/** The policy's verdict on a status alone, before the body has its say. */
export function isRetryableStatus(status: number): boolean {
  if (NOT_BY_STATUS.has(status)) return false;
  return status === 429 || (status >= 500 && status <= 599);
}

/**
 * The whole rule, in one place: 401, 403 and 404 are never retried, whatever the body says; for every
 * other status the body's explicit `retryable` wins, in both directions; with no flag, the status decides.
 */
export function isRetryable(status: number, bodyFlag: boolean | undefined): boolean {
  if (NEVER_WHATEVER_THE_BODY.has(status)) return false;
  return bodyFlag ?? isRetryableStatus(status);
}

/**
 * Backoff without a server hint: 500 ms doubling to an 8 s cap, each delay drawn from the upper half of
 * its step so that many clients failing together come back spread out, never all at once.
 */
export function backoffMs(retry: number, random: () => number = Math.random): number {
  const step = Math.min(BACKOFF_BASE_MS * 2 ** Math.max(0, retry - 1), BACKOFF_CAP_MS);
  return Math.round(step / 2 + random() * (step / 2));
}

/** Errors raised while the request may already have reached the server carry this mark. */
export const MAY_HAVE_REACHED_SERVER = Symbol("faultline.mayHaveReachedServer");

export function mayHaveReachedServer(error: FaultlineError): boolean {
  return (error as { [MAY_HAVE_REACHED_SERVER]?: boolean })[MAY_HAVE_REACHED_SERVER] === true;
}

/** Decides whether a failed attempt is worth another, and after how long. */
export function decideRetry(
  error: FaultlineError,
  retry: number,
  facts: AttemptFacts,
  maxRetryAfterMs: number,
): RetryDecision {
  const no = { retry: false, delayMs: 0 };
  if (error instanceof ApiError) {
    // The body was consumed by the attempt: a one-shot stream cannot be sent twice.
    if (!facts.replayable) return no;
    if (facts.finalStatuses?.includes(error.status) === true) return no;
    // `retryable` was set from `isRetryable` when the response was read: the body's flag and the status.
    if (!error.retryable) return no;
    if (error.retryAfterMs !== undefined) {
      return error.retryAfterMs > maxRetryAfterMs ? no : { retry: true, delayMs: error.retryAfterMs };
    }
    return { retry: true, delayMs: backoffMs(retry) };
  }
  if (error instanceof ConnectionError || (error instanceof TimeoutError && isAttemptTimeout(error))) {
    if (!error.retryable) return no;
    if (mayHaveReachedServer(error) && (!facts.repeatable || !facts.replayable)) return no;
    return { retry: true, delayMs: backoffMs(retry) };
  }
  return no;
}

export const ATTEMPT_TIMEOUT = Symbol("faultline.attemptTimeout");

function isAttemptTimeout(error: TimeoutError): boolean {
  return (error as { [ATTEMPT_TIMEOUT]?: boolean })[ATTEMPT_TIMEOUT] === true;
}

/** What bounds a call's retries: its own limits, and the client's retry budget and circuit breaker. */
export interface RetryLimits {
  readonly maxRetries: number;
  readonly maxRetryAfterMs: number;
  /** Absolute time (ms since epoch) past which no retry may start. */
  readonly deadlineAt: number | undefined;
  readonly signal: AbortSignal | undefined;
  readonly onRetry: ((info: RetryInfo) => void) | undefined;
  /** The client's shared retry budget: a retry it cannot pay for is not made. */
  readonly budget?: RetryBudget | undefined;
  /** The base URL's breaker: no retry is made while its circuit is open. */
  readonly breaker?: Pick<Breaker, "admitsRetry"> | undefined;
  /** Told of each backoff once it is over (or cut short): the attempt it came before, when it began, how long it lasted, why. */
  readonly onBackoff?: ((attempt: number, startTime: number, durationMs: number, error: FaultlineError) => void) | undefined;
}

/** Errors raised before anything was sent (no slot, an open circuit) carry this mark: they count no attempt. */
export const NOTHING_SENT = Symbol("faultline.nothingSent");

export function markNothingSent<E extends FaultlineError>(error: E): E {
  Object.defineProperty(error, NOTHING_SENT, { value: true });
  return error;
}

const BUDGET_HINT = "Not retried: the client's retry budget is spent, as the service has been failing; it refills as calls succeed.";
const CIRCUIT_HINT = "Not retried: the service's circuit is open, as it has been failing.";

/** What a retry after `error` costs the budget: a wait the server asked for with its own Retry-After costs nothing. */
function retryKind(error: FaultlineError): RetryKind {
  if (error instanceof ApiError && error.status === 429 && error.retryAfterMs !== undefined) return "invited";
  return error instanceof TimeoutError ? "timeout" : "retry";
}

/** Adds why a retry was refused to the error's hint; `retryable` keeps what the server said. */
function withHint<E extends FaultlineError>(error: E, hint: string): E {
  Object.defineProperty(error, "hint", { value: error.hint === undefined ? hint : `${hint} ${error.hint}`, enumerable: true, configurable: true });
  return error;
}

/**
 * Runs `attempt` under the retry policy, driving p-retry. p-retry has no per-attempt delay, so its own
 * backoff is off and the wait the policy chose is slept inside `shouldRetry`, abortable by the signal.
 * Whatever is thrown at the end carries how many requests were sent.
 */
export async function runWithRetry<T>(
  attempt: (attemptNumber: number) => Promise<T>,
  facts: AttemptFacts,
  limits: RetryLimits,
): Promise<T> {
  let attempts = 0;
  let spent = 0;
  /** The last failure of an attempt that was sent: what the call ends with if a retry is refused before sending. */
  let lastSent: FaultlineError | undefined;
  const maxRetries = Math.max(0, Math.floor(limits.maxRetries));
  const next = (): Promise<T> => {
    if (limits.signal?.aborted) return Promise.reject(new AbortedError());
    attempts += 1;
    return attempt(attempts);
  };
  const worthAnother = async (error: unknown): Promise<boolean> => {
    if (!(error instanceof FaultlineError)) return false;
    if ((error as { [NOTHING_SENT]?: boolean })[NOTHING_SENT] !== true) lastSent = error;
    const decision = decideRetry(error, attempts, facts, limits.maxRetryAfterMs);
    if (!decision.retry) return false;
    if (limits.deadlineAt !== undefined && Date.now() + decision.delayMs >= limits.deadlineAt) return false;
    if (limits.breaker !== undefined && !limits.breaker.admitsRetry()) {
      withHint(error, CIRCUIT_HINT);
      return false;
    }
    if (limits.budget !== undefined) {
      const cost = limits.budget.spend(retryKind(error));
      if (cost === undefined) {
        withHint(error, BUDGET_HINT);
        return false;
      }
      spent += cost;
    }
    try {
      limits.onRetry?.({ attempt: attempts + 1, delayMs: decision.delayMs, error: withAttempts(error, attempts) });
    } catch {
      // A hook that throws vetoes the retry: the call ends with the failure the hook was told about,
      // not with the hook's own error dressed up as a network failure.
      return false;
    }
    await backoff(decision.delayMs, attempts + 1, error, limits);
    // A late timer or a stalled event loop can carry the wait past the deadline: start nothing then.
    return limits.deadlineAt === undefined || Date.now() < limits.deadlineAt;
  };
  try {
    // The first attempt runs on its own: most calls succeed at once, and need none of p-retry's bookkeeping.
    try {
      const result = await next();
      limits.budget?.succeeded(0);
      return result;
    } catch (error) {
      if (maxRetries === 0 || !(await worthAnother(error))) throw error;
    }
    const result = await pRetry(next, {
      retries: maxRetries - 1,
      minTimeout: 0,
      maxTimeout: 0,
      factor: 1,
      randomize: false,
      shouldRetry: ({ error }) => worthAnother(error),
    });
    limits.budget?.succeeded(spent);
    return result;
  } catch (error) {
    // An attempt refused before sending (no slot, an open circuit) is never retried, so it can only be the last.
    const unsent = (error as { [NOTHING_SENT]?: boolean } | null)?.[NOTHING_SENT] === true;
    // A retry refused before sending (a circuit opened while it waited, no rate-limit slot in time, the
    // deadline reached while queued): the call ends with what the service last said, and why no retry came.
    if (unsent && lastSent !== undefined && !(error instanceof AbortedError)) {
      const why = error instanceof CircuitOpenError ? CIRCUIT_HINT : `Not retried: ${(error as FaultlineError).message}.`;
      throw withAttempts(withHint(lastSent, why), attempts - 1);
    }
    throw withAttempts(toFaultlineError(error), unsent ? attempts - 1 : attempts);
  }
}

/** Sleeps a retry's backoff, and reports it to `onBackoff` when there is one, however the sleep ends. */
async function backoff(ms: number, attempt: number, error: FaultlineError, limits: RetryLimits): Promise<void> {
  const report = limits.onBackoff;
  if (report === undefined) return sleep(ms, limits.signal);
  const startTime = Date.now();
  try {
    await sleep(ms, limits.signal);
  } finally {
    report(attempt, startTime, Date.now() - startTime, error);
  }
}

/** Attempts throw only FaultlineErrors; should anything else escape, it is reported typed and not retried. */
function toFaultlineError(error: unknown): FaultlineError {
  if (error instanceof FaultlineError) return error;
  return new ConnectionError(error instanceof Error ? error.message : String(error), { cause: error, retryable: false });
}

/** A wait that the caller's signal cuts short with `AbortedError`. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(new AbortedError());
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new AbortedError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
