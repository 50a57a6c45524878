/**
 * What the anyformat client tests share: an emulator on loopback with a client pointed at it, both torn
 * down after each test, a workflow to run documents through, temp files, and a check that a key never
 * shows unmasked.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect } from "vitest";
import { Anyformat, type AnyformatOptions } from "../../src/anyformat/client.js";
import type { Field, Workflow } from "../../src/anyformat/schemas.js";
import { ANYFORMAT_EMULATOR_KEY, type AnyformatApp } from "../../src/testing/anyformat/app.js";
import { startEmulator, type Emulator, type StartAnyformatOptions } from "../../src/testing/server.js";

export const KEY = ANYFORMAT_EMULATOR_KEY;

export interface Setup {
  readonly emu: Emulator<AnyformatApp>;
  readonly af: Anyformat;
}

const open: Array<() => Promise<void>> = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((close) => close()));
});

/** Closes `close` after the current test. */
export function closeAfterTest(close: () => Promise<void>): void {
  open.push(close);
}

/**
 * Starts an emulator (runs end 3 × 10 ms after submission, injected 429s ask for 50 ms) and a client on
 * it, both closed after the test.
 */
export async function setup(
  client: AnyformatOptions = {},
  emulator: Omit<StartAnyformatOptions, "api"> = {},
): Promise<Setup> {
  const emu = await startEmulator({ api: "anyformat", stepMs: 10, faultRetryAfterSeconds: 0.05, ...emulator });
  const af = new Anyformat({ apiKey: KEY, baseUrl: emu.url, maxRetries: 2, ...client });
  open.push(async () => {
    await af.close();
    await emu.close();
  });
  return { emu, af };
}

/** Fields whose names a user chose, spaces, case and accents included. */
export const INVOICE_FIELDS: Field[] = [
  { name: "Total Amount", description: "The amount due", data_type: "float" },
  { name: "invoice_number", description: "The invoice's number", data_type: "string" },
  { name: "Ünïcode", description: "A name with accents", data_type: "string" },
];

/** A workflow to run documents through, created through the client. */
export async function invoiceWorkflow(af: Anyformat, name = "Invoices"): Promise<Workflow> {
  return af.workflows.create({ name, description: "Invoices in, totals out", fields: INVOICE_FIELDS });
}

/** A fresh temp directory, removed after the test. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "faultline-af-"));
  open.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `content` to `name` in a fresh temp directory; returns its path. */
export async function tempFile(name: string, content: string | Uint8Array): Promise<string> {
  const path = join(await tempDir(), name);
  await writeFile(path, content);
  return path;
}

/** The error a promise rejects with; fails the test if it resolves. */
export async function failure(promise: PromiseLike<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to fail, but it succeeded");
}

/** Asserts `key` appears nowhere a user could see it: message, url, stack, headers, body, toJSON(), String(). */
export function expectMasked(error: unknown, key: string = KEY): void {
  const e = error as Error & { url?: string; headers?: unknown; body?: unknown; toJSON?: () => unknown };
  const seen = [
    e.message,
    e.url ?? "",
    e.stack ?? "",
    String(e),
    JSON.stringify(e.headers ?? {}),
    JSON.stringify(e.body ?? null),
    JSON.stringify(e.toJSON?.() ?? {}),
  ];
  for (const text of seen) expect(text).not.toContain(key);
}

/** The statuses the emulator answered, in order (`undefined` for a cut connection). */
export function statuses(emu: Emulator): Array<number | undefined> {
  return emu.requests.map((r) => r.status);
}
