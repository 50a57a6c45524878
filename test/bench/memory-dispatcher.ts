/**
 * An undici Dispatcher that answers every request from memory, at once: no socket, no parser, no
 * interceptor matching (MockAgent's cost would swamp what is measured). Both faultline and raw undici
 * `request()` run over it, so the difference between them is the client's own per-request work.
 */
import type { IncomingHttpHeaders } from "node:http";
import { Dispatcher } from "undici";

export interface MemoryAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export class MemoryDispatcher extends Dispatcher {
  readonly #answer: (path: string) => MemoryAnswer;

  constructor(answer: (path: string) => MemoryAnswer) {
    super();
    this.#answer = answer;
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const answer = this.#answer(options.path);
    let aborted = false;
    let reason: Error | null = null;
    const controller: Dispatcher.DispatchController = {
      get aborted() {
        return aborted;
      },
      get paused() {
        return false;
      },
      get reason() {
        return reason;
      },
      abort(error: Error) {
        if (aborted) return;
        aborted = true;
        reason = error;
        handler.onResponseError?.(controller, error);
      },
      pause() {},
      resume() {},
    };
    // Answered on the event loop's next turn, as a socket's bytes would be. Answering on a microtask
    // instead would let a sequential loop run without ever yielding to the event loop, and whatever the
    // streams schedule with setImmediate (their teardown) would pile up until the loop ends.
    setImmediate(() => {
      handler.onRequestStart?.(controller, {});
      if (aborted) return;
      handler.onResponseStart?.(controller, answer.status, answer.headers, "");
      if (aborted) return;
      handler.onResponseData?.(controller, answer.body);
      if (aborted) return;
      handler.onResponseEnd?.(controller, {});
    });
    return true;
  }
}
