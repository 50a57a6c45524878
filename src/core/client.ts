import { APIPromise } from "./api-promise.js";
import type { FaultlineError } from "./errors.js";
import { Transport, type Logger, type RequestOptions, type RequestSpec, type TransportConfig } from "./transport.js";

/** The version sent in `User-Agent`. */
export const VERSION = "0.1.0";

/**
 * What every API client shares: a transport and a way for its resources to send calls.
 * Subclasses decide credentials, base URLs and the dialect; resources hold the client and call `request`.
 */
export abstract class ApiClient {
  /** @internal */
  readonly transport: Transport;

  protected constructor(config: Omit<TransportConfig, "userAgent" | "logger"> & { logger?: Logger | undefined }) {
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

  /** A reason not to send the call at all (missing credentials), checked before every request. */
  protected precheck(_spec: RequestSpec<unknown>): FaultlineError | undefined {
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

function envLogger(): Logger | undefined {
  const flag = process.env["FAULTLINE_DEBUG"];
  if (flag === undefined || flag === "" || flag === "0") return undefined;
  return {
    debug(message, fields) {
      process.stderr.write(`${message}${fields === undefined ? "" : ` ${JSON.stringify(fields)}`}\n`);
    },
  };
}
