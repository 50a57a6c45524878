/**
 * Replaying by `Idempotency-Key`, as APIs that honour it do: what makes a retried POST safe. Only answers
 * to requests the API carried out are kept.
 */
import type { EmulatorRequest, EmulatorResponse } from "./types.js";

/**
 * Refusals on the request's own merits: the API looked at what was asked and said no, and would say so
 * again. Everything else below 500 (a 401 or 403 before the API looked, a 429, a 423, a redirect, a 405)
 * says nothing about the request itself.
 */
const REFUSED_ON_MERITS = new Set([400, 404, 409, 410, 413, 422]);

/**
 * Whether an answer may be replayed by `Idempotency-Key`: only when the API carried the request out (a
 * 2xx) or refused it on its merits. A stored 429 would be replayed after the window reset, so a keyed
 * retry could never get through; a stored 401 would outlive the fixed key.
 */
function carriedOut(status: number): boolean {
  return (status >= 200 && status < 300) || REFUSED_ON_MERITS.has(status);
}

export class ReplayStore {
  readonly #answers = new Map<string, EmulatorResponse>();

  /** The stored answer to a keyed request seen before, or the app's (stored when it may be replayed). */
  async answer(request: EmulatorRequest, handle: () => Promise<EmulatorResponse>): Promise<{ answer: EmulatorResponse; replayed: boolean }> {
    const key = request.headers["idempotency-key"];
    const slot = key === undefined ? undefined : `${request.method} ${request.path} ${key}`;
    const stored = slot === undefined ? undefined : this.#answers.get(slot);
    if (stored !== undefined) return { answer: stored, replayed: true };
    const answer = await handle();
    if (slot !== undefined && carriedOut(answer.status)) this.#answers.set(slot, withoutRateFacts(answer));
    return { answer, replayed: false };
  }
}

/**
 * The answer as it may be told again: without the `x-ratelimit-*` headers of the moment it was first
 * given. A replay is not counted in any tier, and a window's count read from a replay would be stale news.
 */
function withoutRateFacts(answer: EmulatorResponse): EmulatorResponse {
  if (answer.headers === undefined) return answer;
  const headers = Object.fromEntries(Object.entries(answer.headers).filter(([name]) => !name.toLowerCase().startsWith("x-ratelimit-")));
  return { ...answer, headers };
}
