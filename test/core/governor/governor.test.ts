/**
 * The governor over loopback, against the anyformat emulator's enforced tiers and against stub servers:
 * calls take a slot before they are sent, in order, within their deadline and signal, and a tier's 429
 * holds every caller of that tier.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { Anyformat, type AnyformatOptions } from "../../../src/anyformat/client.js";
import { AbortedError, RateLimitedError, TimeoutError } from "../../../src/core/errors.js";
import { Roboflow } from "../../../src/roboflow/client.js";
import { ANYFORMAT_EMULATOR_KEY } from "../../../src/testing/anyformat/app.js";
import { MemoryRateLimitStore } from "../../../src/core/governor/store.js";
import { startEmulator, type StartAnyformatOptions } from "../../../src/testing/server.js";
import { json, scripted, timedFailure } from "../support.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** Runs `body` as an ES module in a fresh Node process, with `Anyformat` imported from the build. */
async function script(body: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const source = `import { Anyformat } from ${JSON.stringify(`${ROOT}dist/index.js`)};\n${body}`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", source], { stdio: ["ignore", "pipe", "pipe"], timeout: 90_000 });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, "close")) as [number | null];
  return { code, stdout, stderr };
}

const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((close) => close()));
});

async function rig(client: AnyformatOptions = {}, emulator: Omit<StartAnyformatOptions, "api"> = {}) {
  const emu = await startEmulator({ api: "anyformat", stepMs: 10, ...emulator });
  const af = new Anyformat({ apiKey: ANYFORMAT_EMULATOR_KEY, baseUrl: emu.url, ...client });
  open.push(async () => {
    await af.close();
    await emu.close();
  });
  const wf = await af.workflows.create({ name: "w", fields: [{ name: "total", description: "t", data_type: "float" }] });
  return { emu, af, wf };
}

const runs = (emu: { requests: readonly { method: string; path: string; status: number | undefined }[] }) =>
  emu.requests.filter((r) => r.method === "POST" && r.path.endsWith("/run/"));

describe("the rate-limit governor", () => {
  it("lets 60 concurrent runs through a 20 per second tier without a single 429", async () => {
    const { emu, af, wf } = await rig({}, { rateLimits: { submission: 20, general: 1_000, windowMs: 1_000 } });
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => af.workflows.run(wf.id, { text: `doc ${i}` }).withResponse()));

    expect(results).toHaveLength(60);
    expect(runs(emu).map((r) => r.status).filter((s) => s === 429)).toEqual([]);
    expect(runs(emu)).toHaveLength(60);
    // The first window's 20 went at once; the rest waited their turn.
    expect(results.filter((r) => r.queuedMs > 0).length).toBeGreaterThanOrEqual(40);
  });

  it("lets 200 concurrent runs through a tier it learns from the server, refusing none on the documented size", async () => {
    // anyformat documents 60 a minute: judged on that, calls queued 120 deep would be refused as hopeless
    // before the first answer told the governor the tier is 50 a second.
    const { emu, af, wf } = await rig({}, { rateLimits: { submission: 50, general: 1_000, windowMs: 1_000 } });
    const outcomes = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => af.workflows.run(wf.id, { text: `doc ${i}` })));

    expect(outcomes.filter((o) => o.status === "rejected")).toEqual([]);
    expect(runs(emu)).toHaveLength(200);
    expect(runs(emu).filter((r) => r.status === 429)).toEqual([]);
  });

  it("serves waiting calls first come, first served", async () => {
    const { af, wf } = await rig({}, { rateLimits: { submission: 2, general: 1_000, windowMs: 1_000 } });
    const order: number[] = [];
    await Promise.all(Array.from({ length: 6 }, (_, i) => af.workflows.run(wf.id, { text: `doc ${i}` }).then(() => order.push(i))));
    expect(order.slice(0, 2).sort()).toEqual([0, 1]);
    expect(order.slice(2, 4).sort()).toEqual([2, 3]);
    expect(order.slice(4).sort()).toEqual([4, 5]);
  });

  it("tells onRateLimitWait and withResponse().queuedMs how long a call waited", async () => {
    const { af, wf } = await rig({}, { rateLimits: { submission: 1, general: 1_000, windowMs: 1_000 } });
    await af.workflows.run(wf.id, { text: "first" });
    const waits: Array<{ tier: string; waitMs: number; attempt: number }> = [];
    const response = await af.workflows.run(wf.id, { text: "second" }, { onRateLimitWait: (info) => waits.push(info) }).withResponse();

    expect(waits).toHaveLength(1);
    expect(waits[0]).toMatchObject({ tier: "submission", attempt: 1 });
    expect(waits[0]!.waitMs).toBeGreaterThan(0);
    expect(response.queuedMs).toBeGreaterThan(0);
  });

  it("refuses at once, sending nothing, a call whose wait would outlast maxRetryAfter", async () => {
    const { emu, af, wf } = await rig({ maxRetryAfter: 500 }, { rateLimits: { submission: 1, general: 1_000, windowMs: 60_000 } });
    await af.workflows.run(wf.id, { text: "first" });
    const { error, ms } = await timedFailure(af.workflows.run(wf.id, { text: "second" }));

    expect(error).toBeInstanceOf(RateLimitedError);
    const e = error as RateLimitedError;
    expect(e.attempts).toBe(0);
    expect(e.retryAfterMs).toBeGreaterThan(50_000);
    expect(e.message).toMatch(/submission rate limit has no slot for .* longer than maxRetryAfter \(500 ms\): nothing was sent/);
    expect(ms).toBeLessThan(5_000);
    expect(runs(emu)).toHaveLength(1);
  });

  it("refuses at once a call whose wait would outlast its deadline", async () => {
    const { emu, af, wf } = await rig({}, { rateLimits: { submission: 1, general: 1_000, windowMs: 10_000 } });
    await af.workflows.run(wf.id, { text: "first" });
    const { error } = await timedFailure(af.workflows.run(wf.id, { text: "second" }, { deadline: 1_000 }));

    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).attempts).toBe(0);
    expect((error as RateLimitedError).message).toMatch(/past the call's deadline/);
    expect(runs(emu)).toHaveLength(1);
  });

  it("ends a wait with AbortedError when the caller's signal aborts, and sends nothing", async () => {
    const { emu, af, wf } = await rig({}, { rateLimits: { submission: 1, general: 1_000, windowMs: 5_000 } });
    await af.workflows.run(wf.id, { text: "first" });
    const controller = new AbortController();
    const call = timedFailure(af.workflows.run(wf.id, { text: "second" }, { signal: controller.signal }));
    setTimeout(() => controller.abort(), 100);
    const { error, ms } = await call;

    expect(error).toBeInstanceOf(AbortedError);
    expect((error as AbortedError).attempts).toBe(0);
    expect(ms).toBeLessThan(4_000);
    expect(runs(emu)).toHaveLength(1);
  });

  it("ends a wait that runs into the deadline with TimeoutError", async () => {
    // Waiters ahead in the same queue (first come, first served) take the next windows' slots: the call
    // behind them cannot be sent before its deadline. (Two clients' queues would race for each slot.)
    const { af, wf } = await rig({}, { rateLimits: { submission: 1, general: 1_000, windowMs: 1_000 } });
    await af.workflows.run(wf.id, { text: "first" });
    const others = Array.from({ length: 3 }, (_, i) => af.workflows.run(wf.id, { text: `other ${i}` }));
    const { error } = await timedFailure(af.workflows.run(wf.id, { text: "mine" }, { deadline: 1_800 }));
    await Promise.allSettled(others);

    expect(error instanceof TimeoutError || error instanceof RateLimitedError).toBe(true);
    expect((error as TimeoutError).attempts).toBe(0);
  });

  it.each([
    ["a 429's wait", [json(429, { error: "slow down" }, { "retry-after": "1" }), json(200, [])], {}],
    ["the next window of a tier it filled", [json(200, []), json(200, [])], { tiers: { general: { limit: 1, windowMs: 1_000 } } }],
  ])("keeps the process alive while its only call waits for a slot (%s)", async (_case, answers, rateLimit) => {
    const server = await scripted(...answers);
    // Nothing but the wait for a slot keeps this script's process from ending before its second call does.
    const run = await script(`
      const af = new Anyformat({ apiKey: "sk-governor-alive", baseUrl: ${JSON.stringify(server.url)}, rateLimit: ${JSON.stringify(rateLimit)} });
      await af.webhooks.list();
      await af.webhooks.list().catch(() => undefined);
      console.log("listed");`);
    expect(run).toEqual({ code: 0, stdout: "listed\n", stderr: "" });
  });

  it("lets the process end at once when its only waiting call is aborted", async () => {
    const server = await scripted(json(200, []), json(200, []));
    const started = Date.now();
    const run = await script(`
      const af = new Anyformat({ apiKey: "sk-governor-abort", baseUrl: ${JSON.stringify(server.url)}, maxRetryAfter: 60_000, rateLimit: { tiers: { general: { limit: 1, windowMs: 30_000 } } } });
      await af.webhooks.list();
      const error = await af.webhooks.list({ signal: AbortSignal.timeout(100) }).catch((e) => e);
      console.log(error.code);`);
    expect(run).toEqual({ code: 0, stdout: "ABORTED\n", stderr: "" });
    // Not half a minute later, when the tier's next window would have opened.
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it("holds every caller of a tier after a 429, not just the one refused", async () => {
    const server = await scripted(
      json(429, { error: "slow down" }, { "retry-after": "1" }),
      json(200, { ok: true }),
    );
    const af = new Anyformat({ apiKey: "sk-governor-429", baseUrl: server.url, maxRetryAfter: 5_000 });
    open.push(() => af.close());
    const first = af.webhooks.list();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = af.webhooks.list();
    await Promise.allSettled([first, second]);

    // The second call was held until the Retry-After had passed, rather than sent into the same 429.
    expect(server.gaps()[0]).toBeGreaterThanOrEqual(900);
    expect(server.requests).toHaveLength(3);
  });

  it("assumes anyformat's documented 60 submissions a minute when the server sends no headers", async () => {
    const server = await scripted(json(202, { id: "c", status: "pending" }));
    const af = new Anyformat({ apiKey: "sk-governor-doc", baseUrl: server.url, maxRetryAfter: 1_000 });
    open.push(() => af.close());
    for (let i = 0; i < 60; i++) await af.workflows.run("wf", { text: "x" });
    const { error } = await timedFailure(af.workflows.run("wf", { text: "61st" }));

    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).attempts).toBe(0);
    expect(server.requests).toHaveLength(60);
    // The general tier is apart: a GET still goes.
    await af.webhooks.list().catch(() => undefined);
    expect(server.requests).toHaveLength(61);
  });

  it("paces as configured in rateLimit.tiers, below what the server would allow", async () => {
    const { emu, af, wf } = await rig({ rateLimit: { tiers: { submission: { limit: 2, windowMs: 60_000 } } }, maxRetryAfter: 100 });
    await af.workflows.run(wf.id, { text: "1" });
    await af.workflows.run(wf.id, { text: "2" });
    const { error } = await timedFailure(af.workflows.run(wf.id, { text: "3" }));

    expect(error).toBeInstanceOf(RateLimitedError);
    expect(runs(emu)).toHaveLength(2);
  });

  it("shares a tier between clients on the same key in one process, and not between keys", async () => {
    const { emu, af, wf } = await rig({ maxRetryAfter: 100 }, { rateLimits: { submission: 1, general: 1_000, windowMs: 60_000 } });
    await af.workflows.run(wf.id, { text: "1" });
    const sameKey = new Anyformat({ apiKey: ANYFORMAT_EMULATOR_KEY, baseUrl: emu.url, maxRetryAfter: 100 });
    const otherKey = new Anyformat({ apiKey: "sk-another-org", baseUrl: emu.url, maxRetryAfter: 100, maxRetries: 0 });
    open.push(() => sameKey.close(), () => otherKey.close());

    const same = await timedFailure(sameKey.workflows.run(wf.id, { text: "2" }));
    const other = await timedFailure(otherKey.workflows.run(wf.id, { text: "3" }));
    expect((same.error as RateLimitedError).attempts).toBe(0);
    // Another key is another organisation: it was sent (and refused by the emulator, which knows one key).
    expect((other.error as { status?: number }).status).toBe(401);
  });

  it("is off with rateLimit: false: the server's 429 is met", async () => {
    const { emu, af, wf } = await rig({ rateLimit: false, maxRetries: 0 }, { rateLimits: { submission: 1, general: 1_000, windowMs: 60_000 } });
    await af.workflows.run(wf.id, { text: "1" });
    const { error } = await timedFailure(af.workflows.run(wf.id, { text: "2" }));

    expect((error as RateLimitedError).attempts).toBe(1);
    expect(runs(emu).map((r) => r.status)).toEqual([202, 429]);
  });

  it("does not count health checks", async () => {
    const { emu, af } = await rig({ maxRetryAfter: 100 }, { rateLimits: { submission: 1, general: 1, windowMs: 60_000 } });
    // `rig` created a workflow: the general tier is spent.
    for (let i = 0; i < 3; i++) await af.health();
    expect(emu.requests.filter((r) => r.path === "/health/")).toHaveLength(3);
  });

  it("never refuses a call on a window end it has only guessed: processes unaware of each other get through", async () => {
    // Two clients with stores of their own: two processes on one key without a shared store.
    const { emu, wf } = await rig({}, { rateLimits: { submission: 10, general: 1_000, windowMs: 1_000 } });
    const clients = [0, 1].map(() => new Anyformat({ apiKey: ANYFORMAT_EMULATOR_KEY, baseUrl: emu.url, rateLimit: { store: new MemoryRateLimitStore() }, logLevel: "off" }));
    open.push(...clients.map((c) => () => c.close()));
    const stop = Date.now() + 3_000;
    let ok = 0;
    let refusedUnsent = 0;
    await Promise.all(
      clients.flatMap((af) =>
        Array.from({ length: 6 }, async () => {
          // A caller that tries again at once, as a naive loop does.
          while (Date.now() < stop) {
            try {
              await af.workflows.run(wf.id, { text: "x" });
              ok++;
            } catch (error) {
              if ((error as RateLimitedError).attempts === 0) refusedUnsent++;
            }
          }
        }),
      ),
    );
    // Refusing on the first window's guessed minute, before the server's answers bounded it, refused tens
    // of thousands of calls in a tight loop and starved the answers that would have ended it.
    expect(refusedUnsent).toBeLessThan(20);
    expect(ok).toBeGreaterThanOrEqual(15);
  });

  it("paces Roboflow, which publishes no limits, from its 429s alone", async () => {
    const server = await scripted(
      json(200, { workspace: { name: "w", url: "w", projects: [] } }),
      json(429, { error: "Too many requests" }),
      json(200, { workspace: { name: "w", url: "w", projects: [] } }),
    );
    const rf = new Roboflow({ apiKey: "sk-governor-rf", workspace: "w", baseUrl: server.url, maxRetries: 0 });
    open.push(() => rf.close());
    await rf.workspace.get();
    await rf.workspace.get().catch(() => undefined);
    await rf.workspace.get();

    // No Retry-After: the tier was held for a second before the next call went.
    expect(server.gaps()[1]).toBeGreaterThanOrEqual(900);
  });
});
