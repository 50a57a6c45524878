/**
 * The store's line to Redis: runs a script (EVALSHA, then EVAL when the server has not cached it, as after a
 * restart), checks the server is there (PING), each bounded by a short timeout so that a Redis that hangs
 * costs a call at most that long. On a client it made from a URL, it also owns the connection: it connects
 * without a reconnect loop of its own (the store decides when to try again, on timers that never keep the
 * process alive) and does not let its socket keep the process alive either.
 */
import type { LuaScript } from "./scripts.js";

/**
 * The one method faultline needs of a Redis client: node-redis's `sendCommand` (the `redis` package, 5 or
 * later, e.g. `createClient()`). A client you pass stays yours: faultline neither connects nor closes it.
 *
 * @example
 * ```ts
 * import { createClient } from "redis";
 * const client = await createClient({ url: process.env.REDIS_URL }).connect();
 * const store = createRedisRateLimitStore({ client });
 * ```
 */
export interface RedisCommandClient {
  sendCommand(args: string[], options?: { abortSignal?: AbortSignal }): Promise<unknown>;
}

/** What the store needs from a client it made itself. */
interface OwnedClient extends RedisCommandClient {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  destroy(): void;
  unref(): void;
  on(event: "error", listener: (error: unknown) => void): unknown;
}

/** How long the first call waits for a connection being opened, at least. */
const CONNECT_TIMEOUT_MS = 2_000;

/** A command did not answer within the timeout. */
export class RedisTimeoutError extends Error {
  constructor(ms: number) {
    super(`Redis did not answer within ${ms} ms`);
    this.name = "RedisTimeoutError";
  }
}

export class RedisLink {
  readonly #timeoutMs: number;
  /** Opening a connection (TCP, TLS, HELLO) takes longer than a command: it has a bound of its own. */
  readonly #connectTimeoutMs: number;
  readonly #borrowed: RedisCommandClient | undefined;
  readonly #url: string | undefined;
  #owned: OwnedClient | undefined;
  /** The client being made (its package loaded), if it is. */
  #making: Promise<OwnedClient> | undefined;
  /** The connection being opened, if one is. */
  #connecting: Promise<void> | undefined;
  #closed = false;

  /** The scripts to load on each new connection. */
  readonly #scripts: readonly LuaScript[];
  /** Whether a client you passed has had the scripts loaded (once: its reconnections are its own). */
  #loaded = false;

  constructor(source: { readonly client: RedisCommandClient } | { readonly url: string | undefined }, timeoutMs: number, scripts: readonly LuaScript[]) {
    this.#timeoutMs = timeoutMs;
    this.#scripts = scripts;
    this.#connectTimeoutMs = Math.max(timeoutMs, CONNECT_TIMEOUT_MS);
    this.#borrowed = "client" in source ? source.client : undefined;
    this.#url = "url" in source ? source.url : undefined;
  }

  /** Starts connecting a client made from a URL, so that the first call does not wait for it. */
  open(): void {
    if (this.#borrowed === undefined) this.#client().catch(() => undefined);
  }

  /** Runs `script` on `key`; rejects on timeout, a lost connection or an error reply. */
  async run(script: LuaScript, key: string, args: readonly string[]): Promise<unknown> {
    const client = await this.#client();
    return this.#bounded(this.#timeoutMs, async (signal) => {
      try {
        return await client.sendCommand(["EVALSHA", script.sha, "1", key, ...args], { abortSignal: signal });
      } catch (error) {
        if (!/^NOSCRIPT/.test(messageOf(error))) throw error;
        return await client.sendCommand(["EVAL", script.source, "1", key, ...args], { abortSignal: signal });
      }
    });
  }

  /** Whether Redis answers a PING now (reconnecting first, for a client made from a URL). */
  async healthy(): Promise<boolean> {
    try {
      const client = await this.#client();
      await this.#bounded(this.#timeoutMs, (signal) => client.sendCommand(["PING"], { abortSignal: signal }));
      return true;
    } catch {
      return false;
    }
  }

  /** Closes the connection faultline opened; a client you passed is left as it is. */
  close(): void {
    this.#closed = true;
    const owned = this.#owned;
    this.#owned = undefined;
    if (owned?.isOpen === true) owned.destroy();
  }

  /** Bounds `work` by `ms`; what it does after that is ignored (and never an unhandled rejection). */
  #bounded<T>(ms: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const running = work(controller.signal);
    running.catch(() => undefined);
    return new Promise<T>((resolve, reject) => {
      // Not unref'd: a call waits on this, and must not see its process exit under it. It is short.
      const timer = setTimeout(() => {
        controller.abort();
        reject(new RedisTimeoutError(ms));
      }, ms);
      running.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  /**
   * The client, once connected. Loading the client package (a good half second for node-redis) is waited
   * for as long as it takes: it is this process's work, not Redis's. Opening the connection is bounded.
   */
  async #client(): Promise<RedisCommandClient> {
    if (this.#borrowed !== undefined) {
      if (!this.#loaded) await this.#bounded(this.#connectTimeoutMs, (signal) => this.#load(this.#borrowed as RedisCommandClient, signal));
      this.#loaded = true;
      return this.#borrowed;
    }
    const owned = await this.#made();
    if (!owned.isReady) await this.#bounded(this.#connectTimeoutMs, () => this.#connect(owned));
    return owned;
  }

  #made(): Promise<OwnedClient> {
    this.#making ??= this.#create();
    // A package that failed to load may load on a later try (installed meanwhile).
    this.#making.catch(() => {
      this.#making = undefined;
    });
    return this.#making;
  }

  /** Opens the client's connection, or joins the opening under way. */
  #connect(owned: OwnedClient): Promise<void> {
    this.#connecting ??= (async () => {
      if (this.#closed) throw new Error("The Redis rate-limit store is closed");
      if (!owned.isOpen) await owned.connect();
      await this.#load(owned, undefined);
    })().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  /**
   * Loads the scripts, so that EVALSHA finds them. Its NOSCRIPT fallback (to EVAL) costs more than a round
   * trip: an observation sent before a take could then land after it, and the take miss what it said.
   */
  async #load(client: RedisCommandClient, signal: AbortSignal | undefined): Promise<void> {
    await Promise.all(this.#scripts.map((script) => client.sendCommand(["SCRIPT", "LOAD", script.source], signal === undefined ? {} : { abortSignal: signal })));
  }

  async #create(): Promise<OwnedClient> {
    let redis: typeof import("redis");
    try {
      redis = await import("redis");
    } catch (error) {
      throw new Error(`faultline/redis needs the redis package (npm install redis): ${messageOf(error)}`);
    }
    const client = redis.createClient({
      ...(this.#url === undefined ? {} : { url: this.#url }),
      // Calls never queue behind a connection that is down: they fail at once and are paced locally.
      disableOfflineQueue: true,
      socket: { connectTimeout: this.#connectTimeoutMs, reconnectStrategy: false },
    }) as unknown as OwnedClient;
    // node-redis emits every lost connection as 'error'; unheard, that would crash the process. The store
    // hears of it through the commands that fail, and says so once.
    client.on("error", () => undefined);
    client.unref();
    this.#owned = client;
    return client;
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
