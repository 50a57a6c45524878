/**
 * The Redis rate-limit store against a real redis-server: its scripts follow the same tier rules as the
 * in-process store (the same cases, on a clock moved by hand), it keeps time by Redis's clock, its keys
 * expire and hold no API key, and a Redis that is absent, hangs or forgets its scripts fails no call.
 */
import { createClient } from "redis";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { Anyformat } from "../../src/anyformat/client.js";
import { InvalidArgumentError } from "../../src/core/errors.js";
import { RedisLink } from "../../src/redis/connection.js";
import { createRedisRateLimitStore, type RedisRateLimitStore, type RedisRateLimitStoreOptions } from "../../src/redis/index.js";
import { SCRIPTS } from "../../src/redis/scripts.js";
import { SharedStore } from "../../src/redis/store.js";
import { startEmulator } from "../../src/testing/server.js";
import { tierRules } from "../core/governor/tier-rules.js";
import { describeWithRedis, freePort, startRedis, type RedisServer } from "./support.js";

const CONFIGURED = { limit: 3, windowMs: 2_000, explicit: true } as const;

describeWithRedis("the Redis rate-limit store", () => {
  let redis: RedisServer;
  let admin: ReturnType<typeof createClient>;
  const open: Array<() => Promise<unknown>> = [];
  let prefixes = 0;
  /** A prefix no other test uses: each test has keys of its own. */
  const prefix = () => `t${++prefixes}:`;

  beforeAll(async () => {
    redis = await startRedis();
    admin = createClient({ url: redis.url });
    admin.on("error", () => undefined);
    await admin.connect();
  });

  afterAll(async () => {
    admin.destroy();
    await redis?.stop();
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((close) => close()));
  });

  /** A store of the public factory, whose lines are kept. */
  function store(options: RedisRateLimitStoreOptions = {}): { store: RedisRateLimitStore; lines: string[] } {
    const lines: string[] = [];
    const made = createRedisRateLimitStore({
      url: redis.url,
      prefix: prefix(),
      logger: { warn: (line) => lines.push(line) },
      ...options,
    });
    open.push(() => made.close());
    return { store: made, lines };
  }

  describe("runs the in-process store's tier rules as scripts", () => {
    const stores: Array<{ store: SharedStore; lines: string[] }> = [];
    afterEach(() => {
      // Every case was answered by Redis: a store that fell back would pass them on its local store.
      for (const { store, lines } of stores.splice(0)) {
        expect(lines).toEqual([]);
        expect(store.mode).toBe("shared");
      }
    });

    tierRules((policy) => {
      let now = 1_000_000;
      const lines: string[] = [];
      const shared = new SharedStore({
        link: new RedisLink({ url: redis.url }, 5_000, SCRIPTS),
        prefix: prefix(),
        reconnectIntervalMs: 1_000,
        idleTtlMs: 60_000,
        logger: { warn: (line) => lines.push(line) },
        now: () => now,
      });
      stores.push({ store: shared, lines });
      open.push(() => shared.close());
      return {
        take: () => shared.take("k", policy),
        observe: (o) => shared.observe("k", policy, o),
        advance: (ms) => {
          now += ms;
        },
      };
    });
  });

  it("keeps time by Redis's clock, not this machine's", async () => {
    const { store: s, lines } = store({ prefix: "clock:" });
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(new Date("2001-01-01T00:00:00Z"));
      expect((await s.take("k", CONFIGURED)).granted).toBe(true);
    } finally {
      vi.useRealTimers();
    }
    expect(lines).toEqual([]);
    const [seconds] = await admin.time();
    const end = Number(await admin.hGet("clock:k", "end"));
    // The window ends 2.1 s after Redis's now, whatever year this process believes it is.
    expect(Math.abs(end - (Number(seconds) * 1000 + 2_100))).toBeLessThan(1_500);
  });

  it("counts one window for every store on the same key, and none across keys", async () => {
    const shared = prefix();
    const a = store({ prefix: shared }).store;
    const b = store({ prefix: shared }).store;
    const grants = [];
    for (let i = 0; i < 6; i++) grants.push((await (i % 2 === 0 ? a : b).take("k", CONFIGURED)).granted);
    expect(grants).toEqual([true, true, true, false, false, false]);
    expect((await a.take("other", CONFIGURED)).granted).toBe(true);
  });

  it("keeps each key in a hash under the prefix, with a TTL", async () => {
    const { store: s } = store({ prefix: "app1:rl:", idleTtl: 30_000 });
    await s.take("anyformat:0123456789abcdef:https://api.anyformat.ai:submission", CONFIGURED);
    const key = "app1:rl:anyformat:0123456789abcdef:https://api.anyformat.ai:submission";
    expect(await admin.type(key)).toBe("hash");
    const ttl = await admin.pTTL(key);
    // The window's 2.1 s and then the idle TTL.
    expect(ttl).toBeGreaterThan(30_000);
    expect(ttl).toBeLessThanOrEqual(32_100);
  });

  it("lets a tier nobody calls expire", async () => {
    const { store: s } = store({ prefix: "idle:", idleTtl: 100 });
    await s.take("k", { limit: 3, windowMs: 200, explicit: true });
    expect(await admin.exists("idle:k")).toBe(1);
    const until = Date.now() + 10_000;
    while ((await admin.exists("idle:k")) === 1 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await admin.exists("idle:k")).toBe(0);
  });

  it("keeps no API key in Redis, only a hash of it", async () => {
    const apiKey = "af-live-SECRET-0123456789";
    const emu = await startEmulator({ api: "anyformat", apiKey, stepMs: 0, rateLimits: { submission: 5, general: 100, windowMs: 2_000 } });
    const { store: s } = store({ prefix: "secret:" });
    const af = new Anyformat({ apiKey, baseUrl: emu.url, rateLimit: { store: s } });
    open.push(async () => {
      await af.close();
      await emu.close();
    });
    const wf = await af.workflows.create({ name: "w", fields: [{ name: "total", description: "t", data_type: "float" }] });
    await af.workflows.run(wf.id, { text: "doc" });

    const keys = await admin.keys("secret:*");
    expect(keys.sort()).toEqual([
      expect.stringMatching(/^secret:anyformat:[0-9a-f]{16}:http:\/\/127\.0\.0\.1:\d+:general$/),
      expect.stringMatching(/^secret:anyformat:[0-9a-f]{16}:http:\/\/127\.0\.0\.1:\d+:submission$/),
    ]);
    const everything = JSON.stringify(await Promise.all(keys.map(async (key) => [key, await admin.hGetAll(key)])));
    expect(everything).not.toContain("SECRET");
    expect(everything).not.toContain(apiKey);
  });

  it("loads its scripts again when Redis has forgotten them", async () => {
    const { store: s, lines } = store();
    const first = await s.take("k", CONFIGURED);
    await admin.scriptFlush();
    expect((await s.take("k", CONFIGURED)).granted).toBe(true);
    await s.observe("k", CONFIGURED, { window: first.granted ? first.window : -1, answered: true, limit: 3, remaining: 0, resetMs: 1_000 });
    expect((await s.take("k", CONFIGURED)).granted).toBe(false);
    expect(s.mode).toBe("shared");
    expect(lines).toEqual([]);
  });

  it("uses a client you pass, and leaves it open when closed", async () => {
    const client = createClient({ url: redis.url });
    client.on("error", () => undefined);
    await client.connect();
    open.push(async () => client.destroy());
    const s = createRedisRateLimitStore({ client, prefix: "mine:" });
    expect((await s.take("k", CONFIGURED)).granted).toBe(true);
    expect(await admin.exists("mine:k")).toBe(1);
    await s.close();
    expect(await client.ping()).toBe("PONG");
  });

  it("paces locally, says so once, and never fails a call when Redis is not there at all", async () => {
    const { store: s, lines } = store({ url: `redis://127.0.0.1:${await freePort()}` });
    const slots = await Promise.all(Array.from({ length: 5 }, () => s.take("k", CONFIGURED)));
    expect(slots.map((slot) => slot.granted)).toEqual([true, true, true, false, false]);
    await s.observe("k", CONFIGURED, { window: undefined, answered: true, blockMs: 1_000 });
    expect(s.mode).toBe("local");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^faultline: Redis is unreachable \(.+\); rate limits are paced in this process until it is back$/);
  });

  it("falls back within the command timeout when Redis hangs, and rejoins when it answers again", async () => {
    const own = await startRedis();
    open.push(() => own.stop());
    const { store: s, lines } = store({ url: own.url, commandTimeout: 300, reconnectInterval: 200 });
    expect((await s.take("k", CONFIGURED)).granted).toBe(true);
    own.pause();
    const started = Date.now();
    const slot = await s.take("k", CONFIGURED);
    const waited = Date.now() - started;
    expect(slot.granted).toBe(true);
    expect(waited).toBeGreaterThanOrEqual(250);
    expect(s.mode).toBe("local");
    own.resume();
    const until = Date.now() + 10_000;
    while (s.mode !== "shared" && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(s.mode).toBe("shared");
    expect(lines).toEqual([expect.stringMatching(/Redis is unreachable \(Redis did not answer within 300 ms\)/), "faultline: Redis is back; rate limits are shared with the fleet again"]);
  });

  it("never says a password from its URL, whatever goes wrong", async () => {
    for (const url of ["redis://:hunter2@127.0.0.1:notaport", `redis://user:hunter2@127.0.0.1:${await freePort()}`]) {
      const { store: s, lines } = store({ url });
      expect((await s.take("k", CONFIGURED)).granted).toBe(true);
      expect(lines).toHaveLength(1);
      expect(lines.join("\n")).not.toContain("hunter2");
    }
  });

  it("numbers a new window apart from any before Redis lost its data", async () => {
    const { store: s } = store({ prefix: "epoch:" });
    const before = await s.take("k", CONFIGURED);
    await admin.flushAll();
    const after = await s.take("k", CONFIGURED);
    expect(before.granted && after.granted && after.window !== before.window).toBe(true);
  });

  it("answers from this process once closed, and says nothing", async () => {
    const { store: s, lines } = store();
    await s.close();
    expect((await s.take("k", CONFIGURED)).granted).toBe(true);
    expect(s.mode).toBe("closed");
    expect(lines).toEqual([]);
  });

  it("refuses options it cannot use, before connecting", () => {
    const client = { sendCommand: async () => "OK" };
    expect(() => createRedisRateLimitStore({ url: "redis://x", client })).toThrow(InvalidArgumentError);
    expect(() => createRedisRateLimitStore({ url: "http://x" })).toThrow(/redis:\/\/ or rediss:\/\//);
    expect(() => createRedisRateLimitStore({ url: "redis://:hunter2@x", commandTimeout: -1 })).toThrow(/commandTimeout/);
    expect(() => createRedisRateLimitStore({ client: {} as never })).toThrow(/sendCommand/);
    expect(() => createRedisRateLimitStore({ client, idleTtl: Number.NaN })).toThrow(/idleTtl/);
    expect(() => createRedisRateLimitStore({ client, prefix: 1 as never })).toThrow(/prefix/);
    try {
      createRedisRateLimitStore({ url: "ftp://:hunter2@x" });
    } catch (error) {
      expect(String(error)).not.toContain("hunter2");
    }
  });
});
