/**
 * The retry policy, proven over real loopback servers: which failures are tried again, after how long,
 * how often, and what stops it (maxRetries, deadline, signal, an unsafe POST). Timings are asserted as
 * lower bounds only; the request count a server saw is the ground truth.
 */
import http from "node:http";
import { performance } from "node:perf_hooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  AbortedError,
  ApiError,
  ConnectionError,
  GatewayTimeoutError,
  NotFoundError,
  RateLimitedError,
  ServerError,
  TimeoutError,
} from "../../src/core/errors.js";
import {
  BACKOFF_BASE_MS,
  BACKOFF_CAP_MS,
  backoffMs,
  decideRetry,
  isRetryable,
  runWithRetry,
  sleep,
  type RetryInfo,
} from "../../src/core/retry.js";
import { parseRetryAfter } from "../../src/core/headers.js";
import { closedPort, send } from "../helpers/server.js";
import {
  OK,
  SLOP,
  apiError,
  client,
  closeAfterTest,
  delay,
  get,
  post,
  scripted,
  spec,
  timedFailure,
} from "./support.js";

describe("backoffMs, the delay without a server hint", () => {
  const bounds = [
    { retry: 1, low: 250, high: 500 },
    { retry: 2, low: 500, high: 1_000 },
    { retry: 3, low: 1_000, high: 2_000 },
    { retry: 4, low: 2_000, high: 4_000 },
    { retry: 5, low: 4_000, high: 8_000 },
    { retry: 6, low: 4_000, high: 8_000 },
    { retry: 12, low: 4_000, high: 8_000 },
    { retry: 1_000, low: 4_000, high: 8_000 },
  ];

  it.each(bounds)("keeps retry $retry between $low and $high ms over 2000 draws", ({ retry, low, high }) => {
    const draws = Array.from({ length: 2_000 }, () => backoffMs(retry));
    for (const ms of draws) {
      expect(Number.isInteger(ms)).toBe(true);
      expect(ms).toBeGreaterThanOrEqual(low);
      expect(ms).toBeLessThanOrEqual(high);
    }
    // Jitter: the draws cover most of the range rather than sitting on one value.
    const spread = Math.max(...draws) - Math.min(...draws);
    expect(spread).toBeGreaterThan((high - low) * 0.8);
    expect(new Set(draws).size).toBeGreaterThan(50);
  });

  it("starts from 500 ms, doubles, and stops doubling at 8 s", () => {
    expect(BACKOFF_BASE_MS).toBe(500);
    expect(BACKOFF_CAP_MS).toBe(8_000);
    const top = [1, 2, 3, 4, 5, 6, 7].map((retry) => backoffMs(retry, () => 1));
    expect(top).toEqual([500, 1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
    const bottom = [1, 2, 3, 4, 5, 6].map((retry) => backoffMs(retry, () => 0));
    expect(bottom).toEqual([250, 500, 1_000, 2_000, 4_000, 4_000]);
  });

  it("never gives more than the cap or less than nothing, however odd the retry number", () => {
    for (const retry of [0, -1, 0.5, 1e9, Number.MAX_SAFE_INTEGER, Infinity]) {
      const ms = backoffMs(retry);
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThanOrEqual(BACKOFF_CAP_MS);
    }
  });
});

describe("decideRetry, the policy's verdict on one failure", () => {
  const facts = { method: "GET", replayable: true, repeatable: true };
  const failure = (status: number, body: Record<string, unknown> = {}, retryAfterMs?: number): ApiError =>
    new ApiError({
      status,
      code: `HTTP_${status}`,
      message: "x",
      retryable: isRetryable(status, typeof body["retryable"] === "boolean" ? body["retryable"] : undefined),
      headers: {},
      body,
      retryAfterMs,
    });

  it("uses the server's hint as the delay, and backoff without one", () => {
    expect(decideRetry(failure(429, {}, 1_234), 1, facts, 60_000)).toEqual({ retry: true, delayMs: 1_234 });
    const decision = decideRetry(failure(503), 1, facts, 60_000);
    expect(decision.retry).toBe(true);
    expect(decision.delayMs).toBeGreaterThanOrEqual(250);
    expect(decision.delayMs).toBeLessThanOrEqual(500);
  });

  it("refuses a hint longer than maxRetryAfter", () => {
    expect(decideRetry(failure(429, {}, 60_001), 1, facts, 60_000).retry).toBe(false);
    expect(decideRetry(failure(429, {}, 60_000), 1, facts, 60_000).retry).toBe(true);
  });

  it("does not retry a body that cannot be sent again", () => {
    expect(decideRetry(failure(503), 1, { ...facts, replayable: false }, 60_000).retry).toBe(false);
  });
});

describe("statuses that are never retried", () => {
  it.each([400, 401, 403, 404, 409, 422, 423])("sends a %i once, even with maxRetries 3 and a Retry-After", async (status) => {
    const server = await scripted(apiError(status, {}, { "retry-after-ms": "1" }), OK);
    const { error } = await timedFailure(get(client(server.url), "/thing", { maxRetries: 3 }));

    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(status);
    expect((error as ApiError).attempts).toBe(1);
    expect((error as ApiError).retryable).toBe(false);
    expect(server.requests).toHaveLength(1);
  });

  it.each([429, 500, 502, 503, 504])("sends a %i with retryable: false in its body once", async (status) => {
    const server = await scripted(apiError(status, { retryable: false }, { "retry-after-ms": "1" }), OK);
    const { error } = await timedFailure(get(client(server.url), "/thing", { maxRetries: 3 }));

    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(status);
    expect((error as ApiError).retryable).toBe(false);
    expect((error as ApiError).attempts).toBe(1);
    expect(server.requests).toHaveLength(1);
  });
});

describe("which flag wins: 401, 403 and 404 never; otherwise the body's, in both directions; otherwise the status", () => {
  it.each([401, 403, 404])("sends a %i whose body says retryable: true once, and reports retryable: false", async (status) => {
    const server = await scripted(apiError(status, { retryable: true }, { "retry-after-ms": "5" }), OK);
    const { error } = await timedFailure(get(client(server.url), "/thing", { maxRetries: 3 }));

    expect((error as ApiError).status).toBe(status);
    expect((error as ApiError).retryable).toBe(false);
    expect((error as ApiError).attempts).toBe(1);
    expect(server.requests).toHaveLength(1);
  });

  it("states the rule as one function", () => {
    expect([401, 403, 404].map((s) => isRetryable(s, true))).toEqual([false, false, false]);
    expect([400, 409, 422, 423, 412].map((s) => isRetryable(s, true))).toEqual([true, true, true, true, true]);
    expect([429, 500, 503].map((s) => isRetryable(s, false))).toEqual([false, false, false]);
    expect([400, 409, 422, 423].map((s) => isRetryable(s, undefined))).toEqual([false, false, false, false]);
    expect([429, 500, 502, 503, 504].map((s) => isRetryable(s, undefined))).toEqual([true, true, true, true, true]);
  });

  it.each([501, 505, 507])("does not retry a %i without a flag: it names a lasting condition", (status) => {
    expect(isRetryable(status, undefined)).toBe(false);
    expect(isRetryable(status, true)).toBe(true);
  });
});

describe("failures that are retried", () => {
  it.each([400, 409, 412, 422, 423])(
    "retries a %i whose body says retryable: true",
    async (status) => {
      const server = await scripted(apiError(status, { retryable: true }, { "retry-after-ms": "5" }), OK);
      const data = await get(client(server.url));

      expect(data).toEqual({ ok: true });
      expect(server.requests).toHaveLength(2);
    },
  );

  it("retries a 400 with retryable: true after the default backoff when there is no hint", async () => {
    const server = await scripted(apiError(400, { retryable: true }), OK);
    expect(await get(client(server.url))).toEqual({ ok: true });
    expect(server.requests).toHaveLength(2);
    expect(server.gaps()[0]).toBeGreaterThanOrEqual(250 - SLOP);
  });

  it.each([
    { status: 500, Class: ServerError },
    { status: 502, Class: ServerError },
    { status: 503, Class: ServerError },
    { status: 504, Class: GatewayTimeoutError },
    { status: 599, Class: ServerError },
  ])("retries a $status and gives up after maxRetries with its class", async ({ status, Class }) => {
    const server = await scripted(apiError(status, {}, { "retry-after-ms": "5" }));
    const { error } = await timedFailure(get(client(server.url), "/thing", { maxRetries: 2 }));

    expect(error).toBeInstanceOf(Class);
    expect((error as ApiError).attempts).toBe(3);
    expect(server.requests).toHaveLength(3);
  });

  it("spaces two retries of a 503 by the doubling backoff", async () => {
    const server = await scripted(apiError(503));
    const delays: number[] = [];
    const { error, ms } = await timedFailure(
      get(client(server.url), "/thing", { onRetry: (info) => delays.push(info.delayMs) }),
    );

    expect(error).toBeInstanceOf(ServerError);
    expect((error as ServerError).attempts).toBe(3);
    expect(server.requests).toHaveLength(3);
    const [first, second] = server.gaps();
    expect(first).toBeGreaterThanOrEqual(250 - SLOP);
    expect(second).toBeGreaterThanOrEqual(500 - SLOP);
    expect(ms).toBeGreaterThanOrEqual(750 - SLOP);
    // What onRetry was told is what was slept.
    expect(delays).toHaveLength(2);
    expect(delays[0]).toBeGreaterThanOrEqual(250);
    expect(delays[0]).toBeLessThanOrEqual(500);
    expect(delays[1]).toBeGreaterThanOrEqual(500);
    expect(delays[1]).toBeLessThanOrEqual(1_000);
    expect(first).toBeGreaterThanOrEqual((delays[0] ?? 0) - SLOP);
    expect(second).toBeGreaterThanOrEqual((delays[1] ?? 0) - SLOP);
  });

  it("sends a GET again after a reset, since a GET is safe to repeat", async () => {
    const server = await scripted((req) => req.socket.destroy(), OK);
    expect(await get(client(server.url))).toEqual({ ok: true });
    expect(server.requests).toHaveLength(2);
  });

  it.each(["PUT", "DELETE"] as const)("sends a %s again after a reset, since it is idempotent", async (method) => {
    const server = await scripted((req) => {
      req.resume();
      req.on("end", () => req.socket.destroy());
    }, OK);
    expect(await client(server.url).request(spec(method))).toEqual({ ok: true });
    expect(server.requests).toHaveLength(2);
  });
});

describe("429 and Retry-After", () => {
  it("retries a 429 after its Retry-After in whole seconds", async () => {
    const server = await scripted(apiError(429, {}, { "retry-after": "1" }), OK);
    expect(await get(client(server.url))).toEqual({ ok: true });
    expect(server.requests).toHaveLength(2);
    expect(server.gaps()[0]).toBeGreaterThanOrEqual(1_000 - SLOP);
  });

  it("retries a 429 after a fractional Retry-After of 0.2 s", async () => {
    const server = await scripted(apiError(429, {}, { "retry-after": "0.2" }), OK);
    const delays: number[] = [];
    expect(await get(client(server.url), "/thing", { onRetry: (i) => delays.push(i.delayMs) })).toEqual({ ok: true });
    expect(server.requests).toHaveLength(2);
    expect(delays).toEqual([200]);
    expect(server.gaps()[0]).toBeGreaterThanOrEqual(200 - SLOP);
  });

  it("retries a 429 at the HTTP date its Retry-After names", async () => {
    let target = 0;
    const server = await scripted((req, res) => {
      // HTTP dates have whole seconds: 1.5 s ahead names a time 0.5 to 1.5 s away.
      const date = new Date(Date.now() + 1_500).toUTCString();
      target = Date.parse(date);
      req.resume();
      send(res, apiError(429, {}, { "retry-after": date }));
    }, OK);
    let retriedAt = 0;
    const delays: number[] = [];
    await get(client(server.url), "/thing", { onRetry: (i) => delays.push(i.delayMs) }).then(() => {
      retriedAt = Date.now();
    });

    expect(server.requests).toHaveLength(2);
    expect(delays).toHaveLength(1);
    expect(delays[0]).toBeGreaterThan(400);
    expect(delays[0]).toBeLessThanOrEqual(1_500);
    expect(retriedAt).toBeGreaterThanOrEqual(target - SLOP);
  });

  it.each([
    { form: "IMF-fixdate", value: "Sun, 06 Nov 1994 08:49:37 GMT" },
    { form: "RFC 850", value: "Sunday, 06-Nov-94 08:49:37 GMT" },
    { form: "asctime", value: "Sun Nov  6 08:49:37 1994" },
  ])("reads a Retry-After in the $form HTTP-date form as UTC", ({ value }) => {
    const now = Date.UTC(1994, 10, 6, 8, 49, 7);
    expect(parseRetryAfter({ "retry-after": value }, now)).toBe(30_000);
  });

  it("lets retry-after-ms win over Retry-After", async () => {
    // Were the 30 s Retry-After read, it would exceed maxRetryAfter and be thrown at once.
    const server = await scripted(apiError(429, {}, { "retry-after-ms": "150", "retry-after": "30" }), OK);
    const delays: number[] = [];
    const data = await get(client(server.url), "/thing", { maxRetryAfter: 5_000, onRetry: (i) => delays.push(i.delayMs) });

    expect(data).toEqual({ ok: true });
    expect(delays).toEqual([150]);
    expect(server.gaps()[0]).toBeGreaterThanOrEqual(150 - SLOP);
  });

  it("throws a RateLimitedError at once when Retry-After exceeds the default maxRetryAfter of 60 s", async () => {
    const server = await scripted(apiError(429, {}, { "retry-after": "120" }), OK);
    const retries: RetryInfo[] = [];
    const { error } = await timedFailure(get(client(server.url), "/thing", { onRetry: (i) => retries.push(i) }));

    expect(error).toBeInstanceOf(RateLimitedError);
    const e = error as RateLimitedError;
    expect(e.retryAfterMs).toBe(120_000);
    expect(e.attempts).toBe(1);
    expect(e.code).toBe("RATE_LIMITED");
    expect(retries).toEqual([]);
    expect(server.requests).toHaveLength(1);
  });

  it("throws a RateLimitedError at once when Retry-After exceeds a small maxRetryAfter", async () => {
    const server = await scripted(apiError(429, {}, { "retry-after": "0.5" }), OK);
    const { error } = await timedFailure(get(client(server.url, { maxRetryAfter: 200 })));

    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBe(500);
    expect((error as RateLimitedError).attempts).toBe(1);
    expect(server.requests).toHaveLength(1);
  });

  it("throws the RateLimitedError at once, with its hint, when a later attempt gets a long Retry-After", async () => {
    const server = await scripted(
      apiError(429, {}, { "retry-after-ms": "20" }),
      apiError(429, {}, { "retry-after": "3600" }),
      OK,
    );
    const { error } = await timedFailure(get(client(server.url), "/thing", { maxRetries: 5 }));

    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBe(3_600_000);
    expect((error as RateLimitedError).attempts).toBe(2);
    expect(server.requests).toHaveLength(2);
  });

  it.each([
    { what: "a negative number", value: "-5" },
    { what: "NaN", value: "NaN" },
    { what: "an exponent", value: "1e12" },
    { what: "a past HTTP date", value: "Wed, 21 Oct 2015 07:28:00 GMT" },
    { what: "garbage", value: "soon, probably" },
  ])("falls back to the default backoff when Retry-After is $what", async ({ value }) => {
    const server = await scripted(apiError(429, {}, { "retry-after": value }), OK);
    const delays: number[] = [];
    const data = await get(client(server.url), "/thing", { onRetry: (i) => delays.push(i.delayMs) });

    expect(data).toEqual({ ok: true });
    expect(server.requests).toHaveLength(2);
    expect(delays).toHaveLength(1);
    expect(delays[0]).toBeGreaterThanOrEqual(250);
    expect(delays[0]).toBeLessThanOrEqual(500);
    expect(server.gaps()[0]).toBeGreaterThanOrEqual(250 - SLOP);
  });

  it.each([
    { what: "Retry-After: 90000 (more than a day)", headers: { "retry-after": "90000" }, ms: 90_000_000 },
    { what: "an HTTP date two days ahead", headers: { "retry-after": "in two days" }, ms: 2 * 86_400_000 },
    { what: "retry-after-ms: 99999999", headers: { "retry-after-ms": "99999999" }, ms: 99_999_999 },
    { what: "Retry-After: 400 digits", headers: { "retry-after": "9".repeat(400) }, ms: Number.MAX_SAFE_INTEGER },
    { what: "Retry-After sent twice (120, 120)", headers: { "retry-after": ["120", "120"] }, ms: 120_000 },
  ])("throws at once with retryAfterMs set when the hint is longer than maxRetryAfter: $what", async ({ headers, ms }) => {
    const sent = headers["retry-after"] === "in two days" ? { "retry-after": new Date(Date.now() + ms).toUTCString() } : headers;
    const server = await scripted({ status: 429, headers: { "content-type": "application/json", ...sent }, body: JSON.stringify({ error: "slow" }) }, OK);
    const { error } = await timedFailure(get(client(server.url), "/thing", { maxRetries: 3 }));

    expect(error).toBeInstanceOf(RateLimitedError);
    // An HTTP date is read against the clock, a moment after the server wrote it.
    expect((error as RateLimitedError).retryAfterMs).toBeGreaterThan(ms - 5_000);
    expect((error as RateLimitedError).retryAfterMs).toBeLessThanOrEqual(ms);
    expect((error as RateLimitedError).attempts).toBe(1);
    expect(server.requests).toHaveLength(1);
  });

  it("falls back to the default backoff when retry-after-ms is negative and Retry-After is absent", async () => {
    const server = await scripted(apiError(429, {}, { "retry-after-ms": "-100" }), OK);
    const delays: number[] = [];
    await get(client(server.url), "/thing", { onRetry: (i) => delays.push(i.delayMs) });
    expect(delays[0]).toBeGreaterThanOrEqual(250);
    expect(server.requests).toHaveLength(2);
  });
});

describe("connection errors", () => {
  it("retries a refused GET and counts every try in attempts", async () => {
    const t = client(`http://127.0.0.1:${await closedPort()}`);
    const retries: RetryInfo[] = [];
    const { error, ms } = await timedFailure(get(t, "/thing", { onRetry: (i) => retries.push(i) }));

    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).attempts).toBe(3);
    expect(retries.map((r) => r.attempt)).toEqual([2, 3]);
    expect(ms).toBeGreaterThanOrEqual(750 - SLOP);
  });

  it.each(["GET", "POST"] as const)("sends a %s that was refused once something listens again", async (method) => {
    const port = await closedPort();
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.headers["idempotency-key"] ?? "no key"}`);
      req.resume();
      req.on("end", () => send(res, OK));
    });
    closeAfterTest(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    );
    const t = client(`http://127.0.0.1:${port}`);
    // The first try is refused; the server comes up on that port during the wait before the retry.
    const data = await t.request(spec(method), {
      onRetry: (info) => {
        if (info.attempt === 2) server.listen(port, "127.0.0.1");
      },
    });

    expect(data).toEqual({ ok: true });
    expect(seen).toEqual([`${method} no key`]);
  });
});

describe("a POST that may have reached the server", () => {
  const resetAfterBody = (req: http.IncomingMessage): void => {
    req.resume();
    req.on("end", () => req.socket.destroy());
  };

  it("is not retried after the server reset the connection having read its body", async () => {
    const server = await scripted(resetAfterBody, OK);
    const retries: RetryInfo[] = [];
    const { error } = await timedFailure(post(client(server.url), "/thing", { maxRetries: 3, onRetry: (i) => retries.push(i) }));

    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).attempts).toBe(1);
    expect(retries).toEqual([]);
    expect(server.requests).toHaveLength(1);
  });

  it("is not retried after a PATCH was reset either", async () => {
    const server = await scripted(resetAfterBody, OK);
    const { error } = await timedFailure(client(server.url).request(spec("PATCH")));
    expect(error).toBeInstanceOf(ConnectionError);
    expect(server.requests).toHaveLength(1);
  });

  it("is retried with the same Idempotency-Key on every attempt when it has one", async () => {
    const server = await scripted(resetAfterBody, resetAfterBody, OK);
    const data = await post(client(server.url), "/thing", { idempotencyKey: "order-42-create" });

    expect(data).toEqual({ ok: true });
    expect(server.requests).toHaveLength(3);
    expect(server.requests.map((r) => r.headers["idempotency-key"])).toEqual([
      "order-42-create",
      "order-42-create",
      "order-42-create",
    ]);
    expect(server.requests.map((r) => r.method)).toEqual(["POST", "POST", "POST"]);
  });

  it("is retried when the Idempotency-Key came as a plain header rather than the option", async () => {
    const server = await scripted(resetAfterBody, OK);
    const data = await post(client(server.url), "/thing", { headers: { "Idempotency-Key": "order-43-create" } });

    expect(data).toEqual({ ok: true });
    expect(server.requests.map((r) => r.headers["idempotency-key"])).toEqual(["order-43-create", "order-43-create"]);
  });

  it("is retried on a 503, since the server said it did not do it", async () => {
    const server = await scripted(apiError(503, {}, { "retry-after-ms": "5" }), OK);
    expect(await post(client(server.url))).toEqual({ ok: true });
    expect(server.requests).toHaveLength(2);
  });

  it("sends no Idempotency-Key when the call gives none", async () => {
    const server = await scripted(OK);
    await post(client(server.url));
    expect(server.requests[0]?.headers["idempotency-key"]).toBeUndefined();
  });
});

describe("per-attempt timeout", () => {
  const silent = (req: http.IncomingMessage): void => {
    req.resume(); // never answers
  };

  it("cuts a GET that gets no headers at timeout and retries it up to maxRetries", async () => {
    const server = await scripted(silent);
    const { error, ms } = await timedFailure(get(client(server.url), "/thing", { timeout: 150, maxRetries: 1 }));

    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).attempts).toBe(2);
    expect(server.requests).toHaveLength(2);
    expect(ms).toBeGreaterThanOrEqual(150 + 250 + 150 - SLOP);
    expect(server.gaps()[0]).toBeGreaterThanOrEqual(150 + 250 - SLOP);
  });

  it("cuts a POST at timeout and does not retry it", async () => {
    const server = await scripted(silent);
    const { error, ms } = await timedFailure(post(client(server.url), "/thing", { timeout: 150, maxRetries: 2 }));

    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).attempts).toBe(1);
    expect(ms).toBeGreaterThanOrEqual(150 - SLOP);
    await delay(300);
    expect(server.requests).toHaveLength(1);
  });

  it("retries a POST cut at timeout when it has an Idempotency-Key", async () => {
    const server = await scripted(silent, OK);
    const data = await post(client(server.url), "/thing", { timeout: 150, maxRetries: 2, idempotencyKey: "k-1" });

    expect(data).toEqual({ ok: true });
    expect(server.requests).toHaveLength(2);
    expect(server.requests.map((r) => r.headers["idempotency-key"])).toEqual(["k-1", "k-1"]);
  });
});

describe("maxRetries", () => {
  it("sends exactly one request with maxRetries 0", async () => {
    const server = await scripted(apiError(503, {}, { "retry-after-ms": "1" }));
    const { error } = await timedFailure(get(client(server.url, { maxRetries: 0 })));
    expect((error as ServerError).attempts).toBe(1);
    await delay(50);
    expect(server.requests).toHaveLength(1);
  });

  it("sends three requests for a persistent 503 by default", async () => {
    const server = await scripted(apiError(503, {}, { "retry-after-ms": "1" }));
    const { error } = await timedFailure(get(client(server.url)));
    expect(error).toBeInstanceOf(ServerError);
    expect((error as ServerError).attempts).toBe(3);
    expect(server.requests).toHaveLength(3);
  });

  it.each([1, 4])("sends maxRetries + 1 requests with maxRetries %i, and attempts says so", async (maxRetries) => {
    const server = await scripted(apiError(503, {}, { "retry-after-ms": "1" }));
    const { error } = await timedFailure(get(client(server.url), "/thing", { maxRetries }));
    expect((error as ServerError).attempts).toBe(maxRetries + 1);
    expect(server.requests).toHaveLength(maxRetries + 1);
  });

  it("lets a per-call maxRetries override the client's", async () => {
    const server = await scripted(apiError(503, {}, { "retry-after-ms": "1" }));
    await timedFailure(get(client(server.url, { maxRetries: 4 }), "/thing", { maxRetries: 0 }));
    expect(server.requests).toHaveLength(1);
  });

  it("reports the attempts of a success that took retries", async () => {
    const server = await scripted(apiError(503, {}, { "retry-after-ms": "1" }), apiError(502, {}, { "retry-after-ms": "1" }), OK);
    const response = await get(client(server.url)).withResponse();
    expect(response.attempts).toBe(3);
    expect(server.requests).toHaveLength(3);
  });
});

describe("deadline", () => {
  it("starts no retry whose wait would end past the deadline", async () => {
    const server = await scripted(apiError(503, {}, { "retry-after-ms": "300" }));
    const start = performance.now();
    const { error, ms } = await timedFailure(get(client(server.url), "/thing", { deadline: 500, maxRetries: 5 }));

    expect(error).toBeInstanceOf(ServerError);
    expect((error as ServerError).attempts).toBe(2);
    expect(server.requests).toHaveLength(2);
    expect(ms).toBeGreaterThanOrEqual(300 - SLOP);
    for (const at of server.arrivals) expect(at - start).toBeLessThan(500);
  });

  it("throws a 429 at once when its Retry-After would run past the deadline", async () => {
    const server = await scripted(apiError(429, {}, { "retry-after": "3" }), OK);
    const { error, ms } = await timedFailure(get(client(server.url), "/thing", { deadline: 400 }));

    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).attempts).toBe(1);
    expect((error as RateLimitedError).retryAfterMs).toBe(3_000);
    expect(server.requests).toHaveLength(1);
    // Not slept: the wait alone would have taken 3 s.
    expect(ms).toBeLessThan(3_000);
  });

  it("does not sleep a backoff that would end past the deadline", async () => {
    const server = await scripted(apiError(503, {}, { "retry-after-ms": "3000" }), OK);
    const retries: RetryInfo[] = [];
    const { error, ms } = await timedFailure(
      get(client(server.url), "/thing", { deadline: 500, onRetry: (info) => retries.push(info) }),
    );

    expect(error).toBeInstanceOf(ServerError);
    expect((error as ServerError).attempts).toBe(1);
    expect(retries).toEqual([]);
    expect(ms).toBeLessThan(3_000);
  });

  it("cuts an attempt that runs into the deadline with a TimeoutError that says so", async () => {
    const server = await scripted((req) => req.resume());
    const { error, ms } = await timedFailure(get(client(server.url), "/thing", { deadline: 300, timeout: 10_000 }));

    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).message).toMatch(/deadline/);
    expect((error as TimeoutError).attempts).toBe(1);
    expect(ms).toBeGreaterThanOrEqual(300 - SLOP);
    await delay(100);
    expect(server.requests).toHaveLength(1);
  });

  it("bounds timeouts and backoff together, sending nothing after the deadline", async () => {
    const server = await scripted((req) => req.resume());
    const start = performance.now();
    const { error, ms } = await timedFailure(
      get(client(server.url), "/thing", { deadline: 900, timeout: 100, maxRetries: 10 }),
    );

    expect(error).toBeInstanceOf(TimeoutError);
    const e = error as TimeoutError;
    expect(e.attempts).toBe(server.requests.length);
    expect(e.attempts).toBeGreaterThanOrEqual(2);
    expect(e.message).toMatch(/attempt|deadline|within/);
    expect(ms).toBeGreaterThanOrEqual(100 + 250 + 100 - SLOP);
    for (const at of server.arrivals) expect(at - start).toBeLessThan(900);
    await delay(100);
    expect(server.requests).toHaveLength(e.attempts);
  });

  it("says in attempts how many requests were sent before the deadline stopped it", async () => {
    const server = await scripted(apiError(503, {}, { "retry-after-ms": "50" }));
    const { error } = await timedFailure(get(client(server.url), "/thing", { deadline: 180, maxRetries: 10 }));
    expect(error).toBeInstanceOf(ServerError);
    expect((error as ServerError).attempts).toBeGreaterThanOrEqual(2);
    expect((error as ServerError).attempts).toBe(server.requests.length);
  });
});

describe("the caller's signal", () => {
  it("rejects with AbortedError during the wait before a retry, sending no retry", async () => {
    const controller = new AbortController();
    const server = await scripted((req, res) => {
      req.resume();
      send(res, apiError(503, {}, { "retry-after": "5" }));
      setTimeout(() => controller.abort(), 50);
    }, OK);
    const { error, ms } = await timedFailure(get(client(server.url), "/thing", { signal: controller.signal }));

    expect(error).toBeInstanceOf(AbortedError);
    expect((error as AbortedError).code).toBe("ABORTED");
    expect((error as AbortedError).attempts).toBe(1);
    expect(server.requests).toHaveLength(1);
    // The retry would have gone out at 5 s; it was rejected before that.
    expect(ms).toBeLessThan(5_000);
  });

  it("rejects with AbortedError during a backoff wait too", async () => {
    const controller = new AbortController();
    const server = await scripted(apiError(503), OK);
    const promise = get(client(server.url), "/thing", {
      signal: controller.signal,
      onRetry: () => setTimeout(() => controller.abort(), 20),
    });
    const { error } = await timedFailure(promise);

    expect(error).toBeInstanceOf(AbortedError);
    expect((error as AbortedError).attempts).toBe(1);
    await delay(600);
    expect(server.requests).toHaveLength(1);
  });

  it("sends nothing when the signal is already aborted", async () => {
    const server = await scripted(OK);
    const { error } = await timedFailure(get(client(server.url), "/thing", { signal: AbortSignal.abort() }));

    expect(error).toBeInstanceOf(AbortedError);
    expect((error as AbortedError).attempts).toBe(0);
    await delay(50);
    expect(server.requests).toHaveLength(0);
  });

  it("aborts an attempt in flight", async () => {
    const server = await scripted((req) => req.resume());
    const { error } = await timedFailure(get(client(server.url), "/thing", { signal: AbortSignal.timeout(100) }));

    expect(error).toBeInstanceOf(AbortedError);
    expect((error as AbortedError).attempts).toBe(1);
    await delay(400);
    expect(server.requests).toHaveLength(1);
  });

  it("uses the client's default signal when the call gives none", async () => {
    const server = await scripted(OK);
    const { error } = await timedFailure(get(client(server.url, { signal: AbortSignal.abort() })));
    expect(error).toBeInstanceOf(AbortedError);
    expect(server.requests).toHaveLength(0);
  });
});

describe("onRetry", () => {
  it("is called before each retry with the attempt about to start, the wait and the failure", async () => {
    const server = await scripted(
      apiError(503, {}, { "retry-after-ms": "20" }),
      apiError(500, {}, { "retry-after-ms": "30" }),
      apiError(429, {}, { "retry-after-ms": "40" }),
      OK,
    );
    const calls: Array<RetryInfo & { seen: number }> = [];
    const data = await get(client(server.url), "/thing", {
      maxRetries: 3,
      onRetry: (info) => calls.push({ ...info, seen: server.requests.length }),
    });

    expect(data).toEqual({ ok: true });
    expect(calls.map((c) => c.attempt)).toEqual([2, 3, 4]);
    expect(calls.map((c) => c.delayMs)).toEqual([20, 30, 40]);
    // Called before the retry it announces is sent.
    expect(calls.map((c) => c.seen)).toEqual([1, 2, 3]);
    expect(calls.map((c) => (c.error as ApiError).status)).toEqual([503, 500, 429]);
    expect(calls.map((c) => c.error.attempts)).toEqual([1, 2, 3]);
    expect(calls[2]?.error).toBeInstanceOf(RateLimitedError);
  });

  it("is given the backoff delay when the server gave no hint", async () => {
    const server = await scripted(apiError(502), OK);
    const calls: RetryInfo[] = [];
    await get(client(server.url), "/thing", { onRetry: (info) => calls.push(info) });
    expect(calls).toHaveLength(1);
    expect(calls[0]?.delayMs).toBeGreaterThanOrEqual(250);
    expect(calls[0]?.delayMs).toBeLessThanOrEqual(500);
  });

  it("is not called for a failure that is not retried", async () => {
    const server = await scripted(apiError(404));
    const calls: RetryInfo[] = [];
    const { error } = await timedFailure(get(client(server.url), "/thing", { onRetry: (info) => calls.push(info) }));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(calls).toEqual([]);
  });

  it("is not called after the last attempt", async () => {
    const server = await scripted(apiError(503, {}, { "retry-after-ms": "1" }));
    const calls: RetryInfo[] = [];
    await timedFailure(get(client(server.url), "/thing", { maxRetries: 1, onRetry: (info) => calls.push(info) }));
    expect(calls.map((c) => c.attempt)).toEqual([2]);
  });

  it("stops retrying and rejects with the failure it was told about when it throws", async () => {
    const server = await scripted(apiError(503, {}, { "retry-after-ms": "1" }), OK);
    const { error } = await timedFailure(
      get(client(server.url), "/thing", {
        onRetry: () => {
          throw new Error("a bug in the caller's hook");
        },
      }),
    );

    expect(error).toBeInstanceOf(ServerError);
    expect((error as ServerError).status).toBe(503);
    expect((error as ServerError).attempts).toBe(1);
    await delay(30);
    expect(server.requests).toHaveLength(1);
  });
});

describe("many clients failing together", () => {
  it("spreads the retries of 100 clients that all got a 503 at once", async () => {
    const CLIENTS = 100;
    const firstAt = new Map<string, number>();
    const retryAt = new Map<string, number>();
    const server = await scripted((req, res) => {
      const id = String(req.headers["x-client"]);
      req.resume();
      if (!firstAt.has(id)) {
        firstAt.set(id, performance.now());
        return send(res, apiError(503));
      }
      retryAt.set(id, performance.now());
      return send(res, OK);
    });
    const results = await Promise.all(
      Array.from({ length: CLIENTS }, (_, i) =>
        get(client(server.url, { headers: { "x-client": `c${i}` } })).withResponse(),
      ),
    );

    expect(results.every((r) => r.data.ok && r.attempts === 2)).toBe(true);
    expect(server.requests).toHaveLength(2 * CLIENTS);
    expect(retryAt.size).toBe(CLIENTS);
    for (const [id, at] of retryAt) expect(at - (firstAt.get(id) ?? Infinity)).toBeGreaterThanOrEqual(250 - SLOP);

    const times = [...retryAt.values()].sort((a, b) => a - b);
    const spread = (times.at(-1) ?? 0) - (times[0] ?? 0);
    const firstSpread = Math.max(...firstAt.values()) - Math.min(...firstAt.values());
    const buckets = new Set(times.map((t) => Math.floor(t / 10))).size;
    // Each client's own wait, first answer to retry: the jitter alone, whatever the first requests' spread.
    const waits = [...retryAt].map(([id, at]) => at - (firstAt.get(id) ?? at));
    const waitSpread = Math.max(...waits) - Math.min(...waits);
    console.log(
      `100 clients: first requests spread over ${firstSpread.toFixed(1)} ms; ` +
        `retries spread over ${spread.toFixed(1)} ms across ${buckets} distinct 10 ms windows; ` +
        `each client's wait ranged ${Math.min(...waits).toFixed(1)}-${Math.max(...waits).toFixed(1)} ms`,
    );
    expect(spread).toBeGreaterThanOrEqual(100);
    expect(waitSpread).toBeGreaterThanOrEqual(100);
    expect(buckets).toBeGreaterThan(5);
    // No 10 ms window holds most of them.
    const perBucket = new Map<number, number>();
    for (const t of times) perBucket.set(Math.floor(t / 10), (perBucket.get(Math.floor(t / 10)) ?? 0) + 1);
    expect(Math.max(...perBucket.values())).toBeLessThan(CLIENTS / 2);
  });
});

describe("runWithRetry", () => {
  const facts = { method: "GET", replayable: true, repeatable: true };
  const busy = (): ApiError =>
    new ApiError({ status: 503, code: "INTERNAL_ERROR", message: "busy", retryable: true, headers: {}, body: {}, retryAfterMs: 100 });

  afterEach(() => {
    vi.useRealTimers();
  });

  it("starts no attempt when the deadline passed during the wait before it", async () => {
    vi.useFakeTimers();
    let calls = 0;
    const settled = runWithRetry(
      async () => {
        calls += 1;
        throw busy();
      },
      facts,
      {
        maxRetries: 3,
        maxRetryAfterMs: 60_000,
        deadlineAt: Date.now() + 150,
        signal: undefined,
        // The 100 ms wait fits the 150 ms budget, but the event loop stalls 200 ms during it.
        onRetry: () => vi.setSystemTime(Date.now() + 200),
      },
    ).catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(1_000);
    const error = await settled;

    expect(calls).toBe(1);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).attempts).toBe(1);
  });

  it("retries while the budget lasts and reports every attempt", async () => {
    vi.useFakeTimers();
    let calls = 0;
    const settled = runWithRetry(
      async () => {
        calls += 1;
        throw busy();
      },
      facts,
      { maxRetries: 10, maxRetryAfterMs: 60_000, deadlineAt: Date.now() + 250, signal: undefined, onRetry: undefined },
    ).catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(1_000);

    // Attempts at 0, 100, 200; one at 300 would need a wait ending past the deadline at 250.
    expect(calls).toBe(3);
    expect(((await settled) as ApiError).attempts).toBe(3);
  });
});

describe("sleep", () => {
  it("waits at least the time asked", async () => {
    const start = performance.now();
    await sleep(60);
    expect(performance.now() - start).toBeGreaterThanOrEqual(60 - SLOP);
  });

  it("rejects with AbortedError when its signal aborts, and at once when it already has", async () => {
    const controller = new AbortController();
    const pending = sleep(10_000, controller.signal);
    setTimeout(() => controller.abort(), 10);
    await expect(pending).rejects.toBeInstanceOf(AbortedError);
    await expect(sleep(10, AbortSignal.abort())).rejects.toBeInstanceOf(AbortedError);
  });
});
