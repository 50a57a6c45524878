/**
 * The rate-limit governor: before each attempt a call takes a slot for its tier, waiting its turn (first
 * come, first served) when the tier's window is spent, so that concurrency alone never meets a 429. It
 * learns each tier from the `x-ratelimit-*` headers of every response and from 429s, through a store that
 * one process (the default) or a fleet (`faultline/redis`) shares.
 */
import { createHash } from "node:crypto";
import { AbortedError, RateLimitedError, TimeoutError } from "../errors.js";
import { MemoryRateLimitStore, type RateLimitStore, type RateObservation, type Slot, type TierPolicy } from "./store.js";

/**
 * `rateLimit` as a client takes it.
 *
 * @example
 * ```ts
 * const af = new Anyformat({ rateLimit: { tiers: { submission: { limit: 10, windowMs: 2_000 } } } });
 * ```
 */
export interface RateLimitOptions {
  /** Where tiers are counted: this process by default, or a fleet's (`createRedisRateLimitStore`). */
  readonly store?: RateLimitStore | undefined;
  /** Tier sizes to use instead of the API's documented ones, e.g. `{ submission: { limit: 20, windowMs: 2000 } }`. */
  readonly tiers?: Readonly<Record<string, { readonly limit: number; readonly windowMs: number }>> | undefined;
}

/**
 * What `onRateLimitWait` is told when a call must wait for a slot.
 *
 * @example
 * ```ts
 * const af = new Anyformat({ onRateLimitWait: ({ tier, waitMs }) => console.log(`${tier}: waiting ${waitMs} ms`) });
 * ```
 */
export interface RateLimitWaitInfo {
  readonly tier: string;
  /** How long the wait is expected to last. */
  readonly waitMs: number;
  /** The attempt the slot is for (1 for the first). */
  readonly attempt: number;
}

/** A slot taken: what to tell the store about the response, and how long the call waited for it. */
export interface Ticket {
  readonly key: string;
  readonly tier: string;
  readonly window: number | undefined;
  readonly policy: TierPolicy | undefined;
  readonly queuedMs: number;
}

/** How long a call may wait for a slot, and who may stop it. */
export interface WaitLimits {
  readonly signal: AbortSignal | undefined;
  readonly deadlineAt: number | undefined;
  /** Longer expected waits are not waited: the call fails at once (the call's `maxRetryAfter`). */
  readonly maxWaitMs: number;
  readonly attempt: number;
  readonly onWait: ((info: RateLimitWaitInfo) => void) | undefined;
  /** For errors: the request that would have been sent. */
  readonly method: string;
  readonly url: string;
}

/** What a response said, as the transport read it. */
export interface RateFacts {
  readonly status?: number | undefined;
  readonly limit?: number | undefined;
  readonly remaining?: number | undefined;
  readonly resetMs?: number | undefined;
  readonly retryAfterMs?: number | undefined;
}

interface Waiter {
  readonly ticketBase: Omit<Ticket, "window" | "queuedMs">;
  readonly limits: WaitLimits;
  readonly enqueued: number;
  readonly resolve: (ticket: Ticket) => void;
  readonly reject: (error: Error) => void;
  cleanup(): void;
}

/** How long a 429 with no hint at all blocks its tier. */
export const DEFAULT_BLOCK_MS = 1_000;

/** The process-wide store: clients on the same API, base URL and key share their tiers' windows. */
const processStore = new MemoryRateLimitStore();

export class Governor {
  readonly #store: RateLimitStore;
  readonly #namespace: string;
  readonly #policies: Readonly<Record<string, TierPolicy>>;
  readonly #queues = new Map<string, Waiter[]>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  /** When each queue's wake-up is due (ms since the epoch). */
  readonly #wakeAt = new Map<string, number>();
  /** Keys whose queue is being served now, and those of them that had news meanwhile. */
  readonly #serving = new Set<string>();
  readonly #news = new Set<string>();
  /** The store's last refusal for each key, and when it came. */
  readonly #refusals = new Map<string, Extract<Slot, { granted: false }> & { readonly at: number }>();
  /** Tiers this governor has seen an answer for: past that, answers without rate-limit facts need no telling. */
  readonly #answered = new Set<string>();

  /**
   * @param api names the API in store keys; `apiKey` is hashed into them, never stored; `documented` are
   * the API's published tier sizes, which `options.tiers` override.
   */
  constructor(api: string, apiKey: string | undefined, documented: Readonly<Record<string, TierPolicy>>, options: RateLimitOptions = {}) {
    this.#store = options.store ?? processStore;
    const keyHash = createHash("sha256").update(apiKey ?? "").digest("hex").slice(0, 16);
    this.#namespace = `${api}:${keyHash}`;
    const policies: Record<string, TierPolicy> = { ...documented };
    for (const [tier, size] of Object.entries(options.tiers ?? {})) policies[tier] = { ...size, explicit: true };
    this.#policies = policies;
  }

  /**
   * A slot for `tier` at `origin`: at once when one is free and nobody waits before this call (no promise,
   * no timer), else after its turn. Fails at once with `RateLimitedError` (nothing sent) when the wait
   * would outlast `maxWaitMs` or the deadline.
   */
  acquire(tier: string, origin: string, limits: WaitLimits): Ticket | Promise<Ticket> {
    const key = `${this.#namespace}:${origin}:${tier}`;
    const base = { key, tier, policy: this.#policies[tier] };
    const queue = this.#queues.get(key);
    if (queue !== undefined && queue.length > 0) {
      const known = this.#lastRefusal(key);
      return this.#wait(base, this.#estimate(queue.length, known, base.policy), known?.limit ?? base.policy?.limit, limits);
    }
    const slot = this.#store.take(key, base.policy);
    if (!(slot instanceof Promise)) return this.#settle(base, slot, limits);
    return slot.then((s) => this.#settle(base, s, limits));
  }

  /**
   * Tells the tier's store how an attempt ended: what the server said about the tier, or that it did not
   * answer. Never fails a call: pacing is advice, the call's own outcome stands.
   */
  observe(ticket: Ticket, facts: RateFacts): void {
    const answered = facts.status !== undefined;
    const observation: RateObservation =
      facts.status === 429
        ? { window: ticket.window, answered, limit: facts.limit, blockMs: facts.retryAfterMs ?? facts.resetMs ?? DEFAULT_BLOCK_MS }
        : { window: ticket.window, answered, limit: facts.limit, remaining: facts.remaining, resetMs: facts.resetMs };
    const news = facts.limit !== undefined || facts.remaining !== undefined || facts.resetMs !== undefined || facts.status === 429;
    const first = !this.#answered.has(ticket.key);
    if (!news && !first) return;
    if (answered) this.#answered.add(ticket.key);
    try {
      const done = this.#store.observe(ticket.key, ticket.policy, observation);
      if (done instanceof Promise) done.catch(() => undefined);
    } catch {
      // As above.
    }
    // A tier's first answer (its size now known) or a 429 (its next opening moved): waiters re-time themselves.
    if (first || facts.status === 429) this.#schedule(ticket.key, 0);
    // A window found to end sooner than the queue's wake-up: wake it then, not a window's guard later.
    else if (facts.resetMs !== undefined && Date.now() + facts.resetMs < (this.#wakeAt.get(ticket.key) ?? -Infinity)) {
      this.#schedule(ticket.key, facts.resetMs);
    }
  }

  #settle(base: Waiter["ticketBase"], slot: Slot, limits: WaitLimits): Ticket | Promise<Ticket> {
    if (slot.granted) return { ...base, window: slot.window, queuedMs: 0 };
    this.#refusals.set(base.key, { ...slot, at: Date.now() });
    const ahead = this.#queues.get(base.key)?.length ?? 0;
    return this.#wait(base, this.#estimate(ahead, slot, base.policy), slot.limit, limits);
  }

  /**
   * The expected wait of a call with `ahead` waiters before it: until the window ends, then a window per
   * `limit` of them; and of that, the part that rests on the server's word (`sureMs`). Only the sure part
   * may refuse a call: a probe still out, a window end not yet bounded by an answer, or a window length not
   * yet heard are assumptions, and a call is not failed on an assumption; it waits, and is judged again
   * once the answer is in.
   */
  #estimate(ahead: number, slot: Extract<Slot, { granted: false }> | undefined, policy: TierPolicy | undefined): Estimate {
    // The probe's answer comes back in a round trip, as a rule: its lease is only how long it may take.
    if (slot?.probing === true) return { ms: 0, sureMs: 0 };
    const first = slot?.waitMs ?? 0;
    const limit = slot?.limit ?? policy?.limit;
    const windowMs = slot?.windowMs ?? policy?.windowMs;
    const windows = limit === undefined || windowMs === undefined || limit <= 0 ? 0 : Math.floor(ahead / limit) * windowMs;
    const sureFirst = slot === undefined || slot.guess === true ? 0 : first;
    return { ms: first + windows, sureMs: slot?.windowGuess === true || slot?.guess === true ? sureFirst : sureFirst + windows };
  }

  /**
   * What the store said when it last refused a slot of `key`, its wait counted from now: a call that joins
   * the queue is judged on the tier as the store knows it (learnt, or being learnt by a probe), not on the
   * size the documentation assumes.
   */
  #lastRefusal(key: string): Extract<Slot, { granted: false }> | undefined {
    const last = this.#refusals.get(key);
    return last === undefined ? undefined : { ...last, waitMs: Math.max(0, last.at + last.waitMs - Date.now()) };
  }

  /** Whether a wait of `expectedMs` from now is one the call may not make: past `maxWaitMs` or its deadline. */
  #tooLong(expectedMs: number, limits: WaitLimits): boolean {
    return expectedMs > limits.maxWaitMs || (limits.deadlineAt !== undefined && Date.now() + expectedMs > limits.deadlineAt);
  }

  /**
   * Queues a call for a slot, or refuses it at once when its wait is known to be too long. A wait that
   * rests on an assumption (a probe still out, a window length not yet heard from the server) refuses
   * nothing: the call waits, and is judged again when the server's answer is in.
   */
  #wait(base: Waiter["ticketBase"], estimate: Estimate, limit: number | undefined, limits: WaitLimits): Promise<Ticket> {
    const expectedMs = estimate.ms;
    if (this.#tooLong(estimate.sureMs, limits)) return Promise.reject(tooLong(base.tier, estimate.sureMs, limit, limits));
    if (limits.signal?.aborted) return Promise.reject(aborted());
    try {
      limits.onWait?.({ tier: base.tier, waitMs: expectedMs, attempt: limits.attempt });
    } catch {
      // A hook that throws does not change what the governor does.
    }
    const now = Date.now();
    return new Promise<Ticket>((resolve, reject) => {
      const queue = this.#queues.get(base.key) ?? [];
      this.#queues.set(base.key, queue);
      let deadlineTimer: NodeJS.Timeout | undefined;
      const onAbort = (): void => {
        waiter.cleanup();
        reject(aborted());
      };
      const waiter: Waiter = {
        ticketBase: base,
        limits,
        enqueued: now,
        resolve,
        reject,
        cleanup: () => {
          const at = queue.indexOf(waiter);
          if (at >= 0) queue.splice(at, 1);
          if (queue.length === 0) this.#unschedule(base.key);
          if (deadlineTimer !== undefined) clearTimeout(deadlineTimer);
          limits.signal?.removeEventListener("abort", onAbort);
        },
      };
      limits.signal?.addEventListener("abort", onAbort, { once: true });
      if (limits.deadlineAt !== undefined) {
        deadlineTimer = setTimeout(() => {
          waiter.cleanup();
          reject(new TimeoutError(`${limits.method} ${limits.url} ran past its deadline waiting for a ${base.tier} slot`, { method: limits.method, url: limits.url, attempts: limits.attempt - 1 }));
        }, Math.max(0, limits.deadlineAt - now));
      }
      queue.push(waiter);
      // The first waiter sets the wake-up; a probing tier is woken by the probe's answer (or its lease ending).
      this.#schedule(base.key, queue.length === 1 ? expectedMs : undefined);
    });
  }

  /**
   * Wakes the queue of `key` after `ms` (or keeps the wake-up already set, when `ms` is undefined). While
   * the queue is being served, its server sets the next wake-up when it stops; news (`ms` given) makes it
   * look again at once, since the answer it is waiting for may predate them.
   */
  #schedule(key: string, ms: number | undefined): void {
    if (this.#serving.has(key)) {
      if (ms !== undefined) this.#news.add(key);
      return;
    }
    const existing = this.#timers.get(key);
    if (ms === undefined && existing !== undefined) return;
    if (existing !== undefined) clearTimeout(existing);
    const delay = Math.max(0, ms ?? 0);
    this.#wakeAt.set(key, Date.now() + delay);
    const timer = setTimeout(() => {
      this.#timers.delete(key);
      this.#wakeAt.delete(key);
      void this.#drain(key);
    }, delay);
    // Not unref'd: a call waiting in the queue has nothing else keeping its process alive (no socket, no
    // timer of its own), and a script whose last call waits for a slot would end with the call unsettled.
    this.#timers.set(key, timer);
  }

  /** Drops the wake-up of a queue nobody waits in any more: it alone would keep the process alive. */
  #unschedule(key: string): void {
    const timer = this.#timers.get(key);
    if (timer !== undefined) clearTimeout(timer);
    this.#timers.delete(key);
    this.#wakeAt.delete(key);
  }

  /**
   * Serves the queue of `key`, one server at a time: with a store that answers asynchronously (Redis), two
   * servers would each take a slot for the same head of the queue, and one of the two slots would be lost.
   */
  async #drain(key: string): Promise<void> {
    this.#serving.add(key);
    let next: number | undefined;
    try {
      next = await this.#serve(key);
    } finally {
      this.#serving.delete(key);
    }
    const news = this.#news.delete(key);
    // A call may have joined (a new queue) after the server found its queue empty and before it stopped.
    if ((this.#queues.get(key)?.length ?? 0) === 0) return;
    this.#schedule(key, news || next === undefined ? 0 : next);
  }

  /**
   * Hands out slots to the waiters of `key` in order until the store refuses; then tells each waiter left
   * whose turn now lies past its `maxRetryAfter` or deadline (the tier's real size may just have been
   * learnt), and answers how long until the next slot may be free (`undefined` once the queue is empty).
   */
  async #serve(key: string): Promise<number | undefined> {
    const queue = this.#queues.get(key);
    while (queue !== undefined && queue.length > 0) {
      const policy = (queue[0] as Waiter).ticketBase.policy;
      let slot: Slot;
      try {
        slot = await this.#store.take(key, policy);
      } catch {
        slot = { granted: false, waitMs: 100, limit: undefined, windowMs: undefined };
      }
      if (slot.granted) {
        // The slot goes to whoever heads the queue now: the waiter it was taken for may have been aborted
        // while the store answered, and a slot taken is a slot spent.
        const head = queue[0];
        if (head === undefined) break;
        head.cleanup();
        head.resolve({ ...head.ticketBase, window: slot.window, queuedMs: Date.now() - head.enqueued });
        continue;
      }
      this.#refusals.set(key, { ...slot, at: Date.now() });
      this.#refuseTheHopeless(queue, slot);
      if (queue.length > 0) return slot.waitMs;
    }
    this.#queues.delete(key);
    return undefined;
  }

  #refuseTheHopeless(queue: Waiter[], slot: Extract<Slot, { granted: false }>): void {
    for (const [position, waiter] of [...queue].entries()) {
      const { sureMs } = this.#estimate(position, slot, waiter.ticketBase.policy);
      if (!this.#tooLong(sureMs, waiter.limits)) continue;
      waiter.cleanup();
      waiter.reject(tooLong(waiter.ticketBase.tier, sureMs, slot.limit, waiter.limits));
    }
  }
}

/** A wait foreseen: all of it, and the part the server's word stands behind. */
interface Estimate {
  readonly ms: number;
  readonly sureMs: number;
}

function aborted(): AbortedError {
  return new AbortedError("The call was aborted while waiting for a rate-limit slot");
}

function tooLong(tier: string, waitMs: number, limit: number | undefined, limits: WaitLimits): RateLimitedError {
  const seconds = (waitMs / 1000).toFixed(1);
  const byDeadline = limits.deadlineAt !== undefined && Date.now() + waitMs > limits.deadlineAt && waitMs <= limits.maxWaitMs;
  return new RateLimitedError({
    status: 429,
    code: "RATE_LIMITED",
    message: `The ${tier} rate limit has no slot for ${seconds} s, ${byDeadline ? "past the call's deadline" : `longer than maxRetryAfter (${limits.maxWaitMs} ms)`}: nothing was sent`,
    retryable: true,
    hint: "Schedule the call for later (retryAfterMs), or raise maxRetryAfter to wait longer.",
    retryAfterMs: waitMs,
    rateLimit: { limit, remaining: 0, resetMs: waitMs },
    headers: {},
    body: undefined,
    method: limits.method,
    url: limits.url,
    attempts: limits.attempt - 1,
  });
}
