/** The fault plan behind `emu.inject` and `emu.setFaults`: queued faults, their scope and their count. */
import { describe, expect, test } from "vitest";
import { FaultPlan } from "../../src/testing/faults.js";
import type { EmulatorRequest } from "../../src/testing/types.js";

function request(method: string, path: string): EmulatorRequest {
  return { method, path, query: new URLSearchParams(), headers: {}, body: new Uint8Array() };
}

const GET_A = request("GET", "/v2/workflows/a/");
const GET_B = request("GET", "/v2/workflows/b/");

describe("queued faults", () => {
  test("are served first in, first out, to every request they match, count by count", () => {
    const plan = new FaultPlan({}, 1);
    plan.inject("rateLimit", { count: 2 });
    plan.inject("serverError", { count: 2 });
    // A call that stopped after one attempt leaves the second rateLimit to whatever request comes next.
    expect([GET_A, GET_B, GET_A, GET_B, GET_A].map((r) => plan.draw(r))).toEqual([
      "rateLimit",
      "rateLimit",
      "serverError",
      "serverError",
      undefined,
    ]);
  });

  test("scoped by path and method, never reach other requests", () => {
    const plan = new FaultPlan({}, 1);
    plan.inject("locked", { count: 2, path: "/v2/workflows/a/" });
    plan.inject("reset", { method: "post", path: /\/run\/$/ });
    expect(plan.draw(GET_B)).toBeUndefined();
    expect(plan.draw(GET_A)).toBe("locked");
    expect(plan.draw(request("GET", "/v2/workflows/b/run/"))).toBeUndefined();
    expect(plan.draw(request("POST", "/v2/workflows/b/run/"))).toBe("reset");
    expect(plan.draw(GET_B)).toBeUndefined();
    expect(plan.draw(GET_A)).toBe("locked");
    expect(plan.draw(GET_A)).toBeUndefined();
  });

  test("with count Infinity apply to every matching request from then on", () => {
    const plan = new FaultPlan({}, 1);
    plan.inject("gatewayTimeout", { count: Infinity });
    expect(Array.from({ length: 5 }, () => plan.draw(GET_A))).toEqual(Array(5).fill("gatewayTimeout"));
  });

  test.for([0, -1, 1.5, Number.NaN])("refuse count %s", (count) => {
    const plan = new FaultPlan({}, 1);
    expect(() => plan.inject("serverError", { count })).toThrow(RangeError);
    expect(plan.draw(GET_A)).toBeUndefined();
  });

  test("refuse a fault that does not exist", () => {
    expect(() => new FaultPlan({}, 1).inject("meltdown" as never)).toThrow(TypeError);
  });
});

describe("fault rates", () => {
  test("give the same faults for the same seed", () => {
    const rates = { serverError: 0.3, reset: 0.2 };
    const draws = (seed: number): unknown[] => {
      const plan = new FaultPlan(rates, seed);
      return Array.from({ length: 200 }, () => plan.draw(GET_A));
    };
    expect(draws(7)).toEqual(draws(7));
    expect(draws(7)).not.toEqual(draws(8));
    const faults = draws(7).filter((f) => f !== undefined).length;
    expect(faults).toBeGreaterThan(60);
    expect(faults).toBeLessThan(140);
  });

  test("refuse rates outside [0, 1] or adding up to more than 1", () => {
    expect(() => new FaultPlan({ serverError: 1.5 }, 1)).toThrow(RangeError);
    expect(() => new FaultPlan({ serverError: 0.6, reset: 0.6 }, 1)).toThrow(RangeError);
    expect(() => new FaultPlan({ meltdown: 0.1 } as never, 1)).toThrow(TypeError);
  });
});
