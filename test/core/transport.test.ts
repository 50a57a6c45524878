/**
 * The transport over real loopback servers: what it sends, how it reads a success (validated by zod) and
 * a failure (capped, typed by status), per-attempt timeouts that cover the body, rate-limit headers, a
 * user's dispatcher, and the debug log.
 */
import type http from "node:http";
import { performance } from "node:perf_hooks";
import { Agent, MockAgent, type Dispatcher } from "undici";
import { describe, expect, it } from "vitest";
import * as z from "zod";
import {
  AccessDeniedError,
  ApiError,
  AuthFailedError,
  BadRequestError,
  ConflictError,
  ConnectionError,
  GatewayTimeoutError,
  InvalidArgumentError,
  LockedError,
  NotFoundError,
  RateLimitedError,
  ResponseValidationError,
  ServerError,
  TimeoutError,
} from "../../src/core/errors.js";
import { ERROR_BODY_CAP, TransportShared } from "../../src/core/transport.js";
import { closedPort, send } from "../helpers/server.js";
import {
  KEY,
  OK,
  SLOP,
  apiError,
  client,
  closeAfterTest,
  delay,
  get,
  json,
  okSchema,
  scripted,
  timedFailure,
} from "./support.js";

describe("what a request sends", () => {
  it("sends the method, path, query, JSON body and headers the call describes", async () => {
    let body = "";
    const server = await scripted((req, res) => {
      req.setEncoding("utf8");
      req.on("data", (chunk: string) => (body += chunk));
      req.on("end", () => send(res, OK));
    });
    await client(server.url).request(
      {
        method: "POST",
        path: "/v2/workflows/",
        query: { page: 2, q: "a b", skip: undefined, none: null, flag: false },
        json: { name: "invoice", fields: [{ name: "total" }] },
        schema: okSchema,
      },
      { headers: { "X-Trace": "t-1" } },
    );

    const seen = server.requests[0];
    expect(seen?.method).toBe("POST");
    expect(seen?.url).toBe("/v2/workflows/?page=2&q=a+b&flag=false");
    expect(seen?.headers["content-type"]).toBe("application/json");
    expect(seen?.headers["authorization"]).toBe(`Bearer ${KEY}`);
    expect(seen?.headers["accept"]).toBe("application/json");
    expect(seen?.headers["user-agent"]).toBe("faultline-test");
    expect(seen?.headers["x-trace"]).toBe("t-1");
    expect(JSON.parse(body)).toEqual({ name: "invoice", fields: [{ name: "total" }] });
  });

  it("repeats a query parameter given as a list, once per item and in order", async () => {
    const server = await scripted(OK);
    await client(server.url).request({ method: "GET", path: "/thing", query: { tag: ["b", "a", "b"], one: 1, none: [] }, schema: okSchema });
    expect(server.requests[0]?.url).toBe("/thing?tag=b&tag=a&tag=b&one=1");
  });

  it("joins the base URL and the path with one slash", async () => {
    const server = await scripted(OK);
    await get(client(`${server.url}/api//`), "/thing");
    expect(server.requests[0]?.url).toBe("/api/thing");
  });
});

describe("absurd budgets", () => {
  it("takes a timeout longer than a timer can hold as 'very long', not as 'now'", async () => {
    const server = await scripted(OK);
    expect(await get(client(server.url, { timeout: 1e12, deadline: 1e13 }), "/thing")).toEqual({ ok: true });
  });
});

describe("a successful response", () => {
  it("resolves to the body as its zod schema parsed it", async () => {
    const server = await scripted(json(200, { id: "wf_1", count: "3", created_at: "2026-01-01", extra: true }));
    const schema = z.object({ id: z.string(), count: z.coerce.number(), created_at: z.string() });
    const data = await client(server.url).request({ method: "GET", path: "/x", schema });

    expect(data).toEqual({ id: "wf_1", count: 3, created_at: "2026-01-01" });
  });

  it("rejects a body that does not match its schema with ResponseValidationError and its issues, without retrying", async () => {
    const server = await scripted(json(200, { id: 5, items: [{ name: "a" }, { name: 7 }] }));
    const schema = z.object({ id: z.string(), items: z.array(z.object({ name: z.string() })) });
    const { error } = await timedFailure(client(server.url).request({ method: "GET", path: "/x", schema }, { maxRetries: 2 }));

    expect(error).toBeInstanceOf(ResponseValidationError);
    const e = error as ResponseValidationError;
    expect(e.code).toBe("RESPONSE_VALIDATION");
    expect(e.status).toBe(200);
    expect(e.issues.map((i) => i.path)).toEqual([["id"], ["items", 1, "name"]]);
    expect(e.issues.every((i) => typeof i.message === "string" && i.message.length > 0)).toBe(true);
    expect(e.message).toMatch(/id/);
    expect(e.body).toEqual({ id: 5, items: [{ name: "a" }, { name: 7 }] });
    expect(e.attempts).toBe(1);
    expect(server.requests).toHaveLength(1);
  });

  it("rejects a 2xx body that is not JSON with ResponseValidationError", async () => {
    const server = await scripted({ status: 200, headers: { "content-type": "text/html" }, body: "<html>ok</html>" });
    const { error } = await timedFailure(get(client(server.url)));

    expect(error).toBeInstanceOf(ResponseValidationError);
    expect((error as ResponseValidationError).body).toBe("<html>ok</html>");
  });

  it("accepts a 204 with no body when the schema allows nothing", async () => {
    const server = await scripted({ status: 204 });
    const response = await client(server.url).request({ method: "DELETE", path: "/x", schema: z.undefined() }).withResponse();

    expect(response.data).toBeUndefined();
    expect(response.status).toBe(204);
  });

  it("rejects a 204 when the schema wants a body", async () => {
    const server = await scripted({ status: 204 });
    const { error } = await timedFailure(get(client(server.url)));
    expect(error).toBeInstanceOf(ResponseValidationError);
    expect((error as ResponseValidationError).status).toBe(204);
  });

  it("accepts an empty 200 when the schema makes the body optional", async () => {
    const server = await scripted({ status: 200, body: "" });
    const data = await client(server.url).request({ method: "POST", path: "/x", schema: okSchema.optional() });
    expect(data).toBeUndefined();
  });

  it("resolves withResponse() to the data, status, headers, request id, rate limit, attempts and time queued", async () => {
    const server = await scripted(
      apiError(503, {}, { "retry-after-ms": "5" }),
      json(201, { ok: true }, {
        "x-request-id": "req_abc",
        "x-ratelimit-limit": "100",
        "x-ratelimit-remaining": "97",
        "x-ratelimit-reset": "30",
        "X-Custom": "yes",
      }),
    );
    const response = await get(client(server.url)).withResponse();

    expect(response).toEqual({
      data: { ok: true },
      status: 201,
      headers: expect.objectContaining({ "x-request-id": "req_abc", "x-custom": "yes", "x-ratelimit-limit": "100" }),
      requestId: "req_abc",
      rateLimit: { limit: 100, remaining: 97, resetMs: 30_000 },
      attempts: 2,
      queuedMs: 0,
    });
  });

  it("reads a fractional x-ratelimit-reset as milliseconds, and gives no rate limit without the headers", async () => {
    const server = await scripted(json(200, { ok: true }, { "x-ratelimit-reset": "1.5" }), OK);
    const t = client(server.url);
    expect((await get(t).withResponse()).rateLimit).toEqual({ limit: undefined, remaining: undefined, resetMs: 1_500 });
    const plain = await get(t).withResponse();
    expect(plain.rateLimit).toBeUndefined();
    expect(plain.requestId).toBeUndefined();
  });
});

describe("an error response", () => {
  it("carries rate-limit headers, request id and Retry-After on the error", async () => {
    const server = await scripted(
      apiError(429, { error_code: "RATE_LIMITED" }, {
        "retry-after": "120",
        "x-ratelimit-limit": "60",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": "42",
        "x-request-id": "req_429",
      }),
    );
    const { error } = await timedFailure(get(client(server.url)));

    expect(error).toBeInstanceOf(RateLimitedError);
    const e = error as RateLimitedError;
    expect(e.rateLimit).toEqual({ limit: 60, remaining: 0, resetMs: 42_000 });
    expect(e.retryAfterMs).toBe(120_000);
    expect(e.requestId).toBe("req_429");
    expect(e.headers["x-ratelimit-limit"]).toBe("60");
    expect(e.method).toBe("GET");
    expect(e.url).toBe(`${server.url}/thing`);
  });

  it("reads the body with the spec's own dialect when it names one, the client's otherwise", async () => {
    const server = await scripted(json(409, { complaint: "taken", error_code: "NOT_USED" }));
    const shouting = {
      name: "second-service",
      readErrorBody: (response: { json: unknown }) => ({ message: String((response.json as { complaint: string }).complaint).toUpperCase() }),
    };
    const transport = client(server.url, { maxRetries: 0 });
    const own = await timedFailure(transport.request({ method: "GET", path: "/thing", schema: okSchema, dialect: shouting }));
    const usual = await timedFailure(get(transport));

    expect(own.error).toBeInstanceOf(ConflictError);
    expect((own.error as ConflictError).message).toBe("TAKEN");
    expect((usual.error as ConflictError).message).not.toBe("TAKEN");
  });

  it.each([
    { status: 400, Class: BadRequestError },
    { status: 401, Class: AuthFailedError },
    { status: 403, Class: AccessDeniedError },
    { status: 404, Class: NotFoundError },
    { status: 409, Class: ConflictError },
    { status: 423, Class: LockedError },
    { status: 429, Class: RateLimitedError },
    { status: 500, Class: ServerError },
    { status: 503, Class: ServerError },
    { status: 504, Class: GatewayTimeoutError },
  ])("types an empty $status by its status", async ({ status, Class }) => {
    const server = await scripted({ status });
    const { error } = await timedFailure(get(client(server.url, { maxRetries: 0 })));

    expect(error).toBeInstanceOf(Class);
    expect((error as ApiError).status).toBe(status);
    expect((error as ApiError).body).toBe("");
    expect((error as ApiError).message).toMatch(new RegExp(`^HTTP ${status}.*\\(empty body\\)$`));
  });

  it("types an HTML 502 page as a ServerError and keeps the page as text", async () => {
    const page = "<html><body><h1>502 Bad Gateway</h1></body></html>";
    const server = await scripted({ status: 502, headers: { "content-type": "text/html" }, body: page });
    const { error } = await timedFailure(get(client(server.url, { maxRetries: 0 })));

    expect(error).toBeInstanceOf(ServerError);
    expect((error as ServerError).body).toBe(page);
    expect((error as ServerError).message).toBe("HTTP 502 Bad Gateway (HTML body)");
  });

  it("types invalid JSON by its status and keeps the text", async () => {
    const server = await scripted({ status: 409, headers: { "content-type": "application/json" }, body: "{error: nope" });
    const { error } = await timedFailure(get(client(server.url)));

    expect(error).toBeInstanceOf(ConflictError);
    expect((error as ConflictError).body).toBe("{error: nope");
  });

  it("lets the body's error_code pick the class", async () => {
    const server = await scripted(apiError(400, { error_code: "VALIDATION_ERROR", detail: [{ type: "missing", loc: ["body", "name"], msg: "Field required" }] }));
    const { error } = await timedFailure(get(client(server.url)));

    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as ApiError).code).toBe("VALIDATION_ERROR");
    expect((error as ApiError).message).toBe("failed with 400: body.name: Field required");
  });

  it("reads at most 64 KiB of a 10 MB error body and settles without reading the rest", async () => {
    const TEN_MB = 10 * 1024 * 1024;
    let written = 0;
    let finished = false;
    const server = await scripted((req, res) => {
      req.resume();
      res.writeHead(400, { "content-type": "text/plain" });
      const chunk = Buffer.alloc(16 * 1024, "z");
      const pump = (): void => {
        while (written < TEN_MB) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
        res.end(() => (finished = true));
      };
      res.on("close", () => res.removeAllListeners("drain"));
      pump();
    });
    const { error } = await timedFailure(get(client(server.url)));

    expect(error).toBeInstanceOf(BadRequestError);
    const body = (error as BadRequestError).body;
    expect(typeof body).toBe("string");
    expect((body as string).length).toBeLessThanOrEqual(ERROR_BODY_CAP);
    expect((body as string).length).toBeGreaterThan(ERROR_BODY_CAP / 2);
    expect(body as string).toMatch(/^z+$/);
    await delay(50);
    // The client hung up long before the server could send it all.
    expect(finished).toBe(false);
    expect(written).toBeLessThan(TEN_MB);
  });

  it("reads a capped 5xx body too, and retries it", async () => {
    const big = "e".repeat(3 * ERROR_BODY_CAP);
    const server = await scripted({ status: 500, body: big, headers: { "retry-after-ms": "5" } }, OK);
    const seen: unknown[] = [];
    await get(client(server.url), "/thing", { onRetry: (i) => seen.push((i.error as ServerError).body) });
    expect(seen).toEqual([big.slice(0, ERROR_BODY_CAP)]);
  });
});

describe("the per-attempt timeout", () => {
  /** Headers and the start of a body, then nothing. */
  const stallBody = (status: number) => (req: http.IncomingMessage, res: http.ServerResponse) => {
    req.resume();
    res.writeHead(status, { "content-type": "application/json", "content-length": "100" });
    res.write('{"ok": ');
  };

  it("covers the body of a success: headers then a stalled body is a TimeoutError", async () => {
    const server = await scripted(stallBody(200));
    const { error, ms } = await timedFailure(get(client(server.url, { maxRetries: 0, timeout: 200 })));

    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).code).toBe("TIMEOUT");
    expect((error as TimeoutError).attempts).toBe(1);
    expect(ms).toBeGreaterThanOrEqual(200 - SLOP);
  });

  it("covers the body of an error response too", async () => {
    const server = await scripted(stallBody(500));
    const { error } = await timedFailure(get(client(server.url, { maxRetries: 0, timeout: 200 })));
    expect(error).toBeInstanceOf(TimeoutError);
  });

  it("retries a GET whose body stalled", async () => {
    const server = await scripted(stallBody(200), OK);
    const data = await get(client(server.url, { maxRetries: 1, timeout: 150 }));
    expect(data).toEqual({ ok: true });
    expect(server.requests).toHaveLength(2);
  });

  it("applies to each attempt, not to the whole call", async () => {
    // Each attempt takes 120 ms; the call takes longer than one timeout of 200 ms.
    const slowFail = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      req.resume();
      setTimeout(() => send(res, apiError(503, {}, { "retry-after-ms": "5" })), 120);
    };
    const slowOk = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      req.resume();
      setTimeout(() => send(res, OK), 120);
    };
    const server = await scripted(slowFail, slowOk);
    const start = performance.now();
    expect(await get(client(server.url, { timeout: 200 }))).toEqual({ ok: true });
    expect(performance.now() - start).toBeGreaterThanOrEqual(240 - SLOP);
  });
});

describe("network failures", () => {
  it("turns a refused connection into a ConnectionError", async () => {
    const t = client(`http://127.0.0.1:${await closedPort()}`, { maxRetries: 0 });
    const { error } = await timedFailure(get(t));

    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).code).toBe("CONNECTION_ERROR");
    expect((error as ConnectionError).message).toMatch(/ECONNREFUSED/);
    expect((error as ConnectionError).attempts).toBe(1);
  });

  it("turns a reset before any response into a ConnectionError", async () => {
    const server = await scripted((req) => req.socket.destroy());
    const { error } = await timedFailure(get(client(server.url, { maxRetries: 0 })));
    expect(error).toBeInstanceOf(ConnectionError);
  });

  it("turns a bad base URL into an InvalidArgumentError, sending nothing", async () => {
    const t = client("not a url");
    const { error } = await timedFailure(get(t));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).code).toBe("INVALID_ARGUMENT");
  });

  it("turns a JSON body that cannot be serialised into a FaultlineError, sending nothing", async () => {
    const server = await scripted(OK);
    const { error } = await timedFailure(
      client(server.url).request({ method: "POST", path: "/x", json: { n: 10n }, schema: okSchema }),
    );
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).message).toMatch(/BigInt/);
    expect(server.requests).toHaveLength(0);
  });

  it("turns a body builder that throws into an InvalidArgumentError that is not retried", async () => {
    const server = await scripted(OK);
    let built = 0;
    const { error } = await timedFailure(
      client(server.url).request({
        method: "POST",
        path: "/upload",
        body: () => {
          built += 1;
          throw new Error("ENOENT: no such file");
        },
        schema: okSchema,
      }),
    );
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).message).toMatch(/ENOENT/);
    expect(built).toBe(1);
    expect(server.requests).toHaveLength(0);
  });
});

describe("a user's dispatcher", () => {
  class CountingAgent extends Agent {
    dispatches = 0;
    override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
      this.dispatches += 1;
      return super.dispatch(options, handler);
    }
  }

  it("sends every attempt through the dispatcher the client was given", async () => {
    const server = await scripted(apiError(503, {}, { "retry-after-ms": "5" }), OK);
    const agent = new CountingAgent();
    closeAfterTest(() => agent.close());
    expect(await get(client(server.url, { dispatcher: agent }))).toEqual({ ok: true });

    expect(agent.dispatches).toBe(2);
    expect(server.requests).toHaveLength(2);
  });

  it("uses a per-call dispatcher over the client's", async () => {
    const server = await scripted(OK);
    const clientAgent = new CountingAgent();
    const callAgent = new CountingAgent();
    closeAfterTest(async () => {
      await clientAgent.close();
      await callAgent.close();
    });
    await get(client(server.url, { dispatcher: clientAgent }), "/thing", { dispatcher: callAgent });

    expect(callAgent.dispatches).toBe(1);
    expect(clientAgent.dispatches).toBe(0);
  });

  it("works with an undici MockAgent, with no network at all", async () => {
    const mock = new MockAgent();
    mock.disableNetConnect();
    closeAfterTest(() => mock.close());
    const pool = mock.get("http://api.invalid");
    pool.intercept({ path: "/thing", method: "GET" }).reply(503, { error: "busy" }, { headers: { "retry-after-ms": "5" } });
    pool.intercept({ path: "/thing", method: "GET" }).reply(200, { ok: true }, { headers: { "content-type": "application/json", "x-request-id": "mock-1" } });

    const response = await get(client("http://api.invalid", { dispatcher: mock })).withResponse();

    expect(response.data).toEqual({ ok: true });
    expect(response.requestId).toBe("mock-1");
    expect(response.attempts).toBe(2);
    mock.assertNoPendingInterceptors();
  });

  it("leaves the user's dispatcher open when the client closes", async () => {
    const server = await scripted(OK);
    const agent = new CountingAgent();
    closeAfterTest(() => agent.close());
    const t = client(server.url, { dispatcher: agent });
    await get(t);
    await t.close();
    expect(await get(t)).toEqual({ ok: true });
    expect(agent.dispatches).toBe(2);
  });
});

describe("the debug logger", () => {
  function recorder(): { lines: string[]; fields: Array<Record<string, unknown>>; debug: (m: string, f?: Record<string, unknown>) => void } {
    const lines: string[] = [];
    const fields: Array<Record<string, unknown>> = [];
    return {
      lines,
      fields,
      debug: (message, f) => {
        lines.push(`${message} ${JSON.stringify(f ?? {})}`);
        fields.push(f ?? {});
      },
    };
  }

  it("gets one line per attempt, numbered, with the key masked", async () => {
    const server = await scripted(apiError(503, {}, { "retry-after-ms": "1" }), apiError(502, {}, { "retry-after-ms": "1" }), OK);
    const logger = recorder();
    await get(client(server.url, { logger, authQuery: { api_key: KEY } }));

    expect(server.requests).toHaveLength(3);
    expect(logger.lines).toHaveLength(3);
    expect(logger.fields.map((f) => f["attempt"])).toEqual([1, 2, 3]);
    expect(logger.fields.map((f) => f["status"])).toEqual([503, 502, 200]);
    for (const line of logger.lines) {
      expect(line).not.toContain(KEY);
      expect(line).toContain("api_key=***");
      expect(line).toContain("GET");
    }
  });

  it.each([
    { what: "a timeout", step: (req: http.IncomingMessage) => void req.resume(), options: { timeout: 100 }, status: undefined, code: "TIMEOUT" },
    { what: "a reset", step: (req: http.IncomingMessage) => void req.socket.destroy(), options: {}, status: undefined, code: "CONNECTION_ERROR" },
    { what: "a response that does not match its schema", step: json(200, { ok: "yes" }), options: {}, status: 200, code: "RESPONSE_VALIDATION" },
    { what: "a 404", step: apiError(404), options: {}, status: 404, code: "NOT_FOUND" },
  ])("gets exactly one line, with its outcome, for an attempt that ends in $what", async ({ step, options, status, code }) => {
    const server = await scripted(step);
    const logger = recorder();
    await timedFailure(get(client(server.url, { logger, maxRetries: 0, ...options })));

    expect(logger.lines).toHaveLength(1);
    expect(logger.fields[0]?.["attempt"]).toBe(1);
    expect(logger.fields[0]?.["status"]).toBe(status);
    expect(logger.fields[0]?.["code"]).toBe(code);
    expect(logger.lines[0]).toContain(code);
    expect(logger.lines[0]).not.toContain(KEY);
  });

  it("gets one line per refused try of a call, with the key masked in the URL", async () => {
    const logger = recorder();
    const t = client(`http://127.0.0.1:${await closedPort()}`, { logger, authQuery: { api_key: KEY }, maxRetries: 1 });
    await timedFailure(get(t));

    expect(logger.fields.map((f) => [f["attempt"], f["code"]])).toEqual([
      [1, "CONNECTION_ERROR"],
      [2, "CONNECTION_ERROR"],
    ]);
    for (const line of logger.lines) {
      expect(line).toContain("ECONNREFUSED");
      expect(line).toContain("api_key=***");
      expect(line).not.toContain(KEY);
    }
  });

  it("logs nothing for a call that sent nothing", async () => {
    const server = await scripted(OK);
    const logger = recorder();
    await timedFailure(get(client(server.url, { logger }), "/thing", { signal: AbortSignal.abort() }));
    expect(logger.lines).toEqual([]);
  });
});

describe("APIPromise", () => {
  it("sends one request however often it is awaited, and withResponse shares it", async () => {
    const server = await scripted(OK);
    const promise = get(client(server.url));
    expect(await promise).toEqual({ ok: true });
    expect(await promise).toEqual({ ok: true });
    expect((await promise.withResponse()).data).toEqual({ ok: true });
    expect(await promise.then((d) => d.ok)).toBe(true);
    expect(server.requests).toHaveLength(1);
  });

  it("rejects through catch and finally like any promise", async () => {
    const server = await scripted(apiError(404));
    let settled = false;
    const caught = await get(client(server.url))
      .finally(() => (settled = true))
      .catch((error: unknown) => error);

    expect(caught).toBeInstanceOf(NotFoundError);
    expect(settled).toBe(true);
  });

  it("rejects withResponse() with the same typed error", async () => {
    const server = await scripted(apiError(403));
    const promise = get(client(server.url));
    const { error } = await timedFailure(promise.withResponse());
    expect(error).toBeInstanceOf(AccessDeniedError);
    await expect(promise).rejects.toBe(error);
  });

  it("is an instance of Promise", async () => {
    const server = await scripted(OK);
    const promise = get(client(server.url));
    expect(promise).toBeInstanceOf(Promise);
    await promise;
  });
});

describe("the shared pools", () => {
  it("forget a pool that never loaded, and close cleanly past it", async () => {
    const shared = new TransportShared();
    const failed = Promise.reject(new Error("could not load the proxy agent"));
    failed.catch(() => undefined);
    shared.open("proxy", failed);
    const agent = new Agent();
    shared.open("direct", agent);
    shared.forget("proxy", failed);
    expect(shared.pool("proxy")).toBeUndefined();
    // forget() leaves a pool opened since in its place alone.
    shared.forget("direct", new Agent());
    expect(shared.pool("direct")).toBe(agent);
    shared.open("proxy", failed);
    await expect(shared.close()).resolves.toBeUndefined();
    expect(agent.closed).toBe(true);
  });
});
