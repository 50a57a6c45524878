/**
 * What ends one attempt early (its timer, the caller's signal), handed to undici's `request()` as its
 * `signal`. An AbortController would do, but undici gives a real AbortSignal to Node's `addAbortListener`
 * (a disposable, and a listener moved onto the response body), which costs every attempt microseconds;
 * this is the plain EventTarget-like object undici also accepts, holding the one listener it adds.
 *
 * It has no `aborted` property on purpose: undici looks for one (`"aborted" in signal`) to tell an
 * AbortSignal, and would hand this to `addAbortListener`, which accepts nothing else.
 */
export class AttemptAbort {
  /** undici adds one listener; a second (another handler's) is kept too. */
  #listener: (() => void) | undefined;
  #others: Array<() => void> | undefined;
  /** Whether the attempt was ended. */
  ended = false;
  /** Why: undici reads it as `signal.reason` and rejects the request with it. */
  reason: unknown = undefined;

  addEventListener(_type: "abort", listener: () => void): void {
    if (this.#listener === undefined) this.#listener = listener;
    else (this.#others ??= []).push(listener);
  }

  removeEventListener(_type: "abort", listener: () => void): void {
    if (this.#listener === listener) this.#listener = undefined;
    else if (this.#others !== undefined) this.#others = this.#others.filter((l) => l !== listener);
  }

  /** Ends the attempt with `reason`; only the first call counts. */
  abort(reason: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.reason = reason;
    const listeners = [this.#listener, ...(this.#others ?? [])];
    this.#listener = undefined;
    this.#others = undefined;
    for (const listener of listeners) listener?.();
  }
}
