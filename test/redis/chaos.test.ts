/**
 * Chaos: Redis is killed under a fleet of two processes that share one key through it, and started again
 * (empty, as after a crash without persistence). No call fails because of it, nothing rejects unhandled,
 * each process says once that it fell back and once that it rejoined, and shared pacing resumes.
 */
import { afterEach, expect, it } from "vitest";
import { Anyformat } from "../../src/anyformat/client.js";
import { ANYFORMAT_EMULATOR_KEY } from "../../src/testing/anyformat/app.js";
import { startEmulator } from "../../src/testing/server.js";
import { startFleet } from "../helpers/fleet.js";
import { describeWithRedis, startRedis } from "./support.js";

const KILL_AT = 2_500;
const RESTART_AT = 5_000;
const STOP_AT = 9_000;

describeWithRedis("Redis killed under a fleet, and restarted", () => {
  const open: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const close of open.splice(0)) await close();
  });

  it("fails no call, logs the fallback and the return once each, and paces the fleet again", { timeout: 60_000 }, async () => {
    const redis = await startRedis();
    open.push(() => redis.stop());
    const emu = await startEmulator({ api: "anyformat", stepMs: 0, rateLimits: { submission: 10, general: 1_000, windowMs: 1_000 } });
    open.push(() => emu.close());
    const setup = new Anyformat({ apiKey: ANYFORMAT_EMULATOR_KEY, baseUrl: emu.url });
    const wf = await setup.workflows.create({ name: "chaos", fields: [{ name: "total", description: "t", data_type: "float" }] });
    await setup.close();
    // While Redis is away each process paces alone, and the two together may overrun a window: the 429s they
    // meet then are retried, a couple more times than by default: a call unlucky enough to meet three in a row
    // would fail on chance, not on anything the store did.
    const fleet = await startFleet(2, { baseUrl: emu.url, apiKey: ANYFORMAT_EMULATOR_KEY, workflowId: wf.id, mode: "redis", concurrency: 6, redisUrl: redis.url, prefix: "chaos:", maxRetries: 4 });
    open.push(() => fleet.kill());

    const t0 = Date.now();
    fleet.go();
    await sleepUntil(t0 + KILL_AT);
    const killedAt = Date.now() - t0;
    await redis.kill();
    await sleepUntil(t0 + RESTART_AT);
    // A process may rejoin while restart() still waits for Redis to answer: the restart began here.
    const restartedAt = Date.now() - t0;
    await redis.restart();
    await sleepUntil(t0 + STOP_AT);
    const reports = await fleet.stop();

    const runs = emu.requests.filter((r) => r.method === "POST" && r.path.endsWith("/run/")).map((r) => ({ at: r.at - t0, status: r.status }));
    const lines = reports.map((r) => r.lines.map(([at, line]) => [at - t0, line] as const));
    const phases = { before: [0, killedAt], outage: [killedAt, restartedAt], after: [restartedAt, STOP_AT] } as const;
    const summary = Object.fromEntries(
      Object.entries(phases).map(([name, [from, to]]) => {
        const inPhase = runs.filter((r) => r.at >= from && r.at < to);
        return [name, { accepted: inPhase.filter((r) => r.status === 202).length, refused: inPhase.filter((r) => r.status === 429).length }];
      }),
    );
    // FAULTLINE_CHAOS_REPORT=1 prints what happened when, for the record.
    if (process.env["FAULTLINE_CHAOS_REPORT"] !== undefined) {
      console.log(JSON.stringify({ killedAt, restartedAt, lines, summary, requests: runs.map((r) => `${r.at}:${r.status}`).join(" ") }, null, 1));
    }

    // No call failed, and nothing was left to reject unhandled.
    expect(reports.flatMap((r) => r.failures)).toEqual([]);
    expect(reports.flatMap((r) => r.unhandledRejections)).toEqual([]);
    // Each process said once that it fell back, after the kill and before the restart, and once that it
    // rejoined, after the restart.
    for (const said of lines) {
      expect(said.map(([, line]) => line)).toEqual([
        expect.stringMatching(/^faultline: Redis is unreachable \(.+\); rate limits are paced in this process until it is back$/),
        "faultline: Redis is back; rate limits are shared with the fleet again",
      ]);
      const [[fellBack], [rejoined]] = said as [[number, string], [number, string]];
      expect(fellBack).toBeGreaterThanOrEqual(killedAt);
      expect(fellBack).toBeLessThan(restartedAt);
      expect(rejoined).toBeGreaterThanOrEqual(restartedAt);
    }
    // Calls went on through the outage, and after it.
    expect(summary["outage"]?.accepted).toBeGreaterThan(0);
    expect(summary["after"]?.accepted).toBeGreaterThan(0);
    // Shared pacing resumed: from a window after both rejoined, the tier is never exceeded.
    const rejoinedBy = Math.max(...lines.map((said) => said[1]?.[0] ?? Infinity));
    expect(runs.filter((r) => r.at > rejoinedBy + 1_500 && r.status === 429)).toEqual([]);
    expect(runs.filter((r) => r.at < killedAt && r.status === 429)).toEqual([]);
  });
});

function sleepUntil(at: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));
}
