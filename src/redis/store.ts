/**
 * The fleet's rate-limit store: tiers counted in Redis, so that every process on one API key shares one
 * budget per tier. Redis is advice, never a point of failure: when it cannot answer within a short timeout
 * the store paces on in this process (a `MemoryRateLimitStore`), says so once, checks Redis again every
 * `reconnectInterval`, and rejoins the shared budget (saying so once too) as soon as it answers.
 */
import { MemoryRateLimitStore, PROBE_LEASE_MS, type RateLimitStore, type RateObservation, type Slot, type TierPolicy } from "../core/governor/store.js";
import type { Logger } from "../core/log.js";
import { messageOf, type RedisLink } from "./connection.js";
import { OBSERVE, TAKE } from "./scripts.js";

/**
 * Where the store counts now: in Redis with the fleet, in this process while Redis is away, or nowhere (closed).
 *
 * @example
 * ```ts
 * if (store.mode === "local") metrics.increment("rate_limits.paced_locally");
 * ```
 */
export type RedisStoreMode = "shared" | "local" | "closed";

/**
 * A `RateLimitStore` on Redis, for `rateLimit.store`.
 *
 * @example
 * ```ts
 * const store = createRedisRateLimitStore({ url: process.env.REDIS_URL });
 * const af = new Anyformat({ rateLimit: { store } });
 * // ...
 * store.mode; // "shared", or "local" while Redis is away
 * await store.close();
 * ```
 */
export interface RedisRateLimitStore extends RateLimitStore {
  /** `"shared"` while tiers are counted in Redis, `"local"` while Redis is away, `"closed"` after `close()`. */
  readonly mode: RedisStoreMode;
  /** Stops checking on Redis and closes the connection the store opened (a client you passed stays open). */
  close(): Promise<void>;
}

export interface SharedStoreSettings {
  readonly link: RedisLink;
  readonly prefix: string;
  readonly reconnectIntervalMs: number;
  readonly idleTtlMs: number;
  readonly logger: Logger;
  /** Tests only: a fixed clock for the scripts instead of Redis's own. */
  readonly now?: (() => number) | undefined;
}

export class SharedStore implements RedisRateLimitStore {
  readonly #settings: SharedStoreSettings;
  readonly #local: MemoryRateLimitStore;
  #mode: RedisStoreMode = "shared";
  #recovery: NodeJS.Timeout | undefined;

  constructor(settings: SharedStoreSettings) {
    this.#settings = settings;
    this.#local = new MemoryRateLimitStore(settings.now);
    settings.link.open();
  }

  get mode(): RedisStoreMode {
    return this.#mode;
  }

  /**
   * A slot from Redis, or from this process's store while Redis is away. Never rejects. Windows of the local
   * store are numbered below zero, so that what a response says about one is never applied to the other's.
   */
  async take(key: string, policy: TierPolicy | undefined): Promise<Slot> {
    if (this.#mode === "shared") {
      try {
        const reply = await this.#settings.link.run(TAKE, this.#key(key), [...this.#policyArgs(policy), String(PROBE_LEASE_MS)]);
        return slotFrom(reply);
      } catch (error) {
        this.#fallBack(error);
      }
    }
    const slot = this.#local.take(key, policy);
    return slot.granted ? { granted: true, window: -slot.window } : slot;
  }

  /** Tells Redis (or, while it is away, this process's store) what a response said. Never rejects. */
  async observe(key: string, policy: TierPolicy | undefined, observation: RateObservation): Promise<void> {
    const local = observation.window !== undefined && observation.window < 0;
    if (this.#mode === "shared") {
      try {
        const o = local ? { ...observation, window: undefined } : observation;
        await this.#settings.link.run(OBSERVE, this.#key(key), [
          ...this.#policyArgs(policy),
          arg(o.window),
          o.answered === true ? "1" : "0",
          arg(o.limit),
          arg(o.remaining),
          arg(o.resetMs),
          arg(o.blockMs),
        ]);
        return;
      } catch (error) {
        this.#fallBack(error);
      }
    }
    this.#local.observe(key, policy, { ...observation, window: local ? -(observation.window as number) : undefined });
  }

  async close(): Promise<void> {
    this.#mode = "closed";
    if (this.#recovery !== undefined) clearTimeout(this.#recovery);
    this.#recovery = undefined;
    this.#settings.link.close();
  }

  #key(key: string): string {
    return `${this.#settings.prefix}${key}`;
  }

  /** ARGV[1..5] of both scripts: the policy, the idle TTL, and the clock ('' for Redis's own). */
  #policyArgs(policy: TierPolicy | undefined): string[] {
    return [arg(policy?.limit), arg(policy?.windowMs), policy?.explicit === true ? "1" : "0", String(this.#settings.idleTtlMs), arg(this.#settings.now?.())];
  }

  #fallBack(error: unknown): void {
    if (this.#mode !== "shared") return;
    this.#mode = "local";
    this.#say(`faultline: Redis is unreachable (${messageOf(error)}); rate limits are paced in this process until it is back`);
    this.#scheduleRecovery();
  }

  #scheduleRecovery(): void {
    this.#recovery = setTimeout(() => {
      void this.#settings.link.healthy().then((healthy) => {
        if (this.#mode !== "local") return;
        if (!healthy) return this.#scheduleRecovery();
        this.#mode = "shared";
        this.#recovery = undefined;
        this.#say("faultline: Redis is back; rate limits are shared with the fleet again");
      });
    }, this.#settings.reconnectIntervalMs);
    // Checking on Redis is no reason for a process that is otherwise done to stay alive.
    this.#recovery.unref();
  }

  #say(message: string): void {
    try {
      this.#settings.logger.warn?.(message);
    } catch {
      // A logger that throws changes nothing about pacing.
    }
  }
}

/** A script argument: '' for what is absent (or not a finite number, which no rule can use). */
function arg(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? "" : String(value);
}

/** TAKE's reply, `{1, window}` or `{0, waitMs, limit, windowMs, probing, guess, windowGuess}`, as a Slot. */
function slotFrom(reply: unknown): Slot {
  if (!Array.isArray(reply)) throw new Error(`Unexpected reply from the take script: ${typeof reply}`);
  const [granted, first, limit, windowMs, probing, guess, windowGuess] = reply.map((part: unknown) => String(part));
  if (granted === "1") return { granted: true, window: Number(first) };
  return {
    granted: false,
    waitMs: Number(first),
    limit: optional(limit),
    windowMs: optional(windowMs),
    ...(probing === "1" ? { probing: true } : {}),
    ...(guess === "1" ? { guess: true } : {}),
    ...(windowGuess === "1" ? { windowGuess: true } : {}),
  };
}

function optional(text: string | undefined): number | undefined {
  return text === undefined || text === "" ? undefined : Number(text);
}
