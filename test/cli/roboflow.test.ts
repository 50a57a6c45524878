import { afterAll, describe, expect, it } from "vitest";
import { startEmulator, type Emulator } from "../../src/testing/server.js";
import {
  ROBOFLOW_EMULATOR_KEY,
  ROBOFLOW_SCOPELESS_KEY,
  type RoboflowApp,
} from "../../src/testing/roboflow/app.js";
import { closedPort, expectFailure, expectSuccess, MODES, runCli } from "./support.js";

const KEY = ROBOFLOW_EMULATOR_KEY;
const WRONG_KEY = "rf-wrong-key-5f2c9a";
const SECRETS = [KEY, WRONG_KEY, ROBOFLOW_SCOPELESS_KEY];

const open: Emulator<RoboflowApp>[] = [];

// Each test has its own emulator (tests run concurrently and some inject faults): all close at the end.
afterAll(async () => {
  await Promise.all(open.splice(0).map((emu) => emu.close()));
});

/** An emulator whose exports are ready in 50 ms and whose injected 429s ask for no wait. */
async function emulator(): Promise<Emulator<RoboflowApp>> {
  const emu = await startEmulator({ api: "roboflow", exportMs: 50, faultRetryAfterSeconds: 0 });
  open.push(emu);
  return emu;
}

/** The environment a configured user has: key, workspace and both base URLs. */
function envFor(emu: Emulator, overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    ROBOFLOW_API_KEY: KEY,
    ROBOFLOW_WORKSPACE: "acme",
    ROBOFLOW_BASE_URL: emu.url,
    ROBOFLOW_DEPLOYMENTS_URL: emu.deploymentsUrl,
    ...overrides,
  };
}

for (const mode of MODES) {
  describe.concurrent(`faultline roboflow, in ${mode.name} mode`, () => {
    it("lists the workspace's projects and exits 0", async () => {
      const emu = await emulator();
      const result = await runCli([...mode.flags, "roboflow", "project", "list"], { env: envFor(emu) });
      const data = expectSuccess(result, mode, SECRETS);
      if (mode.name === "JSON") {
        expect(data).toEqual(expect.arrayContaining([expect.objectContaining({ id: "acme/widgets", name: "Widgets" })]));
      } else {
        expect(result.stdout).toMatch(/^ID\s+NAME/);
        expect(result.stdout).toContain("acme/widgets");
      }
    });

    it("takes the key, workspace and base URL from flags as well as from the environment", async () => {
      const emu = await emulator();
      const args = [...mode.flags, "--api-key", KEY, "--base-url", emu.url, "--workspace", "acme", "roboflow", "project", "get", "widgets"];
      const result = await runCli(args);
      const data = expectSuccess(result, mode, SECRETS);
      if (mode.name === "JSON") expect(data).toMatchObject({ project: { id: "acme/widgets" }, versions: expect.any(Array) });
      else expect(result.stdout).toContain("Versions:");
    });

    it("waits for an export quietly when stderr is not a terminal and prints the link", async () => {
      const emu = await emulator();
      const result = await runCli([...mode.flags, "roboflow", "version", "export", "widgets", "2", "coco", "--wait"], {
        env: envFor(emu),
      });
      const data = expectSuccess(result, mode, SECRETS);
      if (mode.name === "JSON") expect(data).toMatchObject({ status: "ready", link: expect.stringContaining("/downloads/") });
      else expect(result.stdout).toMatch(/^Export ready: http/);
    });

    it("exits 2 when the key is wrong, with the API's hint and the key masked", async () => {
      const emu = await emulator();
      const result = await runCli([...mode.flags, "--api-key", WRONG_KEY, "roboflow", "project", "list"], {
        env: envFor(emu, { ROBOFLOW_API_KEY: undefined }),
      });
      expectFailure(result, mode, { exit: 2, code: "AUTH_FAILED", status: 401, hint: /API key/, secrets: SECRETS });
    });

    it("exits 2 when the key may not see the workspace", async () => {
      const emu = await emulator();
      const result = await runCli([...mode.flags, "--workspace", "other", "roboflow", "project", "list"], { env: envFor(emu) });
      expectFailure(result, mode, { exit: 2, code: "ACCESS_DENIED", status: 403, secrets: SECRETS });
    });

    it("exits 2 without sending anything when no key is set", async () => {
      const emu = await emulator();
      const result = await runCli([...mode.flags, "roboflow", "project", "list"], {
        env: envFor(emu, { ROBOFLOW_API_KEY: undefined }),
      });
      expectFailure(result, mode, {
        exit: 2,
        code: "MISSING_CREDENTIALS",
        hint: "Pass --api-key or set ROBOFLOW_API_KEY",
        secrets: SECRETS,
      });
      expect(emu.requests).toHaveLength(0);
    });

    it("exits 2 when no workspace is selected", async () => {
      const emu = await emulator();
      const result = await runCli([...mode.flags, "roboflow", "trash", "list"], {
        env: envFor(emu, { ROBOFLOW_WORKSPACE: undefined }),
      });
      expectFailure(result, mode, {
        exit: 2,
        code: "MISSING_CREDENTIALS",
        hint: "Pass --workspace or set ROBOFLOW_WORKSPACE",
        secrets: SECRETS,
      });
      expect(emu.requests).toHaveLength(0);
    });

    it("exits 3 when the project does not exist, suggesting the project list", async () => {
      const emu = await emulator();
      const result = await runCli([...mode.flags, "roboflow", "project", "get", "nonexistent"], { env: envFor(emu) });
      expectFailure(result, mode, {
        exit: 3,
        code: "NOT_FOUND",
        status: 404,
        hint: "Run 'faultline roboflow project list' to see your projects",
        secrets: SECRETS,
      });
    });

    it("exits 3 on the GraphMethodException a key without scopes gets", async () => {
      const emu = await emulator();
      const result = await runCli([...mode.flags, "--api-key", ROBOFLOW_SCOPELESS_KEY, "roboflow", "project", "get", "widgets"], {
        env: envFor(emu, { ROBOFLOW_API_KEY: undefined }),
      });
      expectFailure(result, mode, { exit: 3, code: "NOT_FOUND", status: 404, hint: /scopes/, secrets: SECRETS });
    });

    it("exits 3 when a dedicated deployment does not exist", async () => {
      const emu = await emulator();
      const result = await runCli([...mode.flags, "roboflow", "deployment", "get", "nope"], { env: envFor(emu) });
      expectFailure(result, mode, { exit: 3, code: "NOT_FOUND", status: 404, hint: /deployment list/, secrets: SECRETS });
    });

    it("exits 1 on a 409 when a version's project is in Trash too", async () => {
      const emu = await emulator();
      const version = emu.app.versions.get("widgets/1");
      const project = emu.app.projects.get("widgets");
      if (version === undefined || project === undefined) throw new Error("seed data changed: widgets/1 is missing");
      version.deletedAt = Date.now();
      project.deletedAt = Date.now();
      const result = await runCli([...mode.flags, "roboflow", "version", "restore", "widgets", "1"], { env: envFor(emu) });
      expectFailure(result, mode, { exit: 1, code: "CONFLICT", status: 409, message: /Restore the project first/, secrets: SECRETS });
    });

    it("exits 1 on a 423 while the workspace is locked", async () => {
      const emu = await emulator();
      emu.app.lock("acme");
      const result = await runCli([...mode.flags, "roboflow", "project", "list"], { env: envFor(emu) });
      expectFailure(result, mode, { exit: 1, code: "LOCKED", status: 423, hint: /billing/, secrets: SECRETS });
    });

    it("exits 1 on a 429 once --max-retries are spent", async () => {
      const emu = await emulator();
      emu.inject("rateLimit", { count: 10 });
      const result = await runCli([...mode.flags, "--max-retries", "1", "roboflow", "project", "list"], { env: envFor(emu) });
      const error = expectFailure(result, mode, {
        exit: 1,
        code: "RATE_LIMITED",
        status: 429,
        message: /\(after 2 attempts\)$/,
        secrets: SECRETS,
      });
      if (mode.name === "JSON") expect(error.retryable).toBe(true);
      expect(emu.requests).toHaveLength(2);
    });

    it("exits 1 on a 429 once the default retries are spent", async () => {
      const emu = await emulator();
      emu.inject("rateLimit", { count: 10 });
      const result = await runCli([...mode.flags, "roboflow", "version", "get", "widgets", "2"], { env: envFor(emu) });
      expectFailure(result, mode, { exit: 1, code: "RATE_LIMITED", status: 429, message: /\(after 3 attempts\)$/, secrets: SECRETS });
      expect(emu.requests.map((r) => r.status)).toEqual([429, 429, 429]);
    });

    it("retries a 500 and succeeds when the next attempt does", async () => {
      const emu = await emulator();
      emu.inject("serverError", { count: 1 });
      const result = await runCli([...mode.flags, "roboflow", "workflow", "list"], { env: envFor(emu) });
      expectSuccess(result, mode, SECRETS);
      expect(emu.requests.map((r) => r.status)).toEqual([500, 200]);
    });

    it("exits 3 when the workflow does not exist, suggesting the workflow list", async () => {
      const emu = await emulator();
      const result = await runCli([...mode.flags, "roboflow", "workflow", "get", "nope"], { env: envFor(emu) });
      expectFailure(result, mode, { exit: 3, code: "NOT_FOUND", status: 404, hint: /workflow list/, secrets: SECRETS });
    });

    it("exits 3 when a project to restore is not in Trash, suggesting the Trash list", async () => {
      const emu = await emulator();
      const result = await runCli([...mode.flags, "roboflow", "project", "restore", "nope"], { env: envFor(emu) });
      expectFailure(result, mode, { exit: 3, code: "NOT_FOUND", status: 404, hint: /trash list/, secrets: SECRETS });
    });

    it("exits 3 when the version does not exist, suggesting the project's versions", async () => {
      const emu = await emulator();
      const result = await runCli([...mode.flags, "roboflow", "version", "get", "widgets", "9"], { env: envFor(emu) });
      expectFailure(result, mode, {
        exit: 3,
        code: "NOT_FOUND",
        status: 404,
        hint: "Run 'faultline roboflow project get widgets' to see its versions",
        secrets: SECRETS,
      });
    });

    it("starts an export without --wait and says how far it got", async () => {
      const emu = await emulator();
      const result = await runCli([...mode.flags, "roboflow", "version", "export", "widgets", "1", "yolov8"], { env: envFor(emu) });
      const data = expectSuccess(result, mode, SECRETS);
      if (mode.name === "JSON") expect(data).toMatchObject({ status: "preparing", progress: expect.any(Number) });
      else expect(result.stdout).toMatch(/^Export preparing: \d+% \(run again later, or add --wait\)/);
    });

    it("exits 1 on a 500", async () => {
      const emu = await emulator();
      emu.inject("serverError", { count: 10 });
      const result = await runCli([...mode.flags, "--max-retries", "0", "roboflow", "project", "list"], { env: envFor(emu) });
      expectFailure(result, mode, { exit: 1, code: "INTERNAL_ERROR", status: 500, secrets: SECRETS });
    });

    it("exits 1 on an HTML 502 from a proxy, without printing the page", async () => {
      const emu = await emulator();
      emu.inject("htmlBadGateway", { count: 10 });
      const result = await runCli([...mode.flags, "--max-retries", "0", "roboflow", "project", "list"], { env: envFor(emu) });
      expectFailure(result, mode, { exit: 1, code: "INTERNAL_ERROR", status: 502, secrets: SECRETS });
      expect(result.stderr).not.toContain("<html>");
    });

    it("exits 1 when the connection is refused", async () => {
      const emu = await emulator();
      const url = `http://127.0.0.1:${await closedPort()}`;
      const result = await runCli([...mode.flags, "--max-retries", "0", "--base-url", url, "roboflow", "project", "list"], {
        env: envFor(emu),
      });
      expectFailure(result, mode, { exit: 1, code: "CONNECTION_ERROR", hint: /--base-url/, secrets: SECRETS });
    });

    it("exits 1 on an unknown export format, before any request", async () => {
      const emu = await emulator();
      const result = await runCli([...mode.flags, "roboflow", "version", "export", "widgets", "2", "bmp"], { env: envFor(emu) });
      expectFailure(result, mode, { exit: 1, code: "INVALID_ARGUMENT", hint: /coco/, secrets: SECRETS });
      expect(emu.requests).toHaveLength(0);
    });

    it("masks a key that an error message quotes", async () => {
      const emu = await emulator();
      // The workspace slug echoes the key back in the 404's message.
      const result = await runCli([...mode.flags, "--workspace", KEY, "roboflow", "project", "list"], { env: envFor(emu) });
      expectFailure(result, mode, { exit: 3, code: "NOT_FOUND", status: 404, secrets: SECRETS });
      expect(result.stderr).toContain("***");
    });
  });
}

describe.concurrent("faultline roboflow commands", () => {
  it("move a project to Trash, list it there and restore it", async () => {
    const emu = await emulator();
    const env = envFor(emu);
    const json = ["--json"];
    const deleted = await runCli([...json, "roboflow", "project", "delete", "gadgets"], { env });
    // The same shape as anyformat's deletes (test/cli/anyformat.test.ts): what, which, and that it can come back.
    expect(JSON.parse(deleted.stdout)).toEqual({ type: "project", id: "gadgets", deleted: true, restorable: true });
    const trash = await runCli([...json, "roboflow", "trash", "list"], { env });
    expect(JSON.parse(trash.stdout)).toMatchObject({ items: [expect.objectContaining({ type: "project", id: "gadgets" })] });
    expect((await runCli(["roboflow", "project", "restore", "gadgets"], { env })).code).toBe(0);
    const after = await runCli([...json, "roboflow", "trash", "list"], { env });
    expect(JSON.parse(after.stdout)).toMatchObject({ items: [] });
  });

  it("move a version to Trash and restore it", async () => {
    const emu = await emulator();
    const env = envFor(emu);
    const deleted = await runCli(["roboflow", "version", "delete", "widgets", "1"], { env });
    expect(deleted.stdout).toBe("Moved version widgets/1 to Trash (undo: faultline roboflow version restore widgets 1)\n");
    const trash = await runCli(["roboflow", "trash", "list"], { env });
    expect(trash.stdout).toMatch(/^TYPE\s+ID\s+NAME\s+PARENT\s+DELETED\nversion\s+1\s/);
    const restored = await runCli(["--json", "roboflow", "version", "restore", "widgets", "1"], { env });
    expect(restored.code, restored.stderr).toBe(0);
    expect(JSON.parse(restored.stdout)).toEqual({ type: "version", id: "widgets/1", restored: true });
    expect(emu.app.versions.get("widgets/1")?.deletedAt).toBeUndefined();
    const again = await runCli(["--json", "roboflow", "version", "delete", "widgets", "1"], { env });
    expect(JSON.parse(again.stdout)).toEqual({ type: "version", id: "widgets/1", deleted: true, restorable: true });
  });

  it("accept a project as workspace/project, as the project list shows it", async () => {
    const emu = await emulator();
    const result = await runCli(["--json", "roboflow", "project", "get", "acme/gadgets"], { env: envFor(emu, { ROBOFLOW_WORKSPACE: undefined }) });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ project: { id: "acme/gadgets" } });
  });

  it("show versions, workflows and deployments", async () => {
    const emu = await emulator();
    const env = envFor(emu);
    const version = await runCli(["--json", "roboflow", "version", "get", "widgets", "2"], { env });
    expect(JSON.parse(version.stdout)).toMatchObject({ version: { id: "acme/widgets/2" } });
    const workflows = await runCli(["roboflow", "workflow", "list"], { env });
    expect(workflows.code).toBe(0);
    const url = /^(\S+)\s/m.exec(workflows.stdout.split("\n")[1] ?? "")?.[1] ?? "";
    const workflow = await runCli(["--json", "roboflow", "workflow", "get", url], { env });
    expect(JSON.parse(workflow.stdout)).toMatchObject({ url });
    const deployments = await runCli(["--json", "roboflow", "deployment", "list"], { env });
    expect(deployments.code).toBe(0);
    expect(Array.isArray(JSON.parse(deployments.stdout))).toBe(true);
  });
});
