import type { EmulatorResponse } from "../types.js";
import type { RoboflowModelFault } from "./state.js";

/**
 * The inference host's answers, worded as roboflow/inference's error handlers and the serverless auth
 * layer word them: `{"message"}`, `{"status", "message"}`, and for Workflows `error_type` and the inner error.
 */

export function message(status: number, text: string, headers?: Readonly<Record<string, string>>, extra: Record<string, unknown> = {}): EmulatorResponse {
  return { status, json: { message: text, ...extra }, ...(headers === undefined ? {} : { headers }) };
}

/** The serverless auth layer's form. */
export function statusMessage(status: number, text: string): EmulatorResponse {
  return { status, json: { status, message: text } };
}

export const KEY_HELP = "Visit https://docs.roboflow.com/api-reference/authentication#retrieve-an-api-key to learn how to retrieve one.";

export function missingKey(): EmulatorResponse {
  return message(400, `Required Roboflow API key is missing. ${KEY_HELP}`);
}

export function unauthorized(): EmulatorResponse {
  return message(401, `Unauthorized access to roboflow API - check API key and make sure the key is valid for workspace you use. ${KEY_HELP}`);
}

export function forbidden(): EmulatorResponse {
  return message(403, `Unauthorized access to roboflow API - check API key and make sure the key is valid and have required scopes. ${KEY_HELP}`);
}

export function notFound(): EmulatorResponse {
  return message(404, "Requested Roboflow resource not found. Make sure that workspace, project or model you referred in request exists.");
}

export function noCredits(): EmulatorResponse {
  return message(402, "Not enough credits to perform this request.", undefined, { error_type: "CreditsExceededError" });
}

export function locked(workspace: string): EmulatorResponse {
  return statusMessage(423, `Workspace ${workspace} usage is paused: billing needs attention before inference resumes.`);
}

/** What a model still loading answers: the server asks to be called again in a second. */
export function notReady(retryAfterSeconds: number): EmulatorResponse {
  return message(503, "Model is temporarily not ready - retry request.", { "retry-after": String(retryAfterSeconds) });
}

export function couldNotLoadImage(cause: string): EmulatorResponse {
  return message(400, `Could not load input image. Cause: ${cause}`);
}

/** FastAPI's own 422, before the route runs: one issue per bad field. */
export function unprocessable(loc: ReadonlyArray<string | number>, msg: string, type: string, input?: unknown): EmulatorResponse {
  return { status: 422, json: { detail: [{ type, loc, msg, ...(input === undefined ? {} : { input }) }] } };
}

/** The edge in front of the host refuses a body over its limit with an HTML page, not JSON. */
export function tooLarge(): EmulatorResponse {
  return {
    status: 413,
    headers: { "content-type": "text/html" },
    text: "<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n<center><h1>413 Request Entity Too Large</h1></center>\r\n</body>\r\n</html>\r\n",
  };
}

export function modelFault(fault: RoboflowModelFault, modelId: string): EmulatorResponse {
  switch (fault) {
    case "loadFailed":
      return message(500, `Model loading failed: could not load weights of ${modelId}`, undefined, { help_url: "https://inference.roboflow.com/errors/models/#modelloadingerror" });
    case "tooBig":
      return message(507, `Model ${modelId} is too big to be served by this instance.`);
    case "apiFailed":
      return message(502, "Internal error. Request to Roboflow API failed.");
    case "apiUnreachable":
      return message(503, "Internal error. Could not connect to Roboflow API.");
  }
}

/** A Workflow failure, with the fields the Workflows error handlers add. */
export function workflowError(
  status: number,
  errorType: string,
  text: string,
  context: string,
  inner?: { readonly type: string; readonly message: string },
  blockId?: string,
): EmulatorResponse {
  return {
    status,
    json: {
      message: text,
      error_type: errorType,
      context,
      inner_error_type: inner?.type ?? null,
      inner_error_message: inner?.message ?? null,
      ...(blockId === undefined ? {} : { blocks_errors: [{ block_id: blockId, block_type: null, property_name: null, property_details: inner?.message ?? null }] }),
    },
  };
}
