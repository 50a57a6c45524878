import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { runDemo } from "../../src/cli/demo.js";

describe("faultline demo", () => {
  it("tells the whole story against the embedded emulators and exits 0", async () => {
    const stdout = new PassThrough();
    let text = "";
    stdout.on("data", (chunk: Buffer) => (text += chunk.toString()));
    // No keys in the environment: both parts run against the emulators.
    const code = await runDemo({ stdout, env: {} });
    expect(code).toBe(0);
    expect(text).toMatch(/created "Invoices \(faultline demo\)"/);
    expect(text).toMatch(/429 RATE_LIMITED: attempt 2 in \d+ ms \(the server's Retry-After\)/);
    expect(text.match(/412 PRECONDITION_FAILED/g)?.length ?? 0).toBeGreaterThanOrEqual(2);
    expect(text).toMatch(/Invoice number: "INV-2026-0042"/);
    expect(text).toMatch(/instanceof NotFoundError: 404/);
    expect(text).toMatch(/case "NOT_FOUND"/);
    expect(text).toMatch(/AuthFailedError 401 AUTH_FAILED after 1 request/);
    expect(text).toMatch(/nowhere \(masked as \*\*\*\)/);
    expect(text).toMatch(/LockedError 423 LOCKED after 1 request/);
    expect(text).toMatch(/202 Accepted: export \d+ % prepared/);
    expect(text).toMatch(/as COCO: http:\/\/127\.0\.0\.1:\d+\//);
    expect(text).not.toContain("sk-demo-wrong-key");
  });
});
