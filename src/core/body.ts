/**
 * Reading a response body: decoded from its `Content-Encoding`, and never past a cap counted in decoded
 * bytes, so a small gzip that inflates to gigabytes is read only as far as the cap.
 */
import { Transform, pipeline, type Readable, type TransformCallback } from "node:stream";
import * as zlib from "node:zlib";

/** What `Accept-Encoding` offers: every coding this Node can decode. */
export const ACCEPT_ENCODING = typeof zlib.createZstdDecompress === "function" ? "gzip, deflate, br, zstd" : "gzip, deflate, br";

/** A body as undici hands it over. */
export type ResponseBody = Readable & { text(): Promise<string> };

/** Why a body could not be read as text: internal, turned into the right typed error by the transport. */
export class BodyProblem extends Error {
  constructor(
    readonly kind: "too-large" | "undecodable",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface ReadOptions {
  /** The response's `content-encoding`, as sent. */
  readonly encoding: string | undefined;
  /** The response's `content-length`, as sent. */
  readonly length: string | undefined;
  /** The most decoded bytes to read. */
  readonly cap: number;
  /** Past the cap: `"truncate"` keeps what fits (error bodies), `"refuse"` throws `too-large` (2xx bodies). */
  readonly over: "truncate" | "refuse";
}

/** The body's text, decoded; `truncated` when an error body went past the cap. Throws `BodyProblem`. */
export async function readBody(body: ResponseBody, options: ReadOptions): Promise<{ text: string; truncated: boolean }> {
  const codings = codingsOf(options.encoding);
  const declared = options.length === undefined ? undefined : Number(options.length);
  if (codings.length === 0 && declared !== undefined && declared <= options.cap) {
    // The common case: plain bytes of a known, acceptable size. undici reads exactly that many.
    return { text: await body.text(), truncated: false };
  }
  if (codings.length === 0 && declared !== undefined && declared > options.cap && options.over === "refuse") {
    letGo(body);
    throw tooLarge(options.cap);
  }
  let stream: ReturnType<typeof decoded>;
  try {
    stream = decoded(body, codings);
  } catch (error) {
    // A coding faultline cannot undo: the body is never read, so it must be let go of, or the pooled
    // connection under it would wait for a reader for ever (and `close()` with it).
    letGo(body);
    throw error;
  }
  return readCapped(stream, options.cap, options.over);
}

/**
 * Reads at most `cap` bytes; past that the stream is destroyed, so the rest is neither buffered nor, for a
 * compressed body, inflated.
 */
async function readCapped(
  stream: Decoded,
  cap: number,
  over: ReadOptions["over"],
): Promise<{ text: string; truncated: boolean }> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  try {
    for await (const chunk of stream) {
      const room = cap - size;
      if (chunk.byteLength > room) {
        if (over === "refuse") throw tooLarge(cap);
        chunks.push(chunk.subarray(0, room));
        size += room;
        truncated = true;
        break;
      }
      chunks.push(chunk);
      size += chunk.byteLength;
    }
  } catch (error) {
    if (error instanceof BodyProblem) throw error;
    if (isDecodeError(error)) throw new BodyProblem("undecodable", `the body could not be decoded: ${(error as Error).message}`, { cause: error });
    throw error;
  } finally {
    // `break` and `throw` leave the loop early: make sure nothing keeps reading (or inflating) behind it.
    letGo(stream);
  }
  return { text: Buffer.concat(chunks, size).toString("utf8"), truncated };
}

/**
 * Stops a body nobody will read. undici answers the destroy of an unfinished body with an `error` event
 * (a RequestAbortedError) a tick later: with no listener it would crash the process, and it says nothing
 * the caller has not already been told.
 */
function letGo(stream: { on(event: "error", listener: () => void): unknown; destroy(error?: Error): void }): void {
  stream.on("error", ignore);
  stream.destroy();
}

function ignore(): void {}

type Decoded = AsyncIterable<Uint8Array> & { on(event: "error", listener: () => void): unknown; destroy(error?: Error): void };

/** The codings applied, in the order they must be undone; `identity` is no coding. */
function codingsOf(header: string | undefined): string[] {
  if (header === undefined) return [];
  const codings = header
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== "" && c !== "identity");
  return codings.reverse();
}

function decoded(body: ResponseBody, codings: readonly string[]): Decoded {
  if (codings.length === 0) return body;
  const decoders = codings.map(decoderFor);
  // pipeline destroys every stage when any fails or the last is destroyed early; its callback only swallows
  // the error, which the reader sees anyway.
  return pipeline([body, ...decoders], () => undefined) as unknown as Decoded;
}

// Lenient flushing, as browsers and undici's fetch do: a body cut short still gives what it held.
const ZLIB_OPTIONS = { flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH };
const BROTLI_OPTIONS = {
  flush: zlib.constants.BROTLI_OPERATION_FLUSH,
  finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH,
};

function decoderFor(coding: string): Transform {
  switch (coding) {
    case "gzip":
    case "x-gzip":
      return zlib.createGunzip(ZLIB_OPTIONS);
    case "deflate":
      return new Deflate();
    case "br":
      return zlib.createBrotliDecompress(BROTLI_OPTIONS);
    case "zstd":
      if (typeof zlib.createZstdDecompress === "function") return zlib.createZstdDecompress();
      break;
  }
  throw new BodyProblem("undecodable", `the body was sent with Content-Encoding "${coding.slice(0, 40)}", which faultline cannot decode`);
}

/**
 * `deflate` is meant to be zlib-wrapped, but servers send raw deflate too: the first byte tells which
 * (a zlib header's low nibble is 8), as browsers decide.
 */
class Deflate extends Transform {
  #inner: zlib.Inflate | zlib.InflateRaw | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.#inner === undefined) {
      const first = chunk[0];
      if (first === undefined) return done();
      this.#inner = (first & 0x0f) === 0x08 ? zlib.createInflate(ZLIB_OPTIONS) : zlib.createInflateRaw(ZLIB_OPTIONS);
      this.#inner.on("data", (data: Buffer) => this.push(data));
      this.#inner.on("error", (error) => this.destroy(error));
    }
    this.#inner.write(chunk, () => done());
  }

  override _flush(done: TransformCallback): void {
    if (this.#inner === undefined) return done();
    // 'end', not 'finish': every inflated byte has been pushed on by then.
    this.#inner.once("end", () => done());
    this.#inner.end();
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.#inner?.destroy();
    done(error);
  }
}

function tooLarge(cap: number): BodyProblem {
  return new BodyProblem("too-large", `the body is larger than ${cap} bytes`);
}

function isDecodeError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  // zlib's codes (Z_DATA_ERROR), brotli's (ERR__ERROR_FORMAT_...), zstd's (ZSTD_error_...).
  return typeof code === "string" && /^(Z_|ERR__ERROR|ERR_BROTLI|ZSTD_error)/.test(code);
}
