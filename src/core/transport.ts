import type { Readable } from "node:stream";
import { Agent, request, type Dispatcher } from "undici";
import type * as z from "zod";
import type { Dialect } from "./dialect.js";
import {
  AbortedError,
  ConnectionError,
  FaultlineError,
  InvalidArgumentError,
  ResponseValidationError,
  TimeoutError,
  type ApiError,
} from "./errors.js";
import { flattenHeaders, parseRateLimit, type RawHeaders } from "./headers.js";
import { Redactor } from "./redact.js";
import {
  ATTEMPT_TIMEOUT,
  MAY_HAVE_REACHED_SERVER,
  runWithRetry,
  type RetryInfo,
} from "./retry.js";
import { APIPromise, type ApiResponse } from "./api-promise.js";
import { apiErrorFrom } from "./error-response.js";

/** Error bodies are read to this many bytes; the rest is discarded unread. */
export const ERROR_BODY_CAP = 64 * 1024;

/** Where faultline writes its debug lines (one per attempt). Keys are masked before they get here. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
}

/** Per-call overrides, accepted by every resource method as its last argument. */
export interface RequestOptions {
  /** Retries after the first attempt [2]; 0 sends exactly one request. */
  readonly maxRetries?: number | undefined;
  /** Per-attempt limit in ms, covering headers and body [60000]. */
  readonly timeout?: number | undefined;
  /** Total ms for the whole call, attempts and waits included [none]. */
  readonly deadline?: number | undefined;
  /** The longest `Retry-After` faultline will sleep, in ms [60000]; longer ones are thrown at once. */
  readonly maxRetryAfter?: number | undefined;
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

/** A request body that can be produced afresh for each attempt. */
export interface OutgoingBody {
  readonly body: string | Uint8Array | Readable;
  readonly headers: Readonly<Record<string, string>>;
}

export type Query = Readonly<Record<string, string | number | boolean | undefined | null>>;

/** One call, as a resource describes it. */
export interface RequestSpec<T> {
  /** The operation as a user knows it (`workflows.get`): names the call in traces and logs. */
  readonly operation?: string | undefined;
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Path below the base URL, already percent-encoded. */
  readonly path: string;
  readonly query?: Query | undefined;
  readonly json?: unknown;
  /** A body built per attempt (multipart uploads). */
  readonly body?: (() => OutgoingBody) | undefined;
  /** False when `body` can be produced only once (a one-shot stream). */
  readonly replayable?: boolean | undefined;
  readonly schema: z.ZodType<T>;
  /** Another base URL for this call (a second service of the same API). */
  readonly baseUrl?: string | undefined;
  /** Which service answers, recorded on its errors. */
  readonly service?: string | undefined;
  /** The call needs no credentials (a health check): none are sent, and none are required. */
  readonly anonymous?: boolean | undefined;
  /**
   * Statuses thrown at once, never retried, because the caller owns that wait: a results 412 means
   * "not yet", and `results.waitFor` polls on its own schedule.
   */
  readonly finalStatuses?: readonly number[] | undefined;
}

export interface TransportConfig {
  readonly baseUrl: string;
  readonly dialect: Dialect;
  /** Values to mask wherever they appear. */
  readonly secrets: ReadonlyArray<string | undefined>;
  /** Credentials sent as headers on every request (`Authorization: Bearer ...`). */
  readonly authHeaders?: Readonly<Record<string, string>> | undefined;
  /** Credentials sent as query parameters on every request (Roboflow's `api_key`). */
  readonly authQuery?: Readonly<Record<string, string>> | undefined;
  readonly defaults: RequestOptions;
  readonly logger?: Logger | undefined;
  readonly userAgent: string;
}

const DEFAULTS = { maxRetries: 2, timeout: 60_000, maxRetryAfter: 60_000 } as const;
const POOL_CONNECTIONS = 64;
const MAX_TIMER_MS = 2 ** 31 - 1;

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
  "CERT_HAS_EXPIRED",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/**
 * The request layer every client stands on: one pooled keep-alive Agent, per-attempt timeouts over
 * headers and body, the retry policy, and every non-2xx turned into a typed error through a dialect.
 */
export class Transport {
  readonly redactor: Redactor;
  readonly #config: TransportConfig;
  #agent: Agent | undefined;

  constructor(config: TransportConfig) {
    this.#config = config;
    this.redactor = new Redactor(config.secrets);
  }

  /** Sends a call under the retry policy and resolves to its validated data. */
  request<T>(spec: RequestSpec<T>, options: RequestOptions = {}): APIPromise<T> {
    return new APIPromise(this.#send(spec, options));
  }

  /** Closes the client's own connection pool (a user's dispatcher is left alone). */
  async close(): Promise<void> {
    const agent = this.#agent;
    this.#agent = undefined;
    await agent?.close();
  }

  async #send<T>(spec: RequestSpec<T>, options: RequestOptions): Promise<ApiResponse<T>> {
    const merged = { ...this.#config.defaults, ...definedOnly(options) };
    const timeout = positive(merged.timeout) ?? DEFAULTS.timeout;
    const deadline = positive(merged.deadline);
    const deadlineAt = deadline === undefined ? undefined : Date.now() + deadline;
    const signal = merged.signal;
    const url = this.#url(spec);
    const headers = this.#headers(spec, merged);
    const dispatcher = merged.dispatcher ?? this.#pool();
    const replayable = spec.body === undefined || spec.replayable !== false;
    const json = spec.json === undefined ? undefined : this.#serialise(spec);

    return runWithRetry(
      (attempt) => this.#attempt(spec, { url, headers, json, dispatcher, signal, timeout, deadlineAt, attempt }),
      // A key passed as a plain header makes the POST just as safe to repeat as one passed as the option.
      { method: spec.method, replayable, idempotencyKey: headers["idempotency-key"], finalStatuses: spec.finalStatuses },
      {
        maxRetries: nonNegative(merged.maxRetries) ?? DEFAULTS.maxRetries,
        maxRetryAfterMs: nonNegative(merged.maxRetryAfter) ?? DEFAULTS.maxRetryAfter,
        deadlineAt,
        signal,
        onRetry: merged.onRetry,
      },
    );
  }

  async #attempt<T>(spec: RequestSpec<T>, a: AttemptInput): Promise<ApiResponse<T>> {
    const started = Date.now();
    const remaining = a.deadlineAt === undefined ? Infinity : a.deadlineAt - started;
    if (remaining <= 0) throw this.#timeout(spec, a, true);
    const controller = new AbortController();
    const byDeadline = remaining < a.timeout;
    // setTimeout takes at most 2^31-1 ms; past that it would fire at once.
    const timer = setTimeout(() => controller.abort(TIMED_OUT), Math.min(a.timeout, remaining, MAX_TIMER_MS));
    const onAbort = (): void => controller.abort(CALLER_ABORTED);
    a.signal?.addEventListener("abort", onAbort, { once: true });
    if (a.signal?.aborted) controller.abort(CALLER_ABORTED);
    let headers = a.headers;
    let body: OutgoingBody["body"] | undefined = a.json;
    let status: number | undefined;
    try {
      if (spec.body !== undefined) {
        const out = buildBody(spec.body, this.redactor);
        headers = { ...headers, ...out.headers };
        body = out.body;
      }
      const response = await request(a.url, {
        method: spec.method,
        headers,
        body: body ?? null,
        dispatcher: a.dispatcher,
        signal: controller.signal,
      });
      const responseHeaders = flattenHeaders(response.headers as RawHeaders);
      status = response.statusCode;
      if (status >= 200 && status < 300) {
        const text = await response.body.text();
        const ok = this.#success(spec, a, status, responseHeaders, text);
        this.#log(spec, a, started, status);
        return ok;
      }
      const { text, truncated } = await readCapped(response.body, ERROR_BODY_CAP);
      // A cut can fall inside a secret the server echoed: its first half would escape masking.
      throw this.#apiError(spec, a, status, responseHeaders, truncated ? this.redactor.truncatedText(text) : text);
    } catch (error) {
      const failure = error instanceof FaultlineError ? error : this.#networkError(spec, a, error, controller.signal, byDeadline);
      this.#log(spec, a, started, status, failure.code, failure === error ? undefined : errorCode(error));
      throw failure;
    } finally {
      clearTimeout(timer);
      a.signal?.removeEventListener("abort", onAbort);
    }
  }

  #success<T>(
    spec: RequestSpec<T>,
    a: AttemptInput,
    status: number,
    headers: Record<string, string>,
    text: string,
  ): ApiResponse<T> {
    let parsed: unknown;
    if (text.length > 0 && status !== 204) {
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new ResponseValidationError(`Expected a JSON body from ${spec.method} ${spec.path}, got text`, {
          status,
          issues: [{ path: [], message: "not JSON" }],
          body: this.redactor.text(text).slice(0, ERROR_BODY_CAP),
          method: spec.method,
          url: this.redactor.url(a.url),
          attempts: a.attempt,
        });
      }
    }
    const result = spec.schema.safeParse(parsed);
    if (!result.success) {
      // zod quotes what it saw (`Unrecognized key: "<key>"`, record keys in paths): mask those too.
      const issues = result.error.issues.map((i) => ({
        path: i.path.map((p) => (typeof p === "string" ? this.redactor.text(p) : p)),
        message: this.redactor.text(i.message),
      }));
      throw new ResponseValidationError(
        `The ${status} response to ${spec.method} ${spec.path} does not match its schema: ${issues
          .slice(0, 3)
          .map((i) => `${i.path.map(String).join(".") || "(root)"}: ${i.message}`)
          .join("; ")}`,
        {
          status,
          issues,
          body: this.redactor.value(parsed),
          method: spec.method,
          url: this.redactor.url(a.url),
          attempts: a.attempt,
        },
      );
    }
    return {
      data: result.data,
      status,
      headers,
      requestId: headers["x-request-id"],
      rateLimit: parseRateLimit(headers),
      attempts: a.attempt,
    };
  }

  #apiError(spec: RequestSpec<unknown>, a: AttemptInput, status: number, headers: Record<string, string>, text: string): ApiError {
    const { dialect } = this.#config;
    const source = { dialect, redactor: this.redactor, method: spec.method, url: a.url, service: spec.service, attempts: a.attempt };
    return apiErrorFrom({ status, headers, text }, source);
  }

  #networkError(
    spec: RequestSpec<unknown>,
    a: AttemptInput,
    error: unknown,
    signal: AbortSignal,
    byDeadline: boolean,
  ): FaultlineError {
    const common = { method: spec.method, url: this.redactor.url(a.url), attempts: a.attempt, cause: error };
    if (signal.aborted && signal.reason === CALLER_ABORTED) return new AbortedError("The call was aborted", common);
    if (signal.aborted && signal.reason === TIMED_OUT) return this.#timeout(spec, a, byDeadline, error);
    const code = errorCode(error);
    const reason = this.redactor.text(error instanceof Error ? error.message : String(error));
    if (code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") {
      return this.#timeout(spec, a, false, error);
    }
    const sent = code === undefined || !NOT_SENT.has(code);
    const out = new ConnectionError(
      `${spec.method} ${this.redactor.url(a.url)} failed: ${reason}${code === undefined ? "" : ` (${code})`}`,
      { ...common, retryable: code === undefined || !PERMANENT.has(code) },
    );
    if (sent) Object.defineProperty(out, MAY_HAVE_REACHED_SERVER, { value: true });
    return out;
  }

  #timeout(spec: RequestSpec<unknown>, a: AttemptInput, byDeadline: boolean, cause?: unknown): TimeoutError {
    const url = this.redactor.url(a.url);
    const error = new TimeoutError(
      byDeadline
        ? `${spec.method} ${url} ran past its deadline`
        : `${spec.method} ${url} got no complete response within ${a.timeout} ms`,
      { method: spec.method, url, attempts: a.attempt, retryable: !byDeadline, cause },
    );
    if (!byDeadline) {
      Object.defineProperty(error, ATTEMPT_TIMEOUT, { value: true });
      Object.defineProperty(error, MAY_HAVE_REACHED_SERVER, { value: true });
    }
    return error;
  }

  #url(spec: RequestSpec<unknown>): string {
    const base = (spec.baseUrl ?? this.#config.baseUrl).replace(/\/+$/, "");
    let url: URL;
    try {
      url = new URL(base + spec.path);
    } catch (error) {
      throw new InvalidArgumentError(`Not a valid URL: ${this.redactor.url(base + spec.path)}`, {
        method: spec.method,
        cause: error,
      });
    }
    if (spec.query !== undefined) {
      for (const [name, value] of Object.entries(spec.query)) {
        if (value !== undefined && value !== null) url.searchParams.set(name, String(value));
      }
    }
    if (spec.anonymous !== true) {
      for (const [name, value] of Object.entries(this.#config.authQuery ?? {})) url.searchParams.set(name, value);
    }
    return url.toString();
  }

  #headers(spec: RequestSpec<unknown>, options: RequestOptions): Record<string, string> {
    const headers: Record<string, string> = {
      "user-agent": this.#config.userAgent,
      accept: "application/json",
      ...(spec.anonymous === true ? {} : this.#config.authHeaders),
    };
    for (const [name, value] of Object.entries(options.headers ?? {})) headers[name.toLowerCase()] = value;
    if (spec.json !== undefined) headers["content-type"] = "application/json";
    if (options.idempotencyKey !== undefined) headers["idempotency-key"] = options.idempotencyKey;
    return headers;
  }

  /** The JSON body, once for every attempt; what cannot be serialised is the caller's mistake, not a network one. */
  #serialise(spec: RequestSpec<unknown>): string {
    try {
      const text = JSON.stringify(spec.json) as string | undefined;
      if (text === undefined) throw new TypeError(`${typeof spec.json} is not JSON`);
      return text;
    } catch (error) {
      throw new InvalidArgumentError(
        `The body of ${spec.method} ${spec.path} cannot be sent as JSON: ${this.redactor.text(error instanceof Error ? error.message : String(error))}`,
        { method: spec.method, cause: error },
      );
    }
  }

  #pool(): Agent {
    this.#agent ??= new Agent({ connections: POOL_CONNECTIONS, keepAliveTimeout: 10_000 });
    return this.#agent;
  }

  /** The one debug line an attempt gets, written when it ends, whatever the outcome. */
  #log(
    spec: RequestSpec<unknown>,
    a: AttemptInput,
    started: number,
    status: number | undefined,
    code?: string,
    cause?: string,
  ): void {
    const logger = this.#config.logger;
    if (logger === undefined) return;
    const outcome = [status, code, cause].filter((part) => part !== undefined).join(" ");
    logger.debug(`faultline ${spec.method} ${this.redactor.url(a.url)} -> ${outcome}`, {
      attempt: a.attempt,
      ...(status === undefined ? {} : { status }),
      ...(code === undefined ? {} : { code }),
      ...(cause === undefined ? {} : { cause }),
      ms: Date.now() - started,
    });
  }
}

interface AttemptInput {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly json: string | undefined;
  readonly dispatcher: Dispatcher;
  readonly signal: AbortSignal | undefined;
  readonly timeout: number;
  readonly deadlineAt: number | undefined;
  readonly attempt: number;
}

const TIMED_OUT = Symbol("timed out");
const CALLER_ABORTED = Symbol("caller aborted");

/** Reads at most `cap` bytes; past that the stream is destroyed, so the rest is never buffered. */
export async function readCapped(
  body: AsyncIterable<Uint8Array> & { destroy?: (error?: Error) => void },
  cap: number,
): Promise<{ text: string; truncated: boolean }> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for await (const chunk of body) {
    const room = cap - size;
    if (chunk.byteLength >= room) {
      chunks.push(chunk.subarray(0, room));
      size += room;
      truncated = chunk.byteLength > room;
      if (truncated) break;
      continue;
    }
    chunks.push(chunk);
    size += chunk.byteLength;
  }
  // `break` in for-await already destroys the stream; a body that ended exactly at the cap is drained.
  return { text: Buffer.concat(chunks, size).toString("utf8"), truncated };
}

/** Builds an attempt's body; a builder that fails with anything but our own errors was handed bad input. */
function buildBody(build: () => OutgoingBody, redactor: Redactor): OutgoingBody {
  try {
    return build();
  } catch (error) {
    if (error instanceof FaultlineError) throw error;
    const reason = redactor.text(error instanceof Error ? error.message : String(error));
    throw new InvalidArgumentError(`Could not build the request body: ${reason}`, { cause: error });
  }
}

/** The most specific `code` in an error's cause chain (undici wraps socket errors). */
function errorCode(error: unknown): string | undefined {
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

function positive(value: number | undefined): number | undefined {
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : undefined;
}

function nonNegative(value: number | undefined): number | undefined {
  return value !== undefined && Number.isFinite(value) && value >= 0 ? value : undefined;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [key, item] of Object.entries(value)) if (item !== undefined) (out as Record<string, unknown>)[key] = item;
  return out;
}
