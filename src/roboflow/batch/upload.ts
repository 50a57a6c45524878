/**
 * Many images into one project, resumable from a journal. The core runner (`core/batch/`) keeps the
 * books; this module says how Roboflow takes an image (the submission: an upload), how its annotation
 * follows (the second step, itself a write), and which errors end the image, the batch, or neither.
 *
 * An upload whose answer was lost (a crash, a reset, a 502 after the image was stored) is sent again, not
 * looked for: Roboflow keeps one image per content in a project and answers the same bytes with
 * `duplicate: true` and the stored image's id. A resend costs the one request a lookup would, and no call
 * finds an image by its bytes. The journal still keeps every image it knows to be uploaded from being sent
 * again: only an upload whose answer never reached it is repeated.
 */
import { readFile, stat } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { runBatch, type BatchProgress, type BatchTask, type CollectHistory, type Submitted, type Verdict } from "../../core/batch/runner.js";
import {
  AbortedError,
  AccessDeniedError,
  ApiError,
  AuthFailedError,
  ConflictError,
  ConnectionError,
  CredentialsError,
  FaultlineError,
  InvalidArgumentError,
  LockedError,
  NotFoundError,
  ResponseTooLargeError,
  ResponseValidationError,
  TimeoutError,
} from "../../core/errors.js";
import { mayHaveReachedServer } from "../../core/retry.js";
import type { Roboflow } from "../client.js";
import type { ImageSplit } from "../resources/images.js";
import type { UploadedImage } from "../schemas.js";

/**
 * One image of an upload batch: its file, and the annotation file to attach once it is uploaded.
 *
 * @example
 * ```ts
 * const inputs: UploadInput[] = [{ file: "./images/w-1.jpg", annotation: "./labels/w-1.txt" }, { file: "./images/w-2.jpg" }];
 * ```
 */
export interface UploadInput {
  readonly file: string;
  readonly annotation?: string | undefined;
  /** Why the image cannot be uploaded as given (two annotation files claim it, say): reported as its failure. */
  readonly problem?: string | undefined;
}

/**
 * How `uploadImages` uploads.
 *
 * @example
 * ```ts
 * const options: UploadBatchOptions = { split: "train", tags: ["line-3"], journal: "./upload.journal", concurrency: 8 };
 * ```
 */
export interface UploadBatchOptions {
  /** [Roboflow's default, `train`] */
  readonly split?: ImageSplit | undefined;
  /** The upload batch the images are filed under in the Roboflow app. */
  readonly batch?: string | undefined;
  readonly tags?: readonly string[] | undefined;
  /** Replace an annotation an image already has [false: "already annotated" fails the image, unless this batch wrote it]. */
  readonly overwrite?: boolean | undefined;
  /** Images in flight at once, upload to annotation [16]. */
  readonly concurrency?: number | undefined;
  /** The journal file; without it nothing is resumable (see `runBatch`). */
  readonly journal?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: ((progress: BatchProgress) => void) | undefined;
}

/**
 * One image's end. `duplicate` is Roboflow's word on the upload: the bytes were in the project already,
 * from before the batch or from this batch's own upload whose answer was lost. A failed image carries its
 * `id` when it was uploaded and only its annotation failed.
 *
 * @example
 * ```ts
 * for await (const outcome of uploadImages(rf, "widgets", inputs)) {
 *   if (outcome.status === "failed") console.error(outcome.input.file, outcome.error.code);
 * }
 * ```
 */
export type UploadOutcome =
  | {
      readonly input: UploadInput;
      readonly status: "uploaded";
      readonly id: string | undefined;
      readonly duplicate: boolean;
      readonly annotated: boolean;
    }
  | { readonly input: UploadInput; readonly status: "failed"; readonly id: string | undefined; readonly error: FaultlineError };

/** What an image's two steps gave. */
interface Uploaded {
  readonly id: string | undefined;
  readonly duplicate: boolean;
  readonly annotated: boolean;
}

/**
 * The journal's handle for an uploaded image: its id, marked `duplicate:` when Roboflow already had the
 * bytes, so that a resumed run still knows whether the image was new (no one else could have annotated it).
 */
const DUPLICATE = "duplicate:";

function refOf(image: UploadedImage): string {
  return image.duplicate ? `${DUPLICATE}${image.id ?? ""}` : image.id;
}

function imageOf(ref: string): { readonly id: string | undefined; readonly duplicate: boolean } {
  const duplicate = ref.startsWith(DUPLICATE);
  const id = duplicate ? ref.slice(DUPLICATE.length) : ref;
  return { id: id === "" ? undefined : id, duplicate };
}

/** An annotation file is text: one over this is not read into memory. */
const MAX_ANNOTATION_BYTES = 20 * 1024 * 1024;

/**
 * Uploads every image of `inputs` to `project`, attaching its annotation after it, and yields one outcome
 * per image in the order they end. An image refused for itself (not an image, over 20 MB, an annotation
 * Roboflow refuses) is reported and the batch goes on; a refused key (401, 403), a locked workspace (423)
 * or a project that does not exist stops it by throwing that error, and the journal lets it resume.
 *
 * @example
 * ```ts
 * for await (const outcome of uploadImages(rf, "widgets", [{ file: "./w-1.jpg" }], { journal: "./upload.journal" })) {
 *   console.log(outcome.input.file, outcome.status);
 * }
 * ```
 */
export function uploadImages(
  rf: Roboflow,
  project: string,
  inputs: Iterable<UploadInput> | AsyncIterable<UploadInput>,
  options: UploadBatchOptions = {},
): AsyncIterable<UploadOutcome> {
  const task = new UploadTask(rf, project, options);
  // Nothing to wait for before a resend: a lost upload is sent again at once (see the module's comment).
  const { concurrency, journal, signal, onProgress } = options;
  const batch = runBatch(task, inputs, { concurrency, journal, signal, onProgress, settleMs: 0 });
  return {
    async *[Symbol.asyncIterator]() {
      for await (const result of batch) {
        yield result.status === "processed"
          ? { input: result.input, status: "uploaded", ...result.value }
          : { input: result.input, status: "failed", id: task.idOf(result.input), error: result.error };
      }
    },
  };
}

/** Roboflow's part of an upload batch. */
class UploadTask implements BatchTask<UploadInput, Uploaded> {
  readonly identity: { readonly kind: string; readonly target: string };
  /** Image ids known by key, from this run's answers or the journal: a failed annotation still names its image. */
  readonly #ids = new Map<string, string>();

  constructor(
    private readonly rf: Roboflow,
    private readonly project: string,
    private readonly options: UploadBatchOptions,
  ) {
    this.identity = { kind: "roboflow.upload", target: project };
  }

  describe(input: UploadInput): { key: string; label: string } {
    if (input === null || typeof input !== "object" || typeof input.file !== "string" || input.file.trim() === "") {
      throw new InvalidArgumentError("An image of an upload batch is { file, annotation? }, with the image's path");
    }
    if (input.problem !== undefined) throw new InvalidArgumentError(input.problem);
    // The path is the label too: lost uploads are resent, never looked for by name, so images that share a
    // name need not wait for each other.
    const key = resolve(input.file);
    return { key, label: key };
  }

  async submit(input: UploadInput, item: { readonly key: string }, signal: AbortSignal): Promise<Submitted> {
    const { split, batch, tags } = this.options;
    const params = { file: input.file, split, batch, tags };
    const { data, queuedMs, rateLimit } = await this.rf.images.upload(this.project, params, { signal }).withResponse();
    if (data.id !== undefined) this.#ids.set(item.key, data.id);
    // A 409 duplicate that names no image leaves no id: there is nothing to annotate, which `collect` says.
    return { ref: refOf(data), queuedMs, rateLimit };
  }

  async collect(input: UploadInput, ref: string, signal: AbortSignal, history: CollectHistory): Promise<Uploaded> {
    const { id, duplicate } = imageOf(ref);
    if (id !== undefined) this.#ids.set(resolve(input.file), id);
    if (input.annotation === undefined) return { id, duplicate, annotated: false };
    // An earlier run annotated it; only the report of it was lost.
    if (history.done) return { id, duplicate, annotated: true };
    if (id === undefined) throw unnamedDuplicate();
    const annotation = await readAnnotation(input.annotation);
    const name = basename(input.annotation);
    try {
      await this.rf.images.annotate(this.project, id, { annotation, name, overwrite: this.options.overwrite }, { signal });
    } catch (error) {
      if (!(error instanceof ConflictError && (await this.#annotatedByUs(id, name, duplicate, history, error, signal)))) throw error;
    }
    return { id, duplicate, annotated: true };
  }

  /** Attaching an annotation is a write; an image without one has nothing more to do. */
  collectWrites(input: UploadInput): boolean {
    return input.annotation !== undefined;
  }

  /** Nothing to look for: a lost upload is resent, and Roboflow answers the stored image's id. */
  reconcile(): Promise<ReadonlyMap<string, string>> {
    return Promise.resolve(new Map());
  }

  judge(error: FaultlineError, step: "submit" | "collect"): Verdict {
    return judgeUpload(error, step);
  }

  idOf(input: UploadInput): string | undefined {
    return typeof input?.file === "string" ? this.#ids.get(resolve(input.file)) : undefined;
  }

  /**
   * Whether the annotation an image already has is this batch's own. An image this batch uploaded new
   * had an id no one else knew: yes. One Roboflow already had may carry someone else's: it is ours only
   * if a try of ours may have written it (the journal says an earlier try began, or this call was retried)
   * and the annotation stored is named as ours.
   */
  async #annotatedByUs(id: string, name: string, duplicate: boolean, history: CollectHistory, error: ConflictError, signal: AbortSignal): Promise<boolean> {
    if (!duplicate) return true;
    if (!history.begun && error.attempts <= 1) return false;
    const stored = await this.rf.images.get(this.project, id, { signal }).catch(() => undefined);
    return stored?.annotation?.key === name;
  }
}

/**
 * Which failures end the batch, which the image, and which neither. Every image would meet a refused key,
 * a locked workspace or a missing project the same way: those end the batch.
 */
export function judgeUpload(error: FaultlineError, step: "submit" | "collect"): Verdict {
  if (
    error instanceof AuthFailedError ||
    error instanceof AccessDeniedError ||
    error instanceof LockedError ||
    error instanceof CredentialsError ||
    error instanceof AbortedError ||
    (error instanceof ApiError && [401, 403, 423].includes(error.status)) ||
    (step === "submit" && error instanceof NotFoundError)
  ) {
    return "fatal";
  }
  // Sending it again is safe: a stored upload comes back a duplicate with its id, and an annotation found
  // after a try of ours is taken as ours.
  if (mayHaveActed(error)) return "again";
  return error.retryable ? "again" : "failed";
}

/** A step that failed after it may have reached the server: the connection broke or timed out once sent, or a 2xx came back unreadable. */
function mayHaveActed(error: FaultlineError): boolean {
  if (error instanceof ConnectionError) return mayHaveReachedServer(error);
  if (error instanceof ResponseValidationError || error instanceof ResponseTooLargeError) return error.attempts > 0;
  return error instanceof TimeoutError;
}

async function readAnnotation(path: string): Promise<string> {
  const fail = (error: NodeJS.ErrnoException): never => {
    throw new InvalidArgumentError(`Cannot read the annotation ${path}: ${error.code ?? error.message}`, { cause: error });
  };
  const info = await stat(path).catch(fail);
  if (info.size > MAX_ANNOTATION_BYTES) {
    throw new InvalidArgumentError(`The annotation ${path} is ${info.size} bytes: an annotation file of one image is at most ${MAX_ANNOTATION_BYTES}`);
  }
  return readFile(path, "utf8").catch(fail);
}

function unnamedDuplicate(): ResponseValidationError {
  return new ResponseValidationError("Roboflow answered that the image is a duplicate without naming it: it cannot be annotated", {
    status: 409,
    issues: [{ path: ["id"], message: "missing" }],
    body: undefined,
    hint: "Find the image in the project by its name and annotate it there.",
  });
}
