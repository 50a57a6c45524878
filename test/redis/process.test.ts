/**
 * The store in a process of its own: the built `faultline` and `faultline/testing` never load the Redis
 * client, and a process using the store exits when its work is done, closed or not, Redis there or not.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeWithRedis, freePort, startRedis, type RedisServer } from "./support.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const DIST = `${ROOT}dist/`;

/** Runs an ES module in a fresh Node process (this one's binary), from the repository's root. */
function node(source: string, args: string[] = []) {
  return spawnSync(process.execPath, [...args, "--input-type=module", "-e", source], { cwd: ROOT, encoding: "utf8", timeout: 15_000 });
}

/** Makes `redis` and `@redis/*` unresolvable, for import() and require() alike, as where it is not installed. */
const HIDE_REDIS = `
import { registerHooks } from "node:module";
registerHooks({
  resolve(specifier, context, next) {
    if (specifier === "redis" || specifier.startsWith("redis/") || specifier.startsWith("@redis/")) {
      throw Object.assign(new Error("Cannot find package '" + specifier + "' (hidden by the test)"), { code: "ERR_MODULE_NOT_FOUND" });
    }
    return next(specifier, context);
  },
});
`;

describe("the built package without the redis package installed", () => {
  beforeAll(() => {
    expect(existsSync(`${DIST}redis.js`), "dist/ is built by `npm test` (pretest)").toBe(true);
  });

  it("loads faultline and faultline/testing, as ESM and CommonJS", () => {
    const run = node(`${HIDE_REDIS}
      import { createRequire } from "node:module";
      const require = createRequire(${JSON.stringify(DIST)});
      const esm = await import(${JSON.stringify(`${DIST}index.js`)});
      const testing = await import(${JSON.stringify(`${DIST}testing.js`)});
      const cjs = require("./index.cjs");
      const testingCjs = require("./testing.cjs");
      new esm.Anyformat({ apiKey: "k" });
      new cjs.Anyformat({ apiKey: "k" });
      console.log(typeof testing.startEmulator, typeof testingCjs.startEmulator);
    `);
    expect(run.stderr).toBe("");
    expect(run.stdout.trim()).toBe("function function");
  });

  it("imports the client in faultline/redis alone, and there says which package is missing", () => {
    // The control: with the client hidden, the redis entry's store cannot connect, and says why.
    const run = node(`${HIDE_REDIS}
      const { createRedisRateLimitStore } = await import(${JSON.stringify(`${DIST}redis.js`)});
      const lines = [];
      const store = createRedisRateLimitStore({ url: "redis://127.0.0.1:1", logger: { warn: (line) => lines.push(line) } });
      const slot = await store.take("k", { limit: 1, windowMs: 1000, explicit: true });
      console.log(JSON.stringify({ slot, lines }));
    `);
    const out = JSON.parse(run.stdout) as { slot: { granted: boolean }; lines: string[] };
    expect(out.slot.granted).toBe(true);
    expect(out.lines).toEqual([expect.stringContaining("needs the redis package (npm install redis)")]);
  });

  it("has no reference to the client in any built file but faultline/redis's own", () => {
    const others = readdirSync(DIST, { recursive: true, encoding: "utf8" }).filter((file) => /\.(c?js)$/.test(file) && !/^redis\.c?js$/.test(file));
    expect(others.length).toBeGreaterThan(3);
    for (const file of others) {
      expect(readFileSync(`${DIST}${file}`, "utf8"), file).not.toMatch(/(from|import|require)\s*\(?\s*["'](redis|@redis\/[^"']*)["']/);
    }
    expect(readFileSync(`${DIST}redis.js`, "utf8")).toMatch(/import\(["']redis["']\)/);
  });
});

describeWithRedis("a process using the Redis store", () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  /** Takes a slot through a store on `url`, never closing it, and reports how the process ended. */
  function takeAndLeave(url: string) {
    const started = Date.now();
    const run = node(
      `
      import { createRedisRateLimitStore } from "./src/redis/index.ts";
      process.on("unhandledRejection", (reason) => { console.error("unhandled", reason); process.exitCode = 7; });
      const store = createRedisRateLimitStore({ url: ${JSON.stringify(url)}, logger: { warn: () => undefined } });
      const slot = await store.take("k", { limit: 5, windowMs: 60000, explicit: true });
      console.log(JSON.stringify({ granted: slot.granted, mode: store.mode }));
    `,
      ["--import", "tsx"],
    );
    return { ...run, ms: Date.now() - started };
  }

  it("exits when its work is done, the store left open", () => {
    const run = takeAndLeave(redis.url);
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ granted: true, mode: "shared" });
  });

  it("exits when its work is done while the store waits for Redis to come back", async () => {
    const run = takeAndLeave(`redis://127.0.0.1:${await freePort()}`);
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ granted: true, mode: "local" });
  });
});
