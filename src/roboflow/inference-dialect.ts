import * as z from "zod/mini";
import type { Dialect, ErrorBodyFields, ErrorResponse } from "../core/dialect.js";
import type { ValidationIssue } from "../core/errors.js";
import { INFERENCE_REMEDIES, withRemedy } from "./remedies.js";

// Each schema is built on first use (`z.lazy`, which keeps what it built): building every one of them at
// import cost each process a cold start of over ten milliseconds, and a process uses a few.

const text = z.catch(z.optional(z.string()), undefined);

/**
 * The inference server's form: `{"message"}`, the serverless auth layer's `{"status", "message"}`,
 * and for workflow and model failures `error_type`, `inner_error_message`, `help_url` beside them.
 */
const inference = z.lazy(() => z.looseObject({
  message: z.string(),
  error_type: text,
  inner_error_message: text,
  help_url: text,
  retryable: z.catch(z.optional(z.boolean()), undefined),
}));

/** FastAPI's own answers before a route runs: `{"detail": "..."}` or the 422 list of issues. */
const issue = z.lazy(() => z.looseObject({ type: z.string(), loc: z.array(z.union([z.string(), z.number()])), msg: z.string() }));
const fastapi = z.lazy(() => z.looseObject({ detail: z.union([z.string(), z.array(issue)]) }));

/** The edge in front of the host sometimes answers in the main API's flat form. */
const edge = z.lazy(() => z.looseObject({ error: z.string() }));

function readBody(json: unknown): ErrorBodyFields {
  const i = inference.safeParse(json);
  if (i.success) {
    const { message, error_type: type, inner_error_message: inner, help_url: helpUrl, retryable } = i.data;
    return { message, type, detail: inner, hint: helpUrl === undefined ? undefined : `See ${helpUrl}`, retryable };
  }
  const f = fastapi.safeParse(json);
  if (f.success) {
    const { detail } = f.data;
    if (typeof detail === "string") return { message: detail };
    const first = detail[0];
    return { message: first === undefined ? undefined : `${first.loc.join(".")}: ${first.msg}`, detail: detail as ValidationIssue[] };
  }
  const e = edge.safeParse(json);
  return e.success ? { message: e.data.error } : {};
}

/**
 * How the inference host (serverless.roboflow.com, dedicated deployments) phrases errors. They become
 * the same typed classes as the main API's; 402, 503 "not ready" and 507 get hints.
 */
export const inferenceDialect: Dialect = {
  name: "roboflow-inference",
  readErrorBody(response: ErrorResponse): ErrorBodyFields {
    return withRemedy(INFERENCE_REMEDIES, response.status, readBody(response.json));
  },
};
