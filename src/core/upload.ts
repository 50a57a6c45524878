import { randomBytes } from "node:crypto";
import { ReadStream, createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { basename, extname } from "node:path";
import { Readable } from "node:stream";
import { InvalidArgumentError } from "./errors.js";
import type { OutgoingBody } from "./transport.js";

/**
 * What can be uploaded: a path (streamed from disk), bytes, a `Blob`/`File`, or a stream (a Node
 * `Readable`, a web `ReadableStream` or any async iterable of bytes).
 */
export type FileInput =
  | string
  | Uint8Array
  | ArrayBuffer
  | Blob
  | Readable
  | NodeJS.ReadableStream
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>;

/** A file to upload. `filename` names bytes and streams; a path or a `File` brings its own. */
export interface FileParam {
  readonly file: FileInput;
  readonly filename?: string | undefined;
  readonly contentType?: string | undefined;
}

/** A file checked and ready to be sent, once or (when `replayable`) on every attempt. */
export interface PreparedFile {
  readonly filename: string;
  readonly contentType: string;
  /** Bytes, when known before sending (paths, bytes, blobs). */
  readonly size: number | undefined;
  /** Whether `open` can be called again for a retry (a one-shot stream cannot). */
  readonly replayable: boolean;
  open(): AsyncIterable<Uint8Array>;
}

const DEFAULT_FILENAME = "file";

/**
 * Checks a file before anything is sent: it exists, it is a file, it is not over `maxBytes`. A size known
 * up front (a path, bytes, a blob, a stream read from a file) over the limit is refused before a byte is
 * sent. Any other stream's size is unknown until it has been read, so it is counted as it is sent and cut
 * off as it crosses `maxBytes`: the server gets at most `maxBytes` of it, and an incomplete request.
 * `tooBigHint` says what to do about a file over the limit, in the API's own terms [split or compress the document].
 */
export async function prepareFile(param: FileParam, maxBytes: number, tooBigHint = SPLIT_HINT): Promise<PreparedFile> {
  if (param === null || typeof param !== "object" || !("file" in param) || param.file == null) {
    throw new InvalidArgumentError("A file is required: pass { file } with a path, bytes, a Blob or a stream");
  }
  const { file } = param;
  const tooBig = (size: number): InvalidArgumentError =>
    new InvalidArgumentError(`The file is ${sizeOver(size, maxBytes)}`, { hint: tooBigHint });
  const typed = (filename: string): { filename: string; contentType: string } => ({
    filename,
    contentType: param.contentType ?? contentTypeOf(filename),
  });

  if (typeof file === "string") {
    if (file.trim() === "") throw new InvalidArgumentError("The file path is empty");
    const info = await stat(file).catch((error: NodeJS.ErrnoException) => {
      throw new InvalidArgumentError(`Cannot read ${JSON.stringify(file)}: ${error.code ?? error.message}`, { cause: error });
    });
    if (!info.isFile()) throw new InvalidArgumentError(`${JSON.stringify(file)} is not a file`);
    if (info.size > maxBytes) throw tooBig(info.size);
    return { ...typed(param.filename ?? basename(file)), size: info.size, replayable: true, open: () => createReadStream(file) };
  }
  if (file instanceof Uint8Array || file instanceof ArrayBuffer) {
    const bytes = file instanceof Uint8Array ? file : new Uint8Array(file);
    if (bytes.byteLength > maxBytes) throw tooBig(bytes.byteLength);
    return { ...typed(param.filename ?? DEFAULT_FILENAME), size: bytes.byteLength, replayable: true, open: () => once(bytes) };
  }
  if (typeof Blob !== "undefined" && file instanceof Blob) {
    if (file.size > maxBytes) throw tooBig(file.size);
    const own = typeof (file as { name?: unknown }).name === "string" ? (file as File).name : undefined;
    const contentType = param.contentType ?? (file.type === "" ? undefined : file.type);
    return {
      ...typed(param.filename ?? (own === undefined || own === "" ? DEFAULT_FILENAME : own)),
      ...(contentType === undefined ? {} : { contentType }),
      size: file.size,
      replayable: true,
      open: () => file.stream() as unknown as AsyncIterable<Uint8Array>,
    };
  }
  if (isAsyncIterable(file)) {
    const known = await fileStreamSize(file);
    if (known !== undefined && known > maxBytes) {
      // Closed, as it would be had it been sent and failed: its file stays open otherwise.
      (file as ReadStream).destroy();
      throw tooBig(known);
    }
    let opened = false;
    return {
      ...typed(param.filename ?? streamPath(file) ?? DEFAULT_FILENAME),
      size: undefined,
      replayable: false,
      open: () => {
        if (opened) throw new InvalidArgumentError("A stream can be uploaded only once");
        opened = true;
        return capped(file as AsyncIterable<Uint8Array | string>, maxBytes, tooBigHint);
      },
    };
  }
  throw new InvalidArgumentError(
    `Cannot upload a ${describe(file)}: pass a path, a Buffer/Uint8Array, a Blob/File or a readable stream`,
  );
}

/** A multipart form part: a text field or a file. */
export type FormPart =
  | { readonly name: string; readonly value: string }
  | { readonly name: string; readonly file: PreparedFile };

/**
 * A `multipart/form-data` body, streamed: files are read as they are sent, never whole into memory.
 * Its length is announced when every part's size is known.
 */
export function multipartBody(parts: readonly FormPart[]): OutgoingBody {
  const boundary = `----faultline${randomBytes(12).toString("hex")}`;
  const encoder = new TextEncoder();
  const heads = parts.map((part) =>
    encoder.encode(
      "file" in part
        ? `--${boundary}\r\nContent-Disposition: form-data; name="${quote(part.name)}"; filename="${formFilename(part.file.filename)}"\r\nContent-Type: ${part.file.contentType}\r\n\r\n`
        : `--${boundary}\r\nContent-Disposition: form-data; name="${quote(part.name)}"\r\n\r\n`,
    ),
  );
  const values = parts.map((part) => ("file" in part ? undefined : encoder.encode(part.value)));
  const crlf = encoder.encode("\r\n");
  const close = encoder.encode(`--${boundary}--\r\n`);

  let length: number | undefined = close.byteLength;
  parts.forEach((part, i) => {
    const size = "file" in part ? part.file.size : values[i]?.byteLength;
    length = length === undefined || size === undefined ? undefined : length + (heads[i]?.byteLength ?? 0) + size + crlf.byteLength;
  });

  async function* generate(): AsyncGenerator<Uint8Array> {
    for (const [i, part] of parts.entries()) {
      yield heads[i] as Uint8Array;
      if ("file" in part) yield* part.file.open();
      else yield values[i] as Uint8Array;
      yield crlf;
    }
    yield close;
  }

  const headers: Record<string, string> = { "content-type": `multipart/form-data; boundary=${boundary}` };
  if (length !== undefined) headers["content-length"] = String(length);
  return { body: Readable.from(generate(), { objectMode: false }), headers };
}

/** A file name as a multipart body carries it, and so as the server will know it. */
export function formFilename(name: string): string {
  return quote(name);
}

// Browsers' rule for names in Content-Disposition: quotes and line breaks are percent-encoded.
function quote(name: string): string {
  return name.replaceAll('"', "%22").replaceAll("\r", "%0D").replaceAll("\n", "%0A");
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

/**
 * A stream counted as it is sent. The chunk that would cross `maxBytes` is not sent: the upload fails
 * there, with the request cut off, and the server never sees more than `maxBytes` of the file.
 */
async function* capped(source: AsyncIterable<Uint8Array | string>, maxBytes: number, hint: string): AsyncGenerator<Uint8Array> {
  let size = 0;
  for await (const chunk of source) {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    size += bytes.byteLength;
    if (size > maxBytes) {
      // All that is known is that it is over: how far over, only the rest of the stream could say.
      throw new InvalidArgumentError(
        `The stream is over ${formatLimit(maxBytes)}, the limit for one file: its upload was cut off there`,
        { hint },
      );
    }
    yield bytes;
  }
}

/**
 * The size of a stream that `fs.createReadStream` opened on a file and nothing has read yet, from the
 * file itself (and the stream's `start`/`end`); `undefined` for any other stream.
 */
async function fileStreamSize(stream: unknown): Promise<number | undefined> {
  if (!(stream instanceof ReadStream) || typeof stream.path !== "string" || stream.bytesRead !== 0) return undefined;
  const info = await stat(stream.path).catch(() => undefined);
  if (info === undefined || !info.isFile()) return undefined;
  const { start, end } = stream as ReadStream & { start?: unknown; end?: unknown };
  const from = typeof start === "number" ? start : 0;
  const to = typeof end === "number" ? Math.min(info.size, end + 1) : info.size;
  return Math.max(0, to - from);
}

function isAsyncIterable(value: unknown): value is AsyncIterable<Uint8Array | string> {
  return value !== null && typeof value === "object" && typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function";
}

/** `fs.createReadStream` streams know their path: use its name when none was given. */
function streamPath(stream: unknown): string | undefined {
  const path = (stream as { path?: unknown }).path;
  return typeof path === "string" && path !== "" ? basename(path) : undefined;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  return (value as object).constructor?.name ?? "object";
}

const SPLIT_HINT = "Split the document or compress it before uploading.";
const MB = 1024 * 1024;

/**
 * `"21.3 MB, over the limit of 20 MB"`; in exact bytes when the rounded sizes would read the same
 * (`"20,971,521 bytes, over the limit of 20 MB (20,971,520 bytes)"`).
 */
function sizeOver(size: number, limit: number): string {
  const rounded = (bytes: number): string => `${(bytes / MB).toFixed(1)} MB`;
  const limitText = formatLimit(limit);
  if (size >= MB && rounded(size) !== rounded(limit)) return `${rounded(size)}, over the limit of ${limitText}`;
  const exact = limitText === bytesOf(limit) ? "" : ` (${bytesOf(limit)})`;
  return `${bytesOf(size)}, over the limit of ${limitText}${exact}`;
}

/** `"20 MB"` for a whole number of MB, else the exact bytes. */
function formatLimit(limit: number): string {
  return limit >= MB && limit % MB === 0 ? `${limit / MB} MB` : bytesOf(limit);
}

function bytesOf(bytes: number): string {
  return `${bytes.toLocaleString("en-US")} bytes`;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".pdf": "application/pdf",
  ".txt": "text/plain",
  ".md": "text/markdown",
  ".markdown": "text/markdown",
  ".html": "text/html",
  ".htm": "text/html",
  ".csv": "text/csv",
  ".rtf": "application/rtf",
  ".doc": "application/msword",
  ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  ".xls": "application/vnd.ms-excel",
  ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  ".ppt": "application/vnd.ms-powerpoint",
  ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
  ".odt": "application/vnd.oasis.opendocument.text",
  ".epub": "application/epub+zip",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".bmp": "image/bmp",
  ".tiff": "image/tiff",
  ".eml": "message/rfc822",
  ".msg": "application/vnd.ms-outlook",
  ".mp3": "audio/mpeg",
  ".wav": "audio/wav",
  ".json": "application/json",
};

function contentTypeOf(filename: string): string {
  return CONTENT_TYPES[extname(filename).toLowerCase()] ?? "application/octet-stream";
}
