// The public surface of `faultline/redis`: the rate-limit store a fleet of processes shares. The only entry
// that loads a Redis client (`redis`, an optional peer dependency).

// First, before anything loads undici: a clear error on a Node older than faultline supports.
import "../node-check.js";

import { InvalidArgumentError } from "../core/errors.js";
import { stderrLogger, type Logger } from "../core/log.js";
import { RedisLink, type RedisCommandClient } from "./connection.js";
import { SCRIPTS } from "./scripts.js";
import { SharedStore, type RedisRateLimitStore } from "./store.js";

export type { RedisCommandClient } from "./connection.js";
export type { RedisRateLimitStore, RedisStoreMode } from "./store.js";

/**
 * How to reach Redis, and how patient to be with it.
 *
 * @example
 * ```ts
 * createRedisRateLimitStore({ url: "rediss://:secret@cache.internal:6380", prefix: "billing:rl:", commandTimeout: 250 });
 * ```
 */
export interface RedisRateLimitStoreOptions {
  /** `redis[s]://[[user]:password@]host[:port][/db]` [redis://localhost:6379]. Not with `client`. */
  readonly url?: string | undefined;
  /**
   * A node-redis client you made and connected (`createClient` of the `redis` package): faultline uses it
   * and leaves it open on `close()`. Not with `url`.
   */
  readonly client?: RedisCommandClient | undefined;
  /** Put before every key, to share one Redis with other applications ["faultline:rl:"]. */
  readonly prefix?: string | undefined;
  /** How long one Redis command may take before the call is paced locally instead, in ms [500]. */
  readonly commandTimeout?: number | undefined;
  /** How often to check on Redis while it is away, in ms [1000]. */
  readonly reconnectInterval?: number | undefined;
  /** How long a tier nobody calls keeps its state (learnt limit and window) after its window ends, in ms [600000]. */
  readonly idleTtl?: number | undefined;
  /** Where to say that Redis went away and came back (one `warn` line each) [one line on stderr]. */
  readonly logger?: Logger | undefined;
}

const DEFAULT_PREFIX = "faultline:rl:";

/**
 * A rate-limit store on Redis: give it to every client of a fleet (`rateLimit: { store }`) and the
 * processes that share an API key share one budget per tier, counted by atomic scripts on the Redis server
 * (by its clock). Keys hold a hash of the API key, never the key. When Redis is unreachable, calls go on
 * paced in each process, and the store rejoins the fleet when Redis answers again: Redis never fails a call.
 *
 * @example
 * ```ts
 * import { Anyformat } from "faultline";
 * import { createRedisRateLimitStore } from "faultline/redis";
 *
 * const store = createRedisRateLimitStore({ url: "redis://cache.internal:6379" });
 * const af = new Anyformat({ rateLimit: { store } });
 * await af.workflows.run("wf_123", { text: "Invoice 42: total 19.99 EUR" });
 * await store.close();
 * ```
 */
export function createRedisRateLimitStore(options: RedisRateLimitStoreOptions = {}): RedisRateLimitStore {
  if (typeof options !== "object" || options === null) throw new InvalidArgumentError("createRedisRateLimitStore takes an options object");
  const { url, client, prefix = DEFAULT_PREFIX, commandTimeout = 500, reconnectInterval = 1_000, idleTtl = 600_000, logger = stderrLogger } = options;
  if (url !== undefined && client !== undefined) throw new InvalidArgumentError("Pass `url` or `client` to createRedisRateLimitStore, not both");
  if (url !== undefined && (typeof url !== "string" || !/^rediss?:\/\//i.test(url))) {
    throw new InvalidArgumentError("`url` must be a redis:// or rediss:// URL");
  }
  if (client !== undefined && typeof (client as Partial<RedisCommandClient>).sendCommand !== "function") {
    throw new InvalidArgumentError("`client` must be a node-redis client (one with sendCommand)");
  }
  if (typeof prefix !== "string") throw new InvalidArgumentError("`prefix` must be a string");
  positive("commandTimeout", commandTimeout);
  positive("reconnectInterval", reconnectInterval);
  positive("idleTtl", idleTtl);
  const link = new RedisLink(client === undefined ? { url } : { client }, commandTimeout, SCRIPTS);
  return new SharedStore({ link, prefix, reconnectIntervalMs: reconnectInterval, idleTtlMs: Math.ceil(idleTtl), logger });
}

function positive(name: string, value: unknown): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0 || value > 2_147_483_647) {
    throw new InvalidArgumentError(`\`${name}\` must be a number of ms between 1 and 2147483647, got ${String(value)}`);
  }
}
