/**
 * The inference host's error bodies, driven through the real path: a loopback server answers each
 * fixture and a `Transport` with the inference dialect turns it into an error. The bodies are those of
 * roboflow/inference's error handlers and the serverless auth layer (roboflow-images-and-inference.md,
 * "Inference errors"), word for word where the reference quotes them.
 */
import { describe, expect, it } from "vitest";
import {
  AccessDeniedError,
  ApiError,
  AuthFailedError,
  BadRequestError,
  FaultlineError,
  GatewayTimeoutError,
  LockedError,
  NotFoundError,
  PaymentRequiredError,
  RateLimitedError,
  ServerError,
} from "../../src/core/errors.js";
import { inferenceDialect } from "../../src/roboflow/inference-dialect.js";
import { BY_STATUS, dialectHarness, type ErrorClass } from "../helpers/dialect.js";
import { HOSTILE_REPLIES, type Reply } from "../helpers/server.js";

const KEY = "rf-inference-key-0001";
const json = { "content-type": "application/json" };

interface Fixture {
  readonly slug: string;
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: string;
  readonly Class: ErrorClass;
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
  readonly type?: string;
  readonly detail?: unknown;
  readonly hint?: RegExp;
  readonly retryAfterMs?: number;
}

const KEY_HELP = "Visit https://docs.roboflow.com/api-reference/authentication#retrieve-an-api-key to learn how to retrieve one.";

const FIXTURES: readonly Fixture[] = [
  { slug: "content-type-missing", status: 400, headers: json, body: '{"message": "Content-Type header not provided with request."}', Class: BadRequestError, code: "BAD_REQUEST", message: "Content-Type header not provided with request.", retryable: false },
  { slug: "content-type-invalid", status: 400, headers: json, body: '{"message": "Invalid Content-Type header provided with request."}', Class: BadRequestError, code: "BAD_REQUEST", message: "Invalid Content-Type header provided with request.", retryable: false },
  { slug: "no-image", status: 400, headers: json, body: '{"message": "Image not found in request body."}', Class: BadRequestError, code: "BAD_REQUEST", message: "Image not found in request body.", retryable: false },
  { slug: "bad-image", status: 400, headers: json, body: '{"message": "Could not load input image. Cause: Could not decode bytes as image."}', Class: BadRequestError, code: "BAD_REQUEST", message: "Could not load input image. Cause: Could not decode bytes as image.", retryable: false },
  { slug: "bad-model-id", status: 400, headers: json, body: '{"message": "Invalid Model ID sent in request."}', Class: BadRequestError, code: "BAD_REQUEST", message: "Invalid Model ID sent in request.", retryable: false },
  { slug: "no-key", status: 400, headers: json, body: JSON.stringify({ message: `Required Roboflow API key is missing. ${KEY_HELP}` }), Class: BadRequestError, code: "BAD_REQUEST", message: `Required Roboflow API key is missing. ${KEY_HELP}`, retryable: false },
  {
    slug: "workflow-input",
    status: 400,
    headers: json,
    body: '{"message": "Detected runtime parameter `image` declared in Workflow definition but not provided.", "error_type": "RuntimeInputError", "context": "workflow_execution | runtime_input_validation", "inner_error_type": null, "inner_error_message": null}',
    Class: BadRequestError,
    code: "BAD_REQUEST",
    message: "Detected runtime parameter `image` declared in Workflow definition but not provided.",
    type: "RuntimeInputError",
    retryable: false,
  },
  { slug: "unauthorized", status: 401, headers: json, body: '{"message": "Unauthorized api_key"}', Class: AuthFailedError, code: "AUTH_FAILED", message: "Unauthorized api_key", retryable: false },
  { slug: "forbidden", status: 403, headers: json, body: '{"status": 403, "message": "Forbidden: the key may not use this model"}', Class: AccessDeniedError, code: "ACCESS_DENIED", message: "Forbidden: the key may not use this model", retryable: false },
  {
    slug: "credits",
    status: 402,
    headers: json,
    body: '{"message": "Not enough credits to perform this request.", "error_type": "CreditsExceededError"}',
    Class: PaymentRequiredError,
    code: "PAYMENT_REQUIRED",
    message: "Not enough credits to perform this request.",
    type: "CreditsExceededError",
    retryable: false,
    hint: /out of inference credits.*Retrying will not help/,
  },
  { slug: "usage-cap", status: 402, headers: json, body: '{"status": 402, "message": "Usage cap reached for this workspace"}', Class: PaymentRequiredError, code: "PAYMENT_REQUIRED", message: "Usage cap reached for this workspace", retryable: false, hint: /usage cap/ },
  { slug: "not-found", status: 404, headers: json, body: '{"message": "Requested Roboflow resource not found. Make sure that workspace, project or model you referred in request exists."}', Class: NotFoundError, code: "NOT_FOUND", message: "Requested Roboflow resource not found. Make sure that workspace, project or model you referred in request exists.", retryable: false },
  { slug: "paused", status: 423, headers: json, body: '{"status": 423, "message": "Usage is paused for this workspace"}', Class: LockedError, code: "LOCKED", message: "Usage is paused for this workspace", retryable: false },
  { slug: "quota", status: 429, headers: { ...json, "retry-after": "2" }, body: '{"message": "Stream quota exceeded"}', Class: RateLimitedError, code: "RATE_LIMITED", message: "Stream quota exceeded", retryable: true, retryAfterMs: 2_000 },
  {
    slug: "step-error",
    status: 500,
    headers: json,
    body: '{"message": "Error during execution of step: $steps.detector.", "error_type": "StepExecutionError", "context": "workflow_execution | step_execution", "inner_error_type": "ModelLoadingError", "inner_error_message": "weights missing", "blocks_errors": [{"block_id": "$steps.detector"}]}',
    Class: ServerError,
    code: "INTERNAL_ERROR",
    message: "Error during execution of step: $steps.detector.",
    type: "StepExecutionError",
    detail: "weights missing",
    retryable: true,
  },
  {
    slug: "load-failed",
    status: 500,
    headers: json,
    body: '{"message": "Model loading failed: no weights", "help_url": "https://inference.roboflow.com/errors/models/#modelloadingerror"}',
    Class: ServerError,
    code: "INTERNAL_ERROR",
    message: "Model loading failed: no weights",
    retryable: true,
    hint: /^See https:\/\/inference\.roboflow\.com\/errors\/models\/#modelloadingerror$/,
  },
  { slug: "api-failed", status: 502, headers: json, body: '{"message": "Internal error. Request to Roboflow API failed."}', Class: ServerError, code: "INTERNAL_ERROR", message: "Internal error. Request to Roboflow API failed.", retryable: true },
  {
    slug: "not-ready",
    status: 503,
    headers: { ...json, "retry-after": "1" },
    body: '{"message": "Model is temporarily not ready - retry request."}',
    Class: ServerError,
    code: "INTERNAL_ERROR",
    message: "Model is temporarily not ready - retry request.",
    retryable: true,
    retryAfterMs: 1_000,
    hint: /still loading.*Retry-After/,
  },
  { slug: "api-unreachable", status: 503, headers: json, body: '{"message": "Internal error. Could not connect to Roboflow API."}', Class: ServerError, code: "INTERNAL_ERROR", message: "Internal error. Could not connect to Roboflow API.", retryable: true },
  { slug: "api-timeout", status: 504, headers: json, body: '{"message": "Timeout when attempting to connect to Roboflow API."}', Class: GatewayTimeoutError, code: "GATEWAY_TIMEOUT", message: "Timeout when attempting to connect to Roboflow API.", retryable: true },
  { slug: "too-big-model", status: 507, headers: json, body: '{"message": "Model is too big to be served."}', Class: ServerError, code: "INTERNAL_ERROR", message: "Model is too big to be served.", retryable: false, hint: /dedicated deployment.*Retrying will not help/ },
  { slug: "too-big-image", status: 413, headers: { "content-type": "text/html" }, body: "<html><head><title>413 Request Entity Too Large</title></head></html>", Class: ApiError, code: "HTTP_413", message: "HTTP 413 (HTML body)", retryable: false, hint: /20 MB/ },
  {
    slug: "fastapi-422",
    status: 422,
    headers: json,
    body: '{"detail": [{"type": "float_parsing", "loc": ["query", "confidence"], "msg": "Input should be a valid number, unable to parse string as a number", "input": "high"}]}',
    Class: ApiError,
    code: "HTTP_422",
    message: "query.confidence: Input should be a valid number, unable to parse string as a number",
    detail: [{ type: "float_parsing", loc: ["query", "confidence"], msg: "Input should be a valid number, unable to parse string as a number", input: "high" }],
    retryable: false,
  },
  { slug: "fastapi-404", status: 404, headers: json, body: '{"detail": "Not Found"}', Class: NotFoundError, code: "NOT_FOUND", message: "Not Found", retryable: false },
  { slug: "edge-flat", status: 500, headers: json, body: '{"error": "Unknown error"}', Class: ServerError, code: "INTERNAL_ERROR", message: "Unknown error", retryable: true },
  { slug: "body-flag", status: 503, headers: json, body: '{"message": "Down for good", "retryable": false}', Class: ServerError, code: "INTERNAL_ERROR", message: "Down for good", retryable: false },
];

const pathOf = (slug: string): string => `/widgets/${slug}`;
const routes = new Map<string, Reply>();
for (const f of FIXTURES) routes.set(pathOf(f.slug), { status: f.status, ...(f.headers === undefined ? {} : { headers: f.headers }), body: f.body });
HOSTILE_REPLIES.forEach((h, i) => routes.set(pathOf(`hostile-${i}`), h.reply));
routes.set(pathOf("wrong-types"), { status: 400, headers: json, body: '{"message": 42, "error_type": ["x"], "detail": {"a": 1}}' });

const harness = dialectHarness({ dialect: inferenceDialect, key: KEY, auth: { authQuery: { api_key: KEY } }, routes });

describe("the inference dialect, reference bodies", () => {
  it.each(FIXTURES.map((f) => [`${f.status} ${f.slug}`, f] as const))("maps %s to its typed class", async (_name, f) => {
    const err = await harness.failWith(pathOf(f.slug), "POST");
    expect(err.constructor).toBe(f.Class);
    expect(err).toBeInstanceOf(FaultlineError);
    expect(err.status).toBe(f.status);
    expect(err.code).toBe(f.code);
    expect(err.message).toBe(f.message);
    expect(err.retryable).toBe(f.retryable);
    expect(err.type).toBe(f.type);
    expect(err.detail).toEqual(f.detail);
    expect(err.retryAfterMs).toBe(f.retryAfterMs);
    if (f.hint === undefined) expect(err.hint).toBeUndefined();
    else expect(err.hint).toMatch(f.hint);
    expect(err.url).toBe(`${harness.server.url}${pathOf(f.slug)}?api_key=***`);
  });
});

describe("the inference dialect, bodies that are not the host's", () => {
  it.each(HOSTILE_REPLIES.map((h, i) => [h.what, h.status, i] as const))("keeps %s as the class a %i earns", async (_what, status, i) => {
    const err = await harness.failWith(pathOf(`hostile-${i}`));
    expect(err.constructor).toBe(BY_STATUS[status]?.Class);
    expect(err.status).toBe(status);
  });

  it("reads a body whose fields have the wrong types as no fields, without throwing", async () => {
    const err = await harness.failWith(pathOf("wrong-types"));
    expect(err).toBeInstanceOf(BadRequestError);
    expect(err.message).toBe("HTTP 400 Bad Request");
    expect(err.type).toBeUndefined();
  });
});
