import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";

// `npm test` builds dist/ first (pretest); these tests hold the built package, not the sources.
const dist = fileURLToPath(new URL("../../dist/", import.meta.url));
const require = createRequire(import.meta.url);

type Package = typeof import("../../src/index.js");
let esm: Package;
let cjs: Package;

const init = {
  status: 404,
  code: "NOT_FOUND" as const,
  message: "Resource not found",
  retryable: false,
  headers: {},
  body: "",
};

beforeAll(async () => {
  expect(existsSync(`${dist}index.js`), "dist/ is built by `npm test` (pretest)").toBe(true);
  esm = (await import(`${dist}index.js`)) as Package;
  cjs = require(`${dist}index.cjs`) as Package;
});

describe("the ESM and CommonJS builds loaded in one process", () => {
  it("are two separate copies of the classes", () => {
    expect(esm.NotFoundError).not.toBe(cjs.NotFoundError);
  });

  it("recognise each other's errors with instanceof, through the whole class chain", () => {
    const fromCjs = new cjs.NotFoundError(init);
    const fromEsm = new esm.NotFoundError(init);
    for (const [error, lib] of [
      [fromCjs, esm],
      [fromEsm, cjs],
    ] as const) {
      expect(error).toBeInstanceOf(lib.NotFoundError);
      expect(error).toBeInstanceOf(lib.ApiError);
      expect(error).toBeInstanceOf(lib.FaultlineError);
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(lib.ServerError);
      expect(error).not.toBeInstanceOf(lib.ConnectionError);
    }
  });

  it("tell subclasses apart across builds (a GatewayTimeoutError is a ServerError, not the reverse)", () => {
    const gateway = new cjs.GatewayTimeoutError({ ...init, status: 504, code: "GATEWAY_TIMEOUT", retryable: true });
    const server = new cjs.ServerError({ ...init, status: 500, code: "INTERNAL_ERROR", retryable: true });
    expect(gateway).toBeInstanceOf(esm.ServerError);
    expect(gateway).toBeInstanceOf(esm.GatewayTimeoutError);
    expect(server).not.toBeInstanceOf(esm.GatewayTimeoutError);
  });

  it("keep the code, name and toJSON of an error made by the other build", () => {
    const error = new cjs.ValidationError({
      ...init,
      status: 400,
      code: "VALIDATION_ERROR",
      detail: [{ type: "missing", loc: ["body", "name"], msg: "Field required" }],
    });
    expect(error).toBeInstanceOf(esm.BadRequestError);
    expect(error.name).toBe("ValidationError");
    expect(error.issues).toHaveLength(1);
    expect(error.toJSON()).toMatchObject({ name: "ValidationError", code: "VALIDATION_ERROR", status: 400 });
  });

  it("do not mistake a plain object or another library's error for a faultline error", () => {
    expect({ code: "NOT_FOUND", status: 404 }).not.toBeInstanceOf(esm.NotFoundError);
    expect(new Error("x")).not.toBeInstanceOf(cjs.FaultlineError);
    expect((null as unknown as object) instanceof esm.FaultlineError).toBe(false);
  });
});
