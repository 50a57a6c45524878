/**
 * What the reliability tests share: the run size (CI or soak), resource accounting for leak checks,
 * a bounded-concurrency runner and a tally of outcomes by error class.
 */
import { FaultlineError } from "../../src/core/errors.js";

/** `npm run soak` sets FAULTLINE_SOAK=full; CI runs the reduced size. */
export const SOAK = process.env["FAULTLINE_SOAK"] === "full";

export function size(full: number, reduced: number): number {
  return SOAK ? full : reduced;
}

/** Test timeout for a reliability test: generous at full size, tight enough in CI. */
export function budget(fullMs: number, reducedMs: number): number {
  return SOAK ? fullMs : reducedMs;
}

/** How many handles of each kind keep the event loop alive (`TCPSocketWrap`, `Timeout`, ...). */
export function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

const WATCHED = ["TCPSocketWrap", "TCPServerWrap", "Timeout", "Immediate"];

/**
 * The watched handles open now beyond `before`, after waiting up to `settleMs` for them to close:
 * closing a socket or clearing a timer can take a turn or two of the event loop.
 */
export async function leakedSince(before: Record<string, number>, settleMs = 2_000): Promise<Record<string, number>> {
  const until = Date.now() + settleMs;
  for (;;) {
    const now = activeResources();
    const extra: Record<string, number> = {};
    for (const kind of WATCHED) {
      const delta = (now[kind] ?? 0) - (before[kind] ?? 0);
      if (delta > 0) extra[kind] = delta;
    }
    if (Object.keys(extra).length === 0 || Date.now() >= until) return extra;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Runs `task` over `0..total-1` with at most `concurrency` in flight. */
export async function runPool(total: number, concurrency: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      while (next < total) {
        const index = next++;
        await task(index);
      }
    }),
  );
}

/** Outcomes of many calls: successes, and failures by error class (name), with anything foreign kept apart. */
export class Tally {
  calls = 0;
  successes = 0;
  readonly failures: Record<string, number> = {};
  /** Throws that were not a `FaultlineError`: must stay empty. */
  readonly foreign: unknown[] = [];

  success(): void {
    this.calls++;
    this.successes++;
  }

  failure(error: unknown): void {
    this.calls++;
    if (error instanceof FaultlineError) {
      this.failures[error.name] = (this.failures[error.name] ?? 0) + 1;
    } else {
      this.foreign.push(error);
    }
  }

  get failed(): number {
    return this.calls - this.successes;
  }

  summary(): string {
    const byClass = Object.entries(this.failures)
      .sort((a, b) => b[1] - a[1])
      .map(([name, n]) => `${name} ${n}`)
      .join(", ");
    return `${this.calls} calls: ${this.successes} succeeded, ${this.failed} failed (${byClass || "none"})${
      this.foreign.length > 0 ? `, ${this.foreign.length} NOT FaultlineError` : ""
    }`;
  }
}

/** Collects unhandled rejections while a test runs. */
export function watchUnhandledRejections(): { readonly reasons: unknown[]; stop(): void } {
  const reasons: unknown[] = [];
  const listener = (reason: unknown): void => {
    reasons.push(reason);
  };
  process.on("unhandledRejection", listener);
  return { reasons, stop: () => process.off("unhandledRejection", listener) };
}
