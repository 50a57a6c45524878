/**
 * The conventions users of generated SDKs expect: withOptions() sharing the pool, defaultHeaders and
 * defaultQuery, over loopback.
 */
import { describe, expect, it } from "vitest";
import { Anyformat } from "../../src/anyformat/client.js";
import { InvalidArgumentError } from "../../src/core/errors.js";
import { Roboflow } from "../../src/roboflow/client.js";
import { closeAfterTest, json, scripted, timedFailure } from "./support.js";

const EMPTY = json(200, []);

describe("client.withOptions()", () => {
  it("gives a client with the options changed and everything else kept", async () => {
    const server = await scripted(EMPTY);
    const af = new Anyformat({ apiKey: "sk-with-options", baseUrl: server.url, defaultHeaders: { "x-team": "data" } });
    closeAfterTest(() => af.close());
    const tagged = af.withOptions({ headers: { "x-call": "tagged" } });
    await tagged.webhooks.list();

    expect(tagged).toBeInstanceOf(Anyformat);
    expect(tagged).not.toBe(af);
    expect(tagged.baseUrl).toBe(af.baseUrl);
    expect(server.requests[0]?.headers).toMatchObject({ authorization: "Bearer sk-with-options", "x-team": "data", "x-call": "tagged" });
  });

  it("shares the connection pool: 100 calls at once from both clients open no more sockets than one pool holds (64)", async () => {
    const sockets = new Set<number>();
    const server = await scripted((req, res) => {
      sockets.add(req.socket.remotePort ?? 0);
      req.resume();
      // Held a little, so that the calls overlap and each needs a socket of its own.
      setTimeout(() => res.writeHead(200, { "content-type": "application/json" }).end("[]"), 100);
    });
    const af = new Anyformat({ apiKey: "sk-with-options", baseUrl: server.url, rateLimit: false });
    const other = af.withOptions({ maxRetries: 5 });
    closeAfterTest(() => af.close());
    await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? af : other).webhooks.list()));

    expect(server.requests).toHaveLength(100);
    // Two pools would have opened up to 100.
    expect(sockets.size).toBeLessThanOrEqual(64);
  });

  it("shares circuit breakers and retry budgets", async () => {
    const server = await scripted(json(503, { error: "down" }, { "retry-after-ms": "1" }));
    const af = new Anyformat({ apiKey: "sk-with-options", baseUrl: server.url, maxRetries: 0, circuitBreaker: { failureThreshold: 2 }, rateLimit: false });
    closeAfterTest(() => af.close());
    const child = af.withOptions({ timeout: 5_000 });
    await timedFailure(af.webhooks.list());
    await timedFailure(child.webhooks.list());

    expect(af.circuitState().state).toBe("open");
    expect(child.circuitState().state).toBe("open");
    expect(child.retryBudgetState()).toEqual(af.retryBudgetState());
  });

  it("keeps a Roboflow client's workspace unless given a new one", async () => {
    const rf = new Roboflow({ apiKey: "sk-with-options", workspace: "acme", baseUrl: "http://127.0.0.1:9" });
    expect(rf.withOptions({ maxRetries: 1 }).defaultWorkspace).toBe("acme");
    expect(rf.withOptions({ workspace: "acme-eu" }).defaultWorkspace).toBe("acme-eu");
  });

  it("checks the new options like a constructor", () => {
    const af = new Anyformat({ apiKey: "sk-with-options", baseUrl: "http://127.0.0.1:9" });
    expect(() => af.withOptions({ timeout: -1 })).toThrow(InvalidArgumentError);
  });
});

describe("defaultHeaders and defaultQuery", () => {
  it("sends default headers under the call's own, and never over the credentials", async () => {
    const server = await scripted(EMPTY);
    const af = new Anyformat({
      apiKey: "sk-defaults",
      baseUrl: server.url,
      defaultHeaders: { "X-Team": "data", "x-trace": "default", authorization: "Bearer wrong" },
    });
    closeAfterTest(() => af.close());
    await af.webhooks.list({ headers: { "x-trace": "call" } });

    expect(server.requests[0]?.headers).toMatchObject({ "x-team": "data", "x-trace": "call", authorization: "Bearer sk-defaults" });
  });

  it("sends default query parameters under the call's own and the api_key", async () => {
    const server = await scripted(json(200, { workspace: { name: "w", url: "w", projects: [] } }));
    const rf = new Roboflow({ apiKey: "sk-defaults", workspace: "w", baseUrl: server.url, defaultQuery: { source: "etl", api_key: "nope" } });
    closeAfterTest(() => rf.close());
    await rf.workspace.get();

    const query = new URL(server.requests[0]?.url ?? "", server.url).searchParams;
    expect(query.get("source")).toBe("etl");
    expect(query.get("api_key")).toBe("sk-defaults");
  });

  it("refuses headers and query values that cannot be sent", () => {
    expect(() => new Anyformat({ apiKey: "k-123", defaultHeaders: { "x-a": "line\nbreak" } })).toThrow(/defaultHeaders/);
    expect(() => new Anyformat({ apiKey: "k-123", defaultQuery: { n: 1 as unknown as string } })).toThrow(/defaultQuery/);
  });
});
