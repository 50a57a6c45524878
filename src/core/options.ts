/**
 * The options every client and every call take: their types, their checks, and the one step that merges a
 * call's overrides into the client's settings. A bad value is an `InvalidArgumentError` naming the option
 * and what was given, raised when the client is built or when the call starts, never at the network.
 */
import type { Dispatcher } from "undici";
import { InvalidArgumentError } from "./errors.js";
import type { RetryInfo } from "./retry.js";

/** Where faultline writes its debug lines (one per attempt). Keys are masked before they get here. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
}

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
  /** Makes a POST safe to retry after it may have reached the server; sent as `Idempotency-Key`. */
  readonly idempotencyKey?: string | undefined;
  /** Extra request headers. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

/** Options every client takes. */
export interface ClientOptions extends RequestOptions {
  readonly apiKey?: string | undefined;
  readonly baseUrl?: string | undefined;
  /** Receives one debug line per attempt, keys masked. Defaults to stderr when `FAULTLINE_DEBUG` is set. */
  readonly logger?: Logger | undefined;
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

/** Checks a client's common options (the per-call ones, the logger and the base URL; keys are checked apart). */
export function checkClientOptions(options: ClientOptions): void {
  if (options === null || typeof options !== "object") {
    throw new InvalidArgumentError(`Client options must be an object, got ${shown(options)}`);
  }
  const { apiKey: _key, baseUrl: _base, logger, ...request } = options;
  checkRequestOptions(request);
  if (logger !== undefined && (logger === null || typeof logger !== "object" || typeof logger.debug !== "function")) {
    throw invalid("logger", "an object with a debug(message, fields) method", logger);
  }
}

/**
 * A call's settings: the client's, overlaid by what the call gives. Only options given with a value count,
 * so `{ timeout: undefined }` keeps the client's timeout. Call headers add to the client's.
 */
export function resolveSettings(base: CallSettings, overrides: RequestOptions): CallSettings {
  const out: Record<string, unknown> = { ...base };
  for (const [name, value] of Object.entries(overrides)) if (value !== undefined) out[name] = value;
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
