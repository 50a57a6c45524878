/**
 * One process of a fleet, for the Redis fleet and chaos tests and `npm run bench:fleet`: an anyformat client
 * that submits runs on `concurrency` loops from "go" until "stop" (messages from its parent over IPC), then
 * reports what happened to each call. Run it with `fork(this file, [JSON config], { execArgv: ["--import", "tsx"] })`.
 *
 * Modes: `off` (rateLimit: false), `local` (the governor with this process's own store), `redis` (the
 * governor with a store shared through Redis).
 */
import { Anyformat } from "../../src/anyformat/client.js";
import { AbortedError, FaultlineError } from "../../src/core/errors.js";
import { createRedisRateLimitStore, type RedisRateLimitStore } from "../../src/redis/index.js";

export type FleetMode = "off" | "local" | "redis";

export interface FleetWorkerConfig {
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly workflowId: string;
  readonly mode: FleetMode;
  readonly concurrency: number;
  readonly redisUrl?: string | undefined;
  readonly prefix?: string | undefined;
  /** The client's `maxRetries` [2]. */
  readonly maxRetries?: number | undefined;
}

/** What a worker tells its parent when stopped. Times are `Date.now()` values. */
export interface FleetWorkerReport {
  readonly completed: number;
  /** When each call that succeeded ended, and how long it waited for a slot. */
  readonly successes: ReadonlyArray<readonly [at: number, queuedMs: number]>;
  /** Calls that failed (an abort at "stop" is not a failure), by when and why. */
  readonly failures: ReadonlyArray<{ readonly at: number; readonly code: string; readonly message: string }>;
  /** 429s the calls met (on any attempt), counted from `onRetry` and final errors. */
  readonly met429: number;
  readonly unhandledRejections: readonly string[];
  /** The Redis store's lines, with when they were said. */
  readonly lines: ReadonlyArray<readonly [at: number, line: string]>;
}

export type FleetMessage = { readonly type: "go" } | { readonly type: "stop" };

const config = JSON.parse(process.argv[2] ?? "{}") as FleetWorkerConfig;
const unhandledRejections: string[] = [];
process.on("unhandledRejection", (reason) => unhandledRejections.push(String(reason)));

const lines: Array<readonly [number, string]> = [];
const store: RedisRateLimitStore | undefined =
  config.mode === "redis"
    ? createRedisRateLimitStore({ url: config.redisUrl, prefix: config.prefix, logger: { warn: (line) => lines.push([Date.now(), line]) } })
    : undefined;
const af = new Anyformat({
  apiKey: config.apiKey,
  baseUrl: config.baseUrl,
  rateLimit: config.mode === "off" ? false : store === undefined ? {} : { store },
  maxRetries: config.maxRetries,
  logLevel: "off",
});

const stop = new AbortController();
const successes: Array<readonly [number, number]> = [];
const failures: Array<{ at: number; code: string; message: string }> = [];
let met429 = 0;

async function loop(worker: number): Promise<void> {
  for (let i = 0; !stop.signal.aborted; i++) {
    try {
      const response = await af.workflows
        .run(config.workflowId, { text: `document ${worker}.${i}` }, { signal: stop.signal, onRetry: ({ error }) => void (is429(error) && met429++) })
        .withResponse();
      successes.push([Date.now(), response.queuedMs]);
    } catch (error) {
      if (error instanceof AbortedError && stop.signal.aborted) return;
      if (is429(error) && (error as FaultlineError).attempts > 0) met429++;
      failures.push({ at: Date.now(), code: error instanceof FaultlineError ? error.code : "UNTYPED", message: (error as Error).message });
    }
  }
}

function is429(error: unknown): boolean {
  return (error as { status?: number }).status === 429;
}

let running: Promise<unknown> | undefined;
process.on("message", (message: FleetMessage) => {
  if (message.type === "go") running = Promise.all(Array.from({ length: config.concurrency }, (_, i) => loop(i)));
  if (message.type === "stop") void finish();
});

async function finish(): Promise<void> {
  stop.abort();
  await running;
  await af.close();
  await store?.close();
  const report: FleetWorkerReport = { completed: successes.length, successes, failures, met429, unhandledRejections, lines };
  process.send?.({ type: "report", report }, () => process.disconnect());
}

// Loading node-redis takes a good half second: done before "go", so that all workers start together.
if (config.mode === "redis") await import("redis");
process.send?.({ type: "ready" });
