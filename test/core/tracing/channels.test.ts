/**
 * The diagnostics channels, subscribed to as another tool would, with the OpenTelemetry API out of the
 * picture (its loader answers "not installed").
 */
import { channel, tracingChannel } from "node:diagnostics_channel";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ApiError } from "../../../src/core/errors.js";
import {
  TRACING_CHANNELS,
  type AttemptMessage,
  type CallMessage,
  type OperationMessage,
  type WaitMessage,
} from "../../../src/core/tracing/channels.js";
import { forgetOtel, loadOtel } from "../../../src/core/tracing/otel.js";
import { traceCall } from "../../../src/core/tracing/trace.js";
import { failure, invoiceWorkflow, setup } from "../../anyformat/support.js";

type Seen = [event: string, message: unknown];

const seen: Seen[] = [];
const record = (event: string) => (message: unknown) => void seen.push([event, message]);
const handlers = (name: string) => ({
  start: record(`${name}:start`),
  end: record(`${name}:end`),
  asyncStart: record(`${name}:asyncStart`),
  asyncEnd: record(`${name}:asyncEnd`),
  error: record(`${name}:error`),
});
const calls = tracingChannel<unknown, CallMessage>(TRACING_CHANNELS.call);
const attempts = tracingChannel<unknown, AttemptMessage>(TRACING_CHANNELS.attempt);
const operations = tracingChannel<unknown, OperationMessage>(TRACING_CHANNELS.operation);
const waits = channel(TRACING_CHANNELS.wait);
const callHandlers = handlers("call");
const attemptHandlers = handlers("attempt");
const operationHandlers = handlers("operation");
const onWait = record("wait");

const subscribe = (): void => {
  calls.subscribe(callHandlers);
  attempts.subscribe(attemptHandlers);
  operations.subscribe(operationHandlers);
  waits.subscribe(onWait);
};
const unsubscribe = (): void => {
  calls.unsubscribe(callHandlers);
  attempts.unsubscribe(attemptHandlers);
  operations.unsubscribe(operationHandlers);
  waits.unsubscribe(onWait);
};

beforeAll(() => {
  loadOtel(() => {
    throw Object.assign(new Error("Cannot find module '@opentelemetry/api'"), { code: "MODULE_NOT_FOUND" });
  });
});

afterEach(() => {
  unsubscribe();
  seen.length = 0;
});

afterAll(() => forgetOtel());

const events = (): string[] => seen.map(([event]) => event);
const messages = <T>(event: string): T[] => seen.filter(([e]) => e === event).map(([, m]) => m as T);

describe("the diagnostics channels, without OpenTelemetry", () => {
  it("build nothing for a call while nobody subscribes", () => {
    const spec = { operation: "workflows.get", method: "GET" };
    expect(traceCall("anyformat", spec, "http://x/", "http://x")).toBeUndefined();
    waits.subscribe(onWait);
    expect(traceCall("anyformat", spec, "http://x/", "http://x")).toBeDefined();
  });

  it("publish a call that met a 429, a 500 and then succeeded: the call, its three attempts, and the two waits between them", async () => {
    const { emu, af } = await setup({ rateLimit: false });
    const wf = await invoiceWorkflow(af);
    emu.inject("rateLimit", { path: `/v2/workflows/${wf.id}/` });
    emu.inject("serverError", { path: `/v2/workflows/${wf.id}/` });
    subscribe();

    const response = await af.workflows.get(wf.id).withResponse();

    expect(events()).toEqual([
      "call:start",
      "attempt:start",
      "attempt:end",
      "call:end",
      "attempt:error",
      "attempt:asyncStart",
      "attempt:asyncEnd",
      "wait",
      "attempt:start",
      "attempt:end",
      "attempt:error",
      "attempt:asyncStart",
      "attempt:asyncEnd",
      "wait",
      "attempt:start",
      "attempt:end",
      "attempt:asyncStart",
      "attempt:asyncEnd",
      "call:asyncStart",
      "call:asyncEnd",
    ]);
    const [call] = messages<CallMessage>("call:start");
    expect(call).toMatchObject({
      api: "anyformat",
      operation: "workflows.get",
      method: "GET",
      url: `${emu.url}/v2/workflows/${wf.id}/`,
      serverAddress: "127.0.0.1",
      serverPort: Number(new URL(emu.url).port),
    });
    expect(call?.result).toBe(response);
    const started = messages<AttemptMessage>("attempt:start");
    expect(started.map((a) => a.attempt)).toEqual([1, 2, 3]);
    expect(started.every((a) => a.call === call)).toBe(true);
    expect(messages<AttemptMessage>("attempt:error").map((a) => (a.error as ApiError).status)).toEqual([429, 500]);
    expect(started[2]?.result?.status).toBe(200);
    const pauses = messages<WaitMessage>("wait");
    expect(pauses.map((w) => [w.kind, w.sequence, (w.error as ApiError).code, w.call === call])).toEqual([
      ["retry", 2, "RATE_LIMITED", true],
      ["retry", 3, "INTERNAL_ERROR", true],
    ]);
    expect(pauses[0]?.durationMs).toBeGreaterThanOrEqual(48);
    expect(pauses[1]?.durationMs).toBeGreaterThanOrEqual(248);
    expect(pauses[1]!.startTime).toBeGreaterThanOrEqual(pauses[0]!.startTime + pauses[0]!.durationMs);
  });

  it("publish a failed call with its error", async () => {
    const { af } = await setup();
    subscribe();

    const error = await failure(af.workflows.get("wf_missing"));

    const [call] = messages<CallMessage>("call:error");
    expect(call?.error).toBe(error);
    expect(messages<AttemptMessage>("attempt:error")[0]?.error).toBe(error);
  });

  it("publish a wait for results as an operation around its polls, with each pause between them", async () => {
    const { af } = await setup();
    const wf = await invoiceWorkflow(af);
    const run = await af.workflows.run(wf.id, { text: "Invoice 42" });
    subscribe();

    await af.results.waitFor(wf.id, run.id, { pollInterval: 10 });

    const [operation] = messages<OperationMessage>("operation:start");
    expect(operation).toMatchObject({ api: "anyformat", operation: "results.waitFor" });
    expect(events()[0]).toBe("operation:start");
    expect(events().at(-1)).toBe("operation:asyncEnd");
    const polls = messages<CallMessage>("call:start");
    expect(polls.length).toBeGreaterThanOrEqual(2);
    expect(polls.every((p) => p.operation === "results.get")).toBe(true);
    const pauses = messages<WaitMessage>("wait");
    expect(pauses.map((w) => [w.kind, w.sequence, w.operation === operation])).toEqual(polls.slice(0, -1).map((_, i) => ["poll", i + 1, true]));
  });

  it("name every call by the resource method that made it", async () => {
    const { af } = await setup();
    subscribe();
    const wf = await invoiceWorkflow(af);
    await af.workflows.list();
    await af.health();
    await af.webhooks.list();

    expect(messages<CallMessage>("call:start").map((c) => c.operation)).toEqual(["workflows.create", "workflows.list", "health", "webhooks.list"]);
    expect(wf.id).toBeTruthy();
  });
});
