import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Anyformat } from "../../src/anyformat/client.js";
import { ANYFORMAT_EMULATOR_KEY } from "../../src/testing/anyformat/app.js";
import { ROBOFLOW_EMULATOR_KEY, ROBOFLOW_EMULATOR_WORKSPACE } from "../../src/testing/roboflow/app.js";
import { startEmulator } from "../../src/testing/server.js";
import { runCli, runCliInTerminal, TestClock, until } from "./support.js";

const open: Array<{ close(): Promise<void> }> = [];

afterAll(async () => {
  await Promise.all(open.splice(0).map((emu) => emu.close()));
});

/** Progress lines overwrite each other: each starts with a carriage return and an erase-line. */
const PROGRESS = "\r\x1b[2K";

interface Setup {
  readonly env: Record<string, string>;
  /** Lets the emulator's work finish once the CLI has been seen waiting for it. */
  finishWhenPolled(path: RegExp, status: number): Promise<void>;
}

/** An emulator on a clock that stands still until the CLI has polled once, so every run sees a wait. */
async function emulator(api: "roboflow" | "anyformat"): Promise<Setup & { workflow: string }> {
  const clock = new TestClock();
  const emu =
    api === "roboflow"
      ? await startEmulator({ api, exportMs: 2_000, clock })
      : await startEmulator({ api, stepMs: 1_000, clock });
  open.push(emu);
  let workflow = "";
  let env: Record<string, string>;
  if (api === "roboflow") {
    env = { ROBOFLOW_API_KEY: ROBOFLOW_EMULATOR_KEY, ROBOFLOW_WORKSPACE: ROBOFLOW_EMULATOR_WORKSPACE, ROBOFLOW_BASE_URL: emu.url };
  } else {
    env = { ANYFORMAT_API_KEY: ANYFORMAT_EMULATOR_KEY, ANYFORMAT_BASE_URL: emu.url };
    const af = new Anyformat({ apiKey: ANYFORMAT_EMULATOR_KEY, baseUrl: emu.url });
    workflow = (await af.workflows.create({ name: "Invoices", fields: [{ name: "total", description: "Total", data_type: "float" }] })).id;
    await af.close();
  }
  return {
    env,
    workflow,
    finishWhenPolled: async (path, status) => {
      await until(() => emu.requests.some((r) => path.test(r.path) && r.status === status));
      clock.advance(60_000);
    },
  };
}

// `script` makes the terminal; where it is missing (not Linux) these are skipped, not failed.
// Needs util-linux `script` to give the CLI a real terminal (Debian and every Linux CI image have it).
describe.concurrent("waits on a terminal", () => {
  it("show an export's progress on stderr, clear it, and leave stdout to the result", async () => {
    const { env, finishWhenPolled } = await emulator("roboflow");
    const running = runCliInTerminal(["roboflow", "version", "export", "widgets", "2", "coco", "--wait"], { env });
    await finishWhenPolled(/\/coco$/, 202);
    const result = await running;
    expect(result.code, result.terminal).toBe(0);
    expect(result.terminal).toContain(`${PROGRESS}Preparing coco export: 0%`);
    // The last thing on the terminal erases the progress line, so the shell prompt starts clean.
    expect(result.terminal.endsWith(PROGRESS)).toBe(true);
    expect(result.stdout).toMatch(/^Export ready: http:\/\/\S+\/downloads\/\S+\n$/);
  });

  it("show an extraction's progress on stderr while --wait polls", async () => {
    const { env, workflow, finishWhenPolled } = await emulator("anyformat");
    const dir = await mkdtemp(join(tmpdir(), "faultline-tty-"));
    const invoice = join(dir, "invoice.txt");
    await writeFile(invoice, "Total: 99.50 EUR\n");
    const running = runCliInTerminal(["anyformat", "run", workflow, invoice, "--wait"], { env });
    await finishWhenPolled(/\/results\/$/, 412);
    const result = await running;
    await rm(dir, { recursive: true, force: true });
    expect(result.code, result.terminal).toBe(0);
    expect(result.terminal).toMatch(/Extracting \(collection [0-9a-f-]+\): (pending|queued|in_progress)/);
    expect(result.terminal.endsWith(PROGRESS)).toBe(true);
    expect(result.stdout).toContain("\nextraction:\n  total: ");
  });

  it("refuse '-' when stdin is a terminal rather than wait for typing", async () => {
    const { env, workflow } = await emulator("anyformat");
    const result = await runCliInTerminal(["anyformat", "run", workflow, "-"], { env });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.terminal).toMatch(/^Error: '-' reads the document from stdin, but stdin is a terminal\r?\nHint: Pipe a file in/);
  });

  it("stay off stderr with --json, which keeps stderr for the one error line", async () => {
    const { env, finishWhenPolled } = await emulator("roboflow");
    const running = runCliInTerminal(["--json", "roboflow", "version", "export", "widgets", "2", "coco", "--wait"], { env });
    await finishWhenPolled(/\/coco$/, 202);
    const result = await running;
    expect(result.code, result.terminal).toBe(0);
    expect(result.terminal).toBe("");
    expect(JSON.parse(result.stdout)).toMatchObject({ status: "ready" });
  });
});

describe.concurrent("waits off a terminal", () => {
  it("print nothing on stderr while polling", async () => {
    const { env, finishWhenPolled } = await emulator("roboflow");
    const running = runCli(["roboflow", "version", "export", "widgets", "2", "coco", "--wait"], { env });
    await finishWhenPolled(/\/coco$/, 202);
    const result = await running;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe("");
    expect(result.stdout).toMatch(/^Export ready: /);
  });
});
