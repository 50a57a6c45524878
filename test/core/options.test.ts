/**
 * Options are checked when a client is built and when a call starts: a bad value is an
 * InvalidArgumentError naming the option and what was given, and nothing is sent.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Anyformat, InvalidArgumentError, Roboflow, type ClientOptions } from "../../src/index.js";
import { MAX_RESPONSE_BYTES_LIMIT } from "../../src/core/options.js";
import { OK, scripted, timedFailure } from "./support.js";

const KEY = "sk-options-test-1234";

function build(options: Record<string, unknown>): unknown {
  try {
    new Anyformat({ apiKey: KEY, ...options } as ClientOptions);
  } catch (error) {
    return error;
  }
  return undefined;
}

const BAD: Array<[string, unknown, RegExp]> = [
  ["timeout", -1, /Invalid option timeout: expected a positive, finite number of milliseconds, got -1/],
  ["timeout", 0, /timeout.*got 0/],
  ["timeout", Number.NaN, /timeout.*got NaN/],
  ["timeout", Infinity, /timeout.*got Infinity/],
  ["timeout", "60s", /timeout.*got "60s"/],
  ["deadline", -5, /deadline.*got -5/],
  ["maxRetries", -1, /maxRetries: expected a whole number from 0 to 100, got -1/],
  ["maxRetries", 1e9, /maxRetries.*got 1000000000/],
  ["maxRetries", 1.5, /maxRetries.*got 1.5/],
  ["maxRetryAfter", -1, /maxRetryAfter.*got -1/],
  ["maxResponseBytes", 0, /maxResponseBytes.*got 0/],
  ["maxResponseBytes", MAX_RESPONSE_BYTES_LIMIT + 1, /maxResponseBytes.*512 MiB/],
  ["dispatcher", {}, /dispatcher: expected an undici Dispatcher/],
  ["signal", "stop", /signal: expected an AbortSignal/],
  ["onRetry", 5, /onRetry: expected a function, got 5/],
  ["idempotencyKey", "two words", /idempotencyKey.*visible ASCII/],
  ["headers", { "x-a": "b\r\nx-injected: 1" }, /headers.*the value of x-a/],
  ["headers", { "bad name": "x" }, /headers.*"bad name" is not a header name/],
  ["baseUrl", "not a url", /Invalid option baseUrl: expected an absolute http\(s\) URL.*got "not a url"/],
  ["baseUrl", "ftp://files.example.com", /baseUrl.*got "ftp:\/\/files.example.com"/],
  ["baseUrl", "https://api.example.com/?token=1", /baseUrl.*without query or fragment/],
  ["baseUrl", "https://api.example.com/#top", /baseUrl.*without query or fragment/],
  ["baseUrl", 42, /baseUrl.*got 42/],
  ["logger", { debug: "loud" }, /logger: expected an object with error, warn, info and debug methods/],
  ["logLevel", "verbose", /logLevel: expected one of off, error, warn, info, debug, got "verbose"/],
  ["rateLimit", { tiers: { submission: { limit: 0, windowMs: 1000 } } }, /rateLimit.tiers/],
  ["rateLimit", { store: {} }, /rateLimit.store/],
  ["retryBudget", { capacity: -1 }, /retryBudget.capacity/],
  ["circuitBreaker", { failureThreshold: 0 }, /circuitBreaker.failureThreshold/],
  ["circuitBreaker", true, /circuitBreaker: expected false, or/],
];

describe("client options", () => {
  it.each(BAD)("refuses %s = %s at construction, naming the option and the value", (name, value, message) => {
    const error = build({ [name]: value });
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).message).toMatch(message);
  });

  it("refuses the same values in a Roboflow client", () => {
    expect(() => new Roboflow({ apiKey: KEY, timeout: -1 })).toThrow(InvalidArgumentError);
    expect(() => new Roboflow({ apiKey: KEY, baseUrl: "not a url" })).toThrow(/baseUrl/);
  });

  it("accepts the edges of every range", () => {
    expect(build({ timeout: 1, deadline: 1, maxRetries: 0, maxRetryAfter: 0, maxResponseBytes: 1 })).toBeUndefined();
    expect(build({ timeout: 2 ** 40, maxRetries: 100, maxResponseBytes: MAX_RESPONSE_BYTES_LIMIT })).toBeUndefined();
    expect(build({ baseUrl: "http://127.0.0.1:8080/", headers: { "x-team": "data" } })).toBeUndefined();
  });

  it("names a bad base URL from the environment by its variable, its password masked", () => {
    const saved = process.env["ANYFORMAT_BASE_URL"];
    process.env["ANYFORMAT_BASE_URL"] = "ftp://user:hunter2@files.example.com";
    try {
      const error = build({});
      expect((error as Error).message).toMatch(/Invalid option ANYFORMAT_BASE_URL/);
      expect((error as Error).message).not.toContain("hunter2");
    } finally {
      if (saved === undefined) delete process.env["ANYFORMAT_BASE_URL"];
      else process.env["ANYFORMAT_BASE_URL"] = saved;
    }
  });
});

describe("API keys", () => {
  const saved = { af: process.env["ANYFORMAT_API_KEY"], rf: process.env["ROBOFLOW_API_KEY"] };
  afterEach(() => {
    for (const [name, value] of [["ANYFORMAT_API_KEY", saved.af], ["ROBOFLOW_API_KEY", saved.rf]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it("trims the whitespace a key pasted from a file or a terminal carries", async () => {
    const server = await scripted(OK);
    const af = new Anyformat({ apiKey: `  ${KEY}\n`, baseUrl: server.url });
    await af.health().catch(() => undefined);
    await af.webhooks.list().catch(() => undefined);
    await af.close();
    expect(server.requests[1]?.headers.authorization).toBe(`Bearer ${KEY}`);
  });

  it.each([
    ["a line break inside", `${KEY.slice(0, 6)}\n${KEY.slice(6)}`, /line break/],
    ["a control character", `${KEY}\u0007x`, /control character/],
    ["a non-ASCII character", `${KEY}é`, /non-ASCII/],
    ["a space inside", `${KEY.slice(0, 6)} ${KEY.slice(6)}`, /whitespace/],
  ])("refuses a key with %s at construction, without showing it", (_what, key, message) => {
    for (const make of [() => new Anyformat({ apiKey: key }), () => new Roboflow({ apiKey: key })]) {
      let error: unknown;
      try {
        make();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain(KEY.slice(6));
    }
  });

  it("refuses a key that is not a string, without a raw TypeError", () => {
    expect(() => new Anyformat({ apiKey: 123 as unknown as string })).toThrow(/apiKey must be a string, got a number/);
    expect(() => new Roboflow({ apiKey: {} as unknown as string })).toThrow(InvalidArgumentError);
  });

  it("refuses a bad key from the environment, naming the variable", () => {
    process.env["ANYFORMAT_API_KEY"] = "sk-one\nsk-two";
    expect(() => new Anyformat()).toThrow(/ANYFORMAT_API_KEY holds a line break/);
  });
});

describe("per-call options", () => {
  it.each(BAD.filter(([name]) => !["baseUrl", "logger", "logLevel", "rateLimit", "retryBudget", "circuitBreaker"].includes(name)))(
    "refuses %s = %s when the call starts, and sends nothing",
    async (name, value, message) => {
      const server = await scripted(OK);
      const af = new Anyformat({ apiKey: KEY, baseUrl: server.url });
      const { error } = await timedFailure(af.workflows.get("wf_1", { [name]: value }));
      await af.close();

      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message).toMatch(message);
      expect(server.requests).toHaveLength(0);
    },
  );

  it("keeps the client's value for an option given as undefined", async () => {
    const server = await scripted({ status: 503, body: "down" });
    const af = new Anyformat({ apiKey: KEY, baseUrl: server.url, maxRetries: 0 });
    await af.health({ timeout: undefined, maxRetries: undefined }).catch(() => undefined);
    await af.close();
    expect(server.requests).toHaveLength(1);
  });
});
