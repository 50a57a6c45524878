/**
 * One life cycle per call, told to two audiences: OpenTelemetry spans (when the API is installed and a
 * tracer provider is registered) and faultline's diagnostics channels (when anyone subscribes). With
 * neither, `traceCall` answers `undefined` and a call carries no trace at all.
 *
 * Spans: the call is a CLIENT span named for the operation (`anyformat workflows.get`); each HTTP request
 * is a CLIENT child span (`GET`) with the stable HTTP client attributes, `http.request.resend_count` on
 * retries, and the W3C `traceparent` of that request's span sent with it. Waits (a rate-limit slot, a
 * retry's backoff) are events on the call span, stamped when they began and carrying their duration.
 * Methods that make several calls (`results.waitFor`, `workflows.extract`) get an INTERNAL span over them,
 * their polls' waits as its events.
 */
import type { Context, Span, SpanKind } from "@opentelemetry/api";
import { FaultlineError } from "../errors.js";
import { VERSION } from "../version.js";
import {
  attemptChannel,
  callChannel,
  operationChannel,
  waitChannel,
  type AttemptMessage,
  type CallMessage,
  type OperationMessage,
  type WaitMessage,
} from "./channels.js";
import { activeOtel, type Otel } from "./otel.js";

const TRACER = "faultline";

/** Event names of the waits, on the span that waited. */
const EVENT: Readonly<Record<WaitMessage["kind"], string>> = {
  "rate-limit": "faultline.rate_limit_wait",
  retry: "faultline.retry_wait",
  poll: "faultline.poll_wait",
};

/** What a call is named by: its spec's `operation` (when it has one) and `method`. */
export interface CallName {
  readonly operation?: string | undefined;
  readonly method: string;
}

/** A wait's particulars, beyond its kind and time. */
interface WaitFacts {
  readonly sequence: number;
  readonly tier?: string | undefined;
  readonly error?: unknown;
}

/**
 * The trace of a call that something listens to; `undefined` (nothing built) when nothing does. Asked at
 * the start of every call: with no subscriber and no tracer provider, this is the whole cost of tracing,
 * and it allocates nothing (its arguments are what the call already holds).
 *
 * @param api the API's name (`anyformat`)
 * @param name the call's spec
 * @param url its URL, secrets masked
 * @param origin the URL's origin, where the server's address and port are read
 */
export function traceCall(api: string, name: CallName, url: string, origin: string): CallTrace | undefined {
  const otel = activeOtel();
  if (otel === undefined && !callChannel.hasSubscribers && !attemptChannel.hasSubscribers && !waitChannel.hasSubscribers) return undefined;
  return new CallTrace(otel, api, name, url, origin);
}

export class CallTrace {
  readonly message: CallMessage;
  readonly #otel: Otel | undefined;
  readonly #span: Span | undefined;
  /** The caller's context with the call span in it: the parent of the attempts' spans. */
  readonly #context: Context | undefined;

  constructor(otel: Otel | undefined, api: string, name: CallName, url: string, origin: string) {
    const server = serverOf(origin);
    this.message = {
      api,
      operation: name.operation ?? name.method,
      method: name.method,
      url,
      serverAddress: server.address,
      serverPort: server.port,
    };
    this.#otel = otel;
    if (otel !== undefined) {
      const parent = otel.context.active();
      const span = otel.trace
        .getTracer(TRACER, VERSION)
        .startSpan(`${api} ${this.message.operation}`, { kind: otel.SpanKind.CLIENT as SpanKind, attributes: httpAttributes(this.message) }, parent);
      this.#span = span;
      this.#context = otel.trace.setSpan(parent, span);
    }
  }

  /** Runs the call: published on `faultline:call`, inside its span, which ends when the call settles. */
  run<T>(call: () => Promise<T>): Promise<T> {
    const published = callChannel.hasSubscribers ? () => callChannel.tracePromise(call, this.message) : call;
    return inSpan(this.#otel, this.#span, this.#context, published, true);
  }

  /** The trace of one HTTP request of the call. */
  attempt(attempt: number): AttemptTrace {
    return new AttemptTrace(this.#otel, this.#context, this.message, attempt);
  }

  /** Records a wait of the call, once it is over: a rate-limit slot (before `sequence`) or a retry's backoff. */
  waited(kind: "rate-limit" | "retry", startTime: number, durationMs: number, facts: WaitFacts): void {
    recordWait(this.#otel, this.#span, { kind, call: this.message, operation: undefined, startTime, durationMs, ...facts });
  }

  /** `runWithRetry`'s report of a backoff slept: a retry wait before attempt `attempt`. */
  readonly backedOff = (attempt: number, startTime: number, durationMs: number, error: unknown): void => {
    this.waited("retry", startTime, durationMs, { sequence: attempt, error });
  };
}

export class AttemptTrace {
  readonly message: AttemptMessage;
  readonly #otel: Otel | undefined;
  readonly #span: Span | undefined;
  readonly #context: Context | undefined;

  constructor(otel: Otel | undefined, parent: Context | undefined, call: CallMessage, attempt: number) {
    this.message = { call, attempt };
    this.#otel = otel;
    if (otel !== undefined && parent !== undefined) {
      const attributes = httpAttributes(call);
      // The HTTP conventions' count of resends: absent on the first request, 1 on the first retry.
      if (attempt > 1) attributes["http.request.resend_count"] = attempt - 1;
      const span = otel.trace.getTracer(TRACER, VERSION).startSpan(call.method, { kind: otel.SpanKind.CLIENT as SpanKind, attributes }, parent);
      this.#span = span;
      this.#context = otel.trace.setSpan(parent, span);
    }
  }

  /**
   * The headers to send: `headers` plus what the registered propagator puts there for this request's
   * span (`traceparent`, ...). `headers` itself is left as it was: the next attempt gets its own.
   */
  headers(headers: Readonly<Record<string, string>>): Record<string, string> {
    if (this.#otel === undefined || this.#context === undefined) return headers;
    const out = { ...headers };
    this.#otel.propagation.inject(this.#context, out);
    return out;
  }

  /** Sends the request: published on `faultline:attempt`, inside its span (so an HTTP instrumentation nests under it). */
  run<T>(send: () => Promise<T>): Promise<T> {
    const published = attemptChannel.hasSubscribers ? () => attemptChannel.tracePromise(send, this.message) : send;
    return inSpan(this.#otel, this.#span, this.#context, published, true);
  }
}

/** Where a method that polls records the pauses between its polls. */
export interface PollRecorder {
  /** Records the wait between two polls, once it is over; `polls` were made before it. */
  waited(startTime: number, durationMs: number, polls: number): void;
}

/** The trace of a method that makes several calls: their parent span, and the waits between them. */
export class OperationTrace implements PollRecorder {
  readonly message: OperationMessage;
  readonly #otel: Otel | undefined;
  readonly #span: Span | undefined;
  readonly #context: Context | undefined;

  constructor(otel: Otel | undefined, api: string, operation: string) {
    this.message = { api, operation };
    this.#otel = otel;
    if (otel !== undefined) {
      const parent = otel.context.active();
      const span = otel.trace.getTracer(TRACER, VERSION).startSpan(`${api} ${operation}`, { kind: otel.SpanKind.INTERNAL as SpanKind }, parent);
      this.#span = span;
      this.#context = otel.trace.setSpan(parent, span);
    }
  }

  waited(startTime: number, durationMs: number, polls: number): void {
    recordWait(this.#otel, this.#span, { kind: "poll", call: undefined, operation: this.message, startTime, durationMs, sequence: polls });
  }

  run<T>(work: () => Promise<T>): Promise<T> {
    const published = operationChannel.hasSubscribers ? () => operationChannel.tracePromise(work, this.message) : work;
    // The calls made inside start in this context: their spans are the operation's children.
    return inSpan(this.#otel, this.#span, this.#context, published, false);
  }
}

/**
 * Runs `work` with `span` active, ending the span when it settles: in error when it fails, and with the
 * response's status when `answered` (a call or a request, not an operation). No span: just `work`.
 */
function inSpan<T>(otel: Otel | undefined, span: Span | undefined, context: Context | undefined, work: () => Promise<T>, answered: boolean): Promise<T> {
  if (otel === undefined || span === undefined) return work();
  return otel.context.with(context as Context, work).then(
    (result) => {
      endSpan(otel, span, answered ? result : undefined, undefined);
      return result;
    },
    (error: unknown) => {
      endSpan(otel, span, undefined, error);
      throw error;
    },
  );
}

/**
 * Runs a method that makes several calls under one trace, when anything listens; `work` is handed the
 * trace to record its waits on (or `undefined`).
 *
 * @example
 * ```ts
 * return traceOperation("anyformat", "results.waitFor", (trace) => this.#poll(..., trace));
 * ```
 */
export function traceOperation<T>(api: string, operation: string, work: (trace: PollRecorder | undefined) => Promise<T>): Promise<T> {
  const otel = activeOtel();
  if (otel === undefined && !operationChannel.hasSubscribers && !waitChannel.hasSubscribers) return work(undefined);
  const trace = new OperationTrace(otel, api, operation);
  return trace.run(() => work(trace));
}

/** The stable HTTP client attributes a call has from its start. */
function httpAttributes(call: CallMessage): Record<string, string | number> {
  return {
    "http.request.method": call.method,
    "server.address": call.serverAddress,
    "server.port": call.serverPort,
    "url.full": call.url,
  };
}

/** Ends a span with what its work came to: the status code answered, and the faultline code of a failure. */
function endSpan(otel: Otel, span: Span, result: unknown, error: unknown): void {
  const status = statusOf(error ?? result);
  if (status !== undefined) span.setAttribute("http.response.status_code", status);
  if (error !== undefined) {
    span.setAttribute("error.type", error instanceof FaultlineError ? error.code : "_OTHER");
    span.setStatus({ code: otel.SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  }
  span.end();
}

function statusOf(value: unknown): number | undefined {
  const status = (value as { status?: unknown } | null | undefined)?.status;
  return typeof status === "number" ? status : undefined;
}

function recordWait(otel: Otel | undefined, span: Span | undefined, wait: WaitMessage): void {
  if (waitChannel.hasSubscribers) waitChannel.publish(wait);
  if (otel === undefined || span === undefined) return;
  const attributes: Record<string, string | number> = { "faultline.wait.duration_ms": wait.durationMs };
  if (wait.kind === "poll") attributes["faultline.poll.count"] = wait.sequence;
  else attributes["faultline.attempt"] = wait.sequence;
  if (wait.tier !== undefined) attributes["faultline.rate_limit.tier"] = wait.tier;
  if (wait.error instanceof FaultlineError) attributes["error.type"] = wait.error.code;
  span.addEvent(EVENT[wait.kind], attributes, wait.startTime);
}

const servers = new Map<string, { address: string; port: number }>();

/** The host and port of an origin (`[::1]` without its brackets, the scheme's port when none is written). */
function serverOf(origin: string): { address: string; port: number } {
  let server = servers.get(origin);
  if (server === undefined) {
    let url: URL | undefined;
    try {
      url = new URL(origin);
    } catch {
      url = undefined;
    }
    const address = url?.hostname.replace(/^\[(.*)\]$/, "$1") ?? origin;
    const port = url === undefined ? 0 : url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
    server = { address, port };
    // A client has a few origins; a process that makes clients for endless ones must not grow this forever.
    if (servers.size >= 256) servers.clear();
    servers.set(origin, server);
  }
  return server;
}
