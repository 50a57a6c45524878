import { randomUUID } from "node:crypto";
import { describe, expect, test, vi } from "vitest";
import { Anyformat, ConnectionError, TimeoutError } from "../../src/index.js";
import {
  ANYFORMAT_EMULATOR_KEY,
  startEmulator,
  type AnyformatApp,
  type Emulator,
  type EmulatorLogEntry,
  type FaultRates,
} from "../../src/testing/index.js";
import { budget, runPool, size, Tally } from "./support.js";

/**
 * POSTs under resets after the body was sent: the emulator's `reset` fault lets the app act on the
 * request and then cuts the connection, as a proxy dropping an answer does. A retry would then run the
 * extraction twice, so none may happen unless the call passes an `idempotencyKey`.
 */

const CALLS = size(1_000, 150);
/** Faults that leave the app acting on the request (resets, cut bodies, held headers) and ones that do not. */
const POST_FAULTS: FaultRates = { reset: 0.2, truncatedBody: 0.05, slowHeaders: 0.05, serverError: 0.05, rateLimit: 0.05 };

interface Rig {
  readonly emu: Emulator<AnyformatApp>;
  readonly af: Anyformat;
}

/** Each test gets an emulator and a client of its own, so the tests can run side by side. */
const it = test.extend<{ rig: Rig }>({
  rig: async ({}, use) => {
    // Tiers the test never fills: the client's governor learns them from the headers, as against the real API.
    const emu = await startEmulator({
      api: "anyformat",
      seed: 11,
      slowHeadersMs: 3_000,
      faultRetryAfterSeconds: 0.05,
      rateLimits: { general: 1_000_000, submission: 1_000_000, windowMs: 60_000 },
    });
    // 40 % faults on POSTs that may not be retried fail a third of the calls: a breaker would rightly open.
    // What is under test here is that no run is sent twice, so the breaker stays out of it.
    const af = new Anyformat({ apiKey: ANYFORMAT_EMULATOR_KEY, baseUrl: emu.url, maxRetries: 3, timeout: 1_000, maxRetryAfter: 1_000, circuitBreaker: false });
    try {
      await use({ emu, af });
    } finally {
      await af.close();
      await emu.close();
    }
  },
});

async function workflows({ af }: Rig, n: number): Promise<string[]> {
  const ids: string[] = [];
  await runPool(n, 20, async () => {
    // Set-up, before any fault: a busy machine must not fail it on the client's one-second timeout.
    const wf = await af.workflows.create({ name: "invoice", fields: [{ name: "total", description: "Grand total", data_type: "float" }] }, { timeout: 30_000 });
    ids.push(wf.id);
  });
  return ids;
}

/** Requests to a workflow's run/ endpoint the app acted on: not answered by an HTTP fault, not a replay. */
function runsReached(log: readonly EmulatorLogEntry[], id: string): number {
  return log.filter(
    (e) =>
      e.method === "POST" &&
      e.path === `/v2/workflows/${id}/run/` &&
      !e.replayed &&
      e.fault !== "serverError" &&
      e.fault !== "rateLimit" &&
      // A held request whose client gave up is dropped before the app sees it (logged without a status).
      !(e.fault === "slowHeaders" && e.status === undefined),
  ).length;
}

async function runsRecorded({ af }: Rig, id: string): Promise<number> {
  const page = await af.workflows.runs(id, {}, { timeout: 30_000 });
  return page.results.length;
}

describe.concurrent("POSTs under resets after the body was sent", () => {
  it("a run whose connection is reset after the app acted is sent once and fails with a ConnectionError", async ({ rig }) => {
    const { emu, af } = rig;
    const [id] = await workflows(rig, 1);
    emu.inject("reset", { count: 1, method: "POST", path: `/v2/workflows/${id}/run/` });
    const error = await af.workflows.run(id!, { text: "Invoice 42, total 100 EUR" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).attempts).toBe(1);
    expect(emu.requests.filter((e) => e.method === "POST" && e.path.endsWith("/run/"))).toHaveLength(1);
    expect(await runsRecorded(rig, id!)).toBe(1);
  });

  it("a run held past its timeout is not sent again", async ({ rig }) => {
    const { emu, af } = rig;
    const [id] = await workflows(rig, 1);
    emu.inject("slowHeaders", { count: 1, method: "POST", path: `/v2/workflows/${id}/run/` });
    const error = await af.workflows.run(id!, { text: "Invoice 43" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TimeoutError);
    // A POST that timed out may have been acted on: it is not retried.
    expect((error as TimeoutError).attempts).toBe(1);
    // The emulator logs a held request when it lets go of it (here: when the client hangs up), which
    // can come a turn of the event loop after the client has thrown.
    const posts = (): EmulatorLogEntry[] => emu.requests.filter((e) => e.method === "POST" && e.path.endsWith("/run/"));
    await vi.waitFor(() => expect(posts()).toHaveLength(1));
    expect(posts()[0]).toMatchObject({ fault: "slowHeaders", status: undefined });
    // The client hung up while the request was held, so the app never acted on it: no run was recorded.
    expect([...emu.app.collections.values()].filter((c) => c.workflowId === id)).toEqual([]);
    expect(await runsRecorded(rig, id!)).toBe(0);
  });

  it(`without an idempotencyKey, ${CALLS} runs under 40 % faults never reach the app twice`, async ({ rig }) => {
    const { emu, af } = rig;
    const ids = await workflows(rig, CALLS);
    const first = emu.requests.length;
    emu.setFaults(POST_FAULTS);
    const tally = new Tally();
    await runPool(CALLS, 50, async (i) => {
      await af.workflows.run(ids[i]!, { text: `document ${i}` }).then(
        () => tally.success(),
        (e: unknown) => tally.failure(e),
      );
    });
    emu.setFaults({});
    const log = emu.requests.slice(first);
    const reached = ids.map((id) => runsReached(log, id));
    const duplicates = reached.filter((n) => n > 1).length;
    const recorded = await Promise.all(ids.map((id) => runsRecorded(rig, id)));
    const posts = log.filter((e) => e.method === "POST").length;
    console.log(
      `idempotency without key: ${tally.summary()}; ${posts} POSTs sent, ${log.filter((e) => e.fault === "reset").length} reset; ` +
        `workflows whose run reached the app twice: ${duplicates}; runs recorded ${recorded.reduce((a, b) => a + b, 0)}`,
    );
    expect(tally.foreign).toEqual([]);
    expect(duplicates).toBe(0);
    expect(recorded.filter((n) => n > 1)).toEqual([]);
    // Resets really happened, and the ones after the app acted were not retried: they failed.
    expect(tally.failures["ConnectionError"] ?? 0).toBeGreaterThan(0);
    // Faults answered before the app acted (5xx, 429) are safe to retry, and were.
    expect(posts).toBeGreaterThan(CALLS);
  }, budget(120_000, 30_000));

  it(`with an idempotencyKey, ${CALLS} runs under the same faults are retried through resets and each runs exactly once`, async ({ rig }) => {
    const { emu, af } = rig;
    const ids = await workflows(rig, CALLS);
    const first = emu.requests.length;
    emu.setFaults(POST_FAULTS);
    const tally = new Tally();
    const keys: string[] = ids.map(() => randomUUID());
    const succeeded = new Set<number>();
    await runPool(CALLS, 50, async (i) => {
      await af.workflows.run(ids[i]!, { text: `document ${i}` }, { idempotencyKey: keys[i]! }).then(
        () => {
          succeeded.add(i);
          tally.success();
        },
        (e: unknown) => tally.failure(e),
      );
    });
    emu.setFaults({});
    const log = emu.requests.slice(first);
    const recorded = await Promise.all(ids.map((id) => runsRecorded(rig, id)));
    const replayed = log.filter((e) => e.replayed).length;
    const sentKeys = new Set(log.filter((e) => e.method === "POST").map((e) => e.headers["idempotency-key"]));
    console.log(
      `idempotency with key: ${tally.summary()}; ${log.filter((e) => e.method === "POST").length} POSTs sent, ` +
        `${log.filter((e) => e.fault === "reset").length} reset, ${replayed} answered from the key's replay; ` +
        `runs recorded ${recorded.reduce((a, b) => a + b, 0)}`,
    );
    expect(tally.foreign).toEqual([]);
    expect(recorded.filter((n) => n > 1)).toEqual([]);
    // Retried after resets: the emulator replayed answers instead of running twice.
    expect(replayed).toBeGreaterThan(0);
    expect(tally.successes).toBeGreaterThan(CALLS * 0.9);
    // Every attempt of a call carried the same key.
    expect([...sentKeys].every((k) => k !== undefined && keys.includes(k))).toBe(true);
    // A call that succeeded ran exactly once; one that failed ran at most once.
    expect(ids.filter((_, i) => succeeded.has(i) && recorded[i] !== 1)).toEqual([]);
  }, budget(120_000, 30_000));
});
