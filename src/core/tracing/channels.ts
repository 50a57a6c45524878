/**
 * The life of every call, published on `node:diagnostics_channel` so that any tool (an APM agent, a test,
 * a metrics exporter) can follow it without OpenTelemetry. Nothing is built or published while nobody
 * subscribes: each publisher checks `hasSubscribers` first.
 */
import { channel, tracingChannel } from "node:diagnostics_channel";
import type { ApiResponse } from "../api-promise.js";

/**
 * The names of faultline's channels. `call`, `attempt` and `operation` are `TracingChannel`s (subscribe
 * with `diagnostics_channel.tracingChannel(name).subscribe({ start, asyncEnd, error, ... })`, or to their
 * `tracing:<name>:start` ... channels); `wait` is a plain channel, published when a wait ends.
 *
 * @example
 * ```ts
 * import { tracingChannel } from "node:diagnostics_channel";
 * import { TRACING_CHANNELS, type CallMessage } from "faultline";
 *
 * tracingChannel<unknown, CallMessage>(TRACING_CHANNELS.call).subscribe({
 *   start: (call) => console.log("->", call.api, call.operation),
 *   asyncEnd: (call) => console.log("<-", call.operation, call.result?.status),
 *   error: (call) => console.log("x ", call.operation, call.error),
 *   end: () => undefined,
 *   asyncStart: () => undefined,
 * });
 * ```
 */
export const TRACING_CHANNELS = {
  /** One call of a resource method, from its start to its settled promise, retries and waits included. */
  call: "faultline:call",
  /** One HTTP request of a call. */
  attempt: "faultline:attempt",
  /** A method that makes several calls: `results.waitFor`, `workflows.extract`, `versions.export` with `wait`. */
  operation: "faultline:operation",
  /** A wait that ended: for a rate-limit slot, before a retry, or between two polls. */
  wait: "faultline:wait",
} as const;

/** The context object of `faultline:call`. Node sets `result` or `error` when the call settles. */
export interface CallMessage {
  /** The API: `"anyformat"` or `"roboflow"`. */
  readonly api: string;
  /** The resource method (`"workflows.get"`); the HTTP method when a call has no name. */
  readonly operation: string;
  readonly method: string;
  /** The URL, secrets masked. */
  readonly url: string;
  /** The host called, as `server.address` in OpenTelemetry's HTTP conventions. */
  readonly serverAddress: string;
  readonly serverPort: number;
  /** The response, on success. */
  result?: ApiResponse<unknown>;
  /** The `FaultlineError` the call failed with. */
  error?: unknown;
}

/** The context object of `faultline:attempt`. */
export interface AttemptMessage {
  /** The call this request belongs to: the same object `faultline:call` published. */
  readonly call: CallMessage;
  /** 1 for the first request, 2 for the first retry. */
  readonly attempt: number;
  /** The response, when the request ended in a 2xx that faultline accepted. */
  result?: ApiResponse<unknown>;
  /** The `FaultlineError` the request ended with (an `ApiError` carries the `status`). */
  error?: unknown;
}

/** The context object of `faultline:operation`. */
export interface OperationMessage {
  readonly api: string;
  /** `"results.waitFor"`, `"workflows.extract"`, `"versions.export"`. */
  readonly operation: string;
  result?: unknown;
  error?: unknown;
}

/** What `faultline:wait` publishes when a wait ends (however it ends). */
export interface WaitMessage {
  /** What was waited for: a rate-limit slot, the backoff before a retry, or the interval between two polls. */
  readonly kind: "rate-limit" | "retry" | "poll";
  /** The call that waited (rate-limit and retry waits). */
  readonly call: CallMessage | undefined;
  /** The operation that waited (poll waits). */
  readonly operation: OperationMessage | undefined;
  /** When the wait began, in ms since the epoch. */
  readonly startTime: number;
  /** How long it lasted. */
  readonly durationMs: number;
  /** Rate-limit and retry waits: the attempt that came after it. Poll waits: the polls made before it. */
  readonly sequence: number;
  /** Rate-limit waits: the tier. */
  readonly tier?: string | undefined;
  /** Retry waits: the error that made the retry. */
  readonly error?: unknown;
}

export const callChannel = tracingChannel<unknown, CallMessage>(TRACING_CHANNELS.call);
export const attemptChannel = tracingChannel<unknown, AttemptMessage>(TRACING_CHANNELS.attempt);
export const operationChannel = tracingChannel<unknown, OperationMessage>(TRACING_CHANNELS.operation);
export const waitChannel = channel(TRACING_CHANNELS.wait);
