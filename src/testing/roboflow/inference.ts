import { MultipartError, boundaryOf, parseMultipart } from "../multipart.js";
import type { EmulatorRequest, EmulatorResponse } from "../types.js";
import { authorise, decodeImage, fetchImage, modelFor, type ImageRead, type InferenceContext } from "./inference-access.js";
import { couldNotLoadImage, message, notReady, unprocessable } from "./inference-responses.js";
import { DEFAULT_SETTINGS, predictFor, type PredictSettings } from "./predict.js";
import { runWorkflow } from "./workflow-runner.js";

/**
 * The inference host (serverless.roboflow.com), served under `/inference`: `POST|GET /{project}/{version}`
 * runs a model, `POST /{ws}/workflows/{id}` a saved Workflow. Models answer deterministic predictions;
 * a model's first call starts it loading, and until it is loaded it answers 503 with `Retry-After: 1`.
 */

export function handleInference(request: EmulatorRequest, segments: readonly string[], ctx: InferenceContext): EmulatorResponse {
  if (segments.length === 3 && segments[1] === "workflows") {
    if (request.method !== "POST") return message(405, "Method Not Allowed");
    return runWorkflow(request, segments[0] as string, segments[2] as string, ctx);
  }
  if (segments.length !== 2) return { status: 404, json: { detail: "Not Found" } };
  if (request.method !== "POST" && request.method !== "GET") return message(405, "Method Not Allowed");
  return predictRoute(request, segments[0] as string, segments[1] as string, ctx);
}

function predictRoute(request: EmulatorRequest, project: string, version: string, ctx: InferenceContext): EmulatorResponse {
  const denied = authorise(request, undefined, ctx);
  if (denied !== undefined) return denied;
  const model = modelFor(project, version, ctx);
  if ("status" in model) return model;
  const readyAt = ctx.store.modelsReadyAt.get(model.id) ?? ctx.now + ctx.modelLoadMs;
  ctx.store.modelsReadyAt.set(model.id, readyAt);
  if (ctx.now < readyAt) return notReady(1);

  const settings = readSettings(request.query);
  if ("status" in settings) return settings;
  const read = readRequestImage(request, ctx);
  if ("response" in read) return read.response;
  const image = decodeImage(read.bytes, ctx);
  if ("status" in image) return image;

  ctx.store.credits -= 1;
  return {
    status: 200,
    headers: { "x-model-id": model.id, "x-processing-time": "0.031", "x-model-cold-start": String(ctx.modelLoadMs > 0) },
    json: predictFor(model, image, settings),
  };
}

/** The image of a model call: `image=<url>`, a multipart part named `file`, or base64 text. */
function readRequestImage(request: EmulatorRequest, ctx: InferenceContext): ImageRead {
  const url = request.query.get("image");
  if (url !== null) return fetchImage(url, ctx);
  const type = request.headers["content-type"];
  if (request.body.byteLength === 0) return { response: message(400, "Image not found in request body.") };
  if (type === undefined || type.trim() === "") return { response: message(400, "Content-Type header not provided with request.") };
  const boundary = boundaryOf(type);
  if (boundary !== undefined) {
    try {
      const file = parseMultipart(request.body, boundary).find((p) => p.name === "file");
      return file === undefined ? { response: message(400, "Image not found in request body.") } : { bytes: file.data };
    } catch (error) {
      return { response: couldNotLoadImage(`Malformed multipart body: ${error instanceof MultipartError ? error.message : "unreadable"}`) };
    }
  }
  if (type.toLowerCase().startsWith("application/x-www-form-urlencoded")) {
    const text = new TextDecoder().decode(request.body).replace(/^data:[^,]*,/, "").replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return { response: couldNotLoadImage("The body is not base64-encoded image data.") };
    return { bytes: Buffer.from(text, "base64") };
  }
  return { response: message(400, "Invalid Content-Type header provided with request.") };
}

/**
 * `confidence` and `overlap` as the server reads them: a fraction, or a percentage when 1 or more;
 * `best` and `default` mean the default. Anything else is FastAPI's 422.
 */
function readSettings(query: URLSearchParams): PredictSettings | EmulatorResponse {
  const fraction = (name: "confidence" | "overlap"): number | EmulatorResponse => {
    const raw = query.get(name);
    if (raw === null || raw === "best" || raw === "default") return DEFAULT_SETTINGS[name];
    const n = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(n) || n < 0) {
      return unprocessable(["query", name], "Input should be a valid number, unable to parse string as a number", "float_parsing", raw);
    }
    return n >= 1 ? n / 100 : n;
  };
  const confidence = fraction("confidence");
  if (typeof confidence !== "number") return confidence;
  const overlap = fraction("overlap");
  if (typeof overlap !== "number") return overlap;
  const rawMax = query.get("max_detections");
  const maxDetections = rawMax === null ? DEFAULT_SETTINGS.maxDetections : Number(rawMax);
  if (!Number.isSafeInteger(maxDetections) || maxDetections < 1) {
    return unprocessable(["query", "max_detections"], "Input should be a valid integer", "int_parsing", rawMax);
  }
  return { confidence, overlap, maxDetections };
}
