/**
 * The circuit breaker over loopback: it opens on failures that say a service is down, sends nothing while
 * open, lets one probe through, and closes (or opens again, for longer) on the probe's answer.
 */
import { describe, expect, it } from "vitest";
import { CircuitOpenError, ConnectionError, NotFoundError, RateLimitedError, ServerError } from "../../src/core/errors.js";
import type { RequestOptions } from "../../src/core/options.js";
import { Anyformat } from "../../src/anyformat/client.js";
import { ANYFORMAT_EMULATOR_KEY } from "../../src/testing/anyformat/app.js";
import { startEmulator } from "../../src/testing/server.js";
import { OK, closeAfterTest, delay, json, scripted, timedFailure, type Step } from "./support.js";

/** A client on an emulator with a small breaker (3 failures open it for 200 ms) and retries off. */
async function rig(breaker: Record<string, number> | false = { failureThreshold: 3, openMs: 200, maxOpenMs: 800 }, options: RequestOptions = {}) {
  const emu = await startEmulator({ api: "anyformat", rateLimits: false });
  const lines: Array<{ level: string; message: string }> = [];
  const logger = {
    warn: (message: string) => lines.push({ level: "warn", message }),
    info: (message: string) => lines.push({ level: "info", message }),
  };
  const af = new Anyformat({ apiKey: ANYFORMAT_EMULATOR_KEY, baseUrl: emu.url, maxRetries: 0, circuitBreaker: breaker, rateLimit: false, logger, logLevel: "info", ...options });
  closeAfterTest(async () => {
    await af.close();
    await emu.close();
  });
  return { emu, af, lines };
}

const fail = (p: PromiseLike<unknown>) => timedFailure(p).then((r) => r.error);

describe("the circuit breaker", () => {
  it("opens after failureThreshold 5xx in a row, then fails calls at once without sending them", async () => {
    const { emu, af } = await rig();
    emu.outage({ status: 503 });
    for (let i = 0; i < 3; i++) expect(await fail(af.webhooks.list())).toBeInstanceOf(ServerError);
    const sent = emu.requests.length;
    const error = await fail(af.webhooks.list());

    expect(error).toBeInstanceOf(CircuitOpenError);
    const e = error as CircuitOpenError;
    expect(e.code).toBe("CIRCUIT_OPEN");
    expect(e.retryable).toBe(true);
    expect(e.attempts).toBe(0);
    expect(e.retryAfterMs).toBeGreaterThan(0);
    expect(e.retryAfterMs).toBeLessThanOrEqual(200);
    expect(emu.requests).toHaveLength(sent);
    expect(af.circuitState()).toMatchObject({ state: "open", failures: 3 });
    expect(af.circuitState().probeAt).toBeGreaterThan(Date.now());
  });

  it.each([
    ["resets", "reset" as const],
    ["502s", 502 as const],
    ["504s", 504 as const],
  ])("counts %s as failures", async (_what, status) => {
    const { emu, af } = await rig();
    emu.outage({ status });
    for (let i = 0; i < 3; i++) await fail(af.webhooks.list());
    expect(await fail(af.webhooks.list())).toBeInstanceOf(CircuitOpenError);
  });

  it("counts attempts that time out as failures", async () => {
    const server = await scripted(() => undefined);
    const af = new Anyformat({ apiKey: "sk-breaker", baseUrl: server.url, maxRetries: 0, timeout: 50, circuitBreaker: { failureThreshold: 2 }, rateLimit: false });
    closeAfterTest(() => af.close());
    await fail(af.webhooks.list());
    await fail(af.webhooks.list());
    expect(af.circuitState().state).toBe("open");
  });

  it("never counts a 4xx or a 429: a service that answers is up", async () => {
    const server = await scripted(json(404, { error: "nope" }), json(429, { error: "slow" }, { "retry-after-ms": "1" }), json(404, { error: "nope" }));
    const af = new Anyformat({ apiKey: "sk-breaker", baseUrl: server.url, maxRetries: 0, circuitBreaker: { failureThreshold: 1 }, rateLimit: false });
    closeAfterTest(() => af.close());
    expect(await fail(af.webhooks.list())).toBeInstanceOf(NotFoundError);
    expect(await fail(af.webhooks.list())).toBeInstanceOf(RateLimitedError);
    expect(await fail(af.webhooks.list())).toBeInstanceOf(NotFoundError);
    expect(af.circuitState()).toMatchObject({ state: "closed", failures: 0 });
  });

  it("starts counting again after any answer that is not a failure", async () => {
    const { emu, af } = await rig();
    emu.outage({ status: 500 });
    await fail(af.webhooks.list());
    await fail(af.webhooks.list());
    emu.outage(false);
    await af.webhooks.list();
    emu.outage({ status: 500 });
    await fail(af.webhooks.list());
    expect(af.circuitState()).toMatchObject({ state: "closed", failures: 1 });
  });

  it("lets one probe through once open long enough, and closes on its success", async () => {
    const { emu, af, lines } = await rig();
    emu.outage({ status: 503 });
    for (let i = 0; i < 3; i++) await fail(af.webhooks.list());
    emu.outage(false);
    await delay(220);
    const sent = emu.requests.length;
    // The probe and a call racing it: only the probe is sent.
    const [probe, racer] = await Promise.allSettled([af.webhooks.list(), af.webhooks.list()]);

    expect(probe.status).toBe("fulfilled");
    expect(racer.status === "rejected" && racer.reason).toBeInstanceOf(CircuitOpenError);
    expect(emu.requests.length - sent).toBe(1);
    expect(af.circuitState()).toEqual({ state: "closed", failures: 0, openedAt: undefined, probeAt: undefined });
    expect(lines.map((l) => `${l.level} ${l.message.replace(/\d+ ms/, "N ms")}`)).toEqual([
      `warn faultline circuit ${new URL(emu.url).origin} open: probing again in N ms`,
      `info faultline circuit ${new URL(emu.url).origin} half-open`,
      `info faultline circuit ${new URL(emu.url).origin} closed`,
    ]);
    await af.webhooks.list();
  });

  it("opens again for twice as long when the probe fails, up to maxOpenMs", async () => {
    const { emu, af } = await rig();
    emu.outage({ status: 503 });
    for (let i = 0; i < 3; i++) await fail(af.webhooks.list());
    const waits: number[] = [];
    for (let probe = 0; probe < 4; probe++) {
      const { openedAt, probeAt } = af.circuitState();
      waits.push((probeAt ?? 0) - (openedAt ?? 0));
      await delay((probeAt ?? 0) - Date.now() + 10);
      expect(await fail(af.webhooks.list())).toBeInstanceOf(ServerError);
    }
    expect(waits).toEqual([200, 400, 800, 800]);
  });

  it("counts calls whose retries failed, not attempts: faults a retry absorbs never open it", async () => {
    const server = await scripted(json(503, {}, { "retry-after-ms": "1" }), json(200, []));
    const af = new Anyformat({ apiKey: "sk-breaker", baseUrl: server.url, maxRetries: 1, circuitBreaker: { failureThreshold: 1 }, rateLimit: false });
    closeAfterTest(() => af.close());
    expect(await af.webhooks.list()).toEqual([]);
    expect(af.circuitState()).toMatchObject({ state: "closed", failures: 0 });
  });

  it("makes no retry once the circuit opened: the call ends with its last error, saying why", async () => {
    const { emu, af } = await rig({ failureThreshold: 1, openMs: 5_000 });
    emu.outage({ status: 503 });
    const retries: number[] = [];
    // The first call waits 300 ms before its retry; meanwhile another call fails and opens the circuit.
    const slow = timedFailure(af.webhooks.list({ maxRetries: 3, headers: { "x-wait": "1" }, onRetry: (i) => retries.push(i.attempt), maxRetryAfter: 1_000 }));
    await delay(50);
    expect(await fail(af.webhooks.list())).toBeInstanceOf(ServerError);
    const { error } = await slow;

    expect(error).toBeInstanceOf(ServerError);
    expect((error as ServerError).attempts).toBe(1);
    expect((error as ServerError).hint).toMatch(/circuit is open/);
    expect(retries).toEqual([2]);
  });

  it("does not wait out an open circuit in a retry's backoff: the retry is refused when it is decided", async () => {
    const { emu, af } = await rig({ failureThreshold: 1, openMs: 5_000 });
    emu.outage({ status: 503 });
    await fail(af.webhooks.list());
    emu.outage(false);
    const retries: number[] = [];
    const error = await fail(af.webhooks.list({ maxRetries: 3, onRetry: (i) => retries.push(i.attempt) }));
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(retries).toEqual([]);
  });

  it("lets the event loop turn on every refusal: a caller retrying in a tight loop starves nothing", async () => {
    const { emu, af } = await rig({ failureThreshold: 1, openMs: 100 });
    emu.outage({ status: 503 });
    await fail(af.webhooks.list());
    let fired = false;
    setTimeout(() => (fired = true), 20);
    const until = Date.now() + 2_000;
    let refusals = 0;
    while (!fired && Date.now() < until) {
      if ((await fail(af.webhooks.list())) instanceof CircuitOpenError) refusals++;
    }
    expect(fired).toBe(true);
    expect(refusals).toBeGreaterThan(0);
  });

  it("is off with circuitBreaker: false", async () => {
    const { emu, af } = await rig(false);
    emu.outage({ status: 503 });
    for (let i = 0; i < 20; i++) expect(await fail(af.webhooks.list())).toBeInstanceOf(ServerError);
    expect(af.circuitState().state).toBe("closed");
  });

  it("keeps one breaker per base URL: a failing service does not close off another", async () => {
    const down = await scripted(json(503, { error: "down" }));
    const up = await scripted(OK);
    const { Roboflow } = await import("../../src/roboflow/client.js");
    const rf = new Roboflow({ apiKey: "sk-breaker", workspace: "w", baseUrl: up.url, deploymentsUrl: down.url, maxRetries: 0, circuitBreaker: { failureThreshold: 2 } });
    closeAfterTest(() => rf.close());
    await fail(rf.deployments.list());
    await fail(rf.deployments.list());
    expect(await fail(rf.deployments.list())).toBeInstanceOf(CircuitOpenError);
    expect(rf.circuitState(down.url).state).toBe("open");
    expect(rf.circuitState().state).toBe("closed");
    await rf.workspace.get().catch((e: unknown) => expect(e).not.toBeInstanceOf(CircuitOpenError));
  });

  it("treats a probe the caller abandoned as telling nothing: the next call probes at once", async () => {
    const steps: Step[] = [json(503, {}), json(503, {}), () => undefined, json(200, [])];
    const server = await scripted(...steps);
    const af = new Anyformat({ apiKey: "sk-breaker", baseUrl: server.url, maxRetries: 0, circuitBreaker: { failureThreshold: 2, openMs: 50 }, rateLimit: false });
    closeAfterTest(() => af.close());
    await fail(af.webhooks.list());
    await fail(af.webhooks.list());
    await delay(60);
    const controller = new AbortController();
    const probe = fail(af.webhooks.list({ signal: controller.signal }));
    await delay(20);
    controller.abort();
    await probe;
    expect(af.circuitState().state).toBe("open");
    expect(await af.webhooks.list()).toEqual([]);
    expect(af.circuitState().state).toBe("closed");
  });

  it("reports a refused call's ConnectionError class nowhere: CircuitOpenError is a FaultlineError of its own", async () => {
    const { emu, af } = await rig();
    emu.outage({ status: "reset" });
    for (let i = 0; i < 3; i++) expect(await fail(af.webhooks.list())).toBeInstanceOf(ConnectionError);
    const error = await fail(af.webhooks.list());
    expect(error).not.toBeInstanceOf(ConnectionError);
    expect(JSON.parse(JSON.stringify(error))).toMatchObject({ name: "CircuitOpenError", code: "CIRCUIT_OPEN", retryable: true, attempts: 0 });
  });
});
