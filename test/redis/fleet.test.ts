/**
 * A fleet of real processes on one API key: with the Redis store they share one budget per tier and the
 * emulator's enforced tier is never exceeded; with only their own stores, they are.
 */
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { Anyformat } from "../../src/anyformat/client.js";
import { ANYFORMAT_EMULATOR_KEY, type AnyformatApp } from "../../src/testing/anyformat/app.js";
import { startEmulator, type Emulator } from "../../src/testing/server.js";
import { startFleet, type Fleet } from "../helpers/fleet.js";
import type { FleetMode } from "../helpers/fleet-worker.js";
import { describeWithRedis, startRedis, type RedisServer } from "./support.js";

const TIER = { submission: 10, general: 1_000, windowMs: 1_000 };
const RUN_MS = 4_000;

describeWithRedis("a fleet of processes sharing one key through Redis", () => {
  let redis: RedisServer;
  const open: Array<() => Promise<unknown> | void> = [];

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  afterEach(async () => {
    for (const close of open.splice(0)) await close();
  });

  /** Two worker processes submitting runs on one key for RUN_MS, and what the emulator saw. */
  async function twoProcesses(mode: FleetMode, prefix: string) {
    const emu: Emulator<AnyformatApp> = await startEmulator({ api: "anyformat", stepMs: 0, rateLimits: TIER });
    open.push(() => emu.close());
    const setup = new Anyformat({ apiKey: ANYFORMAT_EMULATOR_KEY, baseUrl: emu.url });
    const wf = await setup.workflows.create({ name: "fleet", fields: [{ name: "total", description: "t", data_type: "float" }] });
    await setup.close();
    const fleet: Fleet = await startFleet(2, { baseUrl: emu.url, apiKey: ANYFORMAT_EMULATOR_KEY, workflowId: wf.id, mode, concurrency: 8, redisUrl: redis.url, prefix });
    open.push(() => fleet.kill());
    fleet.go();
    await new Promise((resolve) => setTimeout(resolve, RUN_MS));
    const reports = await fleet.stop();
    const runs = emu.requests.filter((r) => r.method === "POST" && r.path.endsWith("/run/"));
    return { reports, accepted: runs.filter((r) => r.status === 202).length, refused: runs.filter((r) => r.status === 429).length };
  }

  it("never sends more than the tier allows: not a single 429 from two processes", { timeout: 60_000 }, async () => {
    const { reports, accepted, refused } = await twoProcesses("redis", "fleet-shared:");

    expect(refused).toBe(0);
    // It ran: both processes submitted, and the windows were used (4 windows of 10; the lower bound leaves
    // room for a busy machine).
    expect(reports.map((r) => r.completed).every((n) => n > 0)).toBe(true);
    expect(accepted).toBeGreaterThanOrEqual(25);
    expect(reports.flatMap((r) => r.failures)).toEqual([]);
    expect(reports.flatMap((r) => r.unhandledRejections)).toEqual([]);
    expect(reports.flatMap((r) => r.lines)).toEqual([]);
  });

  it("meets 429s without it, each process pacing alone: what the shared store prevents", { timeout: 60_000 }, async () => {
    const { refused } = await twoProcesses("local", "unused:");
    expect(refused).toBeGreaterThan(0);
  });
});
