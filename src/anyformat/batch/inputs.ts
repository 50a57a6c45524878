/**
 * What a batch takes as a document, and how each is named: a key for the journal (stable across runs)
 * and a label, the file name the server will list its collection under.
 */
import { basename, extname, resolve } from "node:path";
import { InvalidArgumentError } from "../../core/errors.js";
import { formFilename, type FileInput } from "../../core/upload.js";
import type { BatchItem } from "../../core/batch/runner.js";
import type { DocumentInput } from "../document.js";

/**
 * A document of a batch: a path, a file (`filename` names bytes, blobs and streams), or a text with a
 * name. Names are what a resumed batch finds documents by: bytes and texts need names unique in the batch.
 *
 * @example
 * ```ts
 * const inputs: BatchInput[] = [
 *   "./invoices/0001.pdf",
 *   { file: await readFile("./scan.png"), filename: "scan.png" },
 *   { text: "Invoice 42, total 99.50 EUR", name: "invoice-42" },
 * ];
 * ```
 */
export type BatchInput =
  | string
  | { readonly file: FileInput; readonly filename?: string | undefined; readonly text?: undefined; readonly name?: undefined }
  | { readonly text: string; readonly name: string; readonly file?: undefined; readonly filename?: undefined };

/** The extensions anyformat accepts: a text's name without one is sent as `<name>.txt`. */
const ACCEPTED = new Set([
  ".pdf", ".doc", ".docx", ".txt", ".html", ".htm", ".rtf", ".odt", ".ppt", ".pptx", ".epub", ".xlsx", ".xls", ".csv",
  ".md", ".markdown", ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tiff", ".eml", ".msg", ".mp3", ".wav",
]);

/** A batch input's journal key and server-side name; a `FaultlineError` for one that is not a document. */
export function describeInput(input: BatchInput): BatchItem {
  if (typeof input === "string") {
    if (input.trim() === "") throw new InvalidArgumentError("A document path is empty");
    return { key: resolve(input), label: formFilename(basename(input)) };
  }
  if (input === null || typeof input !== "object") {
    throw new InvalidArgumentError(`A document is a path, { file, filename } or { text, name }, not ${input === null ? "null" : typeof input}`);
  }
  if (input.text !== undefined) {
    if (typeof input.text !== "string") throw new InvalidArgumentError("`text` must be a string");
    const name = nameOf(input.name, "A text needs a `name`, unique in the batch");
    return { key: `text:${name}`, label: formFilename(textFilename(name)) };
  }
  if (input.file == null) throw new InvalidArgumentError("A document is a path, { file, filename } or { text, name }");
  if (typeof input.file === "string") {
    if (input.file.trim() === "") throw new InvalidArgumentError("A document path is empty");
    const filename = input.filename === undefined ? basename(input.file) : nameOf(input.filename, "`filename` must be a name");
    return { key: resolve(input.file), label: formFilename(filename) };
  }
  const own = typeof Blob !== "undefined" && input.file instanceof Blob ? (input.file as { name?: unknown }).name : undefined;
  const name = nameOf(input.filename ?? (typeof own === "string" && own !== "" ? own : undefined), "Bytes, blobs and streams need a `filename`, unique in the batch");
  return { key: `file:${name}`, label: formFilename(name) };
}

/** What `workflows.run` is given for a batch input. A text goes as a text file, so the server lists it by name. */
export function documentOf(input: BatchInput): DocumentInput {
  if (typeof input === "string") return { file: input };
  if (input.text !== undefined) {
    return { file: Buffer.from(input.text, "utf8"), filename: textFilename(input.name), contentType: "text/plain; charset=utf-8" };
  }
  return input.filename === undefined ? { file: input.file } : { file: input.file, filename: input.filename };
}

/** Whether the input can be read only once (a stream): it cannot be submitted again. */
export function isOneShot(input: BatchInput): boolean {
  if (typeof input === "string" || input.text !== undefined) return false;
  const file = input.file;
  return !(typeof file === "string" || file instanceof Uint8Array || file instanceof ArrayBuffer || (typeof Blob !== "undefined" && file instanceof Blob));
}

/** How an input reads in reports: the path, the file name, or the text's name. */
export function inputName(input: BatchInput): string {
  if (typeof input === "string") return input;
  if (input.text !== undefined) return input.name;
  if (typeof input.file === "string") return input.file;
  const own = typeof Blob !== "undefined" && input.file instanceof Blob ? (input.file as { name?: unknown }).name : undefined;
  return input.filename ?? (typeof own === "string" && own !== "" ? own : "(unnamed)");
}

function textFilename(name: string): string {
  return ACCEPTED.has(extname(name).toLowerCase()) ? name : `${name}.txt`;
}

function nameOf(value: unknown, problem: string): string {
  if (typeof value !== "string" || value.trim() === "") throw new InvalidArgumentError(problem);
  return value;
}
