/**
 * The retry budget over loopback: retries spend a pool the client shares, answers refill it, and a call
 * whose retry the pool cannot pay ends with its last error, saying so.
 */
import { describe, expect, it } from "vitest";
import { Anyformat, type AnyformatOptions } from "../../src/anyformat/client.js";
import { ServerError, TimeoutError } from "../../src/core/errors.js";
import { closeAfterTest, json, scripted, timedFailure, type Step } from "./support.js";

const EMPTY: Step = json(200, []);
const DOWN: Step = json(503, { error: "down" }, { "retry-after-ms": "1" });

async function client(steps: Step[], options: AnyformatOptions) {
  const server = await scripted(...steps);
  const af = new Anyformat({ apiKey: "sk-budget", baseUrl: server.url, rateLimit: false, circuitBreaker: false, ...options });
  closeAfterTest(() => af.close());
  return { server, af };
}

describe("the retry budget", () => {
  it("spends 5 tokens a retry, and refuses the retry it cannot pay for, with a hint and no onRetry", async () => {
    const { server, af } = await client([DOWN], { retryBudget: { capacity: 10 }, maxRetries: 5 });
    const first = await timedFailure(af.webhooks.list());
    expect((first.error as ServerError).attempts).toBe(3);
    expect(af.retryBudgetState()).toEqual({ available: 0, capacity: 10 });

    const retries: number[] = [];
    const { error } = await timedFailure(af.webhooks.list({ onRetry: (i) => retries.push(i.attempt) }));
    const e = error as ServerError;
    expect(e).toBeInstanceOf(ServerError);
    expect(e.attempts).toBe(1);
    expect(e.retryable).toBe(true);
    expect(e.hint).toMatch(/retry budget is spent/);
    expect(retries).toEqual([]);
    expect(server.requests).toHaveLength(4);
  });

  it("refunds what a call's retries cost when it succeeds after them", async () => {
    const { af } = await client([DOWN, DOWN, EMPTY], { retryBudget: { capacity: 100 } });
    await af.webhooks.list();
    expect(af.retryBudgetState()?.available).toBe(100);
  });

  it("earns one token for each call that succeeds at once, up to the capacity", async () => {
    const { af } = await client([DOWN, DOWN, DOWN, EMPTY], { retryBudget: { capacity: 20 }, maxRetries: 2 });
    await timedFailure(af.webhooks.list());
    expect(af.retryBudgetState()?.available).toBe(10);
    for (let i = 0; i < 3; i++) await af.webhooks.list();
    expect(af.retryBudgetState()?.available).toBe(13);
  });

  it("charges a retry after a timeout 10 tokens", async () => {
    const { af } = await client([() => undefined], { retryBudget: { capacity: 15 }, maxRetries: 3, timeout: 50 });
    const { error } = await timedFailure(af.webhooks.list());
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).attempts).toBe(2);
    expect(af.retryBudgetState()?.available).toBe(5);
  });

  it("lets a 429 whose Retry-After the server gave retry for free", async () => {
    const limited = json(429, { error: "slow" }, { "retry-after-ms": "5" });
    const { server, af } = await client([limited, limited, EMPTY], { retryBudget: { capacity: 0 } });
    expect(await af.webhooks.list()).toEqual([]);
    expect(server.requests).toHaveLength(3);
  });

  it("charges a 429 without a Retry-After like any retry", async () => {
    const { server, af } = await client([json(429, { error: "slow" }), EMPTY], { retryBudget: { capacity: 0 } });
    await timedFailure(af.webhooks.list());
    expect(server.requests).toHaveLength(1);
  });

  it("is shared by the client's calls", async () => {
    const { af } = await client([DOWN], { retryBudget: { capacity: 10 }, maxRetries: 1 });
    await Promise.allSettled([af.webhooks.list(), af.webhooks.list(), af.webhooks.list()]);
    expect(af.retryBudgetState()?.available).toBe(0);
  });

  it("is off with retryBudget: false", async () => {
    const { server, af } = await client([DOWN], { retryBudget: false, maxRetries: 2 });
    for (let i = 0; i < 5; i++) await timedFailure(af.webhooks.list());
    expect(server.requests).toHaveLength(15);
    expect(af.retryBudgetState()).toBeUndefined();
  });

  it("starts full at 500 tokens by default", async () => {
    const { af } = await client([EMPTY], {});
    expect(af.retryBudgetState()).toEqual({ available: 500, capacity: 500 });
  });
});
