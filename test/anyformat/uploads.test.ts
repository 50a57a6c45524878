import { createReadStream, createWriteStream } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { finished } from "node:stream/promises";
import v8 from "node:v8";
import vm from "node:vm";
import { describe, expect, it } from "vitest";
import { Anyformat } from "../../src/anyformat/client.js";
import type { DocumentInput } from "../../src/anyformat/document.js";
import {
  ConnectionError,
  InvalidArgumentError,
  RateLimitedError,
  ServerError,
} from "../../src/core/errors.js";
import { boundaryOf, parseMultipart, type FormPart } from "../../src/testing/multipart.js";
import { send, startServer } from "../helpers/server.js";
import { KEY, closeAfterTest, failure, invoiceWorkflow, setup, statuses, tempDir, tempFile } from "./support.js";

const MB = 1024 * 1024;
const TEXT = "invoice_number: U-1\nTotal Amount: 5\n";

/** What the emulator stored for the one file of the collection an upload made. */
function storedFile(emu: Awaited<ReturnType<typeof setup>>["emu"], collectionId: string) {
  const collection = emu.app.collections.get(collectionId);
  return { filename: collection?.files[0]?.filename, size: collection?.files[0]?.size, text: collection?.files[0]?.text };
}

describe("af.workflows.upload: every kind of file", () => {
  it("uploads a file from a path, named after it", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const path = await tempFile("invoice.txt", TEXT);
    const uploaded = await af.workflows.upload(wf.id, { file: path });
    expect(uploaded).toMatchObject({ status: "uploaded", filename: "invoice.txt" });
    expect(storedFile(emu, uploaded.file_collection_id)).toEqual({ filename: "invoice.txt", size: TEXT.length, text: TEXT });
    expect(emu.requests.at(-1)?.headers["content-length"]).toEqual(expect.stringMatching(/^\d+$/));
  });

  it("uploads a path under another name when given filename", async () => {
    const { af } = await setup();
    const wf = await invoiceWorkflow(af);
    const path = await tempFile("tmp-123", TEXT);
    expect((await af.workflows.upload(wf.id, { file: path, filename: "renamed.txt" })).filename).toBe("renamed.txt");
  });

  it("uploads a Buffer with its filename", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const uploaded = await af.workflows.upload(wf.id, { file: Buffer.from(TEXT), filename: "buffer.txt" });
    expect(storedFile(emu, uploaded.file_collection_id)).toEqual({ filename: "buffer.txt", size: TEXT.length, text: TEXT });
  });

  it("uploads a Uint8Array, binary bytes kept exactly", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => i % 256);
    const uploaded = await af.workflows.upload(wf.id, { file: bytes, filename: "bytes.bin" });
    expect(storedFile(emu, uploaded.file_collection_id)).toEqual({ filename: "bytes.bin", size: 1000, text: undefined });
  });

  it("uploads bytes without a filename as 'file'", async () => {
    const { af } = await setup();
    const wf = await invoiceWorkflow(af);
    expect((await af.workflows.upload(wf.id, { file: Buffer.from("x") })).filename).toBe("file");
  });

  it("uploads a Blob with a filename", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const uploaded = await af.workflows.upload(wf.id, { file: new Blob([TEXT], { type: "text/plain" }), filename: "blob.txt" });
    expect(storedFile(emu, uploaded.file_collection_id)).toEqual({ filename: "blob.txt", size: TEXT.length, text: TEXT });
  });

  it("uploads a File under its own name", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const uploaded = await af.workflows.upload(wf.id, { file: new File([TEXT], "own-name.txt", { type: "text/plain" }) });
    expect(storedFile(emu, uploaded.file_collection_id)).toEqual({ filename: "own-name.txt", size: TEXT.length, text: TEXT });
  });

  it("uploads a Readable stream with a filename", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const stream = Readable.from([Buffer.from("invoice_number: "), Buffer.from("U-1\n"), Buffer.from("Total Amount: 5\n")]);
    const uploaded = await af.workflows.upload(wf.id, { file: stream, filename: "stream.txt" });
    expect(storedFile(emu, uploaded.file_collection_id)).toEqual({ filename: "stream.txt", size: TEXT.length, text: TEXT });
    // A stream's length is unknown: the body goes chunked, without Content-Length.
    expect(emu.requests.at(-1)?.headers["content-length"]).toBeUndefined();
  });

  it("uploads a file read stream under the name of its path", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const path = await tempFile("from-disk.txt", TEXT);
    const uploaded = await af.workflows.upload(wf.id, { file: createReadStream(path) });
    expect(storedFile(emu, uploaded.file_collection_id)).toEqual({ filename: "from-disk.txt", size: TEXT.length, text: TEXT });
  });

  it("uploads a web ReadableStream", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const web = new Blob([TEXT]).stream();
    const uploaded = await af.workflows.upload(wf.id, { file: web, filename: "web.txt" });
    expect(storedFile(emu, uploaded.file_collection_id).text).toBe(TEXT);
  });

  it("runs a file from a path and reads its values into the results", async () => {
    const { af } = await setup();
    const wf = await invoiceWorkflow(af);
    const path = await tempFile("run-me.txt", TEXT);
    const results = await af.workflows.extract(wf.id, { file: path }, { pollInterval: 10 });
    expect(results.extraction).toMatchObject({ invoice_number: { value: "U-1" }, "Total Amount": { value: 5 } });
    expect(results.parse?.markdown).toBe(`# run-me.txt\n\n${TEXT}`);
  });

  it("sends one file part named 'file' with its filename and content type", async () => {
    const parts: FormPart[] = [];
    const server = await startServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        parts.push(...parseMultipart(Buffer.concat(chunks), boundaryOf(req.headers["content-type"]) ?? ""));
        send(res, {
          status: 201,
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ status: "uploaded", filename: "x", file_collection_id: "c", file_id: "f" }),
        });
      });
    });
    closeAfterTest(() => server.close());
    const af = new Anyformat({ apiKey: KEY, baseUrl: server.url });
    closeAfterTest(() => af.close());
    await af.workflows.upload("wf", { file: await tempFile("scan.pdf", "%PDF") });
    await af.workflows.upload("wf", { file: new File(["a"], "photo.png", { type: "image/png" }) });
    await af.workflows.upload("wf", { file: Buffer.from("b"), filename: 'we"ird\r\nname.txt', contentType: "text/x-custom" });
    await af.workflows.upload("wf", { text: "just text" });
    expect(parts.map((p) => [p.name, p.filename, p.contentType])).toEqual([
      ["file", "scan.pdf", "application/pdf"],
      ["file", "photo.png", "image/png"],
      // Sent percent-encoded, as browsers do, so the name cannot break the part's headers; read back whole.
      ["file", 'we"ird\r\nname.txt', "text/x-custom"],
      ["text", undefined, undefined],
    ]);
    expect(Buffer.from(parts[3]?.data ?? []).toString()).toBe("just text");
    expect(server.requests.map((r) => r.url)).toEqual(Array(4).fill("/v2/workflows/wf/upload/"));
  });
});

describe("af.workflows.upload: bad input", () => {
  it("throws InvalidArgumentError for both file and text, or neither, before any request", async () => {
    const { emu, af } = await setup();
    const both = { file: Buffer.from("a"), text: "b" } as unknown as DocumentInput;
    expect(await failure(af.workflows.upload("wf", both))).toBeInstanceOf(InvalidArgumentError);
    expect(await failure(af.workflows.run("wf", both))).toBeInstanceOf(InvalidArgumentError);
    expect(await failure(af.workflows.upload("wf", {} as DocumentInput))).toBeInstanceOf(InvalidArgumentError);
    expect(await failure(af.workflows.upload("wf", { file: null, text: null } as unknown as DocumentInput))).toBeInstanceOf(
      InvalidArgumentError,
    );
    expect(emu.requests).toHaveLength(0);
  });

  it("throws InvalidArgumentError for a path that does not exist or is a directory, before any request", async () => {
    const { emu, af } = await setup();
    const missing = await failure(af.workflows.upload("wf", { file: "/no/such/invoice.pdf" }));
    expect(missing).toBeInstanceOf(InvalidArgumentError);
    expect((missing as InvalidArgumentError).message).toContain("/no/such/invoice.pdf");
    expect(await failure(af.workflows.upload("wf", { file: await tempDir() }))).toBeInstanceOf(InvalidArgumentError);
    expect(await failure(af.workflows.upload("wf", { file: "" }))).toBeInstanceOf(InvalidArgumentError);
    expect(await failure(af.workflows.upload("wf", { file: { not: "a file" } as never }))).toBeInstanceOf(InvalidArgumentError);
    expect(emu.requests).toHaveLength(0);
  });

  it("refuses a path, Buffer, Blob or file stream over 20 MB before a byte is sent, saying by how much", async () => {
    // A plain loopback server records every request as it arrives, before its body: none may arrive.
    const server = await startServer((req, res) => req.resume().on("end", () => send(res, { status: 500 })));
    closeAfterTest(() => server.close());
    const af = new Anyformat({ apiKey: KEY, baseUrl: server.url });
    closeAfterTest(() => af.close());
    const over = 20 * MB + 1;
    const path = join(await tempDir(), "big.pdf");
    const out = createWriteStream(path);
    out.end(Buffer.alloc(over));
    await finished(out);
    const big = Buffer.alloc(over);
    const exact = "The file is 20,971,521 bytes, over the limit of 20 MB (20,971,520 bytes)";
    for (const [document, message] of [
      [{ file: path }, exact],
      [{ file: big, filename: "big.pdf" }, exact],
      [{ file: new Uint8Array(big.buffer, big.byteOffset, over), filename: "big.pdf" }, exact],
      [{ file: new Blob([big]), filename: "big.pdf" }, exact],
      // A stream fs opened on a file knows its size too.
      [{ file: createReadStream(path) }, exact],
      [{ file: Buffer.alloc(25 * MB), filename: "bigger.pdf" }, "The file is 25.0 MB, over the limit of 20 MB"],
    ] as Array<[DocumentInput, string]>) {
      const error = await failure(af.workflows.upload("wf", document));
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).message).toBe(message);
      expect((error as InvalidArgumentError).hint).toMatch(/Split|compress/);
      expect((error as InvalidArgumentError).attempts).toBe(0);
    }
    expect(await failure(af.workflows.run("wf", { file: path }))).toBeInstanceOf(InvalidArgumentError);
    expect(server.requests).toHaveLength(0);
  });

  it("sends a file stream read from a byte range under 20 MB of a larger file", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const path = join(await tempDir(), "big.txt");
    await writeFile(path, Buffer.alloc(21 * MB, 0x61));
    const uploaded = await af.workflows.upload(wf.id, { file: createReadStream(path, { start: MB, end: 2 * MB - 1 }) });
    expect(storedFile(emu, uploaded.file_collection_id)).toMatchObject({ filename: "big.txt", size: MB });
  });

  it("accepts a file of exactly 20 MB", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const uploaded = await af.workflows.upload(wf.id, { file: Buffer.alloc(20 * MB), filename: "limit.pdf" });
    expect(storedFile(emu, uploaded.file_collection_id).size).toBe(20 * MB);
  });

  it("cuts a stream of unknown size off as it crosses 20 MB: one request, never retried, never more than 20 MB sent", async () => {
    const seen: Array<{ bytes: number; complete: boolean }> = [];
    const server = await startServer((req, res) => {
      const request = { bytes: 0, complete: false };
      seen.push(request);
      req.on("data", (chunk: Buffer) => (request.bytes += chunk.byteLength));
      req.on("end", () => {
        request.complete = true;
        send(res, { status: 500 });
      });
    });
    closeAfterTest(() => server.close());
    const af = new Anyformat({ apiKey: KEY, baseUrl: server.url, maxRetries: 2 });
    closeAfterTest(() => af.close());
    const chunk = Buffer.alloc(MB, 0x61);
    const stream = Readable.from((function* () {
      for (let i = 0; i < 30; i++) yield chunk;
    })());
    const retries: number[] = [];
    const error = await failure(af.workflows.upload("wf", { file: stream, filename: "endless.pdf" }, { onRetry: (i) => retries.push(i.attempt) }));

    expect(error).toBeInstanceOf(InvalidArgumentError);
    const e = error as InvalidArgumentError;
    expect(e.message).toBe("The stream is over 20 MB, the limit for one file: its upload was cut off there");
    expect(e.hint).toMatch(/Split|compress/);
    expect(e.retryable).toBe(false);
    expect(e.attempts).toBe(1);
    expect(retries).toEqual([]);
    // Give a server that kept reading time to report more bytes, then check it never got them.
    await new Promise((r) => setTimeout(r, 100));
    expect(server.requests).toHaveLength(1);
    expect(seen[0]?.complete).toBe(false);
    // The multipart head is a few hundred bytes; not one byte of the crossing chunk went out.
    expect(seen[0]?.bytes).toBeLessThanOrEqual(20 * MB + 1024);
  });

  it("cuts off a stream crossing 20 MB in the middle of a chunk, through the emulator, storing nothing", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const stream = Readable.from((function* () {
      yield Buffer.alloc(20 * MB - 10);
      yield Buffer.alloc(20);
    })());
    const error = await failure(af.workflows.run(wf.id, { file: stream, filename: "almost.pdf" }));
    expect((error as InvalidArgumentError).message).toBe("The stream is over 20 MB, the limit for one file: its upload was cut off there");
    expect(emu.app.collections.size).toBe(0);
  });
});

describe("af.workflows.upload: retries", () => {
  it("retries an upload from a path after a 500, sending the whole file again", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const path = await tempFile("retry.txt", TEXT);
    emu.inject("serverError", { path: `/v2/workflows/${wf.id}/upload/` });
    const { data, attempts } = await af.workflows.upload(wf.id, { file: path }).withResponse();
    expect(attempts).toBe(2);
    expect(statuses(emu).slice(1)).toEqual([500, 201]);
    expect(storedFile(emu, data.file_collection_id)).toEqual({ filename: "retry.txt", size: TEXT.length, text: TEXT });
  });

  it("retries a run of bytes after a 429 and a 504", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    emu.inject("rateLimit", { path: `/v2/workflows/${wf.id}/run/` });
    emu.inject("gatewayTimeout", { path: `/v2/workflows/${wf.id}/run/` });
    const run = await af.workflows.run(wf.id, { file: new Uint8Array(Buffer.from(TEXT)), filename: "b.txt" });
    expect(statuses(emu).slice(1)).toEqual([429, 504, 202]);
    expect(emu.app.collections.get(run.id)?.files[0]?.text).toBe(TEXT);
  });

  it("retries an upload of a Blob after a 500", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    emu.inject("serverError", { path: `/v2/workflows/${wf.id}/upload/` });
    const uploaded = await af.workflows.upload(wf.id, { file: new File([TEXT], "blob.txt") });
    expect(statuses(emu).slice(1)).toEqual([500, 201]);
    expect(storedFile(emu, uploaded.file_collection_id).text).toBe(TEXT);
  });

  it("does not retry a path upload whose connection was reset after sending, without an idempotencyKey", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const path = await tempFile("once.txt", TEXT);
    emu.inject("reset", { path: `/v2/workflows/${wf.id}/upload/` });
    const error = await failure(af.workflows.upload(wf.id, { file: path }));
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).attempts).toBe(1);
    // The server had stored it before the connection dropped: a blind retry would have stored it twice.
    expect(emu.app.collections.size).toBe(1);
  });

  it("retries a reset path upload with an idempotencyKey, sending the same Idempotency-Key each time", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const path = await tempFile("keyed.txt", TEXT);
    emu.inject("reset", { path: `/v2/workflows/${wf.id}/upload/` });
    emu.inject("serverError", { path: `/v2/workflows/${wf.id}/upload/` });
    const { data, attempts } = await af.workflows.upload(wf.id, { file: path }, { idempotencyKey: "upload-keyed-1" }).withResponse();
    const uploads = emu.requests.slice(1);
    expect(attempts).toBe(3);
    expect(uploads.map((r) => r.status)).toEqual([undefined, 500, 201]);
    expect(uploads.map((r) => r.headers["idempotency-key"])).toEqual(["upload-keyed-1", "upload-keyed-1", "upload-keyed-1"]);
    expect(uploads.at(-1)?.replayed).toBe(true);
    expect([...emu.app.collections.keys()]).toEqual([data.file_collection_id]);
  });

  it("sends the same Idempotency-Key on every attempt of a run of bytes through two 429s", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    emu.inject("rateLimit", { path: `/v2/workflows/${wf.id}/run/`, count: 2 });
    await af.workflows.run(wf.id, { file: Buffer.from(TEXT), filename: "k.txt" }, { idempotencyKey: "run-k" });
    const runs = emu.requests.slice(1);
    expect(runs.map((r) => r.status)).toEqual([429, 429, 202]);
    expect(new Set(runs.map((r) => r.headers["idempotency-key"]))).toEqual(new Set(["run-k"]));
  });

  it("sends a one-shot stream once: a 500 fails the upload after 1 request", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    emu.inject("serverError", { path: `/v2/workflows/${wf.id}/upload/` });
    const retries: number[] = [];
    const error = await failure(
      af.workflows.upload(wf.id, { file: Readable.from([Buffer.from(TEXT)]), filename: "s.txt" }, { onRetry: (i) => retries.push(i.attempt) }),
    );
    expect(error).toBeInstanceOf(ServerError);
    expect((error as ServerError).attempts).toBe(1);
    expect(retries).toEqual([]);
    expect(statuses(emu).slice(1)).toEqual([500]);
  });

  it("sends a one-shot stream once: a 429 is thrown, not retried", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    emu.inject("rateLimit", { path: `/v2/workflows/${wf.id}/run/` });
    const error = await failure(af.workflows.run(wf.id, { file: Readable.from([Buffer.from(TEXT)]), filename: "s.txt" }));
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBe(50);
    expect(emu.requests).toHaveLength(2);
  });

  it("sends a one-shot stream once even with an idempotencyKey: a reset is a ConnectionError after 1 request", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    emu.inject("reset", { path: `/v2/workflows/${wf.id}/upload/` });
    const error = await failure(
      af.workflows.upload(wf.id, { file: Readable.from([Buffer.from(TEXT)]), filename: "s.txt" }, { idempotencyKey: "stream-1" }),
    );
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).attempts).toBe(1);
    expect(emu.requests).toHaveLength(2);
  });
});

describe("af.workflows.upload: memory", () => {
  /** `gc()` without --expose-gc on the command line, so each sample reads what is live, not what awaits collection. */
  function gcFunction(): () => void {
    v8.setFlagsFromString("--expose-gc");
    return vm.runInNewContext("gc") as () => void;
  }

  interface Growth {
    /** Live Buffers and ArrayBuffers: where a file read into memory would sit. */
    readonly arrayBuffers: number;
    /** All memory outside the JS heap: the above plus native allocations (noisier: the server shares the process). */
    readonly external: number;
    readonly rss: number;
    readonly samples: number;
  }

  /**
   * Measures peak growth of live memory over a baseline taken now. Samples are taken by the server as
   * the body arrives (every 2 MB), not on a timer, so their number does not depend on how fast the upload runs.
   */
  function meter(): { sample: () => void; growth: () => Growth } {
    const gc = gcFunction();
    gc();
    const base = process.memoryUsage();
    const peak = { arrayBuffers: 0, external: 0, rss: 0, samples: 0 };
    return {
      sample() {
        // A full collection: chunks already sent may have been promoted, which a scavenge would leave.
        gc();
        const now = process.memoryUsage();
        peak.arrayBuffers = Math.max(peak.arrayBuffers, now.arrayBuffers - base.arrayBuffers);
        peak.external = Math.max(peak.external, now.external - base.external);
        peak.rss = Math.max(peak.rss, now.rss - base.rss);
        peak.samples += 1;
      },
      growth: () => ({ ...peak }),
    };
  }

  const report = (label: string, g: Growth): void =>
    console.log(
      `[${label}] peak growth: arrayBuffers=${(g.arrayBuffers / MB).toFixed(2)} MB external=${(g.external / MB).toFixed(2)} MB rss=${(
        g.rss / MB
      ).toFixed(2)} MB (${g.samples} samples)`,
    );

  /**
   * A server that counts the body's bytes as they come, keeping none, calls `onProgress` at every 2 MB
   * received, and answers like upload/.
   */
  async function drainingServer(onProgress: () => void): Promise<{ url: string; received: () => number }> {
    let received = 0;
    const server = await startServer((req, res) => {
      let next = 2 * MB;
      req.on("data", (chunk: Buffer) => {
        received += chunk.byteLength;
        if (received >= next) {
          next += 2 * MB;
          onProgress();
        }
      });
      req.on("end", () =>
        send(res, {
          status: 201,
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ status: "uploaded", filename: "big.pdf", file_collection_id: "c", file_id: "f" }),
        }),
      );
    });
    closeAfterTest(() => server.close());
    return { url: server.url, received: () => received };
  }

  /** A ~19.5 MB file, written 1 MB at a time so the test itself never holds it. */
  async function bigFile(): Promise<{ path: string; size: number }> {
    const path = join(await tempDir(), "big.pdf");
    const out = createWriteStream(path);
    const chunk = Buffer.alloc(MB, 0x41);
    for (let i = 0; i < 19; i++) out.write(chunk);
    out.end(chunk.subarray(0, MB / 2));
    await finished(out);
    return { path, size: 19.5 * MB };
  }

  it("uploads a 19.5 MB file from a path with live buffer growth well under its size", async () => {
    const { path, size } = await bigFile();
    let sample = (): void => undefined;
    const server = await drainingServer(() => sample());
    const af = new Anyformat({ apiKey: KEY, baseUrl: server.url });
    closeAfterTest(() => af.close());

    const m = meter();
    sample = m.sample;
    const uploaded = await af.workflows.upload("wf", { file: path });
    m.sample();
    const growth = m.growth();
    report("19.5 MB upload from a path", growth);
    expect(uploaded.status).toBe("uploaded");
    expect(server.received()).toBeGreaterThan(size);
    expect(growth.samples).toBeGreaterThanOrEqual(9);
    expect(growth.arrayBuffers).toBeLessThan(10 * MB);
  });

  it("shows the same measure catching a file read whole into memory", async () => {
    // The control: were the upload to buffer the file, the measure above would see it.
    const { path, size } = await bigFile();
    let sample = (): void => undefined;
    const server = await drainingServer(() => sample());
    const af = new Anyformat({ apiKey: KEY, baseUrl: server.url });
    closeAfterTest(() => af.close());

    const m = meter();
    sample = m.sample;
    await af.workflows.upload("wf", { file: await readFile(path), filename: "big.pdf" });
    const growth = m.growth();
    report("control: the same file read whole first", growth);
    expect(growth.samples).toBeGreaterThanOrEqual(9);
    expect(growth.arrayBuffers).toBeGreaterThan(size * 0.9);
  });

  it("uploads a 19.5 MB file from a path to the emulator, which stores every byte", async () => {
    const { path, size } = await bigFile();
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const uploaded = await af.workflows.upload(wf.id, { file: path });
    expect(storedFile(emu, uploaded.file_collection_id)).toMatchObject({ filename: "big.pdf", size });
  });
});
