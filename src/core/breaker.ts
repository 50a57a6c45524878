/**
 * The circuit breaker: after enough calls in a row have failed in a way that says a service is down (5xx,
 * resets, timeouts, once their retries are spent; never a 4xx, which is a service answering), calls to it
 * fail at once with `CircuitOpenError`, sending nothing, until a single probe finds it back.
 *
 * It counts calls, not attempts: a fault that a retry absorbs is no sign of an outage, and counting
 * attempts would let a burst of them (a slow moment, timeouts landing together) open the circuit on a
 * service that is up.
 */
import { CircuitOpenError } from "./errors.js";
import type { Log } from "./log.js";

/** `circuitBreaker` as a client takes it; `false` turns it off. */
export interface CircuitBreakerOptions {
  /** Calls in a row that failed (their retries spent) that open the circuit [10]. */
  readonly failureThreshold?: number | undefined;
  /** How long it stays open before the first probe, in ms [1000]. */
  readonly openMs?: number | undefined;
  /** Each failed probe doubles the wait, up to this, in ms [30000]. */
  readonly maxOpenMs?: number | undefined;
}

export type CircuitStateName = "closed" | "open" | "half-open";

/**
 * A breaker's state, as `client.circuit()` reports it.
 *
 * @example
 * ```ts
 * const { state, failures, probeAt } = af.circuit();
 * if (state === "open") console.log(`anyformat is failing; next probe at ${new Date(probeAt!)}`);
 * ```
 */
export interface CircuitState {
  readonly state: CircuitStateName;
  /** Calls failed in a row so far (reset by any call that is not a failure). */
  readonly failures: number;
  /** When the circuit last opened (ms since the epoch), while it is open or half-open. */
  readonly openedAt: number | undefined;
  /** When the next probe may go (ms since the epoch), while it is open. */
  readonly probeAt: number | undefined;
}

/** How an attempt ended, as far as the breaker cares. */
export type Outcome = "success" | "failure" | "neutral";

export const BREAKER_DEFAULTS = { failureThreshold: 10, openMs: 1_000, maxOpenMs: 30_000 } as const;

/** What `allow` hands out: whether this attempt is the half-open probe. */
export type Permit = "normal" | "probe";

export class Breaker {
  readonly #threshold: number;
  readonly #openMs: number;
  readonly #maxOpenMs: number;
  readonly #name: string;
  readonly #log: Log;
  #state: CircuitStateName = "closed";
  #failures = 0;
  #openings = 0;
  #openedAt: number | undefined;
  #probeAt: number | undefined;

  constructor(name: string, options: CircuitBreakerOptions, log: Log) {
    this.#name = name;
    this.#log = log;
    this.#threshold = options.failureThreshold ?? BREAKER_DEFAULTS.failureThreshold;
    this.#openMs = options.openMs ?? BREAKER_DEFAULTS.openMs;
    this.#maxOpenMs = Math.max(options.maxOpenMs ?? BREAKER_DEFAULTS.maxOpenMs, this.#openMs);
  }

  /** Whether a call may be sent at all; throws `CircuitOpenError` when not. Takes no probe. */
  check(method: string, url: string, attempts: number): void {
    if (this.#state === "closed") return;
    const now = Date.now();
    if (this.#state === "open" && now >= (this.#probeAt ?? 0)) return;
    throw this.#refusal(method, url, attempts, now);
  }

  /** Lets an attempt through, as the probe when the circuit has been open long enough; else throws. */
  allow(method: string, url: string, attempts: number): Permit {
    if (this.#state === "closed") return "normal";
    const now = Date.now();
    if (this.#state === "open" && now >= (this.#probeAt ?? 0)) {
      this.#move("half-open", now);
      return "probe";
    }
    throw this.#refusal(method, url, attempts, now);
  }

  /** Whether a retry would be let through now (a retry never waits out an open circuit). */
  admitsRetry(): boolean {
    return this.#state === "closed";
  }

  record(outcome: Outcome, permit: Permit): void {
    if (permit === "probe") return this.#probeEnded(outcome);
    if (outcome === "success") this.#failures = 0;
    else if (outcome === "failure") {
      this.#failures += 1;
      if (this.#state === "closed" && this.#failures >= this.#threshold) this.#open(Date.now());
    }
  }

  state(): CircuitState {
    return { state: this.#state, failures: this.#failures, openedAt: this.#openedAt, probeAt: this.#state === "closed" ? undefined : this.#probeAt };
  }

  #probeEnded(outcome: Outcome): void {
    const now = Date.now();
    if (outcome === "success") {
      this.#failures = 0;
      this.#openings = 0;
      this.#openedAt = undefined;
      this.#probeAt = undefined;
      this.#move("closed", now);
    } else if (outcome === "failure") {
      this.#failures += 1;
      this.#open(now);
    } else {
      // The probe told nothing (the caller gave up): the next call probes again at once.
      this.#probeAt = now;
      this.#move("open", now);
    }
  }

  #open(now: number): void {
    const wait = Math.min(this.#openMs * 2 ** this.#openings, this.#maxOpenMs);
    this.#openings += 1;
    this.#openedAt = now;
    this.#probeAt = now + wait;
    this.#move("open", now);
  }

  #move(next: CircuitStateName, now: number): void {
    const previous = this.#state;
    this.#state = next;
    if (previous === next && next !== "open") return;
    const fields = { circuit: this.#name, from: previous, to: next, failures: this.#failures, ...(this.#probeAt === undefined ? {} : { probeInMs: Math.max(0, this.#probeAt - now) }) };
    if (next === "open") this.#log.warn(`faultline circuit ${this.#name} open: probing again in ${Math.max(0, (this.#probeAt ?? now) - now)} ms`, fields);
    else this.#log.info(`faultline circuit ${this.#name} ${next}`, fields);
  }

  #refusal(method: string, url: string, attempts: number, now: number): CircuitOpenError {
    // Half-open: a probe is out; the next decision comes within one open interval.
    const retryAfterMs = Math.max(1, this.#state === "open" ? (this.#probeAt ?? now) - now : this.#openMs);
    return new CircuitOpenError(`${this.#name} is failing and its circuit is open: nothing was sent (${this.#failures} failures in a row)`, {
      retryAfterMs,
      method,
      url,
      attempts,
      hint: `Try again in ${Math.ceil(retryAfterMs / 1000)} s; the circuit lets one probe through to find out whether the service is back.`,
    });
  }
}
