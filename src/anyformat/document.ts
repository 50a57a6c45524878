import { InvalidArgumentError } from "../core/errors.js";
import type { NamedSpec } from "../core/client.js";
import { multipartBody, prepareFile, type FileInput, type FormPart } from "../core/upload.js";
import { ANYFORMAT_MAX_FILE_BYTES } from "./client.js";

/**
 * A document to run or upload: a file (a path, bytes, a `Blob`/`File` or a stream, with `filename` for
 * bytes and streams), or `text`. Exactly one of the two.
 *
 * @example
 * ```ts
 * await af.workflows.run(id, { file: "./invoice.pdf" });
 * await af.workflows.run(id, { file: buffer, filename: "invoice.pdf" });
 * await af.workflows.run(id, { text: "Invoice 42, total 99.50 EUR" });
 * ```
 */
export type DocumentInput =
  | { readonly file: FileInput; readonly filename?: string | undefined; readonly contentType?: string | undefined; readonly text?: undefined }
  | { readonly text: string; readonly file?: undefined; readonly filename?: undefined; readonly contentType?: undefined };

/**
 * The multipart spec for a document. A path, bytes or a blob can be sent again, so the upload is
 * retried like any call; a one-shot stream cannot, so it is sent once.
 */
export async function documentSpec<T>(
  input: DocumentInput,
  spec: Omit<NamedSpec<T>, "body" | "replayable">,
): Promise<NamedSpec<T>> {
  const hasFile = input != null && (input as { file?: unknown }).file != null;
  const hasText = input != null && (input as { text?: unknown }).text != null;
  if (hasFile === hasText) {
    throw new InvalidArgumentError(
      hasFile ? "Pass either `file` or `text`, not both" : "A document is required: pass { file } or { text }",
    );
  }
  let part: FormPart;
  let replayable = true;
  if (hasText) {
    if (typeof input.text !== "string") throw new InvalidArgumentError("`text` must be a string");
    part = { name: "text", value: input.text };
  } else {
    const file = await prepareFile(input as Parameters<typeof prepareFile>[0], ANYFORMAT_MAX_FILE_BYTES);
    replayable = file.replayable;
    part = { name: "file", file };
  }
  return { ...spec, body: () => multipartBody([part]), replayable };
}
