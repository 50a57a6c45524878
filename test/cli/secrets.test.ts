import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Anyformat } from "../../src/anyformat/client.js";
import type { AnyformatApp } from "../../src/testing/anyformat/app.js";
import type { RoboflowApp } from "../../src/testing/roboflow/app.js";
import { startEmulator, type Emulator } from "../../src/testing/server.js";
import { closedPort, MODES, runCli, type CliResult } from "./support.js";

/** Keys distinctive enough that any appearance in the output is a leak, not a coincidence. */
const RF_CANARY = "rf-CANARY-7f3e9b2d41c8";
const AF_CANARY = "af-CANARY-0c5a8e6f19b3";

let roboflow: Emulator<RoboflowApp>;
let anyformat: Emulator<AnyformatApp>;
let refused = "";
let workflow = "";

beforeAll(async () => {
  // The emulators take the canaries as their valid keys, so success paths are covered too.
  roboflow = await startEmulator({ api: "roboflow", apiKey: RF_CANARY, exportMs: 0, faultRetryAfterSeconds: 0 });
  anyformat = await startEmulator({ api: "anyformat", apiKey: AF_CANARY, stepMs: 0, faultRetryAfterSeconds: 0 });
  refused = `http://127.0.0.1:${await closedPort()}`;
  const af = new Anyformat({ apiKey: AF_CANARY, baseUrl: anyformat.url });
  workflow = (await af.workflows.create({ name: "Canary", fields: [{ name: "total", description: "Total", data_type: "float" }] })).id;
  await af.close();
});

afterAll(async () => {
  await Promise.all([roboflow.close(), anyformat.close()]);
});

function rfEnv(): Record<string, string> {
  return { ROBOFLOW_API_KEY: RF_CANARY, ROBOFLOW_WORKSPACE: "acme", ROBOFLOW_BASE_URL: roboflow.url, ROBOFLOW_DEPLOYMENTS_URL: roboflow.deploymentsUrl };
}

function afEnv(): Record<string, string> {
  return { ANYFORMAT_API_KEY: AF_CANARY, ANYFORMAT_BASE_URL: anyformat.url };
}

/** Stands for the closed port's URL, known only once the tests start. */
const REFUSED = "<refused>";

interface Case {
  readonly why: string;
  readonly args: readonly string[];
  readonly env: () => Record<string, string>;
  readonly exit: number;
  /** Something echoed the key, so the output must show the mask instead. */
  readonly masked?: boolean;
}

// Every kind of outcome, with both keys present (env and --api-key): none may print either key.
const CASES: readonly Case[] = [
  { why: "a Roboflow success", args: ["roboflow", "project", "list"], env: rfEnv, exit: 0 },
  { why: "a Roboflow export link", args: ["roboflow", "version", "export", "widgets", "2", "coco", "--wait"], env: rfEnv, exit: 0 },
  { why: "an anyformat success", args: ["anyformat", "workflows", "list"], env: afEnv, exit: 0 },
  {
    why: "the key passed as the workspace, which the 404 quotes back",
    args: ["--workspace", RF_CANARY, "roboflow", "project", "list"],
    env: rfEnv,
    exit: 3,
    masked: true,
  },
  { why: "a refused connection, whose URL carries the key", args: ["--base-url", REFUSED, "--max-retries", "0", "roboflow", "project", "list"], env: rfEnv, exit: 1, masked: true },
  { why: "a refused anyformat connection", args: ["--base-url", REFUSED, "--max-retries", "0", "anyformat", "workflows", "list"], env: afEnv, exit: 1 },
  { why: "a wrong --api-key=KEY given inline", args: [`--api-key=${RF_CANARY}-x`, "roboflow", "project", "list"], env: rfEnv, exit: 2 },
  { why: "a key pasted as a command", args: ["--api-key", AF_CANARY, AF_CANARY], env: afEnv, exit: 1, masked: true },
  { why: "a key pasted as a workflow id", args: ["anyformat", "workflows", "get", AF_CANARY], env: afEnv, exit: 3, masked: true },
  { why: "a key pasted as a file to run", args: ["anyformat", "run", "wf", AF_CANARY], env: afEnv, exit: 1, masked: true },
];

for (const mode of MODES) {
  describe.concurrent(`a distinctive API key, in ${mode.name} mode`, () => {
    for (const c of CASES) {
      it(`never appears in the output of ${c.why}`, async () => {
        const args = c.args.map((arg) => (arg === REFUSED ? refused : arg));
        const result = await runCli([...mode.flags, ...args], { env: { ...c.env(), ...bothKeys() } });
        expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(c.exit);
        expectNoCanary(result);
        if (c.masked === true) expect(`${result.stdout}${result.stderr}`).toContain("***");
      });
    }

    it("never appears after retries that end in a 500", async () => {
      anyformat.inject("serverError", { count: 2, path: `/v2/workflows/${workflow}/` });
      const result = await runCli([...mode.flags, "--max-retries", "1", "anyformat", "workflows", "get", workflow], { env: afEnv() });
      expect(result.code).toBe(1);
      expectNoCanary(result);
    });
  });
}

/** Both keys in the environment, so each API's command also holds the other API's key. */
function bothKeys(): Record<string, string> {
  return { ROBOFLOW_API_KEY: RF_CANARY, ANYFORMAT_API_KEY: AF_CANARY };
}

function expectNoCanary(result: CliResult): void {
  for (const canary of [RF_CANARY, AF_CANARY, "CANARY"]) {
    expect(result.stdout).not.toContain(canary);
    expect(result.stderr).not.toContain(canary);
  }
}
