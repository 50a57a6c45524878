/**
 * The parts of undici a call uses, and no more. undici's main entry loads everything it offers (fetch,
 * WebSocket, EventSource, the mock and cache layers, every interceptor), which doubles the time to a
 * first response; its modules can be imported one by one (the package has no `exports` map).
 */
import type { Dispatcher } from "undici";
import AgentClass from "undici/lib/dispatcher/agent.js";
import dispatchRequest from "undici/lib/api/api-request.js";

export const Agent = AgentClass;

/**
 * undici's `request()` without its URL handling and global dispatcher: `dispatcher.request(options)`,
 * for any Dispatcher (undici's own `request` calls this very function with the dispatcher as `this`, so a
 * caller's dispatcher, from whatever copy of undici, sees the same `dispatch()` call).
 */
export function request(dispatcher: Dispatcher, options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
  return dispatchRequest.call(dispatcher, options);
}
