/**
 * What the transport and retry tests share: a tiny test-only client (a `Transport` with the anyformat
 * dialect and a canary key) on a real loopback server that answers from a script and records when each
 * request arrived, all closed after each test.
 */
import type http from "node:http";
import { performance } from "node:perf_hooks";
import { afterEach } from "vitest";
import * as z from "zod";
import { anyformatDialect } from "../../src/anyformat/dialect.js";
import { Log, type Logger } from "../../src/core/log.js";
import { Transport, type RequestOptions, type RequestSpec } from "../../src/core/transport.js";
import { send, startServer, type LoopbackServer, type Reply } from "../helpers/server.js";

export const KEY = "sk-test-4b1d-canary";

const open: Array<() => Promise<void>> = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((close) => close()));
});

/** Closes `close` after the current test. */
export function closeAfterTest(close: () => Promise<void>): void {
  open.push(close);
}

/** One step of a script: a reply to send, or a handler that does anything with the exchange. */
export type Step = Reply | ((req: http.IncomingMessage, res: http.ServerResponse, n: number) => void);

export interface Scripted extends LoopbackServer {
  /** `performance.now()` at each request's arrival, in order. */
  readonly arrivals: number[];
  /** Milliseconds between consecutive arrivals. */
  gaps(): number[];
}

/**
 * A loopback server that answers its n-th request with `steps[n]` (the last step repeats), closed after
 * the test.
 */
export async function scripted(...steps: Step[]): Promise<Scripted> {
  const arrivals: number[] = [];
  const server = await startServer((req, res) => {
    const n = arrivals.length;
    arrivals.push(performance.now());
    const step = steps[Math.min(n, steps.length - 1)];
    if (step === undefined) return send(res, { status: 599, body: "empty script" });
    if (typeof step === "function") return step(req, res, n);
    // The body is drained first, as a real server would, so a POST is never cut mid-upload.
    req.resume();
    req.on("end", () => send(res, step));
  });
  closeAfterTest(() => server.close());
  return Object.assign(server, {
    arrivals,
    gaps: () => arrivals.slice(1).map((at, i) => at - (arrivals[i] ?? at)),
  });
}

const JSON_HEADERS = { "content-type": "application/json" } as const;

/** A JSON reply. */
export function json(status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): Reply {
  return { status, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

/** The anyformat error body for `status`. */
export function apiError(status: number, extra: Readonly<Record<string, unknown>> = {}, headers: Readonly<Record<string, string>> = {}): Reply {
  return json(status, { error: `failed with ${status}`, ...extra }, headers);
}

export const OK = json(200, { ok: true });
export const okSchema = z.object({ ok: z.boolean() });

export interface ClientConfig extends RequestOptions {
  readonly logger?: Logger | undefined;
  readonly authQuery?: Readonly<Record<string, string>> | undefined;
}

/** A test-only client on `baseUrl`: the canary key as Bearer header, the anyformat dialect, closed after the test. */
export function client(baseUrl: string, config: ClientConfig = {}): Transport {
  const { logger, authQuery, ...defaults } = config;
  const transport = new Transport({
    baseUrl,
    dialect: anyformatDialect,
    secrets: [KEY],
    authHeaders: { authorization: `Bearer ${KEY}` },
    authQuery,
    defaults,
    log: logger === undefined ? undefined : new Log(logger, "debug"),
    userAgent: "faultline-test",
  });
  closeAfterTest(() => transport.close());
  return transport;
}

/** GET `path`, expecting `{ ok: boolean }`. */
export function get(t: Transport, path = "/thing", options: RequestOptions = {}) {
  return t.request({ method: "GET", path, schema: okSchema }, options);
}

/** POST a small JSON body to `path`, expecting `{ ok: boolean }`. */
export function post(t: Transport, path = "/thing", options: RequestOptions = {}) {
  return t.request({ method: "POST", path, json: { name: "x" }, schema: okSchema }, options);
}

/** A spec for any method, expecting `{ ok: boolean }`. */
export function spec(method: RequestSpec<unknown>["method"], path = "/thing"): RequestSpec<{ ok: boolean }> {
  return { method, path, schema: okSchema, ...(method === "POST" || method === "PUT" ? { json: { n: 1 } } : {}) };
}

/** The error a promise rejects with, and how long it took; fails the test if it resolves. */
export async function timedFailure(promise: PromiseLike<unknown>): Promise<{ error: unknown; ms: number }> {
  const start = performance.now();
  try {
    await promise;
  } catch (error) {
    return { error, ms: performance.now() - start };
  }
  throw new Error("expected the call to fail, but it succeeded");
}

/** Waits `ms`. */
export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Timer slop: lower bounds allow this much early arrival. */
export const SLOP = 15;
