/**
 * What the Roboflow tests share: an emulator on loopback with a client pointed at both of its
 * services, torn down after each test, and a check that a key never shows unmasked.
 */
import { afterEach, expect } from "vitest";
import { Roboflow, type RoboflowOptions } from "../../src/roboflow/client.js";
import { startEmulator, type Emulator, type StartRoboflowOptions } from "../../src/testing/server.js";
import { ROBOFLOW_EMULATOR_KEY, type RoboflowApp } from "../../src/testing/roboflow/app.js";

export const KEY = ROBOFLOW_EMULATOR_KEY;

export interface Setup {
  readonly emu: Emulator<RoboflowApp>;
  readonly rf: Roboflow;
}

const open: Array<() => Promise<void>> = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((close) => close()));
});

/** Starts an emulator (exports ready in 50 ms) and a client on it, both closed after the test. */
export async function setup(
  client: RoboflowOptions = {},
  emulator: Omit<StartRoboflowOptions, "api"> = {},
): Promise<Setup> {
  const emu = await startEmulator({ api: "roboflow", exportMs: 50, ...emulator });
  const rf = new Roboflow({
    apiKey: KEY,
    workspace: "acme",
    baseUrl: emu.url,
    deploymentsUrl: emu.deploymentsUrl,
    maxRetries: 2,
    ...client,
  });
  open.push(async () => {
    await rf.close();
    await emu.close();
  });
  return { emu, rf };
}

/** The error a promise rejects with; fails the test if it resolves. */
export async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to fail, but it succeeded");
}

/** Asserts `key` appears nowhere a user could see it: message, url, stack, toJSON(), String(). */
export function expectMasked(error: unknown, key: string = KEY): void {
  const e = error as Error & { url?: string; toJSON?: () => unknown };
  const seen = [e.message, e.url ?? "", e.stack ?? "", String(e), JSON.stringify(e.toJSON?.() ?? {})];
  for (const text of seen) expect(text).not.toContain(key);
}
