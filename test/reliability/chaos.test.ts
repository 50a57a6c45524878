import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CHAOS_FAULTS, DEADLINE_SLACK_MS, describeReport, runChaos } from "./chaos-run.js";
import { activeResources, budget, leakedSince, size, SOAK, watchUnhandledRejections } from "./support.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CALLS = size(10_000, 600);
const DEADLINE = 3_000;

describe(`chaos: ${CALLS} idempotent calls through the emulator with 30 % injected faults`, () => {
  it("each call succeeds or fails with a FaultlineError within its deadline, with no unhandled rejection and no leaked socket or timer", async () => {
    const total = Object.values(CHAOS_FAULTS).reduce((a, b) => a + (b ?? 0), 0);
    expect(total).toBeCloseTo(0.3, 5);
    const before = activeResources();
    const unhandled = watchUnhandledRejections();
    let report;
    try {
      report = await runChaos({ calls: CALLS, concurrency: 60, seed: 2024, deadline: DEADLINE });
    } finally {
      unhandled.stop();
    }
    console.log(`chaos (${SOAK ? "full" : "reduced"}): ${describeReport(report)}`);

    expect(report.tally.calls).toBe(CALLS);
    expect(report.tally.foreign, "throws that are not FaultlineError").toEqual([]);
    expect(report.tally.successes + Object.values(report.tally.failures).reduce((a, b) => a + b, 0)).toBe(CALLS);
    expect(report.overDeadline, `calls that ran past ${DEADLINE} ms + ${DEADLINE_SLACK_MS} ms`).toBe(0);
    expect(unhandled.reasons).toEqual([]);
    // The faults were really there, and retries really absorbed most of them.
    for (const fault of Object.keys(CHAOS_FAULTS)) expect(report.faults[fault] ?? 0, `${fault} injected`).toBeGreaterThan(0);
    expect(report.retries).toBeGreaterThan(CALLS * 0.2);
    expect(report.tally.successes).toBeGreaterThan(CALLS * 0.9);
    // The breaker must not take 30 % faults that retries absorb for an outage.
    expect(report.circuitOpenings).toBe(0);
    expect(report.tally.failures["CircuitOpenError"] ?? 0).toBe(0);
    expect(await leakedSince(before)).toEqual({});
  }, budget(300_000, 60_000));

  it("run in a process of its own, lets that process exit by itself once the batch is over", async () => {
    const calls = size(2_000, 150);
    const child = spawn(process.execPath, ["--import", "tsx", "test/reliability/fixtures/chaos-exit.ts", String(calls)], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const limitMs = budget(120_000, 25_000);
    const exit = await new Promise<{ code: number | null; timedOut: boolean }>((resolve) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        resolve({ code: null, timedOut: true });
      }, limitMs);
      child.on("exit", (code) => {
        clearTimeout(timer);
        resolve({ code, timedOut: false });
      });
    });
    console.log(`chaos in its own process: ${stdout.trim().split("\n")[0] ?? ""}`);
    expect(exit.timedOut, `the process was still running after ${limitMs} ms: something keeps it alive\n${stderr}`).toBe(false);
    expect(exit.code, stderr).toBe(0);
    const summary = JSON.parse(stdout.split("\n")[0]!) as { calls: number; foreign: number };
    expect(summary).toMatchObject({ calls, foreign: 0 });
    expect(stdout).toContain("exited by itself");
  }, budget(130_000, 30_000));
});
