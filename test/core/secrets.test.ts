/**
 * A canary key, sent both as the Bearer header and as the `api_key` query parameter, through every way
 * a call can fail. It must show nowhere a person or a log could see it, and `***` must stand in its place.
 */
import type http from "node:http";
import util from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as z from "zod";
import { anyformatDialect } from "../../src/anyformat/dialect.js";
import type { Dialect } from "../../src/core/dialect.js";
import {
  AbortedError,
  ApiError,
  AuthFailedError,
  BadRequestError,
  ConnectionError,
  FaultlineError,
  NotFoundError,
  RateLimitedError,
  ResponseValidationError,
  ServerError,
  TimeoutError,
} from "../../src/core/errors.js";
import { Log } from "../../src/core/log.js";
import { ERROR_BODY_CAP, Transport, type RequestOptions } from "../../src/core/transport.js";
import { roboflowDialect } from "../../src/roboflow/dialect.js";
import { closedPort, rejectionOf, send, startServer, type LoopbackServer } from "../helpers/server.js";

const KEY = "sk-canary-7f3a9";

/** A page that quotes back everything it was sent, as debug pages of some proxies do. */
function echoPage(req: http.IncomingMessage): string {
  const lines: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
  return `<html><body><h1>502 Bad Gateway</h1><pre>${req.method} ${req.url}\n${lines.join("\n")}</pre></body></html>`;
}

const ECHO_JSON = JSON.stringify({
  error: `Invalid key ${KEY}`,
  detail: `The key ${KEY} was rejected for https://api.test/x?api_key=${KEY}`,
  error_code: "SOMETHING_ELSE",
  retryable: false,
  request_id: KEY,
  reference_id: `ref-${KEY}`,
  hint: `Check ${KEY}`,
  type: KEY,
  api_key: KEY,
  echo: { headers: { authorization: `Bearer ${KEY}` }, list: [KEY], [KEY]: true },
});

function handler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const path = (req.url ?? "").split("?", 1)[0];
  const json = { "content-type": "application/json" };
  switch (path) {
    case "/auth":
      return send(res, {
        status: 401,
        headers: { ...json, "www-authenticate": `Bearer realm="api", error="invalid_token"` },
        body: '{"error": "Authentication failed", "error_code": "AUTH_FAILED", "retryable": false}',
      });
    case "/missing":
      return send(res, { status: 404, headers: json, body: '{"error": {"message": "Not found", "type": "GraphMethodException"}}' });
    case "/rate":
      return send(res, { status: 429, headers: { ...json, "retry-after": "120" }, body: '{"error": "Rate limited", "error_code": "RATE_LIMITED"}' });
    case "/broken":
      return send(res, { status: 500, headers: json, body: '{"error": "Internal server error", "error_code": "INTERNAL_ERROR"}' });
    case "/echo-html":
      return send(res, { status: 502, headers: { "content-type": "text/html" }, body: echoPage(req) });
    case "/echo-cut": {
      // The key sits across the 64 KiB cap: the part before the cut must not escape masking either.
      const pad = "p".repeat(ERROR_BODY_CAP - 7);
      return send(res, { status: 503, headers: { "content-type": "text/plain" }, body: `${pad}${KEY}${"q".repeat(1000)}` });
    }
    case "/echo-json":
      return send(res, {
        status: 400,
        headers: {
          ...json,
          "x-request-id": KEY,
          "x-echo": `you sent ${KEY}`,
          location: `${req.url ?? ""}`,
          "set-cookie": `session=${KEY}; Path=/`,
        },
        body: ECHO_JSON,
      });
    case "/ok-echo":
      return send(res, { status: 200, headers: json, body: JSON.stringify({ id: 5, echo: KEY, [KEY]: KEY }) });
    case "/ok-text":
      return send(res, { status: 200, headers: { "content-type": "text/plain" }, body: `key=${KEY}` });
    case "/hang":
      return; // never answers: the client's timeout or signal must end it
    default:
      return send(res, { status: 599, body: "no route" });
  }
}

interface Ctx {
  readonly transport: Transport;
  readonly refused: Transport;
  readonly lines: string[];
}

interface ErrorPath {
  readonly name: string;
  readonly Class: abstract new (...args: never[]) => FaultlineError;
  readonly run: (ctx: Ctx) => Promise<unknown>;
  /** How many requests reached the server (or were tried). */
  readonly attempts: number;
  /** Where `***` must appear instead of the key, beyond the URL. */
  readonly masks?: (err: FaultlineError) => void;
}

const call = (ctx: Ctx, path: string, options: RequestOptions = {}, schema: z.ZodType = z.unknown()): Promise<unknown> =>
  rejectionOf(ctx.transport.request({ method: "GET", path, schema }, options));

const PATHS: readonly ErrorPath[] = [
  { name: "a 401", Class: AuthFailedError, attempts: 1, run: (ctx) => call(ctx, "/auth") },
  { name: "a 404", Class: NotFoundError, attempts: 1, run: (ctx) => call(ctx, "/missing") },
  {
    name: "a 429 thrown at once because its Retry-After exceeds maxRetryAfter",
    Class: RateLimitedError,
    attempts: 1,
    run: (ctx) => call(ctx, "/rate", { maxRetries: 2, maxRetryAfter: 1_000 }),
    masks: (err) => expect((err as ApiError).retryAfterMs).toBe(120_000),
  },
  { name: "a 500 after two retries", Class: ServerError, attempts: 3, run: (ctx) => call(ctx, "/broken", { maxRetries: 2 }) },
  {
    name: "an HTML page echoing the request URL and headers",
    Class: ServerError,
    attempts: 1,
    run: (ctx) => call(ctx, "/echo-html"),
    masks: (err) => {
      const body = String((err as ApiError).body);
      expect(body).toContain("api_key=***");
      expect(body).toMatch(/authorization: Bearer \*\*\*/i);
    },
  },
  {
    name: "a text body whose echo of the key is cut by the 64 KiB cap",
    Class: ServerError,
    attempts: 1,
    run: (ctx) => call(ctx, "/echo-cut"),
    masks: (err) => expect(String((err as ApiError).body).endsWith("***")).toBe(true),
  },
  {
    name: "a JSON body and headers echoing the key in every field",
    Class: BadRequestError,
    attempts: 1,
    run: (ctx) => call(ctx, "/echo-json"),
    masks: (err) => {
      const e = err as ApiError;
      expect(e.headers["x-echo"]).toBe("you sent ***");
      expect(e.headers["x-request-id"]).toBe("***");
      expect(e.headers["location"]).toContain("api_key=***");
      expect(JSON.stringify(e.body)).toContain("***");
    },
  },
  {
    name: "a refused connection",
    Class: ConnectionError,
    attempts: 1,
    run: (ctx) => rejectionOf(ctx.refused.request({ method: "GET", path: "/auth", schema: z.unknown() })),
  },
  { name: "a per-attempt timeout", Class: TimeoutError, attempts: 1, run: (ctx) => call(ctx, "/hang", { timeout: 100 }) },
  {
    name: "an abort by the caller's signal",
    Class: AbortedError,
    attempts: 1,
    run: (ctx) => call(ctx, "/hang", { signal: AbortSignal.timeout(100) }),
  },
  {
    name: "a 2xx body that does not match its schema and echoes the key",
    Class: ResponseValidationError,
    attempts: 1,
    run: (ctx) => call(ctx, "/ok-echo", {}, z.strictObject({ id: z.string() })),
    masks: (err) => expect(JSON.stringify((err as ResponseValidationError).body)).toContain("***"),
  },
  {
    name: "a 2xx body that is not JSON and echoes the key",
    Class: ResponseValidationError,
    attempts: 1,
    run: (ctx) => call(ctx, "/ok-text", {}, z.object({ id: z.string() })),
    masks: (err) => expect((err as ResponseValidationError).body).toBe("key=***"),
  },
];

/** Every rendering of an error a person or a log could see. */
function renderings(err: FaultlineError): Record<string, string> {
  const e = err as FaultlineError & { headers?: unknown; body?: unknown; issues?: unknown };
  return {
    message: e.message,
    stack: e.stack ?? "",
    url: e.url ?? "",
    headers: JSON.stringify(e.headers ?? {}),
    body: JSON.stringify(e.body ?? null),
    issues: JSON.stringify(e.issues ?? null),
    toJSON: JSON.stringify(e.toJSON()),
    "JSON.stringify": JSON.stringify(e),
    String: String(e),
    inspect: util.inspect(e, { depth: 10 }),
    "inspect (hidden)": util.inspect(e, { depth: 10, showHidden: true }),
    cause: util.inspect(e.cause, { depth: 10, showHidden: true }),
  };
}

describe.each([
  { dialect: anyformatDialect as Dialect, label: "anyformat" },
  { dialect: roboflowDialect as Dialect, label: "Roboflow" },
])("the canary key with the $label dialect", ({ dialect }) => {
  let server: LoopbackServer;
  let ctx: Ctx;

  beforeAll(async () => {
    server = await startServer(handler);
    const lines: string[] = [];
    const make = (baseUrl: string): Transport =>
      new Transport({
        baseUrl,
        dialect,
        secrets: [KEY],
        authHeaders: { authorization: `Bearer ${KEY}` },
        authQuery: { api_key: KEY },
        defaults: { maxRetries: 0 },
        log: new Log({ debug: (message, fields) => lines.push(`${message} ${JSON.stringify(fields ?? {})}`) }, "debug"),
        userAgent: "faultline-test",
      });
    ctx = { transport: make(server.url), refused: make(`http://127.0.0.1:${await closedPort()}`), lines };
  });

  afterAll(async () => {
    await ctx.transport.close();
    await ctx.refused.close();
    await server.close();
  });

  it.each(PATHS)("never shows the key through $name, and shows *** in its place", async (path) => {
    ctx.lines.length = 0;
    const before = server.requests.length;
    const err = await path.run(ctx);

    expect(err).toBeInstanceOf(path.Class);
    const e = err as FaultlineError;
    expect(e.attempts).toBe(path.attempts);
    for (const [where, text] of Object.entries(renderings(e))) {
      expect(text, `the key leaked through ${where}`).not.toContain(KEY);
    }
    expect(e.url).toMatch(/\?api_key=\*\*\*$/);
    path.masks?.(e);

    expect(ctx.lines.length).toBeGreaterThan(0);
    for (const line of ctx.lines) {
      expect(line).not.toContain(KEY);
      expect(line).toContain("api_key=***");
    }
    // The key really went out, so its absence above means something.
    for (const req of server.requests.slice(before)) {
      expect(req.url).toContain(`api_key=${KEY}`);
      expect(req.headers.authorization).toBe(`Bearer ${KEY}`);
    }
  });

  it("passes onRetry an error with the key masked", async () => {
    const seen: FaultlineError[] = [];
    await call(ctx, "/broken", { maxRetries: 1, onRetry: (info) => seen.push(info.error) });
    expect(seen).toHaveLength(1);
    for (const text of Object.values(renderings(seen[0] as FaultlineError))) expect(text).not.toContain(KEY);
  });
});
