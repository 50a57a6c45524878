/**
 * OpenTelemetry spans of real calls, recorded by the real SDK (BasicTracerProvider, SimpleSpanProcessor,
 * InMemorySpanExporter) with the AsyncLocalStorage context manager and the W3C propagator, against the
 * emulators on loopback.
 */
import { SpanKind, SpanStatusCode, context, propagation, trace, type Span } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { NotFoundError } from "../../../src/core/errors.js";
import { KEY as ROBOFLOW_KEY, setup as roboflowSetup } from "../../roboflow/support.js";
import { Anyformat } from "../../../src/anyformat/client.js";
import { KEY, closeAfterTest, failure, invoiceWorkflow, setup } from "../../anyformat/support.js";

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(contextManager.enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
});

afterEach(() => exporter.reset());

afterAll(async () => {
  trace.disable();
  context.disable();
  propagation.disable();
  await provider.shutdown();
});

/** Runs `work` inside a span of the test's own, as an instrumented service would; answers that span. */
async function inParent<T>(work: () => Promise<T>): Promise<{ parent: Span; result: T }> {
  const tracer = trace.getTracer("test");
  return tracer.startActiveSpan("request handler", async (parent) => {
    try {
      return { parent, result: await work() };
    } finally {
      parent.end();
    }
  });
}

const spans = (): ReadableSpan[] => exporter.getFinishedSpans();
const named = (name: string): ReadableSpan[] => spans().filter((s) => s.name === name);
const one = (name: string): ReadableSpan => {
  const found = named(name);
  expect(found, `spans named ${name}`).toHaveLength(1);
  return found[0] as ReadableSpan;
};
const childrenOf = (span: ReadableSpan): ReadableSpan[] =>
  spans()
    .filter((s) => s.parentSpanContext?.spanId === span.spanContext().spanId)
    .sort((a, b) => ms(a.startTime) - ms(b.startTime));
const ms = (time: readonly [number, number]): number => time[0] * 1000 + time[1] / 1e6;

describe("a call traced with OpenTelemetry", () => {
  it("is a CLIENT span named for the operation, with one child span per attempt: a 429, a 500, then a 200", async () => {
    const { emu, af } = await setup({ rateLimit: false });
    const wf = await invoiceWorkflow(af);
    exporter.reset();
    emu.inject("rateLimit", { path: `/v2/workflows/${wf.id}/` });
    emu.inject("serverError", { path: `/v2/workflows/${wf.id}/` });

    const { parent, result } = await inParent(() => af.workflows.get(wf.id).withResponse());

    expect(result.attempts).toBe(3);
    const call = one("anyformat workflows.get");
    expect(call.kind).toBe(SpanKind.CLIENT);
    expect(call.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(call.spanContext().traceId).toBe(parent.spanContext().traceId);
    const port = Number(new URL(emu.url).port);
    expect(call.attributes).toEqual({
      "http.request.method": "GET",
      "server.address": "127.0.0.1",
      "server.port": port,
      "url.full": `${emu.url}/v2/workflows/${wf.id}/`,
      "http.response.status_code": 200,
    });
    expect(call.status.code).toBe(SpanStatusCode.UNSET);

    const attempts = childrenOf(call);
    expect(attempts.map((s) => [s.name, s.kind])).toEqual([
      ["GET", SpanKind.CLIENT],
      ["GET", SpanKind.CLIENT],
      ["GET", SpanKind.CLIENT],
    ]);
    expect(attempts.map((s) => s.attributes["http.request.resend_count"])).toEqual([undefined, 1, 2]);
    expect(attempts.map((s) => s.attributes["http.response.status_code"])).toEqual([429, 500, 200]);
    expect(attempts.map((s) => s.attributes["error.type"])).toEqual(["RATE_LIMITED", "INTERNAL_ERROR", undefined]);
    expect(attempts.map((s) => s.status.code)).toEqual([SpanStatusCode.ERROR, SpanStatusCode.ERROR, SpanStatusCode.UNSET]);
    expect(attempts[0]?.status.message).toMatch(/rate/i);
    for (const attempt of attempts) {
      expect(attempt.attributes).toMatchObject({
        "http.request.method": "GET",
        "server.address": "127.0.0.1",
        "server.port": port,
        "url.full": `${emu.url}/v2/workflows/${wf.id}/`,
      });
    }
  });

  it("sends each attempt's own traceparent, naming that attempt's span", async () => {
    const { emu, af } = await setup({ rateLimit: false });
    const wf = await invoiceWorkflow(af);
    exporter.reset();
    emu.inject("rateLimit", { path: `/v2/workflows/${wf.id}/` });
    emu.inject("serverError", { path: `/v2/workflows/${wf.id}/` });

    await af.workflows.get(wf.id);

    const attempts = childrenOf(one("anyformat workflows.get"));
    const sent = emu.requests.filter((r) => r.path === `/v2/workflows/${wf.id}/`).map((r) => r.headers["traceparent"]);
    expect(sent).toEqual(attempts.map((s) => `00-${s.spanContext().traceId}-${s.spanContext().spanId}-01`));
    expect(new Set(sent).size).toBe(3);
  });

  it("records each retry's backoff as an event on the call span, stamped when it began, with its duration", async () => {
    const { emu, af } = await setup({ rateLimit: false });
    const wf = await invoiceWorkflow(af);
    exporter.reset();
    emu.inject("rateLimit", { path: `/v2/workflows/${wf.id}/` });
    emu.inject("serverError", { path: `/v2/workflows/${wf.id}/` });
    const delays: number[] = [];

    await af.workflows.get(wf.id, { onRetry: ({ delayMs }) => delays.push(delayMs) });

    const call = one("anyformat workflows.get");
    const [first, second, third] = childrenOf(call);
    const waits = call.events.filter((e) => e.name === "faultline.retry_wait");
    expect(waits.map((e) => [e.attributes?.["faultline.attempt"], e.attributes?.["error.type"]])).toEqual([
      [2, "RATE_LIMITED"],
      [3, "INTERNAL_ERROR"],
    ]);
    // The emulator's 429 asks for 50 ms; the 500 gets the policy's backoff, at least 250 ms.
    expect(delays[0]).toBe(50);
    waits.forEach((wait, i) => expect(wait.attributes?.["faultline.wait.duration_ms"]).toBeGreaterThanOrEqual((delays[i] ?? 0) - 2));
    // Each wait lies between the attempts it separates (a few ms of slack: the event is stamped by Date.now()).
    const slack = 20;
    expect(ms(waits[0]!.time)).toBeGreaterThanOrEqual(ms(first!.endTime) - slack);
    expect(ms(waits[0]!.time)).toBeLessThanOrEqual(ms(second!.startTime) + slack);
    expect(ms(waits[1]!.time)).toBeGreaterThanOrEqual(ms(second!.endTime) - slack);
    expect(ms(waits[1]!.time)).toBeLessThanOrEqual(ms(third!.startTime) + slack);
  });

  it("records a wait for a rate-limit slot as an event on the call that waited", async () => {
    const { emu, af: unpaced } = await setup({ rateLimit: false });
    const wf = await invoiceWorkflow(unpaced);
    const af = new Anyformat({ apiKey: KEY, baseUrl: emu.url, rateLimit: { tiers: { general: { limit: 1, windowMs: 300 } } } });
    closeAfterTest(() => af.close());
    exporter.reset();

    const [, queued] = await Promise.all([af.workflows.get(wf.id).withResponse(), af.workflows.get(wf.id).withResponse()]);

    expect(queued.queuedMs).toBeGreaterThan(0);
    const waits = named("anyformat workflows.get").flatMap((s) => s.events.filter((e) => e.name === "faultline.rate_limit_wait"));
    expect(waits).toHaveLength(1);
    expect(waits[0]?.attributes).toEqual({
      "faultline.wait.duration_ms": queued.queuedMs,
      "faultline.attempt": 1,
      "faultline.rate_limit.tier": "general",
    });
  });

  it("ends the call span in error with the faultline code when the call fails", async () => {
    const { af } = await setup();

    const error = await failure(af.workflows.get("wf_missing"));

    expect(error).toBeInstanceOf(NotFoundError);
    const call = one("anyformat workflows.get");
    expect(call.status).toEqual({ code: SpanStatusCode.ERROR, message: (error as Error).message });
    expect(call.attributes["error.type"]).toBe("NOT_FOUND");
    expect(call.attributes["http.response.status_code"]).toBe(404);
    expect(childrenOf(call)).toHaveLength(1);
  });

  it("masks the key that Roboflow carries in the query, in url.full and everywhere else", async () => {
    const { rf } = await roboflowSetup({ maxRetries: 0 });
    await failure(rf.projects.get("no-such-project"));
    await rf.workspace.get();

    const recorded = JSON.stringify(spans().map((s) => [s.name, s.attributes, s.events, s.status]));
    expect(recorded).not.toContain(ROBOFLOW_KEY);
    const workspace = one("roboflow workspace.get");
    expect(workspace.attributes["url.full"]).toMatch(/[?&]api_key=\*\*\*(&|$)/);
    expect(childrenOf(workspace)[0]?.attributes["url.full"]).toBe(workspace.attributes["url.full"]);
  });

  it("puts a wait for results under one span: each poll a call in it, each pause between polls an event with its duration", async () => {
    // Steps long enough that the run is still going at the first poll, however slow the machine.
    const { af } = await setup({}, { stepMs: 100 });
    const wf = await invoiceWorkflow(af);
    const run = await af.workflows.run(wf.id, { text: "Invoice 42, total 99.50 EUR" });
    exporter.reset();

    const results = await af.results.waitFor(wf.id, run.id, { pollInterval: 10 }).withResponse();

    const wait = one("anyformat results.waitFor");
    expect(wait.kind).toBe(SpanKind.INTERNAL);
    const polls = childrenOf(wait);
    expect(polls.length).toBeGreaterThanOrEqual(2);
    expect(polls.every((p) => p.name === "anyformat results.get" && p.kind === SpanKind.CLIENT)).toBe(true);
    expect(polls.slice(0, -1).map((p) => p.attributes["error.type"])).toEqual(polls.slice(0, -1).map(() => "PRECONDITION_FAILED"));
    expect(polls.at(-1)?.attributes["http.response.status_code"]).toBe(200);
    expect(polls.reduce((n, p) => n + childrenOf(p).length, 0)).toBe(results.attempts);
    const pauses = wait.events.filter((e) => e.name === "faultline.poll_wait");
    expect(pauses.map((e) => e.attributes?.["faultline.poll.count"])).toEqual(polls.slice(0, -1).map((_, i) => i + 1));
    for (const pause of pauses) expect(pause.attributes?.["faultline.wait.duration_ms"]).toBeGreaterThanOrEqual(8);
    expect(wait.status.code).toBe(SpanStatusCode.UNSET);
  });

  it("puts an extraction under one span: its run, then its wait for results", async () => {
    const { af } = await setup();
    const wf = await invoiceWorkflow(af);
    exporter.reset();

    await af.workflows.extract(wf.id, { text: "Invoice 42" }, { pollInterval: 10 });

    const extract = one("anyformat workflows.extract");
    expect(childrenOf(extract).map((s) => s.name)).toEqual(["anyformat workflows.run", "anyformat results.waitFor"]);
    const traceIds = new Set(spans().map((s) => s.spanContext().traceId));
    expect(traceIds.size).toBe(1);
  });

  it("puts Roboflow's export polling under one span", async () => {
    const { rf } = await roboflowSetup();
    exporter.reset();

    const ready = await rf.versions.export("widgets", 1, "coco", { wait: true, pollInterval: 10 });

    expect(ready.status).toBe("ready");
    const wait = named("roboflow versions.export").find((s) => s.kind === SpanKind.INTERNAL) as ReadableSpan;
    const polls = childrenOf(wait);
    expect(polls.length).toBeGreaterThanOrEqual(2);
    expect(polls.every((p) => p.name === "roboflow versions.export" && p.kind === SpanKind.CLIENT)).toBe(true);
    expect(wait.events.filter((e) => e.name === "faultline.poll_wait")).toHaveLength(polls.length - 1);
  });
});

describe("a Roboflow annotation of a fresh image", () => {
  it("is one span over the polls that waited for the image to appear", async () => {
    const { rf } = await roboflowSetup({}, { imageVisibleAfterMs: 300 });
    const { id } = await rf.images.upload("widgets", { file: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]), name: "a.jpg" });
    exporter.reset();

    await rf.images.annotate("widgets", id as string, { annotation: { boxes: [] }, name: "a.json" });

    const [wait, ...others] = named("roboflow images.annotate").filter((s) => s.kind === SpanKind.INTERNAL);
    expect(others).toEqual([]);
    const polls = childrenOf(wait as ReadableSpan);
    expect(polls.length).toBeGreaterThanOrEqual(2);
    expect(polls.every((p) => p.name === "roboflow images.annotate" && p.kind === SpanKind.CLIENT)).toBe(true);
    expect(polls.map((p) => p.attributes["error.type"])).toEqual([...polls.slice(1).map(() => "NOT_FOUND"), undefined]);
    expect(wait?.events.filter((e) => e.name === "faultline.poll_wait")).toHaveLength(polls.length - 1);
  });
});

describe("with the API installed and a provider registered but no propagator", () => {
  it("records spans and sends no traceparent", async () => {
    propagation.disable();
    try {
      const { emu, af } = await setup();
      const wf = await invoiceWorkflow(af);
      expect(named("anyformat workflows.create")).toHaveLength(1);
      expect(emu.requests.every((r) => r.headers["traceparent"] === undefined)).toBe(true);
      expect(wf.id).toBeTruthy();
    } finally {
      propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    }
  });
});

describe("with the API installed and no provider registered", () => {
  it("records nothing and sends no traceparent", async () => {
    trace.disable();
    try {
      const { emu, af } = await setup();
      await invoiceWorkflow(af);
      expect(spans()).toHaveLength(0);
      expect(emu.requests.every((r) => r.headers["traceparent"] === undefined)).toBe(true);
    } finally {
      trace.setGlobalTracerProvider(provider);
    }
  });
});
