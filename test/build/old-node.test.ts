/**
 * Issue 11.14: on a Node older than `engines.node`, the built package must fail at import with a clear
 * error, and the CLI must say so its own way, rather than crash deep inside undici. The machine's own
 * Node (20 here and on CI; `FAULTLINE_OLD_NODE` names another) runs the built files for real; a preload
 * that makes the current Node report 22.18.0 checks the boundary wherever the suite runs.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));
const dist = join(root, "dist");
const MESSAGE = /^faultline needs Node >= 22\.19; this is (\d+\.\d+\.\d+)$/;
const HINT = "Install Node 22.19 or later: https://nodejs.org";

/** The first `node` on PATH (or `FAULTLINE_OLD_NODE`) older than 22.19, with its version. */
function findOldNode(): { path: string; version: string } | undefined {
  const candidates = [process.env["FAULTLINE_OLD_NODE"], ...(process.env["PATH"] ?? "").split(delimiter).map((dir) => join(dir, "node"))];
  for (const path of candidates) {
    if (path === undefined || path === "" || path.includes("node_modules")) continue;
    try {
      accessSync(path, constants.X_OK);
      const version = execFileSync(path, ["--version"], { encoding: "utf8" }).trim().replace(/^v/, "");
      const [major, minor] = version.split(".").map(Number);
      if ((major ?? 0) < 22 || (major === 22 && (minor ?? 0) < 19)) return { path, version };
    } catch {
      // Not there, or not runnable: try the next.
    }
  }
  return undefined;
}

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(node: string, args: readonly string[]): Run {
  const result = spawnSync(node, args, { cwd: root, encoding: "utf8", timeout: 30_000, env: { ...process.env, NODE_OPTIONS: "" } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const old = findOldNode();

beforeAll(() => {
  expect(existsSync(join(dist, "node-check.js")), "dist/ is built by `npm test` (pretest)").toBe(true);
  expect(old, "a Node older than 22.19 on PATH (the machine's own), or FAULTLINE_OLD_NODE naming one").toBeDefined();
});

describe("the built package on a Node older than 22.19", () => {
  it.each(["index.js", "index.cjs", "testing.js", "testing.cjs", "redis.js", "redis.cjs"])("fails to load dist/%s with a clear error, not undici's", (file) => {
    const { path, version } = old as { path: string; version: string };
    const result = run(path, [join(dist, file)]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`Error: faultline needs Node >= 22.19; this is ${version}`);
    expect(result.stderr).not.toMatch(/Cannot read properties|undici/);
  });

  it("throws a plain Error with that message and code UNSUPPORTED_NODE, which import() and require() can catch", () => {
    const { path, version } = old as { path: string; version: string };
    const esm = run(path, [
      "--input-type=module",
      "-e",
      `try { await import(${JSON.stringify(join(dist, "index.js"))}); } catch (e) { console.log(JSON.stringify({ name: e.name, plain: e.constructor === Error, message: e.message, code: e.code })); }`,
    ]);
    const cjs = run(path, [
      "-e",
      `try { require(${JSON.stringify(join(dist, "index.cjs"))}); } catch (e) { console.log(JSON.stringify({ name: e.name, plain: e.constructor === Error, message: e.message, code: e.code })); }`,
    ]);
    for (const result of [esm, cjs]) {
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual({
        name: "Error",
        plain: true,
        message: `faultline needs Node >= 22.19; this is ${version}`,
        code: "UNSUPPORTED_NODE",
      });
    }
  });

  it("makes the CLI print one JSON line with --json, and exit 1", () => {
    const { path, version } = old as { path: string; version: string };
    const result = run(path, [join(dist, "cli.js"), "--json", "anyformat", "workflows", "list"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    const lines = result.stderr.split("\n").filter((line) => line !== "");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? "")).toEqual({
      error: { message: `faultline needs Node >= 22.19; this is ${version}`, hint: HINT, code: "UNSUPPORTED_NODE", retryable: false },
    });
  });

  it("makes the CLI say so as Error and Hint lines without --json, and exit 1", () => {
    const { path, version } = old as { path: string; version: string };
    const result = run(path, [join(dist, "cli.js"), "roboflow", "project", "list"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(`Error: faultline needs Node >= 22.19; this is ${version}\nHint: ${HINT}\n`);
  });
});

describe("the built package on the boundary, on the Node running this suite", () => {
  // Makes this Node report 22.18.0 before anything else loads.
  const as2218 = ["--import", `data:text/javascript,Object.defineProperty(process.versions,"node",{value:"22.18.0"})`];

  it.each(["index.js", "index.cjs"])("refuses 22.18 loading dist/%s", (file) => {
    const result = run(process.execPath, [...as2218, join(dist, file)]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("Error: faultline needs Node >= 22.19; this is 22.18.0");
  });

  it("refuses 22.18 in the CLI, as one JSON line", () => {
    const result = run(process.execPath, [...as2218, join(dist, "cli.js"), "--json", "help"]);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stderr.trim()).error.message).toMatch(MESSAGE);
  });

  it("loads on this Node", () => {
    const result = run(process.execPath, ["--input-type=module", "-e", `const m = await import(${JSON.stringify(join(dist, "index.js"))}); console.log(typeof m.Anyformat);`]);
    expect([result.code, result.stdout.trim()]).toEqual([0, "function"]);
  });
});
