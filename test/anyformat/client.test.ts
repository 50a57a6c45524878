import { afterEach, describe, expect, it, vi } from "vitest";
import { Anyformat } from "../../src/anyformat/client.js";
import {
  AbortedError,
  AccessDeniedError,
  ApiError,
  AuthFailedError,
  ConnectionError,
  CredentialsError,
  FaultlineError,
  GatewayTimeoutError,
  InvalidArgumentError,
  LockedError,
  NotFoundError,
  RateLimitedError,
  ResponseValidationError,
  ServerError,
  TimeoutError,
} from "../../src/core/errors.js";
import { closedPort, send, startReplyServer, startServer } from "../helpers/server.js";
import { KEY, closeAfterTest, expectMasked, failure, invoiceWorkflow, setup, statuses } from "./support.js";

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("Anyformat client: credentials", () => {
  it("throws CredentialsError for a missing key on every endpoint and sends no request", async () => {
    vi.stubEnv("ANYFORMAT_API_KEY", "");
    const { emu, af } = await setup({ apiKey: undefined });
    const calls = [
      () => af.workflows.list(),
      () => af.workflows.create({ name: "x", fields: [] }),
      () => af.workflows.get("wf"),
      () => af.workflows.delete("wf"),
      () => af.workflows.run("wf", { text: "hello" }),
      () => af.workflows.upload("wf", { text: "hello" }),
      () => af.workflows.runs("wf"),
      () => af.workflows.extract("wf", { text: "hello" }, { pollInterval: 10 }),
      () => af.files.create("wf", [{ file: new Uint8Array([1]), filename: "a.pdf" }]),
      () => af.files.list("wf"),
      () => af.files.run("wf", "file"),
      () => af.files.delete("collection"),
      () => af.results.get("wf", "collection"),
      () => af.results.waitFor("wf", "collection", { pollInterval: 10 }),
      () => af.webhooks.create({ url: "https://example.com/hook" }),
      () => af.webhooks.list(),
      () => af.webhooks.delete("hook"),
    ];
    for (const call of calls) {
      const error = await failure(call());
      expect(error).toBeInstanceOf(CredentialsError);
      expect((error as CredentialsError).code).toBe("MISSING_CREDENTIALS");
      expect((error as CredentialsError).hint).toMatch(/ANYFORMAT_API_KEY/);
      expect((error as CredentialsError).attempts).toBe(0);
    }
    expect(emu.requests).toHaveLength(0);
  });

  it("reports a missing key before a bad argument", async () => {
    vi.stubEnv("ANYFORMAT_API_KEY", "");
    const { emu, af } = await setup({ apiKey: undefined });
    expect(await failure(af.workflows.get(""))).toBeInstanceOf(CredentialsError);
    expect(await failure(af.workflows.run("wf", {} as never))).toBeInstanceOf(CredentialsError);
    expect(emu.requests).toHaveLength(0);
  });

  it("checks health without a key, sending no Authorization header", async () => {
    vi.stubEnv("ANYFORMAT_API_KEY", "");
    const { emu, af } = await setup({ apiKey: undefined });
    expect(await af.health()).toEqual({ message: "ok" });
    expect(emu.requests).toHaveLength(1);
    expect(emu.requests[0]).toMatchObject({ method: "GET", path: "/health/", status: 200 });
    expect(emu.requests[0]?.headers["authorization"]).toBeUndefined();
  });

  it("keeps the key off the health check even when it has one", async () => {
    const { emu, af } = await setup();
    expect((await af.health()).message).toBe("ok");
    expect(emu.requests[0]?.headers["authorization"]).toBeUndefined();
  });

  it("sends the key as Authorization: Bearer on every other call", async () => {
    const { emu, af } = await setup();
    await af.workflows.list();
    await af.webhooks.list();
    expect(emu.requests.map((r) => r.headers["authorization"])).toEqual(["Bearer ***", "Bearer ***"]);
  });

  it("reads the key and the base URL from the environment", async () => {
    const { emu } = await setup();
    vi.stubEnv("ANYFORMAT_API_KEY", KEY);
    vi.stubEnv("ANYFORMAT_BASE_URL", emu.url);
    const af = new Anyformat();
    closeAfterTest(() => af.close());
    expect(af.baseUrl).toBe(emu.url);
    expect((await af.workflows.list()).count).toBe(0);
    expect(emu.requests[0]?.status).toBe(200);
  });

  it("prefers the options to the environment", async () => {
    const { emu } = await setup();
    vi.stubEnv("ANYFORMAT_API_KEY", "af-from-env-wrong");
    vi.stubEnv("ANYFORMAT_BASE_URL", "http://127.0.0.1:1");
    const af = new Anyformat({ apiKey: KEY, baseUrl: emu.url });
    closeAfterTest(() => af.close());
    expect((await af.workflows.list()).count).toBe(0);
  });

  it("defaults to https://api.anyformat.ai", () => {
    vi.stubEnv("ANYFORMAT_BASE_URL", "");
    expect(new Anyformat({ apiKey: "k" }).baseUrl).toBe("https://api.anyformat.ai");
  });
});

describe("Anyformat client: paths", () => {
  it("ends every path in / across every endpoint, and never meets a 301", async () => {
    const { emu, af } = await setup();
    await af.health();
    const wf = await invoiceWorkflow(af);
    await af.workflows.get(wf.id);
    await af.workflows.list();
    const run = await af.workflows.run(wf.id, { text: "Total Amount: 10" });
    const uploaded = await af.workflows.upload(wf.id, { text: "invoice_number: A-1" });
    await af.workflows.runs(wf.id);
    const collection = await af.files.create(wf.id, [{ file: Buffer.from("hello"), filename: "a.txt" }]);
    await af.files.list(wf.id);
    await af.files.run(wf.id, uploaded.file_id);
    await af.results.waitFor(wf.id, run.id, { pollInterval: 10 });
    await af.files.delete(collection.id);
    const hook = await af.webhooks.create({ url: "https://example.com/hook" });
    await af.webhooks.list();
    await af.webhooks.delete(hook.id);
    await af.workflows.delete(wf.id);
    expect(emu.requests.length).toBeGreaterThanOrEqual(16);
    for (const request of emu.requests) {
      expect(request.path).toMatch(/\/$/);
      expect(request.status).not.toBe(301);
    }
    expect(new Set(emu.requests.map((r) => `${r.method} ${r.path.replace(/[0-9a-f-]{36}/g, "{id}")}`))).toEqual(
      new Set([
        "GET /health/",
        "POST /v2/workflows/",
        "GET /v2/workflows/{id}/",
        "GET /v2/workflows/",
        "POST /v2/workflows/{id}/run/",
        "POST /v2/workflows/{id}/upload/",
        "GET /v2/workflows/{id}/runs/",
        "POST /v2/workflows/{id}/files/",
        "GET /v2/workflows/{id}/files/",
        "POST /v2/workflows/{id}/files/{id}/run/",
        "GET /v2/workflows/{id}/files/{id}/results/",
        "DELETE /v2/files/{id}/",
        "POST /v2/webhooks/",
        "GET /v2/webhooks/",
        "DELETE /v2/webhooks/{id}/",
        "DELETE /v2/workflows/{id}/",
      ]),
    );
  });

  it("keeps an id holding / and ? in one percent-encoded segment, and gets a 404 for it", async () => {
    const { emu, af } = await setup();
    const error = await failure(af.workflows.get("a/b?c"));
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).message).toBe("Resource not found: Workflow 'a/b?c' not found.");
    expect((error as NotFoundError).detail).toBe("Workflow 'a/b?c' not found.");
    expect(emu.requests).toHaveLength(1);
    expect(emu.requests[0]).toMatchObject({ path: "/v2/workflows/a%2Fb%3Fc/", query: "" });
  });

  it("throws InvalidArgumentError for an empty id, before any request", async () => {
    const { emu, af } = await setup();
    for (const call of [
      () => af.workflows.get(""),
      () => af.workflows.delete("  "),
      () => af.files.run("wf", ""),
      () => af.results.get("", "c"),
      () => af.webhooks.delete(undefined as unknown as string),
    ]) {
      const error = await failure(call());
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).code).toBe("INVALID_ARGUMENT");
    }
    expect(emu.requests).toHaveLength(0);
  });
});

describe("Anyformat client: auth errors", () => {
  it("throws AuthFailedError for a wrong key, without retrying, and masks the key", async () => {
    const wrong = "af-wrong-key-5678";
    const { emu, af } = await setup({ apiKey: wrong });
    const error = await failure(af.workflows.list());
    expect(error).toBeInstanceOf(AuthFailedError);
    const e = error as AuthFailedError;
    expect(e.status).toBe(401);
    expect(e.code).toBe("AUTH_FAILED");
    expect(e.retryable).toBe(false);
    expect(e.attempts).toBe(1);
    expect(e.requestId).toMatch(/^[0-9a-f]{32}$/);
    expect(e.requestId).toBe(e.headers["x-request-id"]);
    expect(emu.requests).toHaveLength(1);
    expectMasked(error, wrong);
  });

  it("throws AccessDeniedError when the request carries no Bearer key", async () => {
    const { emu, af } = await setup();
    const error = await failure(af.workflows.list({}, { headers: { Authorization: "Bearer" } }));
    expect(error).toBeInstanceOf(AccessDeniedError);
    expect((error as AccessDeniedError).status).toBe(403);
    expect((error as AccessDeniedError).code).toBe("ACCESS_DENIED");
    expect((error as AccessDeniedError).detail).toMatch(/Bearer/);
    expect(emu.requests).toHaveLength(1);
  });

  it("throws AccessDeniedError for a key sent in another scheme", async () => {
    const { emu, af } = await setup();
    const error = await failure(af.webhooks.list({ headers: { authorization: `Token ${KEY}` } }));
    expect(error).toBeInstanceOf(AccessDeniedError);
    expect(emu.requests).toHaveLength(1);
    expectMasked(error);
  });

  it("masks a key the server echoes back, as Bearer ***, in the error and its toJSON()", async () => {
    const secret = "af-live-echoed-9999";
    const server = await startServer((req, res) => {
      const auth = String(req.headers.authorization);
      send(res, {
        status: 401,
        headers: { "content-type": "application/json", "x-echo": auth },
        body: JSON.stringify({ error: `Bad key ${auth}`, detail: `You sent ${auth}`, error_code: "AUTH_FAILED", retryable: false }),
      });
    });
    closeAfterTest(() => server.close());
    const af = new Anyformat({ apiKey: secret, baseUrl: server.url });
    closeAfterTest(() => af.close());
    const error = await failure(af.workflows.list());
    expect(error).toBeInstanceOf(AuthFailedError);
    const e = error as AuthFailedError;
    expect(server.requests[0]?.headers.authorization).toBe(`Bearer ${secret}`);
    expect(e.message).toBe("Bad key Bearer ***: You sent Bearer ***");
    expect(e.detail).toBe("You sent Bearer ***");
    expect(e.headers["x-echo"]).toBe("Bearer ***");
    expect(JSON.stringify(e.toJSON())).toContain("Bearer ***");
    expectMasked(error, secret);
  });
});

describe("Anyformat client: rate limits and server errors", () => {
  it("retries a 429 after its Retry-After and succeeds", async () => {
    const { emu, af } = await setup();
    emu.inject("rateLimit");
    const retries: Array<{ attempt: number; delayMs: number; code: string }> = [];
    const page = await af.workflows.list({}, { onRetry: (i) => retries.push({ attempt: i.attempt, delayMs: i.delayMs, code: i.error.code }) });
    expect(page.count).toBe(0);
    expect(retries).toEqual([{ attempt: 2, delayMs: 50, code: "RATE_LIMITED" }]);
    expect(statuses(emu)).toEqual([429, 200]);
  });

  it("throws RateLimitedError with retryAfterMs once the retries are spent", async () => {
    const { emu, af } = await setup();
    emu.inject("rateLimit", { count: 5 });
    const error = await failure(af.workflows.list());
    expect(error).toBeInstanceOf(RateLimitedError);
    const e = error as RateLimitedError;
    expect(e.code).toBe("RATE_LIMITED");
    expect(e.retryAfterMs).toBe(50);
    expect(e.retryable).toBe(true);
    expect(e.attempts).toBe(3);
    expect(statuses(emu)).toEqual([429, 429, 429]);
    expectMasked(error);
  });

  it("throws RateLimitedError at once, with the rate-limit headers, when the limiter's Retry-After is over maxRetryAfter", async () => {
    // A 1-request window: the first call spends it; the next one meets a 429 asking for 60 s.
    // The governor would refuse the second call before sending (see test/core/governor): off, the server's own 429 is met.
    const { emu, af } = await setup({ maxRetries: 1, maxRetryAfter: 2_000, rateLimit: false }, { rateLimits: { general: 1, submission: 1, windowMs: 60_000 } });
    await af.workflows.list();
    const error = await failure(af.webhooks.list());
    expect(error).toBeInstanceOf(RateLimitedError);
    const e = error as RateLimitedError;
    expect(e.rateLimit).toEqual({ limit: 1, remaining: 0, resetMs: 60_000 });
    expect(e.retryAfterMs).toBe(60_000);
    // Retry-After (60 s) is over maxRetryAfter (2 s): thrown at once, not slept.
    expect(e.attempts).toBe(1);
    expect(statuses(emu)).toEqual([200, 429]);
  });

  it("throws RateLimitedError with rateLimit and retryAfterMs from the last 429 once every retry is spent", async () => {
    // Two injected 429s (50 ms each) use up the retries; the third attempt meets the real limiter's 429.
    const { emu, af } = await setup({ maxRetries: 2, maxRetryAfter: 1_000, rateLimit: false }, { rateLimits: { general: 1, submission: 1, windowMs: 60_000 } });
    await af.webhooks.list();
    emu.inject("rateLimit", { count: 2 });
    const retries: number[] = [];
    const error = await failure(af.workflows.list({}, { onRetry: (i) => retries.push(i.delayMs) }));
    expect(error).toBeInstanceOf(RateLimitedError);
    const e = error as RateLimitedError;
    expect(e.attempts).toBe(3);
    expect(retries).toEqual([50, 50]);
    expect(e.rateLimit).toEqual({ limit: 1, remaining: 0, resetMs: 60_000 });
    expect(e.retryAfterMs).toBe(60_000);
    expect(e.message).toBe("Rate limited: Rate limit exceeded. Try again in 60s.");
    expect(statuses(emu)).toEqual([200, 429, 429, 429]);
    expectMasked(error);
  });

  it("counts run/ in the submission tier apart from the general tier, and refuses a run with no slot before sending it", async () => {
    const { emu, af } = await setup({ maxRetryAfter: 100 }, { rateLimits: { general: 100, submission: 1, windowMs: 60_000 } });
    const wf = await invoiceWorkflow(af);
    await af.workflows.run(wf.id, { text: "one" });
    const error = await failure(af.workflows.run(wf.id, { text: "two" }));
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).rateLimit?.limit).toBe(1);
    expect((error as RateLimitedError).attempts).toBe(0);
    const { rateLimit } = await af.workflows.get(wf.id).withResponse();
    expect(rateLimit).toEqual({ limit: 100, remaining: 98, resetMs: 60_000 });
    expect(statuses(emu)).toEqual([201, 202, 200]);
  });

  it("retries a 500 and succeeds when the next answer is good", async () => {
    const { emu, af } = await setup();
    emu.inject("serverError");
    const { data, attempts } = await af.workflows.list().withResponse();
    expect(data.results).toEqual([]);
    expect(attempts).toBe(2);
    expect(statuses(emu)).toEqual([500, 200]);
  });

  it("throws ServerError with its reference id after retrying a 500", async () => {
    const { emu, af } = await setup({ maxRetries: 1 });
    emu.inject("serverError", { count: 2 });
    const error = await failure(af.webhooks.list());
    expect(error).toBeInstanceOf(ServerError);
    const e = error as ServerError;
    expect(e.status).toBe(500);
    expect(e.code).toBe("INTERNAL_ERROR");
    expect(e.referenceId).toMatch(/^err_[0-9a-f]{8}$/);
    expect(e.requestId).toMatch(/^[0-9a-f]{32}$/);
    expect(e.attempts).toBe(2);
    expect(statuses(emu)).toEqual([500, 500]);
    expectMasked(error);
  });

  it("throws GatewayTimeoutError, a ServerError, for a 504 after retrying it", async () => {
    const { emu, af } = await setup({ maxRetries: 1 });
    emu.inject("gatewayTimeout", { count: 2 });
    const error = await failure(af.workflows.list());
    expect(error).toBeInstanceOf(GatewayTimeoutError);
    expect(error).toBeInstanceOf(ServerError);
    expect((error as GatewayTimeoutError).code).toBe("GATEWAY_TIMEOUT");
    expect(emu.requests).toHaveLength(2);
  });

  it("throws ServerError for an HTML 502 from a proxy, with the page in body", async () => {
    const { emu, af } = await setup({ maxRetries: 0 });
    emu.inject("htmlBadGateway");
    const error = await failure(af.workflows.list());
    expect(error).toBeInstanceOf(ServerError);
    expect((error as ServerError).status).toBe(502);
    expect((error as ServerError).message).toBe("HTTP 502 Bad Gateway (HTML body)");
    expect((error as ServerError).body).toContain("<center>nginx</center>");
    expect(emu.requests).toHaveLength(1);
  });

  it("lets a body's own error_code pick the class: a 423 LOCKED is a LockedError, not retried", async () => {
    const { emu, af } = await setup();
    emu.inject("locked");
    const error = await failure(af.workflows.list());
    expect(error).toBeInstanceOf(LockedError);
    expect((error as LockedError).retryable).toBe(false);
    expect(emu.requests).toHaveLength(1);
  });

  it("sends exactly one request with maxRetries: 0", async () => {
    const { emu, af } = await setup({ maxRetries: 0 });
    emu.inject("serverError", { count: 3 });
    const error = await failure(af.workflows.list());
    expect((error as ServerError).attempts).toBe(1);
    expect(emu.requests).toHaveLength(1);
  });

  it("retries a GET whose connection was reset, but not a POST", async () => {
    const { emu, af } = await setup();
    emu.inject("reset", { method: "GET" });
    expect((await af.workflows.list()).count).toBe(0);
    expect(statuses(emu)).toEqual([undefined, 200]);

    emu.inject("reset", { method: "POST" });
    const error = await failure(invoiceWorkflow(af));
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).attempts).toBe(1);
    expect(statuses(emu)).toEqual([undefined, 200, undefined]);
  });

  it("retries a reset POST that carries an idempotencyKey, and the server replays its first answer", async () => {
    const { emu, af } = await setup();
    emu.inject("reset", { method: "POST" });
    const wf = await af.workflows.create({ name: "Once", fields: [{ name: "a", description: "a", data_type: "string" }] }, { idempotencyKey: "create-once-1" });
    expect(emu.requests.map((r) => r.headers["idempotency-key"])).toEqual(["create-once-1", "create-once-1"]);
    expect(emu.requests.map((r) => r.replayed)).toEqual([false, true]);
    expect([...emu.app.workflows.keys()]).toEqual([wf.id]);
  });
});

describe("Anyformat client: time and cancellation", () => {
  it("throws TimeoutError when an attempt outlives its timeout, and retries a GET after one", async () => {
    const { emu, af } = await setup({ timeout: 100 }, { slowHeadersMs: 5_000 });
    emu.inject("slowHeaders");
    const { data, attempts } = await af.workflows.list().withResponse();
    expect(data.count).toBe(0);
    expect(attempts).toBe(2);

    emu.inject("slowHeaders", { count: 5 });
    const error = await failure(af.workflows.list({}, { maxRetries: 0 }));
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).code).toBe("TIMEOUT");
  });

  it("throws AbortedError promptly when the caller's signal aborts", async () => {
    const { emu, af } = await setup({}, { slowHeadersMs: 5_000 });
    emu.inject("slowHeaders");
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 50);
    const error = await failure(af.workflows.list({}, { signal: controller.signal }));
    expect(error).toBeInstanceOf(AbortedError);
    expect((error as AbortedError).code).toBe("ABORTED");
    // Well before the 5 s hold would have ended.
    expect(Date.now() - started).toBeLessThan(2_500);
  });

  it("stops retrying at the deadline", async () => {
    const { emu, af } = await setup({ deadline: 150 }, { faultRetryAfterSeconds: 0.1 });
    emu.inject("rateLimit", { count: 5 });
    const started = Date.now();
    const error = await failure(af.workflows.list());
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(emu.requests.length).toBeLessThanOrEqual(2);
  });
});

describe("Anyformat client: responses", () => {
  it("gives status, request id, rate limit and attempts with .withResponse()", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    emu.inject("serverError", { path: `/v2/workflows/${wf.id}/` });
    const response = await af.workflows.get(wf.id).withResponse();
    expect(response.data.id).toBe(wf.id);
    expect(response.status).toBe(200);
    expect(response.requestId).toMatch(/^[0-9a-f]{32}$/);
    expect(response.headers["x-request-id"]).toBe(response.requestId);
    expect(response.rateLimit).toEqual({ limit: 600, remaining: 598, resetMs: 60_000 });
    expect(response.attempts).toBe(2);
    const created = await af.workflows.create({ name: "Two", fields: INVOICE_FIELDS_ONE }).withResponse();
    expect(created.status).toBe(201);
    expect(created.attempts).toBe(1);
  });

  it("leaves rateLimit undefined when the API sends no rate-limit headers", async () => {
    const { af } = await setup({}, { rateLimits: false });
    const response = await af.workflows.list().withResponse();
    expect(response.rateLimit).toBeUndefined();
  });

  it("throws ResponseValidationError when a 2xx body does not match its schema", async () => {
    const server = await startReplyServer({
      "/v2/workflows/wf/": { status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify({ id: 5, name: null }) },
      "/health/": { status: 200, headers: { "content-type": "text/plain" }, body: "ok" },
      "/v2/webhooks/": { status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify({ results: [] }) },
    });
    closeAfterTest(() => server.close());
    const af = new Anyformat({ apiKey: KEY, baseUrl: server.url });
    closeAfterTest(() => af.close());

    const error = await failure(af.workflows.get("wf"));
    expect(error).toBeInstanceOf(ResponseValidationError);
    const e = error as ResponseValidationError;
    expect(e.code).toBe("RESPONSE_VALIDATION");
    expect(e.status).toBe(200);
    expect(e.issues.map((i) => i.path.join("."))).toEqual(["id", "name"]);
    expect(e.issues.map((i) => i.message)).toEqual(["Invalid input: expected string, received number", "Invalid input: expected string, received null"]);
    expect(e.message).toBe(
      "The 200 response to GET /v2/workflows/wf/ does not match its schema: id: Invalid input: expected string, received number; name: Invalid input: expected string, received null",
    );
    expect(e.body).toEqual({ id: 5, name: null });
    expect(e.attempts).toBe(1);

    expect(await failure(af.health())).toBeInstanceOf(ResponseValidationError);
    expect(await failure(af.webhooks.list())).toBeInstanceOf(ResponseValidationError);
    expect(server.requests).toHaveLength(3);
  });

  it("keeps keys the API adds later", async () => {
    const server = await startReplyServer({
      "/v2/workflows/wf/": {
        status: 200,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id: "wf", name: "W", nodes: [{ id: 1 }], created_at: "2025-01-01T00:00:00Z" }),
      },
    });
    closeAfterTest(() => server.close());
    const af = new Anyformat({ apiKey: KEY, baseUrl: server.url });
    closeAfterTest(() => af.close());
    expect(await af.workflows.get("wf")).toEqual({ id: "wf", name: "W", nodes: [{ id: 1 }], created_at: "2025-01-01T00:00:00Z" });
  });

  it("throws ConnectionError when nothing listens, after retrying", async () => {
    const port = await closedPort();
    const af = new Anyformat({ apiKey: KEY, baseUrl: `http://127.0.0.1:${port}`, maxRetries: 1 });
    closeAfterTest(() => af.close());
    const retries: number[] = [];
    const error = await failure(af.workflows.list({}, { onRetry: (i) => retries.push(i.attempt) }));
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).attempts).toBe(2);
    expect(retries).toEqual([2]);
    expectMasked(error);
  });

  it("makes every failure a FaultlineError whose JSON form holds no key", async () => {
    const { af } = await setup({ maxRetries: 0 });
    const errors = await Promise.all([
      failure(af.workflows.get("missing")),
      failure(af.workflows.create({ name: "", fields: [] })),
      failure(af.workflows.run("wf", { text: "a", file: "b" } as never)),
      failure(af.results.get("wf", "c")),
    ]);
    for (const error of errors) {
      expect(error).toBeInstanceOf(FaultlineError);
      expectMasked(error);
    }
    expect(errors[0]).toBeInstanceOf(ApiError);
    expect(errors[2]).toBeInstanceOf(InvalidArgumentError);
  });
});

const INVOICE_FIELDS_ONE = [{ name: "Total Amount", description: "The amount due", data_type: "float" }];
