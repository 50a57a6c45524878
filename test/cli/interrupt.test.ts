/**
 * Ctrl-C (SIGINT) and SIGTERM while the CLI waits: it stops at once, says so the way every failure is said
 * (one JSON line with --json), tells how to pick the work up again, and exits as shells expect (130, 143).
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Anyformat } from "../../src/anyformat/client.js";
import { ANYFORMAT_EMULATOR_KEY, type AnyformatApp } from "../../src/testing/anyformat/app.js";
import { ROBOFLOW_EMULATOR_KEY, ROBOFLOW_EMULATOR_WORKSPACE } from "../../src/testing/roboflow/app.js";
import { startEmulator, type Emulator } from "../../src/testing/server.js";
import { startServer, type LoopbackServer } from "../helpers/server.js";
import { MODES, startCli, TestClock, until, type ParsedError } from "./support.js";

const open: Array<Emulator | LoopbackServer> = [];
let invoice = "";

beforeAll(async () => {
  invoice = join(await mkdtemp(join(tmpdir(), "faultline-int-")), "invoice.txt");
  await writeFile(invoice, "Total: 12.00\n");
});

afterAll(async () => {
  await Promise.all(open.splice(0).map((server) => server.close()));
});

interface Ended {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Starts the CLI, sends `signal` once `ready` holds, and collects how it ended. */
async function interrupt(args: readonly string[], env: Record<string, string>, ready: () => boolean, signal: NodeJS.Signals = "SIGINT"): Promise<Ended> {
  const child = startCli(args, { env });
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  await until(ready, 15_000);
  child.kill(signal);
  return { code: await exited, stdout, stderr };
}

/** The one JSON error line of a `--json` failure. */
function errorLine(ended: Ended): ParsedError {
  const lines = ended.stderr.split("\n").filter((line) => line !== "");
  expect(lines, ended.stderr).toHaveLength(1);
  return (JSON.parse(lines[0] ?? "") as { error: ParsedError }).error;
}

/** An anyformat emulator whose runs never finish (its clock stands still), with one workflow. */
async function stuckAnyformat(): Promise<{ emu: Emulator<AnyformatApp>; env: Record<string, string>; workflow: string }> {
  const emu = await startEmulator({ api: "anyformat", stepMs: 1_000, clock: new TestClock() });
  open.push(emu);
  const af = new Anyformat({ apiKey: ANYFORMAT_EMULATOR_KEY, baseUrl: emu.url });
  const workflow = (await af.workflows.create({ name: "Invoices", fields: [{ name: "total", description: "Total", data_type: "float" }] })).id;
  await af.close();
  return { emu, env: { ANYFORMAT_API_KEY: ANYFORMAT_EMULATOR_KEY, ANYFORMAT_BASE_URL: emu.url }, workflow };
}

const polled = (emu: Emulator, path: RegExp, status: number) => (): boolean =>
  emu.requests.some((r) => path.test(r.path) && r.status === status);

describe.concurrent("Ctrl-C while the CLI waits", () => {
  for (const mode of MODES) {
    it(`ends 'anyformat run --wait' with exit 130 and the command that picks the results up, in ${mode.name} mode`, async () => {
      const { emu, env, workflow } = await stuckAnyformat();
      const ended = await interrupt([...mode.flags, "anyformat", "run", workflow, invoice, "--wait"], env, polled(emu, /\/results\/$/, 412));
      expect(ended.code, ended.stderr).toBe(130);
      expect(ended.stdout).toBe("");
      const collection = [...emu.app.collections.keys()][0] ?? "";
      const resume = `faultline anyformat results ${workflow} ${collection} --wait`;
      if (mode.name === "JSON") {
        const error = errorLine(ended);
        expect(error).toEqual({
          message: "Interrupted while waiting for the results",
          hint: `The run goes on: '${resume}' picks up its results`,
          code: "ABORTED",
          retryable: false,
        });
      } else {
        expect(ended.stderr).toBe(`Error: Interrupted while waiting for the results\nHint: The run goes on: '${resume}' picks up its results\n`);
      }
    });
  }

  it("ends 'roboflow version export --wait' with exit 130 and one JSON line saying the export goes on", async () => {
    const emu = await startEmulator({ api: "roboflow", exportMs: 60_000, clock: new TestClock() });
    open.push(emu);
    const env = { ROBOFLOW_API_KEY: ROBOFLOW_EMULATOR_KEY, ROBOFLOW_WORKSPACE: ROBOFLOW_EMULATOR_WORKSPACE, ROBOFLOW_BASE_URL: emu.url };
    const ended = await interrupt(["--json", "roboflow", "version", "export", "widgets", "2", "coco", "--wait"], env, polled(emu, /\/coco$/, 202));
    expect(ended.code).toBe(130);
    expect(ended.stdout).toBe("");
    expect(errorLine(ended)).toMatchObject({ code: "ABORTED", message: "Interrupted while waiting for the export", hint: expect.stringMatching(/run the same command again/) });
  });

  it("ends a call whose answer never comes, with exit 130 for Ctrl-C and 143 for SIGTERM", async () => {
    const held = await startServer(() => undefined);
    open.push(held);
    const env = { ANYFORMAT_API_KEY: "af-key-7a1c", ANYFORMAT_BASE_URL: held.url };
    for (const [signal, code, said] of [
      ["SIGINT", 130, "Ctrl-C"],
      ["SIGTERM", 143, "SIGTERM"],
    ] as const) {
      const before = held.requests.length;
      const ended = await interrupt(["--json", "anyformat", "workflows", "list"], env, () => held.requests.length > before, signal);
      expect(ended.code).toBe(code);
      expect(ended.stdout).toBe("");
      expect(errorLine(ended)).toEqual({ message: `Interrupted (${said})`, code: "ABORTED", retryable: false });
    }
  });
});
