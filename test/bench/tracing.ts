/**
 * What tracing costs a call, in one process: the same client over the in-memory dispatcher (no socket, so
 * the figures are faultline's own work), with tracing in each of its states in turn. Between rounds the
 * state is switched for real: the OpenTelemetry API's loader is told it is absent or looks again, a
 * tracer provider is registered or removed, diagnostics subscribers come and go.
 */
import { tracingChannel } from "node:diagnostics_channel";
import { context, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { ExportResultCode, W3CTraceContextPropagator } from "@opentelemetry/core";
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import { Anyformat } from "../../src/index.js";
import { TRACING_CHANNELS } from "../../src/core/tracing/channels.js";
import { forgetOtel, loadOtel } from "../../src/core/tracing/otel.js";
import { traceCall } from "../../src/core/tracing/trace.js";
import { MemoryDispatcher } from "./memory-dispatcher.js";
import { WORKFLOW } from "./server.js";

export interface TracingRow {
  readonly name: string;
  /** Median microseconds per call. */
  readonly us: number;
  /** Half the range of the rounds, as a percentage of the median. */
  readonly spread: number;
  /** The median, over rounds, of this state's time per call divided by the baseline's in the same round. */
  readonly ratio: number;
  /** The median, over rounds, of this state's time per call minus the baseline's in the same round, in us. */
  readonly costUs: number;
}

export interface TracingFigures {
  readonly rows: readonly TracingRow[];
  readonly rounds: number;
  /** Nanoseconds the per-call check takes when nothing listens: API absent, and API installed with no provider. */
  readonly checkAbsentNs: number;
  readonly checkIdleNs: number;
  /** Heap bytes a check allocates (the most of the two states), measured over a million with no GC between. */
  readonly checkBytes: number;
  /** Garbage collections that ran during those million checks (0 when nothing is allocated). */
  readonly checkGcs: number;
  /** Spans the recording provider exported (to show they were really made). */
  readonly exported: number;
}

// Many short rounds, every state in each (rotated), compared round by round: a machine whose load comes
// and goes then weighs on every state alike.
const ROUNDS = 15;
const CALLS = 10_000;

/** An exporter that counts what it is given and drops it: the export itself is not faultline's cost. */
class CountingExporter implements SpanExporter {
  count = 0;
  export(spans: ReadableSpan[], done: (result: { code: ExportResultCode }) => void): void {
    this.count += spans.length;
    done({ code: ExportResultCode.SUCCESS });
  }
  async shutdown(): Promise<void> {}
}

const absent = (): never => {
  throw Object.assign(new Error("Cannot find module '@opentelemetry/api'"), { code: "MODULE_NOT_FOUND" });
};

export async function measureTracing(key: string): Promise<TracingFigures> {
  const body = Buffer.from(JSON.stringify(WORKFLOW));
  const dispatcher = new MemoryDispatcher(() => ({
    status: 200,
    // Rate-limit headers with room to spare: the governor (on, as by default) learns the tier from them and
    // takes its fast path on every call, a slot being free; with anyformat's documented 600 a minute it
    // would hold the 600th call of the run for a minute.
    headers: {
      "content-type": "application/json",
      "content-length": String(body.byteLength),
      "x-request-id": "a1b2c3d4e5f67890abcdef1234567890",
      "x-ratelimit-limit": "1000000000",
      "x-ratelimit-remaining": "999999999",
      "x-ratelimit-reset": "60",
    },
    body,
  }));
  // The client's default options (a dispatcher of its own aside), as every figure of the bench.
  const af = new Anyformat({ apiKey: key, baseUrl: "http://api.invalid", maxRetries: 0, timeout: 10_000, dispatcher });
  const exporter = new CountingExporter();
  const provider = new BasicTracerProvider({
    spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize: 100_000, maxExportBatchSize: 4_096, scheduledDelayMillis: 100 })],
  });
  const contextManager = new AsyncLocalStorageContextManager();
  const noop = (): void => undefined;
  const subscribers = { start: noop, end: noop, asyncStart: noop, asyncEnd: noop, error: noop };
  const calls = tracingChannel(TRACING_CHANNELS.call);
  const attempts = tracingChannel(TRACING_CHANNELS.attempt);

  const states: Record<string, { enter(): void; leave(): void }> = {
    "tracing off: @opentelemetry/api not installed (baseline)": { enter: () => loadOtel(absent), leave: forgetOtel },
    "tracing off: API installed, no tracer provider": { enter: forgetOtel, leave: noop },
    "diagnostics channels subscribed (no-op subscribers), no API": {
      enter: () => {
        loadOtel(absent);
        calls.subscribe(subscribers);
        attempts.subscribe(subscribers);
      },
      leave: () => {
        calls.unsubscribe(subscribers);
        attempts.unsubscribe(subscribers);
        forgetOtel();
      },
    },
    "OpenTelemetry recording: BasicTracerProvider, BatchSpanProcessor, W3C propagator, ALS context": {
      enter: () => {
        trace.setGlobalTracerProvider(provider);
        context.setGlobalContextManager(contextManager.enable());
        propagation.setGlobalPropagator(new W3CTraceContextPropagator());
      },
      leave: () => {
        trace.disable();
        context.disable();
        propagation.disable();
      },
    },
  };
  const names = Object.keys(states);
  const run = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) await af.workflows.get(WORKFLOW.id);
  };
  for (const name of names) {
    states[name]!.enter();
    await run(5_000); // warmup, in this state
    states[name]!.leave();
  }
  const samples: Record<string, number[]> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of rotate(names, round)) {
      states[name]!.enter();
      const start = performance.now();
      await run(CALLS);
      (samples[name] ??= []).push(((performance.now() - start) / CALLS) * 1000);
      states[name]!.leave();
    }
  }
  await provider.forceFlush();
  await provider.shutdown();
  await af.close();

  const spec = { operation: "workflows.get", method: "GET" };
  const check = (): unknown => traceCall("anyformat", spec, "http://api.invalid/v2/workflows/x/", "http://api.invalid");
  loadOtel(absent);
  const absentCheck = await measureCheck(check);
  forgetOtel();
  const idleCheck = await measureCheck(check);
  const base = samples[names[0]!]!;
  return {
    rounds: ROUNDS,
    rows: names.map((name) => {
      const mine = samples[name]!;
      return {
        name,
        us: median(mine),
        spread: spread(mine),
        ratio: median(mine.map((us, round) => us / base[round]!)),
        costUs: median(mine.map((us, round) => us - base[round]!)),
      };
    }),
    checkAbsentNs: absentCheck.ns,
    checkIdleNs: idleCheck.ns,
    checkBytes: Math.max(absentCheck.bytes, idleCheck.bytes),
    checkGcs: absentCheck.gcs + idleCheck.gcs,
    exported: exporter.count,
  };
}

/**
 * The per-call check with nothing listening: its median ns over 5 rounds of a million, and the heap it
 * allocates over another million (heapUsed after minus before, forced GC first; GCs counted, as one in
 * between would hide allocation).
 */
async function measureCheck(fn: () => unknown): Promise<{ ns: number; bytes: number; gcs: number }> {
  const ns = nsPerCall(fn);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return { ns, bytes: Number.NaN, gcs: 0 };
  gc();
  await new Promise((resolve) => setTimeout(resolve, 50));
  let gcs = 0;
  const observer = new PerformanceObserver((list) => void (gcs += list.getEntries().length));
  observer.observe({ entryTypes: ["gc"] });
  const n = 1_000_000;
  let defined = 0;
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < n; i++) if (fn() !== undefined) defined++;
  const after = process.memoryUsage().heapUsed;
  // GC entries are delivered after the work that saw them.
  await new Promise((resolve) => setTimeout(resolve, 50));
  observer.disconnect();
  if (defined > 0) throw new Error("a call was traced with nothing listening");
  return { ns, bytes: Math.max(0, after - before) / n, gcs };
}

/** Median ns per call of `fn` over 5 rounds of a million, after a warmup; `fn` must answer undefined. */
function nsPerCall(fn: () => unknown): number {
  const n = 1_000_000;
  let defined = 0;
  for (let i = 0; i < 100_000; i++) if (fn() !== undefined) defined++;
  const rates: number[] = [];
  for (let round = 0; round < 5; round++) {
    const start = performance.now();
    for (let i = 0; i < n; i++) if (fn() !== undefined) defined++;
    rates.push(((performance.now() - start) / n) * 1e6);
  }
  if (defined > 0) throw new Error("a call was traced with nothing listening");
  return median(rates);
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function spread(values: readonly number[]): number {
  return ((Math.max(...values) - Math.min(...values)) / 2 / median(values)) * 100;
}
