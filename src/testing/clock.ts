import type { Clock } from "./types.js";

/**
 * A clock that moves only when told: runs, exports and rate-limit windows then advance exactly as a
 * test says, with no real waiting.
 *
 * @example
 * ```ts
 * const clock = new ManualClock();
 * const emu = await startEmulator({ api: "anyformat", clock, stepMs: 1000 });
 * clock.advance(3000); // every run started so far has finished
 * ```
 */
export class ManualClock implements Clock {
  #now: number;

  constructor(start = Date.parse("2026-01-01T00:00:00Z")) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  advance(ms: number): void {
    this.#now += ms;
  }
}
