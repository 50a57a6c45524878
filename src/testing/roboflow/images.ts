import { MultipartError, boundaryOf, parseMultipart, type FormPart } from "../multipart.js";
import type { EmulatorRequest, EmulatorResponse } from "../types.js";
import { readBoxes } from "./annotations.js";
import { contentHash, readImage } from "./image-bytes.js";
import { fetchRemote } from "./remote.js";
import { INVALID, flat, graphNotFound, isRecord, iso, nested, ok, readJson, stableHash, validation } from "./responses.js";
import type { RoboflowImageRecord, RoboflowProjectRecord, RoboflowStore } from "./state.js";

/**
 * Dataset images: upload and annotate under `/dataset/{proj}/...` (where the key names the workspace),
 * get and delete under `/{ws}/{proj}/images`, metadata under `/{ws}/images/{id}/metadata`. Upload
 * errors use the flat `{"error": "..."}` form the real upload path answers; annotation errors the nested one.
 */

export interface ImageContext {
  readonly store: RoboflowStore;
  readonly now: number;
  readonly workspace: string;
  /** How long a fresh image id answers 404. */
  readonly visibleAfterMs: number;
  /** The largest image accepted; larger ones get 413. */
  readonly maxImageBytes: number;
  /** Where image URLs point. */
  readonly baseUrl: string;
}

const SPLITS = ["train", "valid", "test"];
const ACCEPTED = "bmp, jpeg, png, webp, tiff, avif, heic";

/** Routes `/dataset/...`; `rest` is decoded, after `dataset`. */
export function routeDataset(request: EmulatorRequest, rest: readonly string[], ctx: ImageContext): EmulatorResponse {
  const [slug, action, id, ...more] = rest;
  const miss = (): EmulatorResponse => graphNotFound(request.method, ["dataset", ...rest].join("/"));
  if (slug === undefined || request.method !== "POST" || more.length > 0) return miss();
  const project = ctx.store.project(slug);
  if (project === undefined) return miss();
  if (action === "upload" && id === undefined) return upload(request, project, ctx);
  if (action === "annotate" && id !== undefined) return annotate(request, project, id, ctx);
  return miss();
}

/** `GET /{ws}/{proj}/images/{id}` and `DELETE /{ws}/{proj}/images`. */
export function routeProjectImages(
  request: EmulatorRequest,
  project: RoboflowProjectRecord,
  id: string | undefined,
  ctx: ImageContext,
): EmulatorResponse {
  const miss = (): EmulatorResponse => graphNotFound(request.method, [ctx.workspace, project.slug, "images", ...(id === undefined ? [] : [id])].join("/"));
  if (id === undefined) return request.method === "DELETE" ? deleteImages(request, project, ctx) : miss();
  if (request.method !== "GET") return miss();
  const image = ctx.store.image(project.slug, id, ctx.now);
  return image === undefined ? miss() : ok({ image: imageWire(image, ctx) });
}

/** `POST /{ws}/images/{id}/metadata`: upserts and removes metadata keys and tags. */
export function setMetadata(request: EmulatorRequest, id: string, ctx: ImageContext): EmulatorResponse {
  const image = ctx.store.images.get(id);
  if (image === undefined || ctx.now < image.visibleAt || request.method !== "POST") {
    return graphNotFound(request.method, `${ctx.workspace}/images/${id}/metadata`);
  }
  const body = readJson(request.body);
  if (body === INVALID || !isRecord(body)) return validation("Request body must be a JSON object");
  const { metadata, removeMetadata, addTags, removeTags } = body;
  const strings = (v: unknown): v is string[] => v === undefined || (Array.isArray(v) && v.every((s) => typeof s === "string"));
  if (metadata !== undefined && !isRecord(metadata)) return validation("metadata must be an object");
  const nestedKey = Object.entries(metadata ?? {}).find(([, v]) => v !== null && typeof v === "object")?.[0];
  if (nestedKey !== undefined) {
    return nested(422, "ValidationException", `metadata.${nestedKey}: values must be strings, numbers, booleans or null`);
  }
  if (!strings(removeMetadata) || !strings(addTags) || !strings(removeTags)) {
    return validation("removeMetadata, addTags and removeTags must be lists of strings");
  }
  if (metadata === undefined && removeMetadata === undefined && addTags === undefined && removeTags === undefined) {
    return validation("At least one of metadata, removeMetadata, addTags, removeTags is required");
  }
  const keyClash = (removeMetadata ?? []).find((k) => metadata !== undefined && Object.hasOwn(metadata, k));
  const tagClash = (addTags ?? []).find((t) => (removeTags ?? []).includes(t));
  if (keyClash !== undefined || tagClash !== undefined) {
    return validation(`The same ${keyClash !== undefined ? `key ${keyClash}` : `tag ${String(tagClash)}`} cannot be set and removed in one request`);
  }
  Object.assign(image.metadata, metadata ?? {});
  for (const key of removeMetadata ?? []) delete image.metadata[key];
  image.tags = [...new Set([...image.tags.filter((t) => !(removeTags ?? []).includes(t)), ...(addTags ?? [])])];
  return ok({ success: true });
}

interface Incoming {
  readonly bytes: Uint8Array;
  readonly name: string | undefined;
  readonly split: string | undefined;
  readonly metadata: Record<string, unknown> | undefined;
}

function upload(request: EmulatorRequest, project: RoboflowProjectRecord, ctx: ImageContext): EmulatorResponse {
  const incoming = readUpload(request, ctx);
  if ("status" in incoming) return incoming;
  if (incoming.bytes.byteLength > ctx.maxImageBytes) {
    return flat(413, `Image is too large: ${incoming.bytes.byteLength} bytes, over the limit of ${ctx.maxImageBytes} bytes`);
  }
  const split = incoming.split ?? "train";
  if (!SPLITS.includes(split)) return flat(400, `split must be one of: ${SPLITS.join(", ")}`);
  const info = readImage(incoming.bytes);
  if (info === undefined) return flat(400, `Invalid image: not a supported format (${ACCEPTED})`);

  const hash = contentHash(incoming.bytes);
  const known = ctx.store.imageByHash(project.slug, hash);
  if (known !== undefined) {
    known.uploads += 1;
    if (ctx.store.forms.duplicate === 409) {
      return { status: 409, json: { error: { message: "Image is a duplicate of an image already in this project.", type: "DuplicateImageException", status: 409 }, id: known.id } };
    }
    return ok({ duplicate: true, id: known.id });
  }

  const image: RoboflowImageRecord = {
    id: stableHash(`image/${project.slug}/${hash}`, 20),
    project: project.slug,
    name: incoming.name ?? `${hash.slice(0, 12)}.${info.type === "jpeg" ? "jpg" : info.type}`,
    hash,
    bytes: incoming.bytes.byteLength,
    width: info.width,
    height: info.height,
    split,
    batch: request.query.get("batch") ?? undefined,
    tags: [...new Set(request.query.getAll("tag"))],
    metadata: incoming.metadata ?? {},
    created: ctx.now,
    visibleAt: ctx.now + ctx.visibleAfterMs,
    uploads: 1,
    annotation: undefined,
  };
  ctx.store.images.set(image.id, image);
  project.images += 1;
  project.unannotated += 1;
  project.splits[split] = (project.splits[split] ?? 0) + 1;
  project.updated = ctx.now;
  return ok({ success: true, id: image.id });
}

/** The image and its fields from whichever of the three forms the upload took. */
function readUpload(request: EmulatorRequest, ctx: ImageContext): Incoming | EmulatorResponse {
  const q = request.query;
  const fromQuery = { name: q.get("name") ?? undefined, split: q.get("split") ?? undefined, metadata: undefined };
  const url = q.get("image");
  if (url !== null) {
    const fetched = fetchRemote(url, ctx.store.remoteImages);
    if (fetched.ok) return { ...fromQuery, bytes: fetched.bytes };
    const message = `Could not fetch image URL: ${fetched.reason}`;
    return fetched.retryable ? { status: 502, json: { error: message, retryable: true } } : flat(400, message);
  }
  const type = request.headers["content-type"] ?? "";
  const boundary = boundaryOf(type);
  if (boundary !== undefined) {
    let parts: FormPart[];
    try {
      parts = parseMultipart(request.body, boundary);
    } catch (error) {
      return flat(400, `Malformed multipart body: ${error instanceof MultipartError ? error.message : "unreadable"}`);
    }
    const field = (name: string): string | undefined => {
      const part = parts.find((p) => p.name === name && p.filename === undefined);
      return part === undefined ? undefined : new TextDecoder().decode(part.data);
    };
    const file = parts.find((p) => p.name === "file");
    if (file === undefined) return flat(400, "No image in the request: send a multipart part named file");
    const metadataText = field("metadata");
    let metadata: Record<string, unknown> | undefined;
    if (metadataText !== undefined) {
      const parsed = readJson(new TextEncoder().encode(metadataText));
      if (parsed === INVALID || !isRecord(parsed)) return flat(400, "metadata must be a JSON object");
      metadata = parsed;
    }
    return { bytes: file.data, name: field("name") ?? fromQuery.name, split: field("split") ?? fromQuery.split, metadata };
  }
  if (type.toLowerCase().startsWith("application/x-www-form-urlencoded")) {
    const text = new TextDecoder().decode(request.body).replace(/^data:[^,]*,/, "").replace(/\s+/g, "");
    if (text === "" || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return flat(400, "The body is not base64-encoded image data");
    return { ...fromQuery, bytes: Buffer.from(text, "base64") };
  }
  return flat(400, "No image in the request: send multipart form data with a file, base64 text, or an image URL in image=");
}

function annotate(request: EmulatorRequest, project: RoboflowProjectRecord, id: string, ctx: ImageContext): EmulatorResponse {
  const image = ctx.store.image(project.slug, id, ctx.now);
  if (image === undefined) return nested(404, "NotFoundException", `Image ${id} not found in project ${project.slug}.`);
  const name = request.query.get("name");
  if (name === null || name.trim() === "") return validation("name (the annotation file's name) is required");
  const type = (request.headers["content-type"] ?? "").toLowerCase();
  let text: string;
  let labelmap: Record<string, string> | undefined;
  if (type.startsWith("application/json")) {
    const body = readJson(request.body);
    if (body === INVALID || !isRecord(body) || typeof body["annotationFile"] !== "string") {
      return validation("Body must be a JSON object with annotationFile (the file's text)");
    }
    text = body["annotationFile"];
    const map = body["labelmap"];
    if (map !== undefined && map !== null && !(isRecord(map) && Object.values(map).every((v) => typeof v === "string"))) {
      return validation("labelmap must be an object of class names by id");
    }
    labelmap = (map ?? undefined) as Record<string, string> | undefined;
  } else if (type.startsWith("text/plain")) {
    text = new TextDecoder().decode(request.body);
  } else {
    return validation("Send the annotation as JSON {annotationFile, labelmap} or as text/plain");
  }
  if (image.annotation !== undefined && request.query.get("overwrite") !== "true") {
    const hint = "Pass overwrite=true to replace the existing annotation.";
    // Today's 409 nests the error; the 2023 answer (roboflow-python #214) was a bare 400.
    if (ctx.store.forms.alreadyAnnotated === 400) return { status: 400, json: { message: "Image was already annotated.", type: "InvalidImageException", hint } };
    return nested(409, "InvalidImageException", "Image was already annotated.", hint);
  }
  const boxes = readBoxes(name, text, labelmap, image);
  if (image.annotation === undefined) project.unannotated = Math.max(0, project.unannotated - 1);
  for (const box of image.annotation?.boxes ?? []) project.classes[box.label] = Math.max(0, (project.classes[box.label] ?? 1) - 1);
  for (const box of boxes) project.classes[box.label] = (project.classes[box.label] ?? 0) + 1;
  image.annotation = { name, text, labelmap, boxes };
  return ok({ success: true });
}

function deleteImages(request: EmulatorRequest, project: RoboflowProjectRecord, ctx: ImageContext): EmulatorResponse {
  const body = readJson(request.body);
  const ids = isRecord(body) ? body["images"] : undefined;
  if (!Array.isArray(ids) || ids.length === 0 || !ids.every((i) => typeof i === "string")) {
    return validation("Body must be a JSON object with images, a non-empty list of image ids");
  }
  let deleted = 0;
  for (const id of new Set(ids as string[])) {
    const image = ctx.store.images.get(id);
    if (image === undefined || image.project !== project.slug) continue;
    ctx.store.images.delete(id);
    deleted += 1;
    project.images = Math.max(0, project.images - 1);
    project.splits[image.split] = Math.max(0, (project.splits[image.split] ?? 1) - 1);
    if (image.annotation === undefined) project.unannotated = Math.max(0, project.unannotated - 1);
  }
  if (ctx.store.forms.imageDelete === 200) return ok({ deleted, skipped: ids.length - deleted });
  return { status: 204 };
}

function imageWire(image: RoboflowImageRecord, ctx: ImageContext): Record<string, unknown> {
  const base = `${ctx.baseUrl}/images/${ctx.workspace}/${image.project}/${image.id}`;
  const boxes = image.annotation?.boxes ?? [];
  return {
    id: image.id,
    name: image.name,
    annotation:
      image.annotation === undefined
        ? null
        : { key: image.annotation.name, width: image.width, height: image.height, boxes: boxes.map((b) => ({ ...b })) },
    labels: [...new Set(boxes.map((b) => b.label))],
    split: image.split,
    tags: [...image.tags],
    metadata: { ...image.metadata },
    created: iso(image.created),
    urls: { original: `${base}/original.jpg`, thumb: `${base}/thumb.jpg`, annotation: `${base}/annotation.png` },
  };
}
