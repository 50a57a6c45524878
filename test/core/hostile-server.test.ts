/**
 * A hostile server never breaks the promise "every failure is a typed, bounded error": each case here is
 * something a real proxy, CDN or buggy backend can send, over a real loopback socket.
 */
import http from "node:http";
import net from "node:net";
import { inspect } from "node:util";
import * as zlib from "node:zlib";
import { describe, expect, it } from "vitest";
import * as z from "zod";
import {
  AbortedError,
  ApiError,
  BadRequestError,
  ConnectionError,
  FaultlineError,
  ResponseTooLargeError,
  ResponseValidationError,
  ServerError,
  TimeoutError,
} from "../../src/core/errors.js";
import { TOO_DEEP } from "../../src/core/redact.js";
import { send } from "../helpers/server.js";
import { KEY, OK, client, closeAfterTest, delay, get, json, okSchema, post, scripted, timedFailure } from "./support.js";

const MB = 1024 * 1024;

/** `[[[...]]]` nested `depth` levels, with one escaped character inside (the escape defeats the no-copy path). */
function nestedArray(depth: number): string {
  return `${"[".repeat(depth)}"a\\u0041"${"]".repeat(depth)}`;
}

/** `{"next": {"next": ...}}` nested `depth` levels. */
function nestedObject(depth: number): string {
  return `${'{"next":'.repeat(depth)}"end"${"}".repeat(depth)}`;
}

describe("a body nested thousands of levels deep", () => {
  it.each([2_000, 30_000])("in a 400 (%i levels) is a BadRequestError after one request, and safe to serialise and inspect", async (depth) => {
    // As text: the deep JSON is sent exactly, and JSON.stringify could not have built it.
    const plain = await scripted({ status: 400, headers: { "content-type": "application/json" }, body: `{"error": "bad", "detail": ${nestedArray(depth)}}` });
    const escaped = await scripted({ status: 400, headers: { "content-type": "application/json" }, body: `{"error": "bad\\n", "detail": "x", "extra": ${nestedArray(depth)}}` });
    for (const target of [plain, escaped]) {
      const { error } = await timedFailure(post(client(target.url), "/thing", { maxRetries: 2 }));

      expect(error).toBeInstanceOf(BadRequestError);
      expect((error as BadRequestError).attempts).toBe(1);
      expect(target.requests).toHaveLength(1);
      expect(() => JSON.stringify(error)).not.toThrow();
      expect(JSON.stringify(error)).toContain(TOO_DEEP);
      expect(() => inspect(error, { depth: Infinity })).not.toThrow();
    }
  });

  it("in a 200 that fails its schema is a ResponseValidationError after one request, safe to serialise", async () => {
    const server = await scripted({ status: 200, headers: { "content-type": "application/json" }, body: `{"ok": ${nestedObject(20_000)}}` });
    const { error } = await timedFailure(get(client(server.url)));

    expect(error).toBeInstanceOf(ResponseValidationError);
    expect((error as ResponseValidationError).attempts).toBe(1);
    expect(server.requests).toHaveLength(1);
    expect(() => JSON.stringify(error)).not.toThrow();
    expect(() => inspect(error, { depth: Infinity })).not.toThrow();
  });

  it("in a 200 validated by a recursive schema is a ResponseValidationError, not a stack overflow", async () => {
    interface Node {
      next?: Node | string | undefined;
    }
    const Node: z.ZodType<Node> = z.object({ get next() { return z.union([Node, z.string()]).optional(); } });
    const server = await scripted({ status: 200, headers: { "content-type": "application/json" }, body: nestedObject(30_000) });
    const { error } = await timedFailure(client(server.url).request({ method: "GET", path: "/deep", schema: Node }));

    expect(error).toBeInstanceOf(ResponseValidationError);
    expect((error as ResponseValidationError).message).toMatch(/nests too deeply/);
    expect(server.requests).toHaveLength(1);
    expect(() => JSON.stringify(error)).not.toThrow();
  });
});

describe("a 2xx body larger than maxResponseBytes", () => {
  /** A 200 that streams `total` bytes of `[{},{},...` (or a declared length), counting what it manages to write. */
  async function bigOk(total: number, declared: boolean) {
    const written = { bytes: 0 };
    const server = await scripted((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "application/json", ...(declared ? { "content-length": total } : {}) });
      const chunk = Buffer.from("{},".repeat(21_845));
      let stopped = false;
      res.on("close", () => (stopped = true));
      const pump = (): void => {
        while (!stopped && written.bytes < total) {
          written.bytes += chunk.byteLength;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
        if (!stopped) res.end();
      };
      res.write("[");
      pump();
    });
    return { server, written };
  }

  it.each([false, true])("ends in a ResponseTooLargeError after one request, read no further (declared length: %s)", async (declared) => {
    const { server, written } = await bigOk(600 * MB, declared);
    const { error } = await timedFailure(get(client(server.url), "/thing", { maxResponseBytes: MB, maxRetries: 2 }));

    expect(error).toBeInstanceOf(ResponseTooLargeError);
    expect((error as ResponseTooLargeError).code).toBe("RESPONSE_TOO_LARGE");
    expect((error as ResponseTooLargeError).limit).toBe(MB);
    expect((error as ResponseTooLargeError).status).toBe(200);
    expect((error as ResponseTooLargeError).retryable).toBe(false);
    expect((error as ResponseTooLargeError).attempts).toBe(1);
    expect(server.requests).toHaveLength(1);
    await delay(50);
    // Socket buffers hold a few MB; reading the body would let all 600 MB through.
    expect(written.bytes).toBeLessThan(32 * MB);
  });

  it("keeps the 64 MiB default, and memory near it, for an endless [{},{},...] body", async () => {
    const { server, written } = await bigOk(450 * MB, false);
    const before = process.memoryUsage().rss;
    const { error } = await timedFailure(get(client(server.url), "/thing", { timeout: 30_000 }));
    const after = process.memoryUsage().rss;

    expect(error).toBeInstanceOf(ResponseTooLargeError);
    expect((error as ResponseTooLargeError).limit).toBe(64 * MB);
    expect(written.bytes).toBeLessThan(100 * MB);
    // Parsing 450 MB of empty objects would take gigabytes; the cap holds the chunks read, about 64 MB.
    expect(after - before).toBeLessThan(256 * MB);
  });

  it("reads a body of exactly maxResponseBytes", async () => {
    const body = JSON.stringify({ ok: true, pad: "x".repeat(1000) });
    const server = await scripted({ status: 200, headers: { "content-type": "application/json" }, body });
    const data = await client(server.url).request({ method: "GET", path: "/x", schema: z.looseObject({ ok: z.boolean() }) }, { maxResponseBytes: Buffer.byteLength(body) });
    expect(data.ok).toBe(true);
  });
});

describe("close() while a call waits to retry", () => {
  it("sends the retry on a fresh pool, and counts only the requests sent", async () => {
    const server = await scripted(json(503, { error: "busy" }, { "retry-after-ms": "150" }), OK);
    const t = client(server.url);
    const call = get(t).withResponse();
    await delay(60);
    await t.close();
    const response = await call;

    expect(response.data).toEqual({ ok: true });
    expect(response.attempts).toBe(2);
    expect(server.requests).toHaveLength(2);
  });

  it("reports attempts equal to the requests sent when every retry fails", async () => {
    const server = await scripted(json(503, { error: "busy" }, { "retry-after-ms": "80" }));
    const t = client(server.url);
    const call = timedFailure(get(t, "/thing", { maxRetries: 2 }));
    await delay(30);
    await t.close();
    const { error } = await call;

    expect(error).toBeInstanceOf(ServerError);
    expect((error as ServerError).attempts).toBe(server.requests.length);
    expect(server.requests).toHaveLength(3);
  });
});

describe("Content-Encoding", () => {
  const coded = (encoding: string, encode: (b: Buffer) => Buffer, status: number, body: unknown) => ({
    status,
    headers: { "content-type": "application/json", "content-encoding": encoding },
    body: encode(Buffer.from(JSON.stringify(body))),
  });
  const CODINGS: Array<[string, (b: Buffer) => Buffer]> = [
    ["gzip", (b) => zlib.gzipSync(b)],
    ["x-gzip", (b) => zlib.gzipSync(b)],
    ["deflate", (b) => zlib.deflateSync(b)],
    ["deflate (raw, as some servers send it)", (b) => zlib.deflateRawSync(b)],
    ["br", (b) => zlib.brotliCompressSync(b)],
    ...(typeof zlib.zstdCompressSync === "function" ? ([["zstd", (b: Buffer) => zlib.zstdCompressSync(b)]] as Array<[string, (b: Buffer) => Buffer]>) : []),
    ["gzip, br (two codings, undone in reverse)", (b) => zlib.brotliCompressSync(zlib.gzipSync(b))],
  ];
  const header = (name: string): string => name.replace(/ \(.*\)$/, "").replace("gzip, br", "gzip, br");

  it("offers the codings faultline decodes", async () => {
    const server = await scripted(OK);
    await get(client(server.url));
    expect(server.requests[0]?.headers["accept-encoding"]).toMatch(/^gzip, deflate, br(, zstd)?$/);
  });

  it.each(CODINGS)("decodes a %s error body into its message", async (name, encode) => {
    const server = await scripted(coded(header(name), encode, 400, { error: "Validation failed", error_code: "BAD_REQUEST" }));
    const { error } = await timedFailure(get(client(server.url)));

    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).message).toBe("Validation failed");
    expect((error as BadRequestError).body).toEqual({ error: "Validation failed", error_code: "BAD_REQUEST" });
  });

  it.each(CODINGS)("decodes a %s 200 into its data", async (name, encode) => {
    const server = await scripted(coded(header(name), encode, 200, { ok: true }));
    expect(await get(client(server.url))).toEqual({ ok: true });
  });

  it("reads a small gzip that inflates to a gigabyte only to the caps: 64 KiB of an error, maxResponseBytes of a 200", async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(256 * MB, "a"), { level: 9 });
    expect(bomb.byteLength).toBeLessThan(MB);
    const server = await scripted(
      { status: 500, headers: { "content-type": "text/plain", "content-encoding": "gzip" }, body: bomb },
      { status: 200, headers: { "content-type": "application/json", "content-encoding": "gzip" }, body: bomb },
    );
    const t = client(server.url);
    const before = process.memoryUsage().rss;
    const first = await timedFailure(get(t, "/thing", { maxRetries: 0 }));
    const second = await timedFailure(get(t, "/thing", { maxRetries: 0, maxResponseBytes: 4 * MB }));

    expect(first.error).toBeInstanceOf(ServerError);
    expect(((first.error as ServerError).body as string).length).toBeLessThanOrEqual(64 * 1024);
    expect(second.error).toBeInstanceOf(ResponseTooLargeError);
    expect(process.memoryUsage().rss - before).toBeLessThan(128 * MB);
  });

  it("gives a typed error for a body that does not decode, and keeps the status's class for an error", async () => {
    const garbage = { "content-type": "application/json", "content-encoding": "gzip" };
    const server = await scripted({ status: 200, headers: garbage, body: "not gzip at all" }, { status: 404, headers: garbage, body: "not gzip either" });
    const t = client(server.url);
    const ok = await timedFailure(get(t, "/thing", { maxRetries: 0 }));
    const notFound = await timedFailure(get(t, "/thing", { maxRetries: 0 }));

    expect(ok.error).toBeInstanceOf(ResponseValidationError);
    expect((ok.error as ResponseValidationError).message).toMatch(/could not be read: the body could not be decoded/);
    expect(notFound.error).toBeInstanceOf(ApiError);
    expect((notFound.error as ApiError).status).toBe(404);
    expect((notFound.error as ApiError).message).toMatch(/could not be decoded/);
  });

  it("gives a typed error for a coding it does not know, and lets go of the body unread so close() ends", async () => {
    // Large enough that undici cannot have it all buffered: unread, the request would never finish.
    const server = await scripted({ status: 200, headers: { "content-type": "application/json", "content-encoding": "compress" }, body: "x".repeat(4 * MB) });
    const t = client(server.url);
    const { error } = await timedFailure(get(t));
    expect(error).toBeInstanceOf(ResponseValidationError);
    expect((error as ResponseValidationError).message).toMatch(/Content-Encoding "compress"/);
    const closed = await Promise.race([t.close().then(() => "closed"), delay(3_000).then(() => "still open")]);
    expect(closed).toBe("closed");
  });

  it.each([
    ["a coding it does not know", { "content-encoding": "compress" }, "{}"],
    ["a Content-Length past maxResponseBytes", {}, "x".repeat(2_048)],
  ])("lets go of a small body it will not read (%s) without an abort error surfacing later", async (_case, headers, body) => {
    const server = await scripted({ status: 200, headers: { "content-type": "application/json", ...headers }, body });
    const stray: unknown[] = [];
    const record = (error: unknown): void => void stray.push(error);
    process.on("uncaughtException", record);
    try {
      const { error } = await timedFailure(get(client(server.url, { maxResponseBytes: 1_024 })));
      expect(error).toBeInstanceOf(FaultlineError);
      // undici reports the destroy of an unread body a tick or two later.
      await delay(50);
    } finally {
      process.off("uncaughtException", record);
    }
    expect(stray).toEqual([]);
  });

  it("takes an empty gzip body as empty", async () => {
    const server = await scripted({ status: 503, headers: { "content-encoding": "gzip" }, body: "" });
    const { error } = await timedFailure(get(client(server.url), "/thing", { maxRetries: 0 }));
    expect((error as ServerError).message).toBe("HTTP 503 Service Unavailable (empty body)");
  });
});

describe("a key echoed in a response header's name", () => {
  it("is masked in err.headers, toJSON() and inspect", async () => {
    const server = await scripted(json(500, { error: "x" }, { [`x-debug-${KEY}`]: "1" }));
    const { error } = await timedFailure(get(client(server.url), "/thing", { maxRetries: 0 }));
    const e = error as ServerError;

    expect(Object.keys(e.headers)).toContain("x-debug-***");
    for (const shown of [JSON.stringify(e.headers), JSON.stringify(e), inspect(e, { depth: Infinity })]) expect(shown).not.toContain(KEY);
  });
});

describe("a POST whose connection is reset after it was sent", () => {
  const resetAfterRead = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    req.resume();
    req.on("end", () => res.socket?.destroy());
  };

  it("says retryable: false, with a hint to pass idempotencyKey, since the server may have acted on it", async () => {
    const server = await scripted(resetAfterRead, OK);
    const { error } = await timedFailure(post(client(server.url)));

    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).retryable).toBe(false);
    expect((error as ConnectionError).hint).toMatch(/idempotencyKey/);
    expect(server.requests).toHaveLength(1);
  });

  it("says retryable: true, and is retried, with an idempotencyKey", async () => {
    const server = await scripted(resetAfterRead, OK);
    expect(await post(client(server.url), "/thing", { idempotencyKey: "k-1" })).toEqual({ ok: true });
    expect(server.requests).toHaveLength(2);
  });

  it("says the same of a POST that timed out", async () => {
    const server = await scripted(() => undefined);
    const { error } = await timedFailure(post(client(server.url), "/thing", { timeout: 100 }));

    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).retryable).toBe(false);
    expect((error as TimeoutError).hint).toMatch(/idempotencyKey/);
  });

  it("keeps a GET reset after sending retryable", async () => {
    const server = await scripted(resetAfterRead);
    const { error } = await timedFailure(get(client(server.url), "/thing", { maxRetries: 0 }));
    expect((error as ConnectionError).retryable).toBe(true);
  });
});

/** A raw TCP server that answers every request with `raw`, for what node:http will not send. */
async function rawServer(raw: string): Promise<string> {
  const server = net.createServer((socket) => {
    socket.on("error", () => undefined);
    socket.once("data", () => socket.end(raw));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closeAfterTest(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

describe("answers that are not valid HTTP", () => {
  it("reads a status line of 000 as one clear sentence, not undici's internal assertion", async () => {
    const url = await rawServer("HTTP/1.1 000 OK\r\ncontent-length: 2\r\n\r\n{}");
    const { error } = await timedFailure(get(client(url), "/thing", { maxRetries: 0 }));

    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).message).toMatch(/the server's answer is not valid HTTP/);
    expect((error as ConnectionError).message).not.toContain("\n");
    expect((error as ConnectionError).message).not.toMatch(/assert/i);
  });

  it("reads an unsolicited 100 Continue (which undici refuses) as a typed ConnectionError that says so", async () => {
    const url = await rawServer('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"ok":true}');
    const { error } = await timedFailure(get(client(url), "/thing", { maxRetries: 0 }));

    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).message).toMatch(/informational 1xx/);
  });

  it("refuses headers larger than undici reads as a ConnectionError that is not retried", async () => {
    const url = await rawServer(`HTTP/1.1 200 OK\r\nx-huge: ${"h".repeat(200 * 1024)}\r\ncontent-length: 2\r\n\r\n{}`);
    const { error } = await timedFailure(get(client(url), "/thing", { maxRetries: 2 }));

    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).retryable).toBe(false);
    expect((error as ConnectionError).attempts).toBe(1);
  });
});

describe("a logger that throws", () => {
  it("never fails a call: a 200 stays a 200", async () => {
    const server = await scripted(OK);
    const logger = { debug: (): never => { throw new Error("disk full"); } };
    expect(await get(client(server.url, { logger }))).toEqual({ ok: true });
  });

  it("never turns an error into another: a 404 stays a 404", async () => {
    const server = await scripted(json(404, { error: "gone" }));
    const logger = { debug: (): never => { throw new Error("disk full"); } };
    const { error } = await timedFailure(get(client(server.url, { logger })));
    expect((error as ApiError).status).toBe(404);
  });
});

describe("every failure is a FaultlineError", () => {
  it("even when the caller aborts during a body read", async () => {
    const server = await scripted((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"ok":');
    });
    const controller = new AbortController();
    const call = timedFailure(get(client(server.url), "/thing", { signal: controller.signal }));
    await delay(50);
    controller.abort();
    const { error } = await call;
    expect(error).toBeInstanceOf(AbortedError);
    expect(error).toBeInstanceOf(FaultlineError);
  });

  it("for a 204 with a body, which is read as no body", async () => {
    const server = await scripted((req, res) => {
      req.resume();
      send(res, { status: 204 });
    });
    const data = await client(server.url).request({ method: "DELETE", path: "/x", schema: z.unknown() });
    expect(data).toBeUndefined();
    void okSchema;
  });
});
