/** The names of the calls made during each test, as `faultline:call` publishes them (`"anyformat workflows.get"`). */
import { tracingChannel } from "node:diagnostics_channel";
import { afterEach, beforeEach } from "vitest";
import { TRACING_CHANNELS, type CallMessage } from "../../src/core/tracing/channels.js";

/** Subscribes for every test of the file; the array it returns is emptied after each. */
export function recordCallNames(): string[] {
  const names: string[] = [];
  const channel = tracingChannel<unknown, CallMessage>(TRACING_CHANNELS.call);
  const handlers = {
    start: (call: CallMessage) => void names.push(`${call.api} ${call.operation}`),
    end: () => undefined,
    asyncStart: () => undefined,
    asyncEnd: () => undefined,
    error: () => undefined,
  };
  beforeEach(() => channel.subscribe(handlers));
  afterEach(() => {
    channel.unsubscribe(handlers);
    names.length = 0;
  });
  return names;
}
