import { APIPromise } from "./api-promise.js";
import { FaultlineError } from "./errors.js";
import type { CircuitState } from "./breaker.js";
import type { RetryBudgetState } from "./budget.js";
import type { Dialect } from "./dialect.js";
import { Log, levelFrom, stderrLogger } from "./log.js";
import type { ClientOptions } from "./options.js";
import { proxyRoutes } from "./proxy.js";
import { traceOperation, type PollRecorder } from "./tracing/trace.js";
import { Transport, type RateTiers, type RequestOptions, type RequestSpec, type TransportShared } from "./transport.js";
import { checkBaseUrl } from "./options.js";
import { VERSION } from "./version.js";
export { VERSION } from "./version.js";
export { checkApiKey, checkBaseUrl, checkClientOptions } from "./options.js";

/** What an API's client tells the core about itself. */
export interface ApiIdentity {
  readonly baseUrl: string;
  readonly dialect: Dialect;
  /** The key in use, or none: masked everywhere, hashed into rate-limit keys. */
  readonly apiKey: string | undefined;
  /** Credentials sent as headers on every request (`Authorization: Bearer ...`). */
  readonly authHeaders?: Readonly<Record<string, string>> | undefined;
  /** Credentials sent as query parameters on every request (Roboflow's `api_key`). */
  readonly authQuery?: Readonly<Record<string, string>> | undefined;
  readonly rateTiers: RateTiers;
}

/** Carries a parent client's shared state to the client `withOptions` derives from it; never public. */
const SHARED = Symbol("faultline.shared");

/** A call as an API's resource builds it: always named (`workflows.get`), for traces and logs. */
export type NamedSpec<T> = RequestSpec<T> & { readonly operation: string };

/**
 * What every API client shares: a transport and a way for its resources to send calls.
 * Subclasses decide credentials, base URLs and the dialect; resources hold the client and call `request`.
 */
export abstract class ApiClient {
  /** @internal */
  readonly transport: Transport;
  readonly #defaults: RequestOptions;
  /** The options as given, for `withOptions`. */
  readonly #given: ClientOptions;
  /** The API's name in traces (`anyformat`). */
  readonly #api: string;

  /**
   * @param options what the user gave (checked here), its API's own options included
   * @param identity what the API's client decided from them: where calls go, how they authenticate, how
   * its errors read and how its calls count against its rate limits
   */
  protected constructor(options: ClientOptions, identity: ApiIdentity) {
    const { apiKey: _key, baseUrl: _base, logger, logLevel, rateLimit, retryBudget, circuitBreaker, defaultHeaders, defaultQuery, proxy: proxyOption, ...defaults } =
      options;
    const proxy = proxyRoutes(proxyOption, process.env);
    this.#given = options;
    this.#defaults = defaults;
    this.#api = identity.dialect.name;
    this.transport = new Transport({
      ...identity,
      secrets: [identity.apiKey, ...(proxy?.secrets ?? [])],
      proxy,
      defaults,
      rateLimit,
      retryBudget,
      circuitBreaker,
      defaultHeaders,
      defaultQuery,
      shared: (options as { [SHARED]?: TransportShared })[SHARED],
      log: new Log(logger ?? stderrLogger, levelFrom(logLevel, logger !== undefined, process.env)),
      userAgent: `faultline/${VERSION} node/${process.versions.node}`,
    });
  }

  /**
   * A client like this one with some options changed: the same API key, base URL and defaults unless given
   * anew, sharing this client's connection pool, circuit breakers and retry budgets (and, through the
   * rate-limit store, its tiers). `close()` on either closes the pool they share.
   */
  protected derive(options: ClientOptions): this {
    const Client = this.constructor as new (options: ClientOptions) => this;
    return new Client({ ...this.#given, ...options, [SHARED]: this.transport.shared } as ClientOptions);
  }

  /**
   * The circuit breaker's state for the client's base URL (or another of its services' URLs).
   *
   * @example
   * ```ts
   * const { state, probeAt } = af.circuitState();
   * ```
   */
  circuitState(url?: string): CircuitState {
    return this.transport.circuitState(url);
  }

  /**
   * The retry budget left for the client's base URL (or another of its services' URLs); `undefined` when
   * the budget is off.
   *
   * @example
   * ```ts
   * const { available, capacity } = af.retryBudgetState() ?? { available: Infinity, capacity: Infinity };
   * ```
   */
  retryBudgetState(url?: string): RetryBudgetState | undefined {
    return this.transport.retryBudgetState(url);
  }

  /** @internal Sends one call; resources use this. */
  request<T>(spec: NamedSpec<T>, options?: RequestOptions): APIPromise<T> {
    const problem = this.precheck(spec);
    if (problem !== undefined) return rejected(problem);
    return this.transport.request(spec, options);
  }

  /**
   * @internal Builds a call's spec and sends it. `build` may throw (or reject with) a `FaultlineError`
   * (a bad argument, no workspace, a file too big): that becomes the call's rejection, and nothing is sent.
   * Credentials are checked first, so a missing key is reported before any argument is looked at.
   */
  call<T>(build: () => NamedSpec<T> | Promise<NamedSpec<T>>, options?: RequestOptions): APIPromise<T> {
    const missing = this.precheck(undefined);
    if (missing !== undefined) return rejected(missing);
    let spec: NamedSpec<T> | Promise<NamedSpec<T>>;
    try {
      spec = build();
    } catch (error) {
      if (error instanceof FaultlineError) return rejected(error);
      throw error;
    }
    if (!(spec instanceof Promise)) return this.request(spec, options);
    return new APIPromise(spec.then((ready) => this.request(ready, options).withResponse()));
  }

  /**
   * @internal Runs a method that makes several calls (`results.waitFor`) under one trace: its span is the
   * parent of theirs, and its waits are recorded on `trace` (`undefined` when nothing listens).
   */
  traced<T>(operation: string, work: (trace: PollRecorder | undefined) => Promise<T>): Promise<T> {
    return traceOperation(this.#api, operation, work);
  }

  /** @internal The client's options overlaid by a call's, for calls that span several requests (polling). */
  effectiveOptions(options: RequestOptions | undefined): RequestOptions {
    const out: Record<string, unknown> = { ...this.#defaults };
    for (const [name, value] of Object.entries(options ?? {})) if (value !== undefined) out[name] = value;
    return out as RequestOptions;
  }

  /**
   * A reason not to send the call at all (missing credentials), checked before every request.
   * `spec` is `undefined` when asked before the call is built.
   */
  protected precheck(_spec: RequestSpec<unknown> | undefined): FaultlineError | undefined {
    return undefined;
  }

  /** Closes the client's connection pool. Calls made afterwards open a new one. */
  close(): Promise<void> {
    return this.transport.close();
  }
}

/** An APIPromise that fails with `error` without sending anything. */
export function rejected<T>(error: FaultlineError): APIPromise<T> {
  const failed = Promise.reject(error);
  return new APIPromise<T>(failed);
}

/**
 * A base URL from the option, else the environment variable, else the default; a bad one is an
 * `InvalidArgumentError` naming where it came from.
 */
export function baseUrlFrom(option: string | undefined, envName: string, fallback: string): string {
  if (option !== undefined && (typeof option !== "string" || option.trim() !== "")) return checkBaseUrl(option, "baseUrl");
  const fromEnv = process.env[envName];
  return fromEnv === undefined || fromEnv.trim() === "" ? fallback : checkBaseUrl(fromEnv.trim(), envName);
}

/** The first value that is set and not blank: an option, then an environment variable. */
export function setting(...values: ReadonlyArray<string | undefined>): string | undefined {
  return values.find((value) => value !== undefined && value.trim() !== "");
}


