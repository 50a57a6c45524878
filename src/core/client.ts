import { APIPromise } from "./api-promise.js";
import { FaultlineError } from "./errors.js";
import { Transport, type Logger, type RequestOptions, type RequestSpec, type TransportConfig } from "./transport.js";
import { checkBaseUrl } from "./options.js";
export { checkApiKey, checkBaseUrl, checkClientOptions } from "./options.js";

/** The version sent in `User-Agent`. */
export const VERSION = "0.1.0";

/**
 * What every API client shares: a transport and a way for its resources to send calls.
 * Subclasses decide credentials, base URLs and the dialect; resources hold the client and call `request`.
 */
export abstract class ApiClient {
  /** @internal */
  readonly transport: Transport;
  readonly #defaults: RequestOptions;

  protected constructor(config: Omit<TransportConfig, "userAgent" | "logger"> & { logger?: Logger | undefined }) {
    this.#defaults = config.defaults;
    this.transport = new Transport({
      ...config,
      logger: config.logger ?? envLogger(),
      userAgent: `faultline/${VERSION} node/${process.versions.node}`,
    });
  }

  /** @internal Sends one call; resources use this. */
  request<T>(spec: RequestSpec<T>, options?: RequestOptions): APIPromise<T> {
    const problem = this.precheck(spec);
    if (problem !== undefined) return rejected(problem);
    return this.transport.request(spec, options);
  }

  /**
   * @internal Builds a call's spec and sends it. `build` may throw (or reject with) a `FaultlineError`
   * (a bad argument, no workspace, a file too big): that becomes the call's rejection, and nothing is sent.
   * Credentials are checked first, so a missing key is reported before any argument is looked at.
   */
  call<T>(build: () => RequestSpec<T> | Promise<RequestSpec<T>>, options?: RequestOptions): APIPromise<T> {
    const missing = this.precheck(undefined);
    if (missing !== undefined) return rejected(missing);
    let spec: RequestSpec<T> | Promise<RequestSpec<T>>;
    try {
      spec = build();
    } catch (error) {
      if (error instanceof FaultlineError) return rejected(error);
      throw error;
    }
    if (!(spec instanceof Promise)) return this.request(spec, options);
    return new APIPromise(spec.then((ready) => this.request(ready, options).withResponse()));
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

function envLogger(): Logger | undefined {
  const flag = process.env["FAULTLINE_DEBUG"];
  if (flag === undefined || flag === "" || flag === "0") return undefined;
  return {
    debug(message, fields) {
      process.stderr.write(`${message}${fields === undefined ? "" : ` ${JSON.stringify(fields)}`}\n`);
    },
  };
}
