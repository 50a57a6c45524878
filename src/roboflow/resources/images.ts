import * as z from "zod/mini";
import { APIPromise, type ApiResponse } from "../../core/api-promise.js";
import {
  AbortedError,
  ConflictError,
  FaultlineError,
  InvalidArgumentError,
  NotFoundError,
  withAttempts,
} from "../../core/errors.js";
import type { NamedSpec } from "../../core/client.js";
import type { PollRecorder } from "../../core/tracing/trace.js";
import type { RequestOptions } from "../../core/transport.js";
import { multipartBody, type FileInput, type FormPart } from "../../core/upload.js";
import { pauseBetweenPolls } from "../../core/wait.js";
import type { Roboflow } from "../client.js";
import { prepareImage } from "../image-input.js";
import { pathOf } from "../paths.js";
import {
  Acknowledgement,
  ImageResponse,
  ImagesDeleted,
  ImageUploadResponse,
  type ImageDetail,
  type UploadedImage,
} from "../schemas.js";

const ImageOf = z.pipe(ImageResponse, z.transform((r) => r.image));

/** The dataset split an image goes to. @example `await rf.images.upload("widgets", { file, split: "test" })` */
export type ImageSplit = "train" | "valid" | "test";

/** What every upload may say about the image, besides the image itself. @example `{ name: "w-1.jpg", split: "train", batch: "line-3", tags: ["night"] }` */
export interface ImageUploadOptions {
  /** The image's name in the project [the file's own name; pass one for bytes and streams]. */
  readonly name?: string | undefined;
  /** [Roboflow's default, `train`] */
  readonly split?: ImageSplit | undefined;
  /** The upload batch it is filed under in the Roboflow app. */
  readonly batch?: string | undefined;
  readonly tags?: readonly string[] | undefined;
  /** Custom metadata, stored with the image (file uploads; for a URL upload use `setMetadata` afterwards). */
  readonly metadata?: Readonly<Record<string, unknown>> | undefined;
}

/**
 * What `images.upload` takes: the image as `file` (a path, bytes, a `Blob`/`File` or a stream, at most
 * 20 MB, checked before sending) or as `url` (a public http(s) URL that Roboflow fetches itself).
 *
 * @example
 * ```ts
 * await rf.images.upload("widgets", { file: "./w-1.jpg", split: "valid", tags: ["line-3"], metadata: { cam: 2 } });
 * await rf.images.upload("widgets", { file: jpegBytes, name: "w-2.jpg" });
 * await rf.images.upload("widgets", { url: "https://cdn.example.com/w-3.jpg", batch: "cdn" });
 * ```
 */
export type ImageUploadParams = ImageUploadOptions &
  (
    | { readonly file: FileInput; readonly url?: undefined; readonly contentType?: string | undefined }
    | { readonly url: string; readonly file?: undefined; readonly contentType?: undefined }
  );

/**
 * What `images.annotate` takes.
 *
 * @example
 * ```ts
 * await rf.images.annotate("widgets", id, { annotation: "0 0.5 0.5 0.2 0.3", name: "w-1.txt", labelmap: ["widget"] });
 * await rf.images.annotate("widgets", id, { annotation: vocXml, name: "w-1.xml", overwrite: true });
 * ```
 */
export interface AnnotateParams {
  /** The annotation file's text (VOC XML, YOLO txt, COCO JSON...), or an object, sent as its JSON. */
  readonly annotation: string | Readonly<Record<string, unknown>>;
  /** The annotation file's name: its extension tells Roboflow the format (`.xml`, `.txt`, `.coco.json`, ...). */
  readonly name: string;
  /** Class names by id, for formats that number their classes (YOLO): `{ "0": "widget" }` or `["widget"]`. */
  readonly labelmap?: Readonly<Record<string, string>> | readonly string[] | undefined;
  /** Replace the image's annotation if it has one [false: an annotated image is a `ConflictError`]. */
  readonly overwrite?: boolean | undefined;
  /**
   * Ms a 404 for the image is waited out, polling, since an id uploaded a moment ago takes a while to
   * appear [5000]; 0 fails at once. The call's `signal` and `deadline` bound the wait too.
   */
  readonly waitTimeout?: number | undefined;
}

/**
 * What `images.setMetadata` takes: at least one change; a key or tag may not be both set and removed.
 *
 * @example
 * ```ts
 * await rf.images.setMetadata(id, { metadata: { reviewed: true }, removeMetadata: ["draft"], addTags: ["ok"] });
 * ```
 */
export interface ImageMetadataParams {
  /** Keys to set (upserted). */
  readonly metadata?: Readonly<Record<string, unknown>> | undefined;
  /** Keys to remove. */
  readonly removeMetadata?: readonly string[] | undefined;
  readonly addTags?: readonly string[] | undefined;
  readonly removeTags?: readonly string[] | undefined;
  /** The image's workspace [the client's]. */
  readonly workspace?: string | undefined;
}

const SPLITS: readonly string[] = ["train", "valid", "test"];
const DEFAULT_WAIT_TIMEOUT = 5_000;
const FIRST_POLL_MS = 250;
const MAX_POLL_MS = 1_000;

/**
 * Images of a dataset. A `project` is `"proj"` or `"ws/proj"`. Uploads and annotations go to
 * `/dataset/{proj}/...`, where the key names the workspace; `get`, `delete` and `setMetadata` to the workspace's routes.
 *
 * @example
 * ```ts
 * const { id } = await rf.images.upload("widgets", { file: "./widget-001.jpg", split: "train", tags: ["line-3"] });
 * if (id !== undefined) {
 *   await rf.images.annotate("widgets", id, { annotation: "0 0.5 0.5 0.2 0.3", name: "widget-001.txt", labelmap: ["widget"] });
 *   console.log((await rf.images.get("widgets", id)).annotation?.boxes);
 * }
 * ```
 */
export class ImagesResource {
  constructor(private readonly client: Roboflow) {}

  /**
   * `POST /dataset/{proj}/upload`. Resolves to `{ id, duplicate }`. A duplicate is a success, however
   * Roboflow says it (200 `{duplicate: true, id}`, or a 409 that says so): so is the duplicate a retry
   * meets when a 5xx came after the image was stored. "Could not fetch image URL" (400) is a
   * `BadRequestError` with a hint; the 502 `retryable: true` that a failing image host earns is retried.
   */
  upload(project: string, params: ImageUploadParams, options?: RequestOptions): APIPromise<UploadedImage> {
    const sent = this.client.call(() => this.#uploadSpec(project, params), options);
    return new APIPromise(sent.withResponse().catch(acceptDuplicate));
  }

  /**
   * `POST /dataset/{proj}/annotate/{id}`. "Already annotated" (409, or 400 in older answers) is a
   * `ConflictError` whose hint says to pass `overwrite: true`. A 404 is polled through for up to
   * `waitTimeout` ms (a fresh id takes a moment to appear), then thrown: Roboflow's 404 does not say
   * whether the id is fresh or wrong, so a wrong one costs that wait too (pass `waitTimeout: 0` for ids
   * known to be old).
   */
  annotate(project: string, imageId: string, params: AnnotateParams, options?: RequestOptions): APIPromise<Acknowledgement> {
    const once = (callOptions: RequestOptions | undefined): APIPromise<Acknowledgement> =>
      this.client.call(() => this.#annotateSpec(project, imageId, params), callOptions);
    const waitTimeout = params?.waitTimeout ?? DEFAULT_WAIT_TIMEOUT;
    // 0 sends once; a value that is not a number of ms is refused by the spec, before any request.
    if (!(waitTimeout > 0)) return once(options);
    const effective = this.client.effectiveOptions(options);
    return new APIPromise(this.client.traced("images.annotate", (trace) => this.#untilVisible(once, waitTimeout, effective, trace)));
  }

  /** `GET /{ws}/{proj}/images/{id}`: the image, its annotation, tags and URLs. */
  get(project: string, imageId: string, options?: RequestOptions): APIPromise<ImageDetail> {
    return this.client.call(() => {
      const ref = this.client.projectRef(project);
      const path = pathOf(ref.workspace, ref.project, "images", idOf(imageId));
      return { operation: "images.get", method: "GET", path, schema: ImageOf };
    }, options);
  }

  /**
   * `DELETE /{ws}/{proj}/images` `{images: [ids]}`. Roboflow documents a 204 with no body, and answers
   * 200 with counts elsewhere: both are success (resolving to `{}` or the counts).
   */
  delete(project: string, ids: string | readonly string[], options?: RequestOptions): APIPromise<Readonly<Record<string, unknown>>> {
    return this.client.call(() => {
      const ref = this.client.projectRef(project);
      const list = typeof ids === "string" ? [ids] : ids;
      if (!Array.isArray(list) || list.length === 0) throw new InvalidArgumentError("Name at least one image id to delete");
      const json = { images: list.map((id) => idOf(id)) };
      return { operation: "images.delete", method: "DELETE", path: pathOf(ref.workspace, ref.project, "images"), json, schema: ImagesDeleted };
    }, options);
  }

  /** `POST /{ws}/images/{id}/metadata`: sets and removes metadata keys and tags of one image. */
  setMetadata(imageId: string, params: ImageMetadataParams, options?: RequestOptions): APIPromise<Acknowledgement> {
    return this.client.call(() => {
      const { workspace, ...changes } = params;
      const json = checkedMetadata(changes);
      const path = pathOf(this.client.workspaceFor(workspace), "images", idOf(imageId), "metadata");
      return { operation: "images.setMetadata", method: "POST", path, json, schema: Acknowledgement };
    }, options);
  }

  async #uploadSpec(project: string, params: ImageUploadParams): Promise<NamedSpec<UploadedImage>> {
    const slug = this.client.datasetSlug(project);
    const split = checkedSplit(params.split);
    const tags = checkedStrings("tags", params.tags);
    const common = { operation: "images.upload", method: "POST", path: pathOf("dataset", slug, "upload"), schema: ImageUploadResponse } as const;
    const hasFile = params.file != null;
    const hasUrl = params.url != null;
    if (hasFile === hasUrl) {
      throw new InvalidArgumentError(hasFile ? "Pass either `file` or `url`, not both" : "An image is required: pass { file } or { url }");
    }
    if (hasUrl) {
      if (params.metadata !== undefined) {
        throw new InvalidArgumentError("`metadata` goes with a file upload only", {
          hint: "Upload by URL, then call rf.images.setMetadata(id, { metadata }).",
        });
      }
      const image = await prepareImage({ url: params.url as string });
      const url = image.kind === "url" ? image.url : undefined;
      return { ...common, query: { name: params.name, split, batch: params.batch, tag: tags, image: url } };
    }
    const image = await prepareImage({ file: params.file as FileInput, filename: params.name, contentType: params.contentType });
    if (image.kind !== "file") throw new InvalidArgumentError("An image is required: pass { file } or { url }");
    const { file } = image;
    const parts: FormPart[] = [{ name: "name", value: params.name ?? file.filename }];
    if (split !== undefined) parts.push({ name: "split", value: split });
    if (params.metadata !== undefined) parts.push({ name: "metadata", value: metadataText(params.metadata) });
    parts.push({ name: "file", file });
    return { ...common, query: { batch: params.batch, tag: tags }, body: () => multipartBody(parts), replayable: file.replayable };
  }

  #annotateSpec(project: string, imageId: string, params: AnnotateParams): NamedSpec<Acknowledgement> {
    const slug = this.client.datasetSlug(project);
    if (params === null || typeof params !== "object") throw new InvalidArgumentError("Pass { annotation, name }");
    const { annotation, name, labelmap, overwrite, waitTimeout } = params;
    if (waitTimeout !== undefined && !(Number.isFinite(waitTimeout) && waitTimeout >= 0)) {
      throw new InvalidArgumentError(`\`waitTimeout\` is a number of ms, 0 or more; got ${String(waitTimeout)}`);
    }
    if (typeof name !== "string" || name.trim() === "") {
      throw new InvalidArgumentError("`name` is required: the annotation file's name, whose extension tells Roboflow its format");
    }
    const annotationFile = typeof annotation === "string" ? annotation : jsonText("annotation", annotation);
    if (annotationFile.trim() === "") throw new InvalidArgumentError("`annotation` is empty");
    return {
      operation: "images.annotate",
      method: "POST",
      path: pathOf("dataset", slug, "annotate", idOf(imageId)),
      query: { name, overwrite: overwrite === true ? "true" : undefined },
      json: { annotationFile, labelmap: labelmapOf(labelmap) },
      schema: Acknowledgement,
    };
  }

  /**
   * Annotates, waiting out 404s while the id is fresh: polls from 250 ms, doubling to 1 s, until
   * `waitTimeout` or the call's deadline. Each poll is a call under the retry policy.
   */
  async #untilVisible(
    once: (options: RequestOptions) => APIPromise<Acknowledgement>,
    waitTimeout: number,
    options: RequestOptions,
    trace: PollRecorder | undefined,
  ): Promise<ApiResponse<Acknowledgement>> {
    const started = Date.now();
    const deadline = options.deadline !== undefined && options.deadline > 0 ? options.deadline : undefined;
    const until = Math.min(started + waitTimeout, deadline === undefined ? Infinity : started + deadline);
    let attempts = 0;
    let polls = 0;
    let interval = FIRST_POLL_MS;
    for (;;) {
      polls += 1;
      const left = deadline === undefined ? undefined : Math.max(1, started + deadline - Date.now());
      try {
        const response = await once(left === undefined ? options : { ...options, deadline: left }).withResponse();
        return { ...response, attempts: attempts + response.attempts };
      } catch (error) {
        if (!(error instanceof FaultlineError)) throw error;
        attempts += error.attempts;
        if (!(error instanceof NotFoundError)) throw withAttempts(error, attempts);
        if (Date.now() + interval >= until) {
          const hint = `The image was still not found after ${Date.now() - started} ms: check the id, or give a fresh upload longer with \`waitTimeout\`.`;
          throw withAttempts(withHint(error, hint), attempts);
        }
      }
      await pauseBetweenPolls(interval, options.signal, trace, polls).catch(() => {
        throw withAttempts(new AbortedError("Waiting for the image to appear was aborted"), attempts);
      });
      interval = Math.min(interval * 2, MAX_POLL_MS);
    }
  }
}

/** A 409 that says "duplicate" is the same success as 200 `{duplicate: true}`; anything else stays an error. */
function acceptDuplicate(error: unknown): ApiResponse<UploadedImage> {
  if (!(error instanceof ConflictError) || !saysDuplicate(error)) throw error;
  return {
    data: { id: idIn(error.body), duplicate: true },
    status: error.status,
    headers: error.headers,
    requestId: error.requestId,
    rateLimit: error.rateLimit,
    attempts: error.attempts,
    // An error does not record how long its call queued for rate-limit slots.
    queuedMs: 0,
  };
}

function saysDuplicate(error: ConflictError): boolean {
  const words = [error.message, error.type, typeof error.detail === "string" ? error.detail : undefined];
  return words.some((w) => w !== undefined && /duplicate/i.test(w));
}

/** The image id a duplicate answer names, at the top level or inside its error object. */
function idIn(body: unknown): string | undefined {
  if (body === null || typeof body !== "object") return undefined;
  const { id, error } = body as { id?: unknown; error?: unknown };
  if (typeof id === "string" && id !== "") return id;
  const inner = error !== null && typeof error === "object" ? (error as { id?: unknown }).id : undefined;
  return typeof inner === "string" && inner !== "" ? inner : undefined;
}

function withHint<E extends FaultlineError>(error: E, hint: string): E {
  Object.defineProperty(error, "hint", { value: hint, enumerable: true, configurable: true, writable: false });
  return error;
}

function idOf(id: string): string {
  if (typeof id !== "string" || id.trim() === "") throw new InvalidArgumentError("An image id is required");
  return id;
}

function checkedSplit(split: string | undefined): ImageSplit | undefined {
  if (split === undefined) return undefined;
  if (!SPLITS.includes(split)) throw new InvalidArgumentError(`\`split\` is one of train, valid, test; got ${JSON.stringify(split)}`);
  return split as ImageSplit;
}

function checkedStrings(name: string, values: readonly string[] | undefined): string[] | undefined {
  if (values === undefined) return undefined;
  if (!Array.isArray(values) || values.some((v) => typeof v !== "string" || v.trim() === "")) {
    throw new InvalidArgumentError(`\`${name}\` is a list of non-empty strings`);
  }
  return [...values];
}

function jsonText(name: string, value: unknown): string {
  try {
    const text = JSON.stringify(value) as string | undefined;
    if (text === undefined) throw new TypeError("not JSON");
    return text;
  } catch (error) {
    throw new InvalidArgumentError(`\`${name}\` cannot be sent as JSON`, { cause: error });
  }
}

function metadataText(metadata: Readonly<Record<string, unknown>>): string {
  if (metadata === null || typeof metadata !== "object" || Array.isArray(metadata)) {
    throw new InvalidArgumentError("`metadata` is an object of keys and values");
  }
  return jsonText("metadata", metadata);
}

/** A list of class names becomes the `{id: name}` map Roboflow reads. */
function labelmapOf(labelmap: AnnotateParams["labelmap"]): Readonly<Record<string, string>> | null {
  if (labelmap === undefined) return null;
  if (Array.isArray(labelmap)) return Object.fromEntries(labelmap.map((label, i) => [String(i), String(label)]));
  if (labelmap === null || typeof labelmap !== "object") throw new InvalidArgumentError("`labelmap` is a list of class names or an {id: name} object");
  return labelmap as Readonly<Record<string, string>>;
}

function checkedMetadata(changes: Omit<ImageMetadataParams, "workspace">): Record<string, unknown> {
  const { metadata, removeMetadata, addTags, removeTags } = changes;
  const removing = checkedStrings("removeMetadata", removeMetadata);
  const adding = checkedStrings("addTags", addTags);
  const dropping = checkedStrings("removeTags", removeTags);
  if (metadata !== undefined && (metadata === null || typeof metadata !== "object" || Array.isArray(metadata))) {
    throw new InvalidArgumentError("`metadata` is an object of keys and values");
  }
  if (metadata === undefined && removing === undefined && adding === undefined && dropping === undefined) {
    throw new InvalidArgumentError("Name at least one change: metadata, removeMetadata, addTags or removeTags");
  }
  const clash = (removing ?? []).find((key) => metadata !== undefined && Object.hasOwn(metadata, key));
  if (clash !== undefined) throw new InvalidArgumentError(`Metadata key ${JSON.stringify(clash)} is both set and removed`);
  const tagClash = (adding ?? []).find((tag) => dropping?.includes(tag) === true);
  if (tagClash !== undefined) throw new InvalidArgumentError(`Tag ${JSON.stringify(tagClash)} is both added and removed`);
  return { metadata, removeMetadata: removing, addTags: adding, removeTags: dropping };
}
