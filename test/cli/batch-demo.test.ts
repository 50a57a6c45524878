import { afterAll, describe, expect, it } from "vitest";
import { runBatchChapter } from "../../src/cli/batch-demo.js";
import { startEmulator } from "../../src/testing/server.js";
import type { AnyformatApp } from "../../src/testing/anyformat/app.js";
import type { Emulator } from "../../src/testing/server.js";

const open: Emulator<AnyformatApp>[] = [];
afterAll(async () => {
  await Promise.all(open.splice(0).map((emu) => emu.close()));
});

describe("the demo's batch chapter", () => {
  it("interrupts a dozen documents part-way, resumes them, and shows each submitted once", async () => {
    const emu = await startEmulator({ api: "anyformat", stepMs: 150, rateLimits: { submission: 4, windowMs: 1_000 }, faultRetryAfterSeconds: 0.3 });
    open.push(emu);
    const lines: string[] = [];
    await runBatchChapter(emu, (line = "") => lines.push(line));
    const outcomes = lines.filter((l) => /^[✓✗] /.test(l));
    expect(outcomes).toHaveLength(12);
    expect(new Set(outcomes.map((l) => /invoice-\d+/.exec(l)?.[0])).size).toBe(12);
    expect(outcomes.filter((l) => l.includes("✗"))).toEqual(["✗ invoice-09: EXTRACTION_FAILED"]);
    expect(lines).toContain("■ interrupted after 5 (as Ctrl-C would): what was in flight stays in the journal");
    expect(lines).toContain("▶ resumed from the journal: 7 more, none of the first 5 again");
    expect(lines).toContain("the emulator holds 12 submissions for 12 documents: nothing was submitted twice");
    // The faults were met, and the workflow it made is gone.
    expect(new Set(emu.requests.map((r) => r.fault).filter(Boolean))).toEqual(new Set(["rateLimit", "serverError", "reset"]));
    expect(emu.app.workflows.size).toBe(0);
  }, 30_000);
});
