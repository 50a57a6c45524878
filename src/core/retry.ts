import pRetry from "p-retry";
import {
  AbortedError,
  ApiError,
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

export interface RetryBudget {
  readonly maxRetries: number;
  readonly maxRetryAfterMs: number;
  /** Absolute time (ms since epoch) past which no retry may start. */
  readonly deadlineAt: number | undefined;
  readonly signal: AbortSignal | undefined;
  readonly onRetry: ((info: RetryInfo) => void) | undefined;
}

/**
 * Runs `attempt` under the retry policy, driving p-retry. p-retry has no per-attempt delay, so its own
 * backoff is off and the wait the policy chose is slept inside `shouldRetry`, abortable by the signal.
 * Whatever is thrown at the end carries how many requests were sent.
 */
export async function runWithRetry<T>(
  attempt: (attemptNumber: number) => Promise<T>,
  facts: AttemptFacts,
  budget: RetryBudget,
): Promise<T> {
  let attempts = 0;
  const maxRetries = Math.max(0, Math.floor(budget.maxRetries));
  const next = (): Promise<T> => {
    if (budget.signal?.aborted) return Promise.reject(new AbortedError());
    attempts += 1;
    return attempt(attempts);
  };
  const worthAnother = async (error: unknown): Promise<boolean> => {
    if (!(error instanceof FaultlineError)) return false;
    const decision = decideRetry(error, attempts, facts, budget.maxRetryAfterMs);
    if (!decision.retry) return false;
    if (budget.deadlineAt !== undefined && Date.now() + decision.delayMs >= budget.deadlineAt) return false;
    try {
      budget.onRetry?.({ attempt: attempts + 1, delayMs: decision.delayMs, error: withAttempts(error, attempts) });
    } catch {
      // A hook that throws vetoes the retry: the call ends with the failure the hook was told about,
      // not with the hook's own error dressed up as a network failure.
      return false;
    }
    await sleep(decision.delayMs, budget.signal);
    // A late timer or a stalled event loop can carry the wait past the deadline: start nothing then.
    return budget.deadlineAt === undefined || Date.now() < budget.deadlineAt;
  };
  try {
    // The first attempt runs on its own: most calls succeed at once, and need none of p-retry's bookkeeping.
    try {
      return await next();
    } catch (error) {
      if (maxRetries === 0 || !(await worthAnother(error))) throw error;
    }
    return await pRetry(next, {
      retries: maxRetries - 1,
      minTimeout: 0,
      maxTimeout: 0,
      factor: 1,
      randomize: false,
      shouldRetry: ({ error }) => worthAnother(error),
    });
  } catch (error) {
    throw withAttempts(toFaultlineError(error), attempts);
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
