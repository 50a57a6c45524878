import type { EmulatorRequest, EmulatorResponse } from "../types.js";
import { authorise, decodeImage, fetchImage, modelFor, type InferenceContext } from "./inference-access.js";
import { notFound, unprocessable, workflowError } from "./inference-responses.js";
import { DEFAULT_SETTINGS, predictFor } from "./predict.js";
import { INVALID, isRecord, readJson } from "./responses.js";

/**
 * Runs a saved Workflow the way the inference host does, for the blocks a test needs: model blocks
 * (any step with a `model_id`) on each input image, and `JsonField` outputs selecting `$steps.<name>.<field>`
 * or `$inputs.<name>`. Other block types are refused with a clear 400 rather than faked.
 */

interface Spec {
  readonly inputs: ReadonlyArray<Record<string, unknown>>;
  readonly steps: ReadonlyArray<Record<string, unknown>>;
  readonly outputs: ReadonlyArray<Record<string, unknown>>;
}

const IMAGE_INPUTS = ["InferenceImage", "WorkflowImage"];
const CONTEXT_INPUT = "workflow_execution | runtime_input_validation";
const CONTEXT_STEP = "workflow_execution | step_execution";

export function runWorkflow(request: EmulatorRequest, ws: string, id: string, ctx: InferenceContext): EmulatorResponse {
  const read = readRunBody(request);
  if ("response" in read) return read.response;
  const { body } = read;
  const denied = authorise(request, body["api_key"], ctx);
  if (denied !== undefined) return denied;
  const workflow = ctx.store.workflow(id);
  if (ws !== ctx.workspace || workflow === undefined) return notFound();
  const spec = specOf(workflow.config);
  if (spec === undefined) {
    return workflowError(400, "WorkflowDefinitionError", "Workflow definition is invalid: inputs, steps and outputs are required lists.", "workflow_compilation | specification_parsing");
  }
  const inputs = body["inputs"] as Record<string, unknown>;

  const params: Record<string, unknown> = {};
  let images: Array<{ hash: string; width: number; height: number }> = [];
  for (const input of spec.inputs) {
    const name = String(input["name"]);
    const value = inputs[name];
    if (!IMAGE_INPUTS.includes(String(input["type"]))) {
      params[name] = value ?? input["default_value"] ?? null;
      continue;
    }
    if (value === undefined) {
      return workflowError(400, "RuntimeInputError", `Detected runtime parameter \`${name}\` declared in Workflow definition but not provided.`, CONTEXT_INPUT);
    }
    const loaded = loadImages(name, value, ctx);
    if (!Array.isArray(loaded)) return loaded;
    images = loaded;
    params[name] = value;
  }

  const results: Array<Record<string, Record<string, unknown>>> = images.map(() => ({}));
  for (const step of spec.steps) {
    const stepName = String(step["name"]);
    const modelId = resolve(step["model_id"], params);
    if (typeof modelId !== "string") {
      return workflowError(400, "WorkflowDefinitionError", `Block type ${String(step["type"])} of step ${stepName} is not run by the faultline emulator: only model blocks (with model_id) are.`, "workflow_compilation | execution_graph_construction");
    }
    const [project = "", version = ""] = modelId.split("/");
    const model = modelFor(project, version, ctx);
    if ("status" in model) {
      const inner = { type: model.status === 404 ? "ModelNotFoundError" : "ModelError", message: errorText(model) };
      const status = model.status === 404 ? 404 : 500;
      const kind = status === 404 ? "ClientCausedStepExecutionError" : "StepExecutionError";
      return workflowError(status, kind, `Error during execution of step: $steps.${stepName}. Details: ${inner.message}`, CONTEXT_STEP, inner, `$steps.${stepName}`);
    }
    images.forEach((image, i) => {
      const result = results[i] as Record<string, Record<string, unknown>>;
      result[stepName] = predictFor(model, image, DEFAULT_SETTINGS);
    });
  }

  ctx.store.credits -= 1;
  const excluded = Array.isArray(body["excluded_fields"]) ? (body["excluded_fields"] as unknown[]) : [];
  const outputs = results.map((steps) => {
    const entry: Record<string, unknown> = {};
    for (const output of spec.outputs) {
      const name = String(output["name"]);
      if (!excluded.includes(name)) entry[name] = select(String(output["selector"]), steps, params);
    }
    return entry;
  });
  return { status: 200, json: { outputs, ...(body["enable_profiling"] === true ? { profiler_trace: [] } : {}) } };
}

/** The definition a workflow's `config` holds: `{specification: {...}}` or the specification itself. */
function specOf(config: string): Spec | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(config);
  } catch {
    return undefined;
  }
  const spec = isRecord(parsed) && isRecord(parsed["specification"]) ? parsed["specification"] : parsed;
  if (!isRecord(spec)) return undefined;
  const list = (v: unknown): Array<Record<string, unknown>> | undefined => (Array.isArray(v) && v.every(isRecord) ? v : undefined);
  const inputs = list(spec["inputs"]);
  const steps = list(spec["steps"]);
  const outputs = list(spec["outputs"]);
  return inputs === undefined || steps === undefined || outputs === undefined ? undefined : { inputs, steps, outputs };
}

/** An image input (`{type, value}`, or a list of them: a batch) as decoded images, or why not. */
function loadImages(name: string, value: unknown, ctx: InferenceContext): Array<{ hash: string; width: number; height: number }> | EmulatorResponse {
  const items = Array.isArray(value) ? value : [value];
  const out: Array<{ hash: string; width: number; height: number }> = [];
  for (const item of items) {
    const type = isRecord(item) ? item["type"] : undefined;
    const data = isRecord(item) ? item["value"] : undefined;
    if ((type !== "base64" && type !== "url") || typeof data !== "string") {
      return workflowError(400, "RuntimeInputError", `Input \`${name}\` must be an image: {"type": "base64" | "url", "value": "..."}.`, CONTEXT_INPUT);
    }
    const read = type === "url" ? fetchImage(data, ctx) : { bytes: Buffer.from(data, "base64") };
    if ("response" in read) return read.response;
    const image = decodeImage(read.bytes, ctx);
    if ("status" in image) return image;
    out.push(image);
  }
  return out;
}

/** A step parameter: a literal, or `$inputs.<name>`. */
function resolve(value: unknown, params: Record<string, unknown>): unknown {
  if (typeof value === "string" && value.startsWith("$inputs.")) return params[value.slice("$inputs.".length)];
  return value;
}

function select(selector: string, steps: Record<string, Record<string, unknown>>, params: Record<string, unknown>): unknown {
  if (selector.startsWith("$inputs.")) return params[selector.slice("$inputs.".length)] ?? null;
  const match = /^\$steps\.([^.]+)\.(.+)$/.exec(selector);
  if (match === null) return null;
  const result = steps[match[1] as string];
  if (result === undefined) return null;
  // A model block's `predictions` is its whole answer (image size and predictions), as the host serialises it.
  const field = match[2] as string;
  return field === "*" || field === "predictions" ? result : (result[field] ?? null);
}

function errorText(response: EmulatorResponse): string {
  const json = response.json;
  return isRecord(json) && typeof json["message"] === "string" ? json["message"] : `HTTP ${response.status}`;
}

/** A Workflow body's `inputs`, or FastAPI's 422 for a body that is not a JSON object with them. */
function readRunBody(request: EmulatorRequest): { readonly body: Record<string, unknown> } | { readonly response: EmulatorResponse } {
  const body = readJson(request.body);
  if (body === INVALID) return { response: unprocessable(["body"], "JSON decode error", "json_invalid") };
  if (!isRecord(body)) {
    return { response: unprocessable(["body"], "Input should be a valid dictionary or object to extract fields from", "model_attributes_type") };
  }
  if (!isRecord(body["inputs"])) return { response: unprocessable(["body", "inputs"], "Field required", "missing") };
  return { body };
}
