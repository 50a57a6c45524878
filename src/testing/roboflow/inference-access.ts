import type { EmulatorRequest, EmulatorResponse } from "../types.js";
import { contentHash, readImage } from "./image-bytes.js";
import {
  couldNotLoadImage,
  forbidden,
  locked,
  message,
  missingKey,
  modelFault,
  noCredits,
  notFound,
  tooLarge,
  unauthorized,
} from "./inference-responses.js";
import { CLASSIFICATION_TYPES, DETECTION_TYPES, MULTI_LABEL_TYPE, type EmulatedModel } from "./predict.js";
import { fetchRemote } from "./remote.js";
import type { RoboflowStore } from "./state.js";

/** What the inference host's routes share: who may call, which models run, how images are read. */

export interface InferenceContext {
  readonly store: RoboflowStore;
  readonly now: number;
  readonly workspace: string;
  readonly apiKey: string;
  readonly scopelessKey: string;
  /** How long a model takes to load after its first call. */
  readonly modelLoadMs: number;
  readonly maxImageBytes: number;
}

/** A request's image, or the answer that says why there is none. */
export type ImageRead = { readonly bytes: Uint8Array } | { readonly response: EmulatorResponse };

/** The key from the query, a JSON body's `api_key`, or `Authorization: Bearer`, in that order. */
export function authorise(request: EmulatorRequest, bodyKey: unknown, ctx: InferenceContext): EmulatorResponse | undefined {
  const bearer = /^Bearer\s+(.+)$/i.exec(request.headers["authorization"] ?? "")?.[1];
  const key = request.query.get("api_key") ?? (typeof bodyKey === "string" ? bodyKey : undefined) ?? bearer;
  if (key === undefined || key === "") return missingKey();
  if (key === ctx.scopelessKey) return forbidden();
  if (key !== ctx.apiKey) return unauthorized();
  if (ctx.store.locked.has(ctx.workspace)) return locked(ctx.workspace);
  if (ctx.store.credits <= 0) return noCredits();
  return undefined;
}

/** The model `project/version` as the emulator runs it, or the answer for a model it cannot run. */
export function modelFor(project: string, version: string, ctx: InferenceContext): EmulatedModel | EmulatorResponse {
  if (!/^[1-9]\d{0,8}$/.test(version)) return message(400, "Invalid Model ID sent in request.");
  const record = ctx.store.project(project);
  if (record === undefined || ctx.store.version(project, Number(version)) === undefined) return notFound();
  const id = `${project}/${version}`;
  const fault = ctx.store.modelFaults.get(id);
  if (fault !== undefined) return modelFault(fault, id);
  if (![...DETECTION_TYPES, ...CLASSIFICATION_TYPES, MULTI_LABEL_TYPE].includes(record.type)) {
    return message(400, `Models of type ${record.type} are not served by the serverless hosted API.`);
  }
  return { id, type: record.type, classes: Object.keys(record.classes) };
}

/** Reads image bytes fetched from a URL or sent inline, checked as the server checks them. */
export function decodeImage(bytes: Uint8Array, ctx: InferenceContext): { hash: string; width: number; height: number } | EmulatorResponse {
  if (bytes.byteLength > ctx.maxImageBytes) return tooLarge();
  const info = readImage(bytes);
  if (info === undefined) return couldNotLoadImage("Could not decode bytes as image.");
  return { hash: contentHash(bytes), width: info.width, height: info.height };
}

export function fetchImage(url: string, ctx: InferenceContext): ImageRead {
  const fetched = fetchRemote(url, ctx.store.remoteImages);
  if (fetched.ok) return { bytes: fetched.bytes };
  return { response: couldNotLoadImage(`Error while loading image from url: ${fetched.reason}`) };
}

