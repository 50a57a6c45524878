/**
 * The options every client and every call take: their types, their checks, and the one step that merges a
 * call's overrides into the client's settings. A bad value is an `InvalidArgumentError` naming the option
 * and what was given, raised when the client is built or when the call starts, never at the network.
 */
import type { Dispatcher } from "undici";
import type { CircuitBreakerOptions } from "./breaker.js";
import type { RetryBudgetOptions } from "./budget.js";
import { InvalidArgumentError } from "./errors.js";
import type { RateLimitOptions, RateLimitWaitInfo } from "./governor/governor.js";
import { LOG_LEVELS, type Logger, type LogLevel } from "./log.js";
import type { RetryInfo } from "./retry.js";

/** Per-call overrides, accepted by every resource method as its last argument. */
export interface RequestOptions {
  /** Retries after the first attempt, a whole number from 0 to 100 [2]; 0 sends exactly one request. */
  readonly maxRetries?: number | undefined;
  /** Per-attempt limit in ms, covering queueing, connecting, headers and body: a positive number [60000]. */
  readonly timeout?: number | undefined;
  /** Total ms for the whole call, attempts and waits included: a positive number [none]. */
  readonly deadline?: number | undefined;
  /** The longest `Retry-After` faultline will sleep, in ms, 0 or more [60000]; longer ones are thrown at once. */
  readonly maxRetryAfter?: number | undefined;
  /** The largest 2xx body read, in decoded bytes, from 1 to 512 MiB [64 MiB]; past it, `ResponseTooLargeError`. */
  readonly maxResponseBytes?: number | undefined;
  /** An undici Dispatcher to send through instead of the client's own pooled Agent. */
  readonly dispatcher?: Dispatcher | undefined;
  /** Aborts the call, waits included, with `AbortedError`. */
  readonly signal?: AbortSignal | undefined;
  /** Called before each retry. If it throws, that retry is not made and the call fails with the error it was given. */
  readonly onRetry?: ((info: RetryInfo) => void) | undefined;
  /** Called when the call must wait for a rate-limit slot, with the tier and the expected wait. */
  readonly onRateLimitWait?: ((info: RateLimitWaitInfo) => void) | undefined;
  /** Makes a POST safe to retry after it may have reached the server; sent as `Idempotency-Key`. */
  readonly idempotencyKey?: string | undefined;
  /** Extra request headers. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

/** Options every client takes. */
export interface ClientOptions extends RequestOptions {
  readonly apiKey?: string | undefined;
  readonly baseUrl?: string | undefined;
  /**
   * Where log lines go, keys masked [stderr]: one per attempt at `debug`, rate-limit waits at `info`, circuit
   * changes and store fallbacks at `warn`. A logger you pass gets every level unless `logLevel` says otherwise.
   */
  readonly logger?: Logger | undefined;
  /** How much is logged [env `FAULTLINE_LOG`; `debug` with `FAULTLINE_DEBUG=1` or a logger given; else `warn`]. */
  readonly logLevel?: LogLevel | undefined;
  /** The rate-limit governor, on by default: `false` turns it off; `{ store, tiers }` shares or resizes it. */
  readonly rateLimit?: RateLimitOptions | false | undefined;
  /** The client's retry budget, on by default (500 tokens, a retry costs 5): `false` turns it off. */
  readonly retryBudget?: RetryBudgetOptions | false | undefined;
  /** The circuit breaker per base URL, on by default (opens after 10 failed calls in a row): `false` turns it off. */
  readonly circuitBreaker?: CircuitBreakerOptions | false | undefined;
  /** Headers sent with every request; a call's own `headers` win over them. The client-level `headers` is the same thing. */
  readonly defaultHeaders?: Readonly<Record<string, string>> | undefined;
  /** Query parameters sent with every request; a call's own parameters and credentials win over them. */
  readonly defaultQuery?: Readonly<Record<string, string>> | undefined;
  /**
   * The proxy every call goes through, as a URL (`http://user:password@proxy.example.com:3128`; its
   * credentials are masked everywhere), or `false` to ignore the environment's
   * [`HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY`, lower or upper case, when set; else none]. A `dispatcher`
   * of your own is used as it is.
   */
  readonly proxy?: string | false | undefined;
}

/** Every per-call setting with its value decided: what the transport reads on each call. */
export interface CallSettings {
  readonly maxRetries: number;
  readonly timeout: number;
  readonly deadline: number | undefined;
  readonly maxRetryAfter: number;
  readonly maxResponseBytes: number;
  readonly dispatcher: Dispatcher | undefined;
  readonly signal: AbortSignal | undefined;
  readonly onRetry: ((info: RetryInfo) => void) | undefined;
  readonly onRateLimitWait: ((info: RateLimitWaitInfo) => void) | undefined;
  readonly idempotencyKey: string | undefined;
  readonly headers: Readonly<Record<string, string>> | undefined;
}

export const MAX_RETRIES = 100;
export const MAX_RESPONSE_BYTES_LIMIT = 512 * 1024 * 1024;

/** The defaults, as CONTRACT.md states them. */
export const DEFAULT_SETTINGS: CallSettings = {
  maxRetries: 2,
  timeout: 60_000,
  deadline: undefined,
  maxRetryAfter: 60_000,
  maxResponseBytes: 64 * 1024 * 1024,
  dispatcher: undefined,
  signal: undefined,
  onRetry: undefined,
  onRateLimitWait: undefined,
  idempotencyKey: undefined,
  headers: undefined,
};

/** What each option accepts, in words for the error; `undefined` when the value is acceptable. */
type Check = (value: unknown) => string | undefined;

const positiveMs: Check = (v) =>
  typeof v === "number" && Number.isFinite(v) && v > 0 ? undefined : "a positive, finite number of milliseconds";

const REQUEST_CHECKS: Readonly<Record<keyof RequestOptions, Check>> = {
  maxRetries: (v) =>
    Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_RETRIES ? undefined : `a whole number from 0 to ${MAX_RETRIES}`,
  timeout: positiveMs,
  deadline: positiveMs,
  maxRetryAfter: (v) =>
    typeof v === "number" && Number.isFinite(v) && v >= 0 ? undefined : "0 or a positive, finite number of milliseconds",
  maxResponseBytes: (v) =>
    Number.isInteger(v) && (v as number) >= 1 && (v as number) <= MAX_RESPONSE_BYTES_LIMIT
      ? undefined
      : `a whole number of bytes from 1 to ${MAX_RESPONSE_BYTES_LIMIT} (512 MiB)`,
  dispatcher: (v) =>
    v !== null && typeof v === "object" && typeof (v as { dispatch?: unknown }).dispatch === "function"
      ? undefined
      : "an undici Dispatcher (an Agent, Pool, ProxyAgent...)",
  signal: (v) => (v instanceof AbortSignal ? undefined : "an AbortSignal"),
  onRetry: (v) => (typeof v === "function" ? undefined : "a function"),
  onRateLimitWait: (v) => (typeof v === "function" ? undefined : "a function"),
  idempotencyKey: (v) =>
    typeof v === "string" && /^[\x21-\x7e]{1,255}$/.test(v) ? undefined : "1 to 255 visible ASCII characters",
  headers: checkHeaders,
};

/** Checks a call's options (only those given); throws `InvalidArgumentError` for the first bad one. */
export function checkRequestOptions(options: RequestOptions): void {
  if (options === null || typeof options !== "object") {
    throw new InvalidArgumentError(`Request options must be an object, got ${shown(options)}`);
  }
  for (const name of Object.keys(options) as (keyof RequestOptions)[]) {
    const value = options[name];
    if (value === undefined) continue;
    const check = REQUEST_CHECKS[name] as Check | undefined;
    const expected = check?.(value);
    if (expected !== undefined) throw invalid(name, expected, value);
  }
}

/** The options only a client takes, apart from the per-call ones it also sets defaults for. */
export const CLIENT_ONLY = ["apiKey", "baseUrl", "logger", "logLevel", "rateLimit", "retryBudget", "circuitBreaker", "defaultHeaders", "defaultQuery", "proxy"] as const;

const positiveInteger = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 1;
const positiveNumber = (v: unknown): boolean => typeof v === "number" && Number.isFinite(v) && v > 0;
const nonNegativeNumber = (v: unknown): boolean => typeof v === "number" && Number.isFinite(v) && v >= 0;

/** Checks a client's options (keys and base URLs are checked where they are read, with their source). */
export function checkClientOptions(options: ClientOptions): void {
  if (options === null || typeof options !== "object") {
    throw new InvalidArgumentError(`Client options must be an object, got ${shown(options)}`);
  }
  // `proxy` is checked where it is read, with the environment's proxies (core/proxy.ts).
  const { apiKey: _key, baseUrl: _base, logger, logLevel, rateLimit, retryBudget, circuitBreaker, defaultHeaders, defaultQuery, proxy: _proxy, ...request } =
    options;
  checkRequestOptions(request);
  const headers = defaultHeaders === undefined ? undefined : checkHeaders(defaultHeaders);
  if (headers !== undefined) throw invalid("defaultHeaders", headers, defaultHeaders);
  if (defaultQuery !== undefined && (defaultQuery === null || typeof defaultQuery !== "object" || Object.values(defaultQuery).some((v) => typeof v !== "string"))) {
    throw invalid("defaultQuery", "an object of query parameter names to string values", defaultQuery);
  }
  const levels = ["error", "warn", "info", "debug"] as const;
  if (logger !== undefined && (logger === null || typeof logger !== "object" || levels.some((l) => logger[l] !== undefined && typeof logger[l] !== "function"))) {
    throw invalid("logger", "an object with error, warn, info and debug methods (each optional), such as console", logger);
  }
  if (logLevel !== undefined && !(LOG_LEVELS as readonly unknown[]).includes(logLevel)) throw invalid("logLevel", `one of ${LOG_LEVELS.join(", ")}`, logLevel);
  checkShape("rateLimit", rateLimit, {
    store: (v) => v !== null && typeof v === "object" && typeof (v as { take?: unknown }).take === "function" && typeof (v as { observe?: unknown }).observe === "function",
    tiers: (v) =>
      v !== null &&
      typeof v === "object" &&
      Object.values(v).every((t: unknown) => t !== null && typeof t === "object" && positiveInteger((t as { limit?: unknown }).limit) && positiveNumber((t as { windowMs?: unknown }).windowMs)),
  }, "false, or { store?: a RateLimitStore, tiers?: { [tier]: { limit: a whole number >= 1, windowMs: ms > 0 } } }");
  checkShape("retryBudget", retryBudget, { capacity: nonNegativeNumber, retryCost: nonNegativeNumber, timeoutCost: nonNegativeNumber, successReward: nonNegativeNumber }, "false, or { capacity?, retryCost?, timeoutCost?, successReward? }, each a number >= 0");
  checkShape("circuitBreaker", circuitBreaker, { failureThreshold: positiveInteger, openMs: positiveNumber, maxOpenMs: positiveNumber }, "false, or { failureThreshold?: a whole number >= 1, openMs?: ms > 0, maxOpenMs?: ms > 0 }");
}

/** `false`, undefined, or an object whose given fields each pass their check. */
function checkShape(name: string, value: unknown, fields: Readonly<Record<string, (v: unknown) => boolean>>, expected: string): void {
  if (value === undefined || value === false) return;
  if (value === null || typeof value !== "object") throw invalid(name, expected, value);
  for (const [field, item] of Object.entries(value)) {
    const check = fields[field];
    if (item !== undefined && check !== undefined && !check(item)) throw invalid(`${name}.${field}`, expected, item);
  }
}

/**
 * A call's settings: the client's, overlaid by what the call gives. Only options given with a value count,
 * so `{ timeout: undefined }` keeps the client's timeout. Call headers add to the client's.
 */
export function resolveSettings(base: CallSettings, overrides: RequestOptions): CallSettings {
  const out: Record<string, unknown> = { ...base };
  // Only the per-call settings: a client's own options (`workspace`, ...) are not the transport's.
  for (const [name, value] of Object.entries(overrides)) if (value !== undefined && Object.hasOwn(DEFAULT_SETTINGS, name)) out[name] = value;
  if (base.headers !== undefined && overrides.headers !== undefined) out["headers"] = { ...base.headers, ...overrides.headers };
  return out as unknown as CallSettings;
}

/**
 * An API key as given: surrounding whitespace trimmed (keys pasted from a file or a terminal carry a
 * newline), blank is no key, anything but visible ASCII inside is refused, without ever showing the key.
 */
export function checkApiKey(value: unknown, source: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new InvalidArgumentError(`${source} must be a string, got ${kindOf(value)}`);
  const key = value.trim();
  if (key === "") return undefined;
  if (!/^[\x21-\x7e]+$/.test(key)) {
    const what = /[\r\n]/.test(key) ? "a line break" : /[\x00-\x1f\x7f]/.test(key) ? "a control character" : /\s/.test(key) ? "whitespace" : "a non-ASCII character";
    throw new InvalidArgumentError(`${source} holds ${what}, which no API key has (the key is not shown)`, {
      hint: "Check how the key was copied: it should be one word of visible ASCII characters.",
    });
  }
  return key;
}

/** A base URL: absolute http(s), no query or fragment; trailing slashes dropped. */
export function checkBaseUrl(value: unknown, source: string): string {
  const expected = "an absolute http(s) URL without query or fragment, e.g. https://api.example.com";
  if (typeof value !== "string") throw invalid(source, expected, value);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(source, expected, maskUserInfo(value));
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.search !== "" || url.hash !== "" || value.includes("?") || value.includes("#")) {
    throw invalid(source, expected, maskUserInfo(value));
  }
  return value.replace(/\/+$/, "");
}

function checkHeaders(value: unknown): string | undefined {
  const expected = "an object of header names to string values, without line breaks";
  if (value === null || typeof value !== "object" || Array.isArray(value)) return expected;
  for (const [name, item] of Object.entries(value)) {
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) return `${expected} (${JSON.stringify(name.slice(0, 40))} is not a header name)`;
    if (typeof item !== "string" || /[\r\n\0]/.test(item)) return `${expected} (the value of ${name} is not)`;
  }
  return undefined;
}

function invalid(name: string, expected: string, value: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`Invalid option ${name}: expected ${expected}, got ${shown(value)}`);
}

/** A value as an error may show it: short, and never a whole object. */
function shown(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  return kindOf(value);
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "function") return "a function";
  if (typeof value === "object") return `an object (${(value as object).constructor?.name ?? "Object"})`;
  return `a ${typeof value}`;
}

function maskUserInfo(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*):[^/@]*@/i, "$1:***@");
}
