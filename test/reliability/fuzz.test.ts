import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Anyformat, ApiError, FaultlineError, Roboflow } from "../../src/index.js";
import { budget, size, watchUnhandledRejections } from "./support.js";

/**
 * Fuzzing: a loopback server answers each call with an arbitrary status, arbitrary headers and arbitrary
 * body bytes, or misbehaves at the socket level. Whatever it does, a call resolves, or rejects with a
 * `FaultlineError` subclass, within a bound set by its own options: never another throw, never a hang.
 *
 * Each fast-check run is a batch of cases sent at once (the server tells them apart by path), so the
 * retry waits of one case overlap the others'.
 */

type Behaviour = "respond" | "lie-about-length" | "cut-after-headers" | "cut-before-headers" | "stall";

interface Case {
  readonly behaviour: Behaviour;
  readonly status: number;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Uint8Array;
  readonly maxRetries: number;
  readonly timeout: number;
  readonly deadline: number | undefined;
  readonly maxRetryAfter: number;
}

const BATCH = 20;
const CASES = size(2_000, 200);

const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const latin1 = fc.string({ unit: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 8 });

const headerName = fc.oneof(
  fc.constantFrom(
    "retry-after",
    "retry-after-ms",
    "content-type",
    "x-request-id",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "content-encoding",
    "location",
    "www-authenticate",
    "set-cookie",
    "connection",
  ),
  fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/),
);

const headerValue = fc.oneof(
  printable,
  fc.tuple(printable, latin1).map(([a, b]) => a + b),
  fc.constantFrom("0", "0.01", "1", "-1", "1e3", "NaN", "Infinity", "99999999999", "Wed, 21 Oct 2015 07:28:00 GMT", "close", "gzip", "application/json", "text/html"),
  fc.double({ noNaN: true, min: -1e6, max: 1e6 }).map(String),
);

const codes = fc.constantFrom(
  "BAD_REQUEST",
  "VALIDATION_ERROR",
  "INVALID_JSON",
  "AUTH_FAILED",
  "ACCESS_DENIED",
  "NOT_FOUND",
  "CONFLICT",
  "PRECONDITION_FAILED",
  "EXTRACTION_FAILED",
  "EXTRACTION_CANCELLED",
  "LOCKED",
  "RATE_LIMITED",
  "INTERNAL_ERROR",
  "GATEWAY_TIMEOUT",
  "toString",
  "__proto__",
  "constructor",
);

const anyValue = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.string(), codes);

/** Bodies shaped like the APIs' errors, every field of any type. */
const anyformatBody = fc.record(
  {
    error: anyValue,
    detail: fc.oneof(anyValue, fc.array(fc.record({ type: anyValue, loc: fc.oneof(fc.array(anyValue), anyValue), msg: anyValue }), { maxLength: 3 })),
    error_code: fc.oneof(codes, anyValue),
    retryable: fc.oneof(fc.boolean(), anyValue),
    request_id: anyValue,
    reference_id: anyValue,
  },
  { requiredKeys: [] },
);
const roboflowBody = fc.oneof(
  fc.record({ error: fc.record({ message: anyValue, type: anyValue, hint: anyValue, status: anyValue }, { requiredKeys: [] }), hint: anyValue }, { requiredKeys: [] }),
  fc.record({ error: anyValue, message: anyValue, type: anyValue, hint: anyValue }, { requiredKeys: [] }),
);

const encoder = new TextEncoder();
const body = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 2_048 }) },
  { weight: 3, arbitrary: fc.oneof(anyformatBody, roboflowBody).map((b) => encoder.encode(JSON.stringify(b))) },
  { weight: 2, arbitrary: fc.jsonValue().map((v) => encoder.encode(JSON.stringify(v) ?? "")) },
  { weight: 1, arbitrary: fc.string({ maxLength: 300 }).map((s) => encoder.encode(`<!DOCTYPE html><html><body>${s}</body></html>`)) },
  { weight: 1, arbitrary: fc.constantFrom("", " ", "null", "{", "[1,", '{"error":', "\u0000", "\uFEFF{}").map((s) => encoder.encode(s)) },
  { weight: 1, arbitrary: fc.integer({ min: 60_000, max: 150_000 }).map((n) => new Uint8Array(n).fill(0x7b)) },
);

const status = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(200, 201, 204, 400, 401, 403, 404, 409, 412, 418, 422, 423, 429, 500, 502, 503, 504) },
  { weight: 2, arbitrary: fc.integer({ min: 200, max: 599 }) },
  { weight: 1, arbitrary: fc.integer({ min: 600, max: 999 }) },
);

const caseArb: fc.Arbitrary<Case> = fc.record({
  behaviour: fc.oneof(
    { weight: 12, arbitrary: fc.constant<Behaviour>("respond") },
    { weight: 1, arbitrary: fc.constantFrom<Behaviour>("lie-about-length", "cut-after-headers", "cut-before-headers", "stall") },
  ),
  status,
  headers: fc.array(fc.tuple(headerName, headerValue), { maxLength: 6 }),
  body,
  maxRetries: fc.integer({ min: 0, max: 2 }),
  timeout: fc.integer({ min: 100, max: 300 }),
  deadline: fc.option(fc.integer({ min: 1, max: 900 }), { nil: undefined }),
  maxRetryAfter: fc.integer({ min: 0, max: 200 }),
});

/** The longest a call may take under its options, with slack for a busy machine. */
function bound(c: Case): number {
  const SLACK = 1_500;
  let worst = c.timeout * (c.maxRetries + 1);
  for (let retry = 1; retry <= c.maxRetries; retry++) worst += Math.max(Math.min(500 * 2 ** (retry - 1), 8_000), c.maxRetryAfter);
  return (c.deadline === undefined ? worst : Math.min(worst, c.deadline)) + SLACK;
}

let server: Server;
let baseUrl: string;
const cases = new Map<string, Case>();
const sockets = new Set<Socket>();
let nextId = 0;

function answer(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  const id = /case-(\d+)/.exec(req.url ?? "")?.[1];
  const c = id === undefined ? undefined : cases.get(id);
  if (c === undefined) {
    res.writeHead(599).end();
    return;
  }
  const socket = req.socket;
  if (c.behaviour === "cut-before-headers") {
    socket.destroy();
    return;
  }
  if (c.behaviour === "stall") return; // the client's timeout must end it
  try {
    const headers: string[] = c.headers.flat();
    if (c.behaviour === "lie-about-length") headers.push("content-length", String(c.body.byteLength + 100));
    res.writeHead(c.status, headers);
  } catch {
    // node refused these headers: the client sees a reset instead, which is a case too.
    socket.destroy();
    return;
  }
  if (c.behaviour === "cut-after-headers") {
    res.write(c.body.subarray(0, c.body.byteLength >> 1));
    setImmediate(() => socket.destroy());
    return;
  }
  if (c.behaviour === "lie-about-length") {
    res.write(c.body);
    return; // never ends: the client waits for 100 more bytes until its timeout
  }
  try {
    res.end(c.body);
  } catch {
    socket.destroy();
  }
}

beforeAll(async () => {
  server = createServer(answer);
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("clientError", (_error, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

interface Dialect {
  readonly name: string;
  call(c: Case, id: string): Promise<unknown>;
  close(): Promise<void>;
}

const KEY = "sk-fuzz-4d2c7b1a9e";

/**
 * Every case goes to the server: with the governor on, a case's random 429 or x-ratelimit-* headers would hold
 * the tier and most later cases would be refused before sending (test/core/governor covers that on its own);
 * with the breaker on, a run of random 5xx would open the circuit. Both off, every answer meets the dialect.
 */
const FUZZ_CLIENT = { rateLimit: false, circuitBreaker: false, retryBudget: false } as const;

function anyformat(): Dialect {
  const af = new Anyformat({ apiKey: KEY, baseUrl, ...FUZZ_CLIENT });
  return {
    name: "anyformat",
    call: (c, id) =>
      af.workflows.get(`case-${id}`, {
        maxRetries: c.maxRetries,
        timeout: c.timeout,
        deadline: c.deadline,
        maxRetryAfter: c.maxRetryAfter,
      }),
    close: () => af.close(),
  };
}

function roboflow(): Dialect {
  const rf = new Roboflow({ apiKey: KEY, workspace: "fuzz-ws", baseUrl, ...FUZZ_CLIENT });
  return {
    name: "roboflow",
    call: (c, id) =>
      rf.projects.get(`case-${id}`, {
        maxRetries: c.maxRetries,
        timeout: c.timeout,
        deadline: c.deadline,
        maxRetryAfter: c.maxRetryAfter,
      }),
    close: () => rf.close(),
  };
}

interface Outcome {
  readonly c: Case;
  readonly ms: number;
  readonly result: "resolved" | "hung" | unknown;
}

async function run(dialect: Dialect, c: Case): Promise<Outcome> {
  const id = String(nextId++);
  cases.set(id, c);
  const started = Date.now();
  let watchdog: NodeJS.Timeout | undefined;
  const hung = new Promise<"hung">((resolve) => {
    watchdog = setTimeout(() => resolve("hung"), bound(c) + 5_000);
  });
  const result = await Promise.race([
    dialect.call(c, id).then(
      () => "resolved" as const,
      (error: unknown) => error,
    ),
    hung,
  ]);
  clearTimeout(watchdog);
  cases.delete(id);
  return { c, ms: Date.now() - started, result };
}

function check(outcome: Outcome, counts: Record<string, number>): void {
  const { c, ms, result } = outcome;
  const label = `${c.behaviour} ${c.status} after ${ms} ms`;
  expect(result, label).not.toBe("hung");
  expect(ms, `${label}: took longer than its options allow`).toBeLessThanOrEqual(bound(c));
  if (result === "resolved") {
    counts["resolved"] = (counts["resolved"] ?? 0) + 1;
    return;
  }
  expect(result, `${label}: threw something that is not a FaultlineError: ${String(result)}`).toBeInstanceOf(FaultlineError);
  const error = result as FaultlineError;
  counts[error.name] = (counts[error.name] ?? 0) + 1;
  expect(typeof error.code).toBe("string");
  expect(typeof error.message).toBe("string");
  expect(() => JSON.stringify(error.toJSON())).not.toThrow();
  expect(() => String(error)).not.toThrow();
  if (error instanceof ApiError && c.behaviour === "respond") expect(error.status, label).toBe(c.status);
  if (error instanceof ApiError) {
    const text = typeof error.body === "string" ? error.body : JSON.stringify(error.body) ?? "";
    expect(Buffer.byteLength(text), "an error body is capped").toBeLessThanOrEqual(64 * 1024 * 2);
  }
}

describe.concurrent(`fuzzing responses (${CASES} cases per dialect)`, () => {
  for (const make of [anyformat, roboflow]) {
    it(`through the ${make.name === "anyformat" ? "anyformat" : "Roboflow"} dialect, any status, headers and body bytes give a FaultlineError or data, never another throw or a hang`, async () => {
      const dialect = make();
      const counts: Record<string, number> = {};
      const unhandled = watchUnhandledRejections();
      try {
        await fc.assert(
          fc.asyncProperty(fc.array(caseArb, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
            const outcomes = await Promise.all(batch.map((c) => run(dialect, c)));
            for (const outcome of outcomes) check(outcome, counts);
          }),
          { numRuns: Math.ceil(CASES / BATCH), endOnFailure: false },
        );
      } finally {
        await dialect.close();
        unhandled.stop();
      }
      console.log(`fuzz ${dialect.name}: ${CASES} cases -> ${JSON.stringify(counts)}`);
      expect(unhandled.reasons).toEqual([]);
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      expect(total).toBeGreaterThanOrEqual(CASES);
    }, budget(600_000, 60_000));
  }
});
