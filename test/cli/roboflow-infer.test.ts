import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROBOFLOW_EMULATOR_KEY, type RoboflowApp, type RoboflowEmulatorOptions } from "../../src/testing/roboflow/app.js";
import { startEmulator, type Emulator } from "../../src/testing/server.js";
import { png } from "../helpers/images.js";
import { closedPort, expectFailure, expectSuccess, MODES, runCli } from "./support.js";

const KEY = ROBOFLOW_EMULATOR_KEY;
const WRONG_KEY = "rf-wrong-key-3c7a90";
const SECRETS = [KEY, WRONG_KEY];
const open: Emulator[] = [];
let dir = "";
let image = "";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "faultline-cli-infer-"));
  image = join(dir, "widget.png");
  await writeFile(image, png(640, 480, 3));
});

afterAll(async () => {
  await Promise.all(open.splice(0).map((emu) => emu.close()));
  await rm(dir, { recursive: true, force: true });
});

async function emulator(options: Omit<RoboflowEmulatorOptions, "clock" | "baseUrl"> = {}): Promise<Emulator<RoboflowApp>> {
  const emu = await startEmulator({ api: "roboflow", faultRetryAfterSeconds: 0, ...options });
  open.push(emu);
  return emu;
}

/** A configured user: key, workspace, and the base URL alone (the inference host follows it). */
const envFor = (emu: Emulator, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> => ({
  ROBOFLOW_API_KEY: KEY,
  ROBOFLOW_WORKSPACE: "acme",
  ROBOFLOW_BASE_URL: emu.url,
  ...extra,
});

const inferenceCalls = (emu: Emulator): Array<number | undefined> => emu.requests.filter((q) => q.path.startsWith("/inference/")).map((q) => q.status);

interface Detection {
  readonly kind: string;
  readonly predictions: ReadonlyArray<{ class: string; confidence: number; x: number; y: number; width: number; height: number }>;
  readonly image: { width: number; height: number };
}

for (const mode of MODES) {
  const json = mode.name === "JSON";

  describe.concurrent(`faultline roboflow infer, in ${mode.name} mode`, () => {
    it("prints a detection model's predictions: class, confidence and box (JSON: the answer with its kind)", async () => {
      const emu = await emulator();
      const result = await runCli([...mode.flags, "roboflow", "infer", "widgets/2", image], { env: envFor(emu) });
      const data = expectSuccess(result, mode, SECRETS) as Detection | undefined;
      if (json) {
        expect(data).toMatchObject({ kind: "detection", image: { width: 640, height: 480 } });
        expect(data?.predictions.length).toBeGreaterThan(0);
      } else {
        expect(result.stdout).toMatch(/^widgets\/2: \d+ predictions? on a 640x480 image/);
        expect(result.stdout).toMatch(/\nCLASS +CONFIDENCE +X +Y +WIDTH +HEIGHT\n/);
        expect(result.stdout).toMatch(/\nwidget(-defect)? +0\.\d{3} +\d+\.\d +\d+\.\d +\d+\.\d +\d+\.\d/);
      }
    });

    it("prints a classification model's classes, the top one first", async () => {
      const emu = await emulator();
      const result = await runCli([...mode.flags, "roboflow", "infer", "gadgets/1", image], { env: envFor(emu) });
      const data = expectSuccess(result, mode, SECRETS) as { kind: string; top: string } | undefined;
      if (json) expect(data).toMatchObject({ kind: "classification", top: expect.stringMatching(/^(gizmo|doohickey)$/) });
      else expect(result.stdout).toMatch(/^gadgets\/1: (gizmo|doohickey) \(0\.\d{3}\)\nCLASS +CONFIDENCE\n/);
    });

    it("sends --confidence and --overlap as the fractions they are, and leaves out what is below the confidence", async () => {
      const emu = await emulator();
      const result = await runCli([...mode.flags, "roboflow", "infer", "widgets/2", image, "--confidence", "0.7", "--overlap", "0.25"], { env: envFor(emu) });
      expectSuccess(result, mode, SECRETS);
      const sent = emu.requests.find((q) => q.path === "/inference/widgets/2");
      const query = new URLSearchParams(sent?.query);
      expect([query.get("confidence"), query.get("overlap")]).toEqual(["0.7", "0.25"]);
      if (json) for (const p of (JSON.parse(result.stdout) as Detection).predictions) expect(p.confidence).toBeGreaterThanOrEqual(0.7);
    });

    it("runs on an image the host fetches when given an http(s) URL", async () => {
      const emu = await emulator();
      emu.app.remoteImages.set("https://cdn.example.com/widget.png", { bytes: png(320, 240, 9) });
      const result = await runCli([...mode.flags, "roboflow", "infer", "widgets/2", "https://cdn.example.com/widget.png"], { env: envFor(emu) });
      const data = expectSuccess(result, mode, SECRETS) as Detection | undefined;
      if (json) expect(data?.image).toEqual({ width: 320, height: 240 });
      else expect(result.stdout).toContain("on a 320x240 image");
    });

    it("waits out a model that is not ready (503 with Retry-After), then prints its predictions", async () => {
      const emu = await emulator({ modelLoadMs: 1_500 });
      const result = await runCli([...mode.flags, "--max-retries", "4", "roboflow", "infer", "widgets/2", image], { env: envFor(emu) });
      expectSuccess(result, mode, SECRETS);
      const calls = inferenceCalls(emu);
      expect(calls.at(-1)).toBe(200);
      expect(calls.slice(0, -1).length).toBeGreaterThanOrEqual(1);
      expect(calls.slice(0, -1).every((status) => status === 503)).toBe(true);
    });

    it("exits 1 when the model stays not ready past the retries, saying it is loading", async () => {
      const emu = await emulator({ modelLoadMs: 60_000 });
      const result = await runCli([...mode.flags, "--max-retries", "0", "roboflow", "infer", "widgets/2", image], { env: envFor(emu) });
      expectFailure(result, mode, { exit: 1, code: "INTERNAL_ERROR", status: 503, hint: /still loading/, secrets: SECRETS });
    });

    it("exits 2 when the key is refused (401), the key masked", async () => {
      const emu = await emulator();
      const result = await runCli([...mode.flags, "--api-key", WRONG_KEY, "roboflow", "infer", "widgets/2", image], {
        env: envFor(emu, { ROBOFLOW_API_KEY: undefined }),
      });
      expectFailure(result, mode, { exit: 2, code: "AUTH_FAILED", status: 401, secrets: SECRETS });
      expect(inferenceCalls(emu)).toEqual([401]);
    });

    it("exits 3 when the model does not exist (404), pointing at the project's versions", async () => {
      const emu = await emulator();
      const result = await runCli([...mode.flags, "roboflow", "infer", "widgets/9", image], { env: envFor(emu) });
      expectFailure(result, mode, { exit: 3, code: "NOT_FOUND", status: 404, hint: /faultline roboflow project get widgets/, secrets: SECRETS });
    });

    it("exits 1 without retrying when the workspace is out of credits (402), with the remedy", async () => {
      const emu = await emulator({ inferenceCredits: 0 });
      const result = await runCli([...mode.flags, "roboflow", "infer", "widgets/2", image], { env: envFor(emu) });
      expectFailure(result, mode, { exit: 1, code: "PAYMENT_REQUIRED", status: 402, hint: /credits/, secrets: SECRETS });
      expect(inferenceCalls(emu)).toEqual([402]);
    });

    it("exits 1 without retrying when the model is too big for the host (507)", async () => {
      const emu = await emulator();
      emu.app.modelFaults.set("widgets/2", "tooBig");
      const result = await runCli([...mode.flags, "roboflow", "infer", "widgets/2", image], { env: envFor(emu) });
      expectFailure(result, mode, { exit: 1, code: "INTERNAL_ERROR", status: 507, hint: /dedicated deployment/, secrets: SECRETS });
      expect(inferenceCalls(emu)).toEqual([507]);
    });

    it("exits 1 before sending anything for a threshold given as a percentage, saying which fraction was meant", async () => {
      const result = await runCli([...mode.flags, "roboflow", "infer", "widgets/2", image, "--confidence", "40"], { env: { ROBOFLOW_API_KEY: KEY } });
      expectFailure(result, mode, { exit: 1, code: "USAGE_ERROR", message: /--confidence takes a number from 0 to 1, not '40'/, hint: /pass 0\.4/ });
    });
  });

  describe.concurrent(`faultline roboflow workflow run, in ${mode.name} mode`, () => {
    it("prints a Workflow's predictions as a table (JSON: its outputs)", async () => {
      const emu = await emulator();
      const result = await runCli([...mode.flags, "roboflow", "workflow", "run", "detect-widgets", "--image", image], { env: envFor(emu) });
      const data = expectSuccess(result, mode, SECRETS) as { outputs: Array<{ predictions: Detection }> } | undefined;
      if (json) {
        expect(data?.outputs).toHaveLength(1);
        expect(data?.outputs[0]?.predictions.image).toEqual({ width: 640, height: 480 });
      } else {
        expect(result.stdout).toMatch(/^predictions: \d+ predictions? on a 640x480 image.*\nCLASS +CONFIDENCE +X +Y +WIDTH +HEIGHT\n/);
      }
      // The key rode in the body, never in the URL.
      const run = emu.requests.find((q) => q.path === "/inference/acme/workflows/detect-widgets");
      expect(run?.query ?? "").not.toContain(KEY);
    });

    it("runs on an image URL the host fetches", async () => {
      const emu = await emulator();
      emu.app.remoteImages.set("https://cdn.example.com/w.png", { bytes: png(100, 50, 4) });
      const result = await runCli([...mode.flags, "roboflow", "workflow", "run", "detect-widgets", "--image", "https://cdn.example.com/w.png"], { env: envFor(emu) });
      expectSuccess(result, mode, SECRETS);
      if (!json) expect(result.stdout).toContain("on a 100x50 image");
    });

    it("exits 3 when the Workflow does not exist, pointing at the list", async () => {
      const emu = await emulator();
      const result = await runCli([...mode.flags, "roboflow", "workflow", "run", "no-such-workflow", "--image", image], { env: envFor(emu) });
      expectFailure(result, mode, { exit: 3, code: "NOT_FOUND", status: 404, hint: /faultline roboflow workflow list/, secrets: SECRETS });
    });

    it("exits 1 without retrying when the workspace is out of credits (402)", async () => {
      const emu = await emulator({ inferenceCredits: 0 });
      const result = await runCli([...mode.flags, "roboflow", "workflow", "run", "detect-widgets", "--image", image], { env: envFor(emu) });
      expectFailure(result, mode, { exit: 1, code: "PAYMENT_REQUIRED", status: 402, secrets: SECRETS });
      expect(inferenceCalls(emu)).toEqual([402]);
    });

    it("exits 2 when no workspace is selected, before sending anything", async () => {
      const emu = await emulator();
      const result = await runCli([...mode.flags, "roboflow", "workflow", "run", "detect-widgets", "--image", image], { env: envFor(emu, { ROBOFLOW_WORKSPACE: undefined }) });
      expectFailure(result, mode, { exit: 2, code: "MISSING_CREDENTIALS", hint: /--workspace/ });
      expect(emu.requests).toHaveLength(0);
    });

    it("is a usage error without --image", async () => {
      const result = await runCli([...mode.flags, "roboflow", "workflow", "run", "detect-widgets"], { env: { ROBOFLOW_API_KEY: KEY } });
      expectFailure(result, mode, { exit: 1, code: "USAGE_ERROR", message: /Missing option --image/ });
    });
  });
}

describe("--inference-url", () => {
  it("sends models and Workflows to the URL given, by flag or by ROBOFLOW_INFERENCE_URL, whatever the base URL", async () => {
    const emu = await emulator();
    const nowhere = `http://127.0.0.1:${await closedPort()}`;
    const byFlag = await runCli(["--inference-url", emu.inferenceUrl, "roboflow", "infer", "widgets/2", image], { env: envFor(emu, { ROBOFLOW_BASE_URL: nowhere }) });
    expect(byFlag.code, byFlag.stderr).toBe(0);
    const byEnv = await runCli(["roboflow", "workflow", "run", "detect-widgets", "--image", image], {
      env: envFor(emu, { ROBOFLOW_BASE_URL: nowhere, ROBOFLOW_INFERENCE_URL: emu.inferenceUrl }),
    });
    expect(byEnv.code, byEnv.stderr).toBe(0);
    const elsewhere = await runCli(["--inference-url", nowhere, "roboflow", "infer", "widgets/2", image], { env: envFor(emu) });
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toMatch(/^Error: .*\n/);
    expect(inferenceCalls(emu)).toEqual([200, 200]);
  });

  it("is refused on an anyformat command", async () => {
    const result = await runCli(["--inference-url", "http://127.0.0.1:1", "anyformat", "workflows", "list"], { env: { ANYFORMAT_API_KEY: "af-key" } });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/Option --inference-url does not apply/);
  });
});
