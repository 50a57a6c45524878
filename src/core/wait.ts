import { InvalidArgumentError, TimeoutError, type FaultlineError } from "./errors.js";
import { ATTEMPT_TIMEOUT, sleep } from "./retry.js";
import type { PollRecorder } from "./tracing/trace.js";

/**
 * The time a wait (a loop of polls) may spend: its own `waitTimeout`, and the call's `deadline` when
 * that ends first.
 *
 * - `waitTimeout` is how long to keep asking. The wait polls until it is really spent: a sleep that
 *   would run past it is shortened to end with it, and one last poll goes out then. That poll is an
 *   ordinary call (its own `timeout` and the retry policy bound it), so the wait ends just after
 *   `waitTimeout`, never before.
 * - `deadline` is a hard bound on the whole call: every poll is sent with what is left of it, and the
 *   last sleep leaves the last poll the time a poll takes (the slowest one-request poll so far; a poll
 *   that was retried inside says nothing of how long an answer takes).
 *
 * Either way it gives up early only when the server itself asks to be left alone past the end (a
 * `Retry-After`), since a poll before then would be answered "not yet" for certain.
 */
export class WaitWindow {
  readonly startedAt: number;
  /** When the wait is over: `waitTimeout` or `deadline` after it began, whichever comes first. */
  readonly endsAt: number;
  /** The limit that ends the wait, as the caller named it. */
  readonly boundBy: "waitTimeout" | "deadline";
  /** That limit's length in ms. */
  readonly limitMs: number;
  readonly #deadlineAt: number | undefined;
  #polls = 0;
  #requests = 0;
  #slowestAnswerMs = -1;
  #fastestPollMs = Infinity;

  constructor(waitTimeout: number, deadline: number | undefined, now = Date.now()) {
    this.startedAt = now;
    this.#deadlineAt = deadline === undefined ? undefined : now + deadline;
    this.boundBy = deadline !== undefined && deadline <= waitTimeout ? "deadline" : "waitTimeout";
    this.limitMs = this.boundBy === "deadline" ? (deadline as number) : waitTimeout;
    this.endsAt = now + this.limitMs;
  }

  /** Polls made so far. */
  get polls(): number {
    return this.#polls;
  }

  /** Requests sent by those polls (a poll that met a 5xx and retried sent more than one). */
  get requests(): number {
    return this.#requests;
  }

  /** Ms spent since the wait began. */
  elapsed(now = Date.now()): number {
    return now - this.startedAt;
  }

  /** The `deadline` the next poll is sent with: what is left of the call's, at least 1 ms; none without one. */
  pollDeadline(now = Date.now()): number | undefined {
    return this.#deadlineAt === undefined ? undefined : Math.max(1, this.#deadlineAt - now);
  }

  /** Records a poll that began at `startedAt` and sent `requests` requests. */
  polled(startedAt: number, requests: number, now = Date.now()): void {
    this.#polls += 1;
    this.#requests += requests;
    const took = now - startedAt;
    this.#fastestPollMs = Math.min(this.#fastestPollMs, took);
    if (requests === 1) this.#slowestAnswerMs = Math.max(this.#slowestAnswerMs, took);
  }

  /** The sleep before the first poll: at most half the wait, so that polls still fit after it. */
  firstSleep(wanted: number, now = Date.now()): number {
    return Math.max(0, Math.min(wanted, Math.floor((this.endsAt - now) / 2)));
  }

  /**
   * How long to sleep before the next poll: `interval`, or the server's `retryAfterMs` when longer,
   * shortened to end with the wait (less a poll's time, when a deadline ends it). `undefined` when the
   * wait is over: its time is spent, or the server asked for a pause that reaches past the end.
   */
  nextSleep(interval: number, retryAfterMs: number | undefined, now = Date.now()): number | undefined {
    const room = this.endsAt - now - (this.boundBy === "deadline" ? this.#pollMs() : 0);
    if (room <= 0) return undefined;
    if (retryAfterMs !== undefined && retryAfterMs > room) return undefined;
    return Math.min(Math.max(interval, retryAfterMs ?? 0), room);
  }

  /** How long a poll takes: the slowest one-request poll, else the fastest poll, else 0. */
  #pollMs(): number {
    if (this.#slowestAnswerMs >= 0) return this.#slowestAnswerMs;
    return Number.isFinite(this.#fastestPollMs) ? this.#fastestPollMs : 0;
  }

  /**
   * Whether a poll's `TimeoutError` is the call's deadline running out during the wait, rather than the
   * poll's own attempts timing out.
   */
  endedBy(error: FaultlineError): boolean {
    return (
      this.#deadlineAt !== undefined &&
      error instanceof TimeoutError &&
      (error as { [ATTEMPT_TIMEOUT]?: boolean })[ATTEMPT_TIMEOUT] !== true
    );
  }

  /** `"812 ms (7 polls; waitTimeout 800 ms)"`: how long the wait ran, and what ended it. */
  describe(now = Date.now()): string {
    const polls = `${this.#polls} ${this.#polls === 1 ? "poll" : "polls"}`;
    return `${this.elapsed(now)} ms (${polls}; ${this.boundBy} ${this.limitMs} ms)`;
  }
}

/**
 * Sleeps between two polls (`polls` made so far), cut short by `signal`, and records the pause on the
 * wait's trace however it ends.
 */
export async function pauseBetweenPolls(ms: number, signal: AbortSignal | undefined, trace: PollRecorder | undefined, polls: number): Promise<void> {
  if (trace === undefined) return sleep(ms, signal);
  const startTime = Date.now();
  try {
    await sleep(ms, signal);
  } finally {
    trace.waited(startTime, Date.now() - startTime, polls);
  }
}

/**
 * A wait's numeric option: `fallback` when not given, else a finite number of ms at least `min`.
 * Anything else is an `InvalidArgumentError` naming the option and the value, before any request, worded
 * as the client's own options are (`Invalid option waitTimeout: expected ..., got -1`).
 */
export function waitOption(name: string, value: unknown, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
    const expected = min > 0 ? "a positive, finite number of milliseconds" : "0 or a positive, finite number of milliseconds";
    throw new InvalidArgumentError(`Invalid option ${name}: expected ${expected}, got ${shown(value)}`);
  }
  return value;
}

/**
 * The value of an option that was renamed: the new name's, else the deprecated one's. Both at once is an
 * `InvalidArgumentError`: code that sets both was written for the old meaning, and guessing which to
 * honour would be wrong half the time.
 */
export function renamedOption<T>(current: T | undefined, deprecated: T | undefined, names: { current: string; deprecated: string }): T | undefined {
  if (current !== undefined && deprecated !== undefined) {
    throw new InvalidArgumentError(`Pass \`${names.current}\` only: \`${names.deprecated}\` is its deprecated name`, {
      hint: `Rename \`${names.deprecated}\` to \`${names.current}\`.`,
    });
  }
  return current ?? deprecated;
}

/** A value as an error may show it: short, and never a whole object. */
function shown(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}
