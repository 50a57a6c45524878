import { extname } from "node:path";
import { InvalidArgumentError } from "../core/errors.js";
import { prepareFile, type FileInput, type PreparedFile } from "../core/upload.js";
import { IMAGE_LIMIT_HINT } from "./remedies.js";

/**
 * Roboflow's limit per image, on the main API and the inference host alike: checked before sending.
 *
 * @example
 * ```ts
 * if ((await stat(path)).size > ROBOFLOW_MAX_IMAGE_BYTES) await shrink(path);
 * ```
 */
export const ROBOFLOW_MAX_IMAGE_BYTES = 20 * 1024 * 1024;

/**
 * A Workflow takes its images as base64 inside a JSON body of at most 20 MB, and base64 is a third
 * larger than the bytes: 15 MB of image is what fits.
 */
export const WORKFLOW_MAX_IMAGE_BYTES = 15 * 1024 * 1024;

/**
 * An image to send: a file (a path, bytes, a `Blob`/`File` or a stream, bare or as `{ file, filename? }`),
 * or `{ url }` for Roboflow to fetch itself.
 *
 * @example
 * ```ts
 * await rf.models.predict("widgets/2", "./widget.jpg");
 * await rf.models.predict("widgets/2", { file: jpegBytes, filename: "widget.jpg" });
 * await rf.models.predict("widgets/2", { url: "https://example.com/widget.jpg" });
 * ```
 */
export type ImageInput =
  | FileInput
  | { readonly url: string }
  | { readonly file: FileInput; readonly filename?: string | undefined; readonly contentType?: string | undefined };

/** An image made ready: bytes checked against the limit, or a URL checked for form. */
export type PreparedImage = { readonly kind: "file"; readonly file: PreparedFile } | { readonly kind: "url"; readonly url: string };

const IMAGE_TYPES: Readonly<Record<string, string>> = {
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".png": "image/png",
  ".bmp": "image/bmp",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".tif": "image/tiff",
  ".tiff": "image/tiff",
  ".avif": "image/avif",
  ".heic": "image/heic",
  ".heif": "image/heif",
};

/** Whether a file's name says it is an image Roboflow takes (by its extension): how a folder's images are told from the rest. */
export function isImageName(name: string): boolean {
  return Object.hasOwn(IMAGE_TYPES, extname(name).toLowerCase());
}

/** What to do about a Workflow image over its limit. */
export const WORKFLOW_IMAGE_HINT =
  "A Workflow takes its images as base64 in a body of at most 20 MB, so 15 MB of image at most: shrink it, or pass { url } for the host to fetch.";

/** Checks an image before anything is sent: its form, its size (up to `maxBytes`), a URL's shape. */
export async function prepareImage(input: ImageInput, maxBytes = ROBOFLOW_MAX_IMAGE_BYTES, tooBigHint = IMAGE_LIMIT_HINT): Promise<PreparedImage> {
  if (input === null || input === undefined) throw new InvalidArgumentError("An image is required: a path, bytes, a Blob, a stream, or { url }");
  if (isUrlInput(input)) return { kind: "url", url: checkedUrl(input.url) };
  const param = isFileParam(input) ? input : { file: input as FileInput };
  if (typeof param.file === "string" && /^https?:\/\//i.test(param.file)) {
    throw new InvalidArgumentError(`${JSON.stringify(param.file)} is a URL, not a path`, { hint: "Pass { url } for Roboflow to fetch it." });
  }
  const named = param.filename ?? (typeof param.file === "string" ? param.file : undefined);
  const contentType = param.contentType ?? (named === undefined ? undefined : IMAGE_TYPES[extname(named).toLowerCase()]);
  const file = await prepareFile({ file: param.file, filename: param.filename, contentType }, maxBytes, tooBigHint);
  return { kind: "file", file };
}

/** Reads a prepared file whole (a Workflow takes base64 in JSON); the size was checked, or is cut while read. */
export async function readAll(file: PreparedFile): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of file.open()) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** A threshold in the one scale faultline takes, 0 to 1, checked before a request. */
export function threshold(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
    throw new InvalidArgumentError(`\`${name}\` is a fraction from 0 to 1, got ${JSON.stringify(value)}`, {
      hint: value > 1 && value <= 100 ? `For ${value}%, pass ${value / 100}.` : undefined,
    });
  }
  return value;
}

function checkedUrl(url: string): string {
  let parsed: URL | undefined;
  try {
    parsed = typeof url === "string" ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
    throw new InvalidArgumentError(`An image URL must be an absolute http(s) URL, got ${JSON.stringify(url)}`);
  }
  return url;
}

// Only plain objects are options: a stream may carry a `url` of its own (an http.IncomingMessage does).
function isPlain(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function isUrlInput(input: ImageInput): input is { readonly url: string } {
  return isPlain(input) && "url" in input && !("file" in input);
}

function isFileParam(input: ImageInput): input is { readonly file: FileInput; readonly filename?: string; readonly contentType?: string } {
  return isPlain(input) && "file" in input;
}
