/**
 * What an attempt that got no usable answer becomes: a `ConnectionError` or a `TimeoutError`, with a message
 * a person can read (undici's internal assertions are not), and the facts the retry policy needs: whether
 * the request may have reached the server, and whether repeating it is safe.
 */
import { ConnectionError, TimeoutError, type FaultlineError } from "./errors.js";
import { ATTEMPT_TIMEOUT, MAY_HAVE_REACHED_SERVER } from "./retry.js";

/** The call an attempt belonged to, as the error will describe it (URL already masked). */
export interface AttemptContext {
  readonly method: string;
  readonly url: string;
  readonly attempt: number;
  /** Whether sending the request twice is harmless: an idempotent method, or an `Idempotency-Key`. */
  readonly repeatable: boolean;
  /** The per-attempt timeout, for the message. */
  readonly timeout: number;
}

/** Network error codes that mean the request never left: nothing reached the server. */
const NOT_SENT = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/** Failures that another try will not fix. */
const PERMANENT = new Set([
  "ERR_INVALID_URL",
  "UND_ERR_INVALID_ARG",
  "UND_ERR_HEADERS_OVERFLOW",
  "CERT_HAS_EXPIRED",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

const NOT_REPEATABLE_HINT =
  "The request may have reached the server, and it is not safe to send twice: pass `idempotencyKey` to make it retryable.";

/** A failure with no response, from undici or the socket under it. `reason` has secrets masked already. */
export function connectionFailure(context: AttemptContext, error: unknown, reason: string): ConnectionError {
  const code = errorCode(error);
  const sent = code === undefined || !NOT_SENT.has(code);
  const permanent = code !== undefined && PERMANENT.has(code);
  const unsafe = sent && !context.repeatable;
  const out = new ConnectionError(`${context.method} ${context.url} failed: ${describe(code, reason)}`, {
    method: context.method,
    url: context.url,
    attempts: context.attempt,
    retryable: !permanent && !unsafe,
    hint: unsafe && !permanent ? NOT_REPEATABLE_HINT : undefined,
    cause: error,
  });
  if (sent) mark(out, MAY_HAVE_REACHED_SERVER);
  return out;
}

/**
 * An attempt that ran out of time: its own `timeout` (the request may have reached the server), or the
 * call's `deadline` (nothing more will be tried).
 */
export function timeoutFailure(context: AttemptContext, byDeadline: boolean, cause?: unknown): TimeoutError {
  const error = new TimeoutError(
    byDeadline
      ? `${context.method} ${context.url} ran past its deadline`
      : `${context.method} ${context.url} got no complete response within ${context.timeout} ms`,
    {
      method: context.method,
      url: context.url,
      attempts: context.attempt,
      retryable: !byDeadline && context.repeatable,
      hint: byDeadline || context.repeatable ? undefined : NOT_REPEATABLE_HINT,
      cause,
    },
  );
  if (!byDeadline) {
    mark(error, ATTEMPT_TIMEOUT);
    mark(error, MAY_HAVE_REACHED_SERVER);
  }
  return error;
}

/** Whether undici gave up on the attempt's own clock (its header or body timeouts). */
export function isUndiciTimeout(error: unknown): boolean {
  const code = errorCode(error);
  return code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT";
}

/** The most specific `code` in an error's cause chain (undici wraps socket errors). */
export function errorCode(error: unknown): string | undefined {
  let generic: string | undefined;
  let e: unknown = error;
  for (let depth = 0; e !== null && typeof e === "object" && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") {
      if (code !== "UND_ERR_SOCKET") return code;
      generic ??= code;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return generic;
}

/** One line a person can act on; undici's own words where they are clear, ours where they are internals. */
function describe(code: string | undefined, reason: string): string {
  // undici asserts on what its parser should never see (a status line of 000) and says so in several lines.
  if (code === "ERR_ASSERTION") return "the server's answer is not valid HTTP (an impossible status line)";
  if (code?.startsWith("HPE_") === true) return `the server's answer is not valid HTTP (${code})`;
  // undici's word for an unsolicited 1xx, among other answers it cannot read.
  if (reason === "bad response") return "the server's answer could not be read (an unexpected informational 1xx response, or a broken status line) (UND_ERR_SOCKET)";
  const line = (reason.split("\n", 1)[0] ?? "").trim().slice(0, 300) || "no reason given";
  return code === undefined ? line : `${line} (${code})`;
}

function mark(error: FaultlineError, symbol: symbol): void {
  Object.defineProperty(error, symbol, { value: true });
}
