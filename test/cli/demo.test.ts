import { PassThrough } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { runDemo } from "../../src/cli/demo.js";
import { runCli, stubServer, type StubServer } from "./support.js";

const open: StubServer[] = [];
afterAll(async () => {
  await Promise.all(open.splice(0).map((server) => server.close()));
});

describe("faultline demo", () => {
  it("tells the whole story against the embedded emulators, its steps numbered 1 to 8", async () => {
    const stdout = new PassThrough();
    let text = "";
    stdout.on("data", (chunk: Buffer) => (text += chunk.toString()));
    const summary = await runDemo({ stdout });
    expect(text).toMatch(/created "Invoices \(faultline demo\)"/);
    expect(text).toMatch(/429 RATE_LIMITED: attempt 2 in \d+ ms \(the server's Retry-After\)/);
    expect(text.match(/412 PRECONDITION_FAILED/g)?.length ?? 0).toBeGreaterThanOrEqual(2);
    expect(text).toMatch(/Invoice number: "INV-2026-0042"/);
    expect(text).toMatch(/instanceof NotFoundError: 404/);
    expect(text).toMatch(/case "NOT_FOUND"/);
    expect(text).toMatch(/AuthFailedError 401 AUTH_FAILED after 1 request/);
    expect(text).toMatch(/nowhere \(masked as \*\*\*\)/);
    expect(text).toMatch(/resumed from the journal: \d+ more, none of the first \d+ again/);
    expect(text).toMatch(/the emulator holds 12 submissions for 12 documents: nothing was submitted twice/);
    expect(text).toMatch(/the circuit is open: CircuitOpenError, 0 requests sent, next probe in \d+ ms/);
    expect(text).toMatch(/the probe succeeded: the circuit is closed/);
    expect(text).toMatch(/LockedError 423 LOCKED after 1 request/);
    expect(text).toMatch(/202 Accepted: export \d+ % prepared/);
    expect(text).toMatch(/as COCO: http:\/\/127\.0\.0\.1:\d+\//);
    expect(text).not.toContain("sk-demo-wrong-key");
    expect([...text.matchAll(/^(\d+)\. /gm)].map((m) => Number(m[1]))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(summary.steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("never reads a key or base URL from the environment: with real-looking ones set, nothing reaches them", async () => {
    // Servers standing in for the real APIs: the demo must not send them a single request.
    const anyformat = await stubServer(200, { count: 0, page: 1, page_size: 20, results: [] });
    const roboflow = await stubServer(200, { workspace: { projects: [] } });
    open.push(anyformat, roboflow);
    const env = {
      ANYFORMAT_API_KEY: "af-live-key-6c1d90",
      ANYFORMAT_BASE_URL: anyformat.url,
      ROBOFLOW_API_KEY: "rf-live-key-2b7e44",
      ROBOFLOW_BASE_URL: roboflow.url,
      ROBOFLOW_WORKSPACE: "my-real-workspace",
      ROBOFLOW_DEPLOYMENTS_URL: roboflow.url,
    };
    const result = await runCli(["demo"], { env, timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(anyformat.requests).toEqual([]);
    expect(roboflow.requests).toEqual([]);
    expect(result.stdout).toMatch(/anyformat: emulator at http:\/\/127\.0\.0\.1:\d+/);
    expect(result.stdout).toMatch(/Roboflow: +emulator at http:\/\/127\.0\.0\.1:\d+/);
    expect(result.stdout).not.toContain("my-real-workspace");
    // The Roboflow key no longer skips the 423 step: the numbers run 1 to 8 without a gap.
    expect([...result.stdout.matchAll(/^(\d+)\. /gm)].map((m) => Number(m[1]))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  }, 70_000);

  it("prints one JSON summary of its steps with --json, and nothing on stderr", async () => {
    const result = await runCli(["--json", "demo"], { timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe("");
    const summary = JSON.parse(result.stdout) as {
      emulators: { anyformat: string; roboflow: string };
      steps: Array<{ step: number; title: string; lines: string[] }>;
      seconds: number;
    };
    expect(summary.emulators.anyformat).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(summary.steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(summary.steps[0]?.title).toBe("Create an anyformat workflow");
    expect(summary.steps[3]?.lines).toContain("AuthFailedError 401 AUTH_FAILED after 1 request (never retried)");
    expect(summary.seconds).toBeGreaterThan(0);
  }, 70_000);
});
