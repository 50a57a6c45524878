/**
 * The retry budget, in the AWS SDKs' standard-mode style: retries spend tokens from a pool the client
 * shares across calls, and answers earn them back. When a service fails every call, the pool runs dry
 * after a few dozen retries and calls stop multiplying the load; while it answers, the pool stays full.
 */

/** `retryBudget` as a client takes it; `false` turns it off. */
export interface RetryBudgetOptions {
  /** Tokens the pool holds when full [500]. */
  readonly capacity?: number | undefined;
  /** What a retry costs [5]. */
  readonly retryCost?: number | undefined;
  /** What a retry after a timeout costs: a timed-out service is the most burdened [10]. */
  readonly timeoutCost?: number | undefined;
  /** What a call that succeeds on its first attempt earns [1]. */
  readonly successReward?: number | undefined;
}

/**
 * The budget's state, as `client.retryBudget()` reports it.
 *
 * @example
 * ```ts
 * const { available, capacity } = af.retryBudget();
 * ```
 */
export interface RetryBudgetState {
  readonly available: number;
  readonly capacity: number;
}

/** What kind of retry is asked for: a 429 with the server's own wait costs nothing. */
export type RetryKind = "retry" | "timeout" | "invited";

export const BUDGET_DEFAULTS = { capacity: 500, retryCost: 5, timeoutCost: 10, successReward: 1 } as const;

export class RetryBudget {
  readonly #capacity: number;
  readonly #costs: Readonly<Record<RetryKind, number>>;
  readonly #reward: number;
  #tokens: number;

  constructor(options: RetryBudgetOptions) {
    this.#capacity = options.capacity ?? BUDGET_DEFAULTS.capacity;
    this.#costs = {
      retry: options.retryCost ?? BUDGET_DEFAULTS.retryCost,
      timeout: options.timeoutCost ?? BUDGET_DEFAULTS.timeoutCost,
      invited: 0,
    };
    this.#reward = options.successReward ?? BUDGET_DEFAULTS.successReward;
    this.#tokens = this.#capacity;
  }

  /** Takes a retry's cost; `undefined` when the pool cannot pay it (no retry then). */
  spend(kind: RetryKind): number | undefined {
    const cost = this.#costs[kind];
    if (cost > this.#tokens) return undefined;
    this.#tokens -= cost;
    return cost;
  }

  /**
   * A call succeeded: after retries, what they cost comes back (the service answers again); on the first
   * attempt, a small reward.
   */
  succeeded(spent: number): void {
    this.#tokens = Math.min(this.#capacity, this.#tokens + (spent > 0 ? spent : this.#reward));
  }

  state(): RetryBudgetState {
    return { available: this.#tokens, capacity: this.#capacity };
  }
}
