/**
 * Where the governor keeps each tier's window: how many slots were taken in it, when it ends, what the
 * server said. A store answers `take` and `observe` atomically for one key; the in-process store below is
 * the default, and `faultline/redis` gives one that a fleet of processes shares.
 */

/**
 * A tier's size: `limit` requests per `windowMs`.
 *
 * @example
 * ```ts
 * const submission: TierPolicy = { limit: 20, windowMs: 2_000, explicit: true };
 * ```
 */
export interface TierPolicy {
  readonly limit: number;
  readonly windowMs: number;
  /**
   * Set by the user (`rateLimit.tiers`) rather than assumed from the API's documentation: then `limit` is a
   * ceiling the server's headers may lower but never raise, and `windowMs` is not relearned.
   */
  readonly explicit?: boolean | undefined;
}

/** The answer to `take`: a slot in window `window`, or how long until one may be free. */
export type Slot =
  | { readonly granted: true; readonly window: number }
  | {
      readonly granted: false;
      readonly waitMs: number;
      /** The tier's limit and window as the store knows them now, to estimate longer waits. */
      readonly limit: number | undefined;
      readonly windowMs: number | undefined;
      /** Refused while the tier's first request is out to learn its size: the limit above is only assumed. */
      readonly probing?: boolean | undefined;
      /**
       * `waitMs` rests on an assumption, not on the server's word: it has spoken x-ratelimit-* before, but
       * no answer of this window has bounded its end yet.
       */
      readonly guess?: boolean | undefined;
      /** `windowMs` is the documented length, not yet heard from a server that speaks x-ratelimit-*. */
      readonly windowGuess?: boolean | undefined;
    };

/** What a response said about its tier. */
export interface RateObservation {
  /** The window the request's slot came from; facts about another window are not applied to this one. */
  readonly window: number | undefined;
  /** Whether the server answered at all (with or without rate-limit headers). */
  readonly answered?: boolean | undefined;
  /** `x-ratelimit-limit`. */
  readonly limit?: number | undefined;
  /** `x-ratelimit-remaining`. */
  readonly remaining?: number | undefined;
  /** `x-ratelimit-reset`, in ms: the server's window ends no later than this from now. */
  readonly resetMs?: number | undefined;
  /** A 429's wait: nobody in the tier is sent anything for this long. */
  readonly blockMs?: number | undefined;
}

/**
 * A shared account of slots. Both methods must be atomic per key (the Redis store runs each as one script).
 * `policy` is the tier's assumed or configured size; `undefined` when nothing is known (pace from 429s only).
 * faultline ships two: the in-process default and `createRedisRateLimitStore()` from `faultline/redis`.
 *
 * @example
 * ```ts
 * import { createRedisRateLimitStore } from "faultline/redis";
 * const store: RateLimitStore = createRedisRateLimitStore({ url: process.env.REDIS_URL });
 * const af = new Anyformat({ rateLimit: { store } });
 * ```
 */
export interface RateLimitStore {
  take(key: string, policy: TierPolicy | undefined): Slot | Promise<Slot>;
  observe(key: string, policy: TierPolicy | undefined, observation: RateObservation): void | Promise<void>;
  /** Releases what the store holds (connections); the in-process store holds nothing. */
  close?(): Promise<void>;
}

interface Window {
  id: number;
  count: number;
  /** When the window ends (ms since the epoch): a guess until the server bounds it, then that bound. */
  end: number;
  endKnown: boolean;
  /** What the server's headers said the limit is. */
  limit: number | undefined;
  /** The window length learned from the first response of a server window. */
  windowMs: number | undefined;
  blockedUntil: number;
  /** Whether a server answer has been seen for this tier: until then, one request at a time finds out its size. */
  probed: boolean;
  /** While the probe is out, nobody else goes, until this time (it may never answer). */
  probeUntil: number;
  /**
   * The part of the tier this store takes (1: all of it). A 429 halves it; each window that ends without
   * one gives back a slot. Processes that cannot see each other (no shared store) so settle on shares
   * that fit the tier together, instead of each bursting the whole of it.
   */
  share: number;
  /** Whether a 429 was met in the current window. */
  hit: boolean;
  /** Whether the server says how many requests remain (`x-ratelimit-remaining`): then it can tell us we are alone. */
  counted: boolean;
  /** The slots this store granted in the current window. */
  mine: number;
  /** Slots this store granted that the server's count has not yet been seen to include. */
  pending: number;
  /** The server's count (limit - remaining) at the last answer that gave one. */
  lastUsed: number;
  /** What the server counted that others sent; halved at each cut, so old news fades. */
  others: number;
}

/**
 * The tier rules, the same in every store (the Redis store's Lua script is this, line for line):
 *
 * - A window opens at the first slot taken after the last one ended, and is guessed to end `windowMs`
 *   later plus a small guard. Each response then bounds its real end: the server's window ends no later
 *   than `now + x-ratelimit-reset` (the header is rounded up), so the window ends at the tightest such bound.
 * - `x-ratelimit-remaining` says how many the server has counted: slots taken by others (another process
 *   on the same key) count too.
 * - A 429 blocks the tier for its `Retry-After`, and the window is spent until then.
 * - Until a tier with an assumed size has seen one answer, one request at a time goes out to learn its
 *   real size ("learn before you burst"): a burst sized to the documentation would meet 429s on a smaller
 *   tier. A tier whose size the user configured, or that has no known size at all, skips this.
 * - A 429 halves the part of the limit the store takes, or cuts it to what the store got in that window
 *   when that is less (others took the rest), never below one slot; a window that ends without one gives a
 *   slot back (additive increase, multiplicative decrease, as TCP shares a link).
 */
export const PROBE_LEASE_MS = 250;

/**
 * What a server's word may hold the tier for, at most: a window's end no further off than twice its
 * length, a 429's block no longer than a day. A lying header must not lock a client out for years.
 */
const MAX_BLOCK_MS = 24 * 60 * 60 * 1000;
function resetCap(windowMs: number | undefined): number {
  return 2 * Math.max(windowMs ?? 60_000, 1_000);
}

export function guardMs(windowMs: number): number {
  return Math.min(1_000, Math.ceil(windowMs * 0.05));
}

/** The slots a window grants: the tier's limit, times the store's share of it, at least one. */
export function sharedLimit(limit: number | undefined, share: number): number | undefined {
  return limit === undefined ? undefined : Math.max(1, Math.floor(limit * share));
}

/**
 * The share after a window's first 429. A server that counts (`x-ratelimit-remaining`) tells whether others
 * use the tier: if its count never grew by more than this store sent, nobody else does, the 429 was not
 * about the share (a fault, a proxy), and the share stands. If others took part, the share becomes what
 * this store got of the window (its grants but the refused one), or half when that is more, so eight
 * processes that each burst the whole tier settle in two windows, not in three; but never less than a
 * quarter of what it was: the server's count can be stale (a cache, a replayed answer) and make others
 * out of nobody, and one such 429 must not leave a client a slot a minute. A server that does not count
 * gets halving.
 */
function shrunk(w: Pick<Window, "share" | "counted" | "others" | "mine">, limit: number | undefined): number {
  if (limit === undefined || !w.counted) return w.share / 2;
  if (w.others < 1) return w.share;
  return Math.max(w.share / 4, Math.min(w.share / 2, Math.max(1, w.mine - 1) / Math.max(1, limit)));
}

/**
 * Splits what the server counted since its last answer into ours (slots this store granted that were not
 * yet seen counted) and others' (the rest, which is what is kept). Answers overtaking each other make the server's count look
 * lower by at most what is still in flight: such an answer is late news and is skipped. A count that fell
 * by more is a new server window: it is taken as the new base, unattributed (whose requests they were is
 * unknown).
 */
function attribute(w: Pick<Window, "pending" | "lastUsed" | "others">, used: number): void {
  if (used < w.lastUsed) {
    if (w.lastUsed - used > w.pending) w.lastUsed = used;
    return;
  }
  const counted = used - w.lastUsed;
  const ours = Math.min(counted, w.pending);
  w.pending -= ours;
  w.others += counted - ours;
  w.lastUsed = used;
}

/** What a window that ended gives back to the share: a slot when no 429 came, none otherwise. */
export function regrown(share: number, hit: boolean, limit: number | undefined): number {
  return hit || share >= 1 ? share : Math.min(1, share + 1 / Math.max(1, limit ?? 1));
}

export function effectiveLimit(policy: TierPolicy | undefined, learned: number | undefined): number | undefined {
  if (policy === undefined) return learned;
  if (learned === undefined) return policy.limit;
  return policy.explicit === true ? Math.min(policy.limit, learned) : learned;
}

/** The default store: this process's tiers, in memory. */
export class MemoryRateLimitStore implements RateLimitStore {
  readonly #windows = new Map<string, Window>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  take(key: string, policy: TierPolicy | undefined): Slot {
    const now = this.#now();
    const w = this.#window(key);
    if (now < w.blockedUntil) return this.#refused(w, policy, w.blockedUntil - now);
    if (policy !== undefined && policy.explicit !== true && !w.probed) {
      if (now < w.probeUntil) return { ...this.#refused(w, policy, w.probeUntil - now), probing: true };
      w.probeUntil = now + PROBE_LEASE_MS;
    }
    const windowMs = policy?.explicit === true ? policy.windowMs : (w.windowMs ?? policy?.windowMs);
    const full = effectiveLimit(policy, w.limit);
    if (now >= w.end) {
      w.id += 1;
      w.count = 0;
      w.end = windowMs === undefined ? now : now + windowMs + guardMs(windowMs);
      w.endKnown = false;
      w.share = regrown(w.share, w.hit, full);
      w.hit = false;
      w.mine = 0;
    }
    const limit = sharedLimit(full, w.share);
    if (limit === undefined || w.count < limit) {
      w.count += 1;
      w.pending += 1;
      w.mine += 1;
      return { granted: true, window: w.id };
    }
    // A server that speaks x-ratelimit-* will bound this window with its first answer; until then its end is a
    // guess. One that never does leaves the documented length as the best word there is.
    const guess = !w.endKnown && w.limit !== undefined;
    return guess ? { ...this.#refused(w, policy, w.end - now), guess: true } : this.#refused(w, policy, w.end - now);
  }

  observe(key: string, policy: TierPolicy | undefined, o: RateObservation): void {
    const now = this.#now();
    const w = this.#window(key);
    // Whatever happened to the probe, the next request may go: with the tier's size known, or as the next probe.
    w.probeUntil = 0;
    if (o.answered === true) w.probed = true;
    if (o.limit !== undefined) w.limit = o.limit;
    const limit = effectiveLimit(policy, w.limit);
    if (o.blockMs !== undefined) {
      const until = now + Math.min(o.blockMs, MAX_BLOCK_MS);
      w.blockedUntil = Math.max(w.blockedUntil, until);
      if (!w.hit) {
        w.share = shrunk(w, w.limit === undefined ? undefined : limit);
        w.others /= 2;
      }
      w.hit = true;
      // The server's window is spent until then, and over by then: the next one opens when the block ends.
      w.count = Number.MAX_SAFE_INTEGER;
      w.end = w.blockedUntil;
      w.endKnown = true;
      return;
    }
    if (o.remaining !== undefined && limit !== undefined) {
      w.counted = true;
      attribute(w, limit - o.remaining);
    }
    if (o.window !== w.id) return;
    if (o.remaining !== undefined && limit !== undefined) w.count = Math.max(w.count, limit - o.remaining);
    if (o.resetMs !== undefined) {
      const windowMs = policy?.explicit === true ? policy.windowMs : (w.windowMs ?? policy?.windowMs);
      const bound = now + Math.min(o.resetMs, resetCap(windowMs));
      if (!w.endKnown || bound < w.end) {
        w.end = bound;
        w.endKnown = true;
      }
      // A window lasts at least as long as any reset the server gave in it; the first request of a window
      // sees it whole (the header is whole seconds, rounded up).
      if (policy?.explicit !== true) w.windowMs = Math.max(w.windowMs ?? 1, Math.min(o.resetMs, MAX_BLOCK_MS));
    }
  }

  #window(key: string): Window {
    let w = this.#windows.get(key);
    if (w === undefined) {
      w = { id: 0, count: 0, end: 0, endKnown: false, limit: undefined, windowMs: undefined, blockedUntil: 0, probed: false, probeUntil: 0, share: 1, hit: false, counted: false, mine: 0, pending: 0, lastUsed: 0, others: 0 };
      this.#windows.set(key, w);
    }
    return w;
  }

  #refused(w: Window, policy: TierPolicy | undefined, waitMs: number): Extract<Slot, { granted: false }> {
    const windowMs = policy?.explicit === true ? policy.windowMs : (w.windowMs ?? policy?.windowMs);
    const limit = sharedLimit(effectiveLimit(policy, w.limit), w.share);
    const refused = { granted: false, waitMs: Math.max(1, Math.ceil(waitMs)), limit, windowMs } as const;
    return policy?.explicit !== true && w.windowMs === undefined && w.limit !== undefined ? { ...refused, windowGuess: true } : refused;
  }
}
