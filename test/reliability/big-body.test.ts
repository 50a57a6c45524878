import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Anyformat, ServerError } from "../../src/index.js";
import { ERROR_BODY_CAP } from "../../src/core/transport.js";

const HUNDRED_MB = 100 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, "a");
const MB = 1024 * 1024;

interface Sent {
  /** Bytes the server handed to the socket before the client went away. */
  bytes: number;
  done: Promise<void>;
}

/**
 * A server that answers every request with a 500 and a 100 MB body, written as fast as the client reads
 * it (backpressure respected), so the bytes it manages to write are the bytes the client let in.
 */
let server: Server;
let baseUrl: string;
const sent: Sent[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    let finish!: () => void;
    const record: Sent = { bytes: 0, done: new Promise<void>((resolve) => (finish = resolve)) };
    sent.push(record);
    const declared = req.url?.includes("declared") === true;
    res.writeHead(500, {
      "content-type": "application/json",
      ...(declared ? { "content-length": HUNDRED_MB } : {}),
    });
    res.write('{"error": "Internal error", "detail": "');
    let stopped = false;
    res.on("close", () => {
      stopped = true;
      finish();
    });
    const pump = (): void => {
      while (!stopped && record.bytes < HUNDRED_MB) {
        record.bytes += CHUNK.byteLength;
        if (!res.write(CHUNK)) {
          res.once("drain", pump);
          return;
        }
      }
      if (!stopped) res.end();
    };
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe("a 100 MB error body", () => {
  for (const form of ["chunked", "declared"] as const) {
    it(`(${form === "chunked" ? "chunked, no length" : "with a Content-Length of 100 MB"}) ends in a ServerError read no further than the cap`, async () => {
      const af = new Anyformat({ apiKey: "sk-big-body-test", baseUrl, maxRetries: 0, timeout: 20_000 });
      const before = sent.length;
      const started = Date.now();
      const error = await af.workflows.get(`${form}-wf`).then(
        () => undefined,
        (e: unknown) => e,
      );
      const elapsed = Date.now() - started;
      await af.close();
      const record = sent[before];
      expect(record, "the server saw the request").toBeDefined();
      await record!.done;

      expect(error).toBeInstanceOf(ServerError);
      const body = (error as ServerError).body;
      expect(typeof body).toBe("string");
      expect(Buffer.byteLength(body as string)).toBeLessThanOrEqual(ERROR_BODY_CAP);
      console.log(
        `big body (${form}): ServerError after ${elapsed} ms; the server wrote ${(record!.bytes / MB).toFixed(1)} MB of 100 MB; ` +
          `error body ${Buffer.byteLength(body as string)} bytes`,
      );
      // Loopback socket buffers hold a few MB; a client that read the body would let all 100 MB through.
      expect(record!.bytes).toBeLessThan(16 * MB);
    });
  }

  it("leaves memory flat over ten calls, retries included", async () => {
    const af = new Anyformat({ apiKey: "sk-big-body-test", baseUrl, maxRetries: 1, timeout: 20_000, maxRetryAfter: 0 });
    const gc = (globalThis as { gc?: () => void }).gc;
    // One warm call so lazily created pools and compiled code are not counted as growth.
    await af.workflows.get("warm").catch(() => undefined);
    gc?.();
    const before = process.memoryUsage();
    const first = sent.length;
    let errors = 0;
    for (let i = 0; i < 5; i++) {
      const error = await af.workflows.get(`flat-${i}`).then(
        () => undefined,
        (e: unknown) => e,
      );
      if (error instanceof ServerError && error.attempts === 2) errors++;
    }
    await af.close();
    await Promise.all(sent.slice(first).map((r) => r.done));
    gc?.();
    const after = process.memoryUsage();
    const written = sent.slice(first).reduce((sum, r) => sum + r.bytes, 0);
    console.log(
      `big body x10 requests: ${errors} ServerErrors after 2 attempts each; server wrote ${(written / MB).toFixed(1)} MB in all; ` +
        `rss ${(before.rss / MB).toFixed(0)} -> ${(after.rss / MB).toFixed(0)} MB, heapUsed ${(before.heapUsed / MB).toFixed(0)} -> ` +
        `${(after.heapUsed / MB).toFixed(0)} MB${gc === undefined ? " (no forced GC)" : ""}`,
    );
    expect(errors).toBe(5);
    expect(sent.length - first).toBe(10);
    expect(written).toBeLessThan(10 * 16 * MB);
    // Reading even one body would add 100 MB.
    expect(after.rss - before.rss).toBeLessThan(64 * MB);
    expect(after.heapUsed - before.heapUsed).toBeLessThan(32 * MB);
  });
});
