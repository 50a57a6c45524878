import http from "node:http";
import type { AddressInfo } from "node:net";
import { Agent, request } from "undici";
import { describe, expect, it } from "vitest";
import { AttemptAbort } from "../../src/core/attempt-abort.js";

describe("an attempt's abort", () => {
  it("tells its listeners once, with the first reason, and forgets them", () => {
    const abort = new AttemptAbort();
    const heard: unknown[] = [];
    const first = (): void => void heard.push(["first", abort.reason]);
    const removed = (): void => void heard.push("removed");
    abort.addEventListener("abort", first);
    abort.addEventListener("abort", removed);
    abort.removeEventListener("abort", removed);
    abort.abort("timed out");
    abort.abort("caller");
    expect(heard).toEqual([["first", "timed out"]]);
    expect(abort.ended).toBe(true);
    expect(abort.reason).toBe("timed out");
  });

  it("has no `aborted`, so undici takes it as an EventTarget", () => {
    expect("aborted" in new AttemptAbort()).toBe(false);
  });

  it("ends an undici request that is waiting for its headers, rejecting it with the reason", async () => {
    const server = http.createServer(() => undefined).listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    const agent = new Agent();
    try {
      const abort = new AttemptAbort();
      const { port } = server.address() as AddressInfo;
      const pending = request(`http://127.0.0.1:${port}/`, { dispatcher: agent, signal: abort as unknown as AbortSignal });
      setTimeout(() => abort.abort("gave up"), 20);
      await expect(pending).rejects.toBe("gave up");
    } finally {
      await agent.destroy();
      server.closeAllConnections();
      server.close();
    }
  });
});
