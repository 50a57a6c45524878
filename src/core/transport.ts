import type { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import { APIPromise, type ApiResponse } from "./api-promise.js";
import { AttemptAbort } from "./attempt-abort.js";
import { ACCEPT_ENCODING, BodyProblem, readBody, type ResponseBody } from "./body.js";
import { Breaker, type CircuitBreakerOptions, type CircuitState, type Outcome, type Permit } from "./breaker.js";
import { RetryBudget, type RetryBudgetOptions, type RetryBudgetState } from "./budget.js";
import type { Dialect } from "./dialect.js";
import { apiErrorFrom } from "./error-response.js";
import {
  AbortedError,
  ApiError,
  ConnectionError,
  FaultlineError,
  InvalidArgumentError,
  ResponseTooLargeError,
  ResponseValidationError,
  TimeoutError,
  codeFor,
  createApiError,
} from "./errors.js";
import { connectionFailure, errorCode, isUndiciTimeout, timeoutFailure, type AttemptContext } from "./failures.js";
import { Governor, type RateLimitOptions, type Ticket } from "./governor/governor.js";
import type { TierPolicy } from "./governor/store.js";
import { flattenHeaders, parseRateLimit, type RawHeaders } from "./headers.js";
import {
  DEFAULT_SETTINGS,
  checkRequestOptions,
  resolveSettings,
  type CallSettings,
  type RequestOptions,
} from "./options.js";
import { Log } from "./log.js";
import type { ProxyRoutes } from "./proxy.js";
import { Redactor } from "./redact.js";
import { ATTEMPT_TIMEOUT, isRetryable, markNothingSent, runWithRetry } from "./retry.js";
import { safeParse, type SafeParseResult, type Schema } from "./schema.js";
import { traceCall, type AttemptTrace, type CallTrace } from "./tracing/trace.js";
import { Agent, request } from "./undici.js";

export type { ClientOptions, RequestOptions } from "./options.js";
export type { Logger } from "./log.js";

/** Error bodies are read to this many (decoded) bytes; the rest is discarded unread. */
export const ERROR_BODY_CAP = 64 * 1024;

/** A request body that can be produced afresh for each attempt. */
export interface OutgoingBody {
  readonly body: string | Uint8Array | Readable;
  readonly headers: Readonly<Record<string, string>>;
}

type QueryValue = string | number | boolean;

/** Query parameters; a list repeats its name once per item (`tag=a&tag=b`), in order. */
export type Query = Readonly<Record<string, QueryValue | readonly QueryValue[] | undefined | null>>;

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
  readonly schema: Schema<T>;
  /** Another base URL for this call (a second service of the same API). */
  readonly baseUrl?: string | undefined;
  /** Which service answers, recorded on its errors. */
  readonly service?: string | undefined;
  /** How that service phrases its errors, when it is not the client's dialect (a second service's own form). */
  readonly dialect?: Dialect | undefined;
  /** The call needs no credentials (a health check): none are sent, and none are required. */
  readonly anonymous?: boolean | undefined;
  /**
   * Statuses thrown at once, never retried, because the caller owns that wait: a results 412 means
   * "not yet", and `results.waitFor` polls on its own schedule.
   */
  readonly finalStatuses?: readonly number[] | undefined;
}

/** How an API's calls fall into rate-limit tiers, and the tier sizes it documents. */
export interface RateTiers {
  /** The tier a call counts in; `undefined` for calls the API does not count (a health check). */
  tierOf(spec: RequestSpec<unknown>): string | undefined;
  /** The documented sizes; a tier missing here is paced from 429s only. */
  readonly documented: Readonly<Record<string, TierPolicy>>;
}

/**
 * What a client and every client `withOptions` derives from it share: the connection pool, and each base
 * URL's circuit breaker and retry budget.
 */
export class TransportShared {
  /**
   * A pool per route (`direct`, or a set of proxies): a client derived with another `proxy` must not send
   * through its parent's. Private, so that inspecting a client never shows a proxy's credentials, which
   * a proxy's dispatcher holds.
   */
  readonly #pools = new Map<string, Dispatcher | Promise<Dispatcher>>();
  readonly breakers = new Map<string, Breaker>();
  readonly budgets = new Map<string, RetryBudget>();

  /** The open pool of `route`, if there is one (a promise of it while a proxy's agent loads). */
  pool(route: string): Dispatcher | Promise<Dispatcher> | undefined {
    return this.#pools.get(route);
  }

  /** Keeps `pool` as the pool of `route`, and answers it. */
  open(route: string, pool: Dispatcher | Promise<Dispatcher>): Dispatcher | Promise<Dispatcher> {
    this.#pools.set(route, pool);
    return pool;
  }

  /** Drops the pool of `route` if it is still `pool` (a proxy's agent that failed to load). */
  forget(route: string, pool: Dispatcher | Promise<Dispatcher>): void {
    if (this.#pools.get(route) === pool) this.#pools.delete(route);
  }

  /** Closes every pool; the next call opens a new one. */
  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    // A pool that never loaded has nothing to close; the calls that waited for it had its error.
    await Promise.all(pools.map(async (pool) => (await Promise.resolve(pool).catch(() => undefined))?.close()));
  }
}

export interface TransportConfig {
  readonly baseUrl: string;
  readonly dialect: Dialect;
  /** The API key, hashed into rate-limit keys (never stored). */
  readonly apiKey?: string | undefined;
  readonly rateTiers?: RateTiers | undefined;
  /** The governor's settings; `false` turns it off. */
  readonly rateLimit?: RateLimitOptions | false | undefined;
  readonly retryBudget?: RetryBudgetOptions | false | undefined;
  readonly circuitBreaker?: CircuitBreakerOptions | false | undefined;
  /** Headers sent on every request, under the credentials and a call's own headers. */
  readonly defaultHeaders?: Readonly<Record<string, string>> | undefined;
  /** Query parameters sent on every request, under a call's own and the credentials. */
  readonly defaultQuery?: Readonly<Record<string, string>> | undefined;
  /** State shared with the client this one was derived from (`withOptions`). */
  readonly shared?: TransportShared | undefined;
  /** Values to mask wherever they appear. */
  readonly secrets: ReadonlyArray<string | undefined>;
  /** Credentials sent as headers on every request (`Authorization: Bearer ...`). */
  readonly authHeaders?: Readonly<Record<string, string>> | undefined;
  /** Credentials sent as query parameters on every request (Roboflow's `api_key`). */
  readonly authQuery?: Readonly<Record<string, string>> | undefined;
  /** The proxies calls go through (their credentials among `secrets`); none by default. */
  readonly proxy?: ProxyRoutes | undefined;
  readonly defaults: RequestOptions;
  /** Where log lines go [nowhere]. */
  readonly log?: Log | undefined;
  readonly userAgent: string;
}

const POOL_CONNECTIONS = 64;
const MAX_TIMER_MS = 2 ** 31 - 1;
const IDEMPOTENT_METHODS = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);
/** zod's issues are kept to this many: a body of a million bad items would otherwise make a million. */
const MAX_ISSUES = 100;

/** What stays the same across the attempts of one call. */
interface Call<T> {
  readonly spec: RequestSpec<T>;
  readonly settings: CallSettings;
  readonly url: string;
  /** Where undici sends it: the URL's origin, and its path with the query. */
  readonly target: { readonly origin: string; readonly path: string };
  /** The URL as errors and logs show it. */
  readonly shownUrl: string;
  readonly headers: Record<string, string>;
  readonly json: string | undefined;
  readonly deadlineAt: number | undefined;
  /** Whether sending the request twice is harmless: an idempotent method, or an `Idempotency-Key`. */
  readonly repeatable: boolean;
  /** The base URL's origin: what breakers, budgets and rate-limit tiers are kept by. */
  readonly origin: string;
  /** The rate-limit tier the call counts in, when it counts in one. */
  readonly tier: string | undefined;
  readonly breaker: Breaker | undefined;
  /** Ms spent waiting for rate-limit slots, over all attempts. */
  queuedMs: number;
  /** Whether the last attempt was the breaker's probe (its outcome is then already recorded). */
  probed: boolean;
  /** The call's trace, when a tracer or a diagnostics subscriber listens; else nothing is traced. */
  readonly trace: CallTrace | undefined;
}

/**
 * The request layer every client stands on: one pooled keep-alive Agent, per-attempt timeouts over
 * headers and body, the retry policy, and every non-2xx turned into a typed error through a dialect.
 */
export class Transport {
  readonly redactor: Redactor;
  readonly shared: TransportShared;
  readonly #config: TransportConfig;
  readonly #settings: CallSettings;
  readonly #governor: Governor | undefined;
  readonly #log: Log;
  readonly #origins = new Map<string, string>();
  /** Which of the shared pools this client's calls go through: `direct`, or its proxies'. */
  readonly #route: string;

  constructor(config: TransportConfig) {
    this.#config = config;
    this.redactor = new Redactor(config.secrets);
    this.shared = config.shared ?? new TransportShared();
    this.#route = config.proxy?.route ?? "direct";
    this.#log = config.log ?? new Log(undefined, "off");
    checkRequestOptions(config.defaults);
    this.#settings = resolveSettings(DEFAULT_SETTINGS, config.defaults);
    const tiers = config.rateTiers;
    this.#governor =
      config.rateLimit === false || tiers === undefined
        ? undefined
        : new Governor(config.dialect.name, config.apiKey, tiers.documented, config.rateLimit);
  }

  /** Sends a call under the retry policy and resolves to its validated data. */
  request<T>(spec: RequestSpec<T>, options?: RequestOptions): APIPromise<T> {
    return new APIPromise(this.#send(spec, options));
  }

  /** Closes the client's own connection pool (a user's dispatcher is left alone); later calls open a new one. */
  close(): Promise<void> {
    return this.shared.close();
  }

  /** The circuit state of `url`'s origin (the client's base URL when none is given). */
  circuitState(url?: string): CircuitState {
    const breaker = this.shared.breakers.get(this.#origin(url ?? this.#config.baseUrl));
    return breaker?.state() ?? { state: "closed", failures: 0, openedAt: undefined, probeAt: undefined };
  }

  /** The retry budget of `url`'s origin (the client's base URL when none is given). */
  retryBudgetState(url?: string): RetryBudgetState | undefined {
    if (this.#config.retryBudget === false) return undefined;
    return this.#budget(this.#origin(url ?? this.#config.baseUrl)).state();
  }

  #send<T>(spec: RequestSpec<T>, options: RequestOptions | undefined): Promise<ApiResponse<T>> {
    let call: Call<T>;
    try {
      call = this.#prepare(spec, options);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return call.trace === undefined ? this.#called(call) : call.trace.run(() => this.#called(call));
  }

  /** A call from its first attempt to its answer, its outcome told to the breaker. */
  async #called<T>(call: Call<T>): Promise<ApiResponse<T>> {
    let response: ApiResponse<T>;
    try {
      response = await this.#retried(call);
    } catch (error) {
      // The breaker counts calls the retries could not save, not attempts: faults that retries absorb
      // (30 % of requests, say) never look like an outage, however they cluster.
      if (!call.probed) call.breaker?.record(outcomeOf(error), "normal");
      throw error;
    }
    if (!call.probed) call.breaker?.record("success", "normal");
    // Only a call that waited has anything to add: the response object is otherwise handed on as built.
    return call.queuedMs === 0 ? response : { ...response, queuedMs: call.queuedMs };
  }

  #retried<T>(call: Call<T>): Promise<ApiResponse<T>> {
    const { spec, settings } = call;
    return runWithRetry(
      (attempt) => this.#attempt(call, attempt),
      {
        method: spec.method,
        replayable: spec.body === undefined || spec.replayable !== false,
        repeatable: call.repeatable,
        finalStatuses: spec.finalStatuses,
      },
      {
        maxRetries: settings.maxRetries,
        maxRetryAfterMs: settings.maxRetryAfter,
        deadlineAt: call.deadlineAt,
        signal: settings.signal,
        onRetry: settings.onRetry,
        budget: this.#config.retryBudget === false ? undefined : this.#budget(call.origin),
        breaker: call.breaker,
        onBackoff: call.trace?.backedOff,
      },
    );
  }

  /** What every attempt of a call shares; bad options and arguments throw here, before anything is sent. */
  #prepare<T>(spec: RequestSpec<T>, options: RequestOptions | undefined): Call<T> {
    let settings = this.#settings;
    if (options !== undefined) {
      checkRequestOptions(options);
      settings = resolveSettings(settings, options);
    }
    const target = this.#url(spec);
    const url = target.href;
    const headers = this.#headers(spec, settings);
    const origin = this.#origin(spec.baseUrl ?? this.#config.baseUrl);
    const shownUrl = this.redactor.url(url);
    return {
      origin,
      tier: this.#governor === undefined ? undefined : this.#config.rateTiers?.tierOf(spec),
      breaker: this.#config.circuitBreaker === false ? undefined : this.#breaker(origin),
      queuedMs: 0,
      probed: false,
      spec,
      settings,
      url,
      target: { origin: target.origin, path: target.pathname + target.search },
      shownUrl,
      headers,
      json: spec.json === undefined ? undefined : this.#serialise(spec),
      deadlineAt: settings.deadline === undefined ? undefined : Date.now() + settings.deadline,
      // A key passed as a plain header makes a POST just as safe to repeat as one passed as the option.
      repeatable: IDEMPOTENT_METHODS.has(spec.method) || headers["idempotency-key"] !== undefined,
      trace: traceCall(this.#config.dialect.name, spec, shownUrl, origin),
    };
  }

  /**
   * One attempt, as a pipeline: an open circuit refuses it, the governor hands it a slot (waiting if it
   * must), the breaker lets it through (as the probe, when half-open), it is sent, and what came back is
   * learnt by the governor (and, for a probe, decides the circuit).
   */
  async #attempt<T>(call: Call<T>, attempt: number): Promise<ApiResponse<T>> {
    const { breaker, tier, spec } = call;
    let ticket: Ticket | undefined;
    let permit: Permit = "normal";
    try {
      breaker?.check(spec.method, call.shownUrl, attempt - 1);
      if (tier !== undefined && this.#governor !== undefined) {
        const slot = this.#governor.acquire(tier, call.origin, this.#waitLimits(call, attempt));
        ticket = slot instanceof Promise ? await slot : slot;
        call.queuedMs += ticket.queuedMs;
        if (ticket.queuedMs > 0) call.trace?.waited("rate-limit", Date.now() - ticket.queuedMs, ticket.queuedMs, { sequence: attempt, tier });
      }
      if (breaker !== undefined) permit = breaker.allow(spec.method, call.shownUrl, attempt - 1);
    } catch (error) {
      // A refusal costs no I/O: without a turn of the event loop here, a caller that retries at once in a
      // loop would never let the timers and answers that end the refusal (a probe, a window) run.
      await new Promise((resolve) => setImmediate(resolve));
      throw markNothingSent(error as FaultlineError);
    }
    call.probed = permit === "probe";
    const trace = call.trace?.attempt(attempt);
    try {
      const response = await (trace === undefined ? this.#sendOnce(call, attempt, undefined) : trace.run(() => this.#sendOnce(call, attempt, trace)));
      if (call.probed) breaker?.record("success", permit);
      if (ticket !== undefined) this.#governor?.observe(ticket, { status: response.status, ...response.rateLimit });
      return response;
    } catch (error) {
      if (call.probed) breaker?.record(outcomeOf(error), permit);
      if (ticket !== undefined) {
        const status = (error as { status?: number }).status;
        const facts = error instanceof ApiError ? { ...error.rateLimit, retryAfterMs: error.retryAfterMs } : {};
        this.#governor?.observe(ticket, { status, ...facts });
      }
      throw error;
    }
  }

  /** Sends one request with undici, bounded by the attempt's timeout, and reads its answer into data or a typed error. */
  async #sendOnce<T>(call: Call<T>, attempt: number, trace: AttemptTrace | undefined): Promise<ApiResponse<T>> {
    const { spec, settings } = call;
    const started = Date.now();
    const context: AttemptContext = {
      method: spec.method,
      url: call.shownUrl,
      attempt,
      repeatable: call.repeatable,
      timeout: settings.timeout,
    };
    const remaining = call.deadlineAt === undefined ? Infinity : call.deadlineAt - started;
    if (remaining <= 0) throw timeoutFailure(context, true);
    const byDeadline = remaining < settings.timeout;
    const controller = new AttemptAbort();
    // setTimeout takes at most 2^31-1 ms; past that it would fire at once.
    const timer = setTimeout(() => controller.abort(TIMED_OUT), Math.min(settings.timeout, remaining, MAX_TIMER_MS));
    const signal = settings.signal;
    const onAbort = (): void => controller.abort(CALLER_ABORTED);
    signal?.addEventListener("abort", onAbort, { once: true });
    if (signal?.aborted) controller.abort(CALLER_ABORTED);
    let status: number | undefined;
    try {
      // undici cannot tell that this signal has ended already (it has no `aborted`): nothing is sent then.
      if (controller.ended) throw controller.reason;
      const { body, headers } = this.#body(call);
      // The pool is looked up for each attempt: a close() during a retry's wait gives the retry a fresh one.
      const pool = settings.dispatcher ?? this.#pool();
      const response = await request(pool instanceof Promise ? await pool : pool, {
        origin: call.target.origin,
        path: call.target.path,
        method: spec.method,
        headers: trace === undefined ? headers : trace.headers(headers),
        body,
        // undici takes an EventTarget as well as an AbortSignal; its types name only the latter.
        signal: controller as unknown as AbortSignal,
      });
      const answered = response.statusCode;
      status = answered;
      const responseHeaders = flattenHeaders(response.headers as RawHeaders);
      const ok = answered >= 200 && answered < 300;
      const { text, truncated } = await readBody(response.body as unknown as ResponseBody, {
        encoding: responseHeaders["content-encoding"],
        length: responseHeaders["content-length"],
        cap: ok ? settings.maxResponseBytes : ERROR_BODY_CAP,
        over: ok ? "refuse" : "truncate",
      }).catch((error: unknown) => this.#unreadable(call, attempt, answered, error));
      // A cut can fall inside a secret the server echoed: its first half would escape masking.
      if (!ok) throw this.#apiError(call, attempt, answered, responseHeaders, truncated ? this.redactor.truncatedText(text) : text);
      const success = this.#success(call, attempt, answered, responseHeaders, text);
      this.#logAttempt(call, attempt, started, answered);
      return success;
    } catch (error) {
      const failure = error instanceof FaultlineError ? error : this.#noResponse(call, context, error, controller, byDeadline);
      this.#logAttempt(call, attempt, started, status, failure.code, failure === error ? undefined : errorCode(error));
      throw failure;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** An attempt's body and headers: the JSON text sent again as is, or a body built afresh (multipart). */
  #body(call: Call<unknown>): { body: OutgoingBody["body"] | null; headers: Record<string, string> } {
    if (call.spec.body === undefined) return { body: call.json ?? null, headers: call.headers };
    const out = buildBody(call.spec.body, this.redactor);
    return { body: out.body, headers: { ...call.headers, ...out.headers } };
  }

  /**
   * A body that could not be read as text. Past `maxResponseBytes` (a 2xx): never retried, as the same
   * request would bring the same body. Undecodable: a 2xx is an unexpected response; an error body becomes
   * a note, so the status still picks the class. Anything else happened on the wire and is rethrown.
   */
  #unreadable(call: Call<unknown>, attempt: number, status: number, error: unknown): { text: string; truncated: boolean } {
    if (!(error instanceof BodyProblem)) throw error;
    const { spec, settings } = call;
    const common = { method: spec.method, url: call.shownUrl, attempts: attempt, cause: error };
    if (error.kind === "too-large") {
      throw new ResponseTooLargeError(
        `The ${status} response to ${spec.method} ${spec.path} is larger than maxResponseBytes (${settings.maxResponseBytes} bytes): read no further`,
        { ...common, status, limit: settings.maxResponseBytes, hint: "Raise `maxResponseBytes` if an answer this large is expected." },
      );
    }
    if (status >= 200 && status < 300) {
      throw new ResponseValidationError(`The ${status} response to ${spec.method} ${spec.path} could not be read: ${error.message}`, {
        ...common,
        status,
        issues: [{ path: [], message: error.message }],
        body: undefined,
      });
    }
    return { text: `[${error.message}]`, truncated: false };
  }

  #success<T>(call: Call<T>, attempt: number, status: number, headers: Record<string, string>, text: string): ApiResponse<T> {
    const { spec } = call;
    const invalid = (message: string, issues: ResponseValidationError["issues"], body: unknown, cause?: unknown): ResponseValidationError =>
      new ResponseValidationError(message, { status, issues, body, method: spec.method, url: call.shownUrl, attempts: attempt, cause });
    let parsed: unknown;
    if (text.length > 0 && status !== 204) {
      try {
        parsed = JSON.parse(text);
      } catch {
        // No cause: JSON.parse quotes the text it choked on, secrets and all.
        const shown = this.redactor.text(text.slice(0, ERROR_BODY_CAP));
        throw invalid(`Expected a JSON body from ${spec.method} ${spec.path}, got text`, [{ path: [], message: "not JSON" }], shown);
      }
    }
    let result: SafeParseResult<T>;
    try {
      result = safeParse(spec.schema, parsed);
    } catch (error) {
      // A recursive schema walks as deep as the body nests: a hostile body can outrun the stack.
      const message = `The ${status} response to ${spec.method} ${spec.path} could not be validated: it nests too deeply`;
      throw invalid(message, [{ path: [], message: "nested too deeply to validate" }], this.redactor.value(parsed), error);
    }
    if (!result.success) {
      // zod quotes what it saw (`Unrecognized key: "<key>"`, record keys in paths): mask those too.
      const issues = result.error.issues.slice(0, MAX_ISSUES).map((i) => ({
        path: i.path.map((p) => (typeof p === "string" ? this.redactor.text(p) : p)),
        message: this.redactor.text(i.message),
      }));
      const summary = issues
        .slice(0, 3)
        .map((i) => `${i.path.slice(0, 12).map(String).join(".") || "(root)"}: ${i.message}`)
        .join("; ");
      throw invalid(`The ${status} response to ${spec.method} ${spec.path} does not match its schema: ${summary}`, issues, this.redactor.value(parsed));
    }
    return {
      data: result.data,
      status,
      headers,
      requestId: headers["x-request-id"],
      rateLimit: parseRateLimit(headers),
      attempts: attempt,
      queuedMs: 0,
    };
  }

  #apiError(call: Call<unknown>, attempt: number, status: number, headers: Record<string, string>, text: string): ApiError {
    const { spec } = call;
    const dialect = spec.dialect ?? this.#config.dialect;
    const source = { dialect, redactor: this.redactor, method: spec.method, url: call.url, service: spec.service, attempts: attempt };
    try {
      return apiErrorFrom({ status, headers, text }, source);
    } catch {
      // apiErrorFrom is built never to throw; should it ever, the status alone still makes a typed error.
      return createApiError({
        status,
        code: codeFor(status, undefined),
        message: `HTTP ${status}`,
        retryable: isRetryable(status, undefined),
        headers: {},
        body: undefined,
        method: spec.method,
        url: call.shownUrl,
        attempts: attempt,
      });
    }
  }

  /** No usable response: the caller aborted, a clock ran out, the proxy failed, or the network did. */
  #noResponse(call: Call<unknown>, context: AttemptContext, error: unknown, signal: AttemptAbort, byDeadline: boolean): FaultlineError {
    if (signal.ended && signal.reason === CALLER_ABORTED) {
      return new AbortedError("The call was aborted", { method: context.method, url: context.url, attempts: context.attempt, cause: error });
    }
    if (signal.ended && signal.reason === TIMED_OUT) return timeoutFailure(context, byDeadline, error);
    if (isUndiciTimeout(error)) return timeoutFailure(context, false, error);
    // Only the client's own pool goes through its proxies: a caller's dispatcher fails in its own words.
    const atProxy = call.settings.dispatcher === undefined ? this.#config.proxy?.failure(context, error) : undefined;
    if (atProxy !== undefined) return atProxy;
    return connectionFailure(context, error, this.redactor.text(error instanceof Error ? error.message : String(error)));
  }

  #url(spec: RequestSpec<unknown>): URL {
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
    const defaultQuery = this.#config.defaultQuery;
    if (defaultQuery !== undefined) for (const name of Object.keys(defaultQuery)) url.searchParams.set(name, defaultQuery[name]!);
    if (spec.query !== undefined) {
      for (const [name, value] of Object.entries(spec.query)) {
        if (Array.isArray(value)) {
          // The call's own list replaces a default of the same name, as a single value does.
          url.searchParams.delete(name);
          for (const item of value) url.searchParams.append(name, String(item));
        } else if (value !== undefined && value !== null) url.searchParams.set(name, String(value));
      }
    }
    const authQuery = this.#config.authQuery;
    if (spec.anonymous !== true && authQuery !== undefined) {
      for (const name of Object.keys(authQuery)) url.searchParams.set(name, authQuery[name]!);
    }
    return url;
  }

  #headers(spec: RequestSpec<unknown>, settings: CallSettings): Record<string, string> {
    const headers: Record<string, string> = {
      "user-agent": this.#config.userAgent,
      accept: "application/json",
      // Offered, so that a server or a CDN picks a coding faultline decodes rather than any it likes.
      "accept-encoding": ACCEPT_ENCODING,
    };
    const defaults = this.#config.defaultHeaders;
    if (defaults !== undefined) for (const name of Object.keys(defaults)) headers[name.toLowerCase()] = defaults[name]!;
    if (spec.anonymous !== true) Object.assign(headers, this.#config.authHeaders);
    const own = settings.headers;
    if (own !== undefined) for (const name of Object.keys(own)) headers[name.toLowerCase()] = own[name]!;
    if (spec.json !== undefined) headers["content-type"] = "application/json";
    if (settings.idempotencyKey !== undefined) headers["idempotency-key"] = settings.idempotencyKey;
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

  #pool(): Dispatcher | Promise<Dispatcher> {
    const open = this.shared.pool(this.#route);
    if (open !== undefined) return open;
    const pool = this.#newPool();
    // Kept only if it loads: the next call tries again rather than meeting the same failure for ever.
    if (pool instanceof Promise) pool.catch(() => this.shared.forget(this.#route, pool));
    return this.shared.open(this.#route, pool);
  }

  #newPool(): Dispatcher | Promise<Dispatcher> {
    const pool = { connections: POOL_CONNECTIONS, keepAliveTimeout: 10_000 };
    return this.#config.proxy === undefined ? new Agent(pool) : this.#config.proxy.dispatcher(pool);
  }

  /** What a wait for a rate-limit slot may spend: the call's deadline, its `maxRetryAfter`, its signal. */
  #waitLimits(call: Call<unknown>, attempt: number): Parameters<Governor["acquire"]>[2] {
    const { settings } = call;
    const onWait = settings.onRateLimitWait;
    return {
      signal: settings.signal,
      deadlineAt: call.deadlineAt,
      maxWaitMs: settings.maxRetryAfter,
      attempt,
      method: call.spec.method,
      url: call.shownUrl,
      onWait: (info) => {
        this.#log.info(`faultline ${call.spec.method} ${call.shownUrl} waits ${info.waitMs} ms for a ${info.tier} slot`, { ...info });
        onWait?.(info);
      },
    };
  }

  /** The origin of a base URL, remembered: the few base URLs a client has are parsed once each. */
  #origin(base: string): string {
    let origin = this.#origins.get(base);
    if (origin === undefined) {
      try {
        origin = new URL(base).origin;
      } catch {
        origin = base;
      }
      this.#origins.set(base, origin);
    }
    return origin;
  }

  #breaker(origin: string): Breaker {
    let breaker = this.shared.breakers.get(origin);
    if (breaker === undefined) {
      breaker = new Breaker(origin, this.#config.circuitBreaker || {}, this.#log);
      this.shared.breakers.set(origin, breaker);
    }
    return breaker;
  }

  #budget(origin: string): RetryBudget {
    let budget = this.shared.budgets.get(origin);
    if (budget === undefined) {
      budget = new RetryBudget(this.#config.retryBudget || {});
      this.shared.budgets.set(origin, budget);
    }
    return budget;
  }

  /** The one debug line an attempt gets, written when it ends, whatever the outcome. A logger never fails a call. */
  #logAttempt(call: Call<unknown>, attempt: number, started: number, status: number | undefined, code?: string, cause?: string): void {
    const log = this.#log;
    if (!log.enabled("debug")) return;
    const outcome = [status, code, cause].filter((part) => part !== undefined).join(" ");
    log.debug(`faultline ${call.spec.method} ${call.shownUrl} -> ${outcome}`, {
      attempt,
      ...(status === undefined ? {} : { status }),
      ...(code === undefined ? {} : { code }),
      ...(cause === undefined ? {} : { cause }),
      ms: Date.now() - started,
    });
  }
}

/**
 * What an attempt's end says about the service: down (a 5xx that is not a deliberate refusal, no answer,
 * an attempt that timed out), up (any other answer, 4xx included), or nothing (the caller gave up).
 */
function outcomeOf(error: unknown): Outcome {
  if (error instanceof ApiError) return error.status >= 500 && error.status !== 501 && error.status !== 505 && error.status !== 507 ? "failure" : "success";
  if (error instanceof ConnectionError) return "failure";
  if (error instanceof TimeoutError) return (error as { [ATTEMPT_TIMEOUT]?: boolean })[ATTEMPT_TIMEOUT] === true ? "failure" : "neutral";
  return "neutral";
}

const TIMED_OUT = Symbol("timed out");
const CALLER_ABORTED = Symbol("caller aborted");

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
