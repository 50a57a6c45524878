/**
 * Roboflow's error bodies, driven through the real path: a loopback server answers each fixture and a
 * `Transport` with the Roboflow dialect (key in the `api_key` query parameter) turns it into an error.
 * Every example body of the reference (roboflow-api.md, roboflow-errors-and-status-codes.md) is here verbatim.
 */
import { describe, expect, it } from "vitest";
import {
  AccessDeniedError,
  ApiError,
  AuthFailedError,
  BadRequestError,
  ConflictError,
  FaultlineError,
  LockedError,
  NotFoundError,
  RateLimitedError,
  ServerError,
} from "../../src/core/errors.js";
import { ERROR_BODY_CAP } from "../../src/core/transport.js";
import { roboflowDialect } from "../../src/roboflow/dialect.js";
import { BY_STATUS, dialectHarness, type ErrorClass } from "../helpers/dialect.js";
import { HOSTILE_REPLIES, type Reply } from "../helpers/server.js";


const KEY = "rf-test-key-0001";

interface Fixture {
  /** Reads after "maps ". */
  readonly name: string;
  readonly slug: string;
  readonly method?: "GET" | "POST" | "DELETE";
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: string;
  /** The parsed body, when it is JSON. */
  readonly parsed?: unknown;
  readonly Class: ErrorClass;
  readonly code: string;
  readonly message: string;
  readonly detail?: string | undefined;
  readonly retryable: boolean;
  readonly hint?: string | undefined;
  readonly type?: string | undefined;
  readonly requestId?: string | undefined;
  readonly retryAfterMs?: number | undefined;
}

// --- Verbatim from roboflow-api.md ("Error bodies seen for real") -----------------------------------

const NESTED_GRAPH =
  '{"error": {"message": "...", "status": 404, "type": "GraphMethodException", "hint": "You can see your available workspaces by issuing a GET request to /workspaces"}}';
const FLAT_TRASH = '{"error": "Not authorized to view trash"}';
const FLAT_UNKNOWN = '{"error": "Unknown error"}';
const CODE_AND_MESSAGE = '{"error": "model_eval_not_found", "message": "..."}';

// --- Verbatim from roboflow-errors-and-status-codes.md ----------------------------------------------

const STANDARD_BODY = `{
  "error": "Project 'nonexistent' not found"
}`;
/** The CLI's `--json` error line: the nested form with a hint and no type. */
const CLI_ERROR =
  '{"error": {"message": "Project \'nonexistent\' not found", "hint": "Run \'roboflow project list\' to see your projects."}}';

// --- Described in the reference, bodies of our own ---------------------------------------------------

const LOCKED = '{"error": "Workspace billing is paused: the plan\'s usage limit was reached"}';
const CONFLICT = '{"error": "Cannot restore version 3 while its project is in Trash"}';
const RATE = '{"error": "Rate limit exceeded"}';
const HTML_502 = `<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>cloudflare</center>
</body>
</html>
`;

const json = { "content-type": "application/json" };

// --- From roboflow-images-and-inference.md ("Upload and annotation failures") ------------------------

/** roboflow-python #214 (2023): the bare form, no `error` wrapper. */
const ANNOTATED_2023 =
  '{"message": "Image was already annotated.", "type": "InvalidImageException", "hint": "Pass overwrite=true to replace the annotation."}';
/** Today's form, which the SDK reads as `error.message`. */
const ANNOTATED_409 = '{"error": {"message": "Image was already annotated.", "type": "InvalidImageException", "status": 409}}';
const FETCH_400 = '{"error": "Could not fetch image URL: the host answered 404"}';
const FETCH_502 = '{"error": "Could not fetch image URL: the host answered 503", "retryable": true}';

const FIXTURES: readonly Fixture[] = [
  {
    name: "the nested GraphMethodException 404 to NotFoundError with its type and hint",
    slug: "nested-graph",
    status: 404,
    headers: json,
    body: NESTED_GRAPH,
    Class: NotFoundError,
    code: "NOT_FOUND",
    message: "...",
    retryable: false,
    type: "GraphMethodException",
    hint: "You can see your available workspaces by issuing a GET request to /workspaces",
  },
  {
    name: "the CLI's nested 404 with a hint and no type to NotFoundError",
    slug: "cli-nested",
    status: 404,
    headers: json,
    body: CLI_ERROR,
    Class: NotFoundError,
    code: "NOT_FOUND",
    message: "Project 'nonexistent' not found",
    retryable: false,
    hint: "Run 'roboflow project list' to see your projects.",
  },
  {
    name: "the flat 401 from a trash endpoint to AuthFailedError whose message is the error",
    slug: "trash",
    status: 401,
    headers: json,
    body: FLAT_TRASH,
    Class: AuthFailedError,
    code: "AUTH_FAILED",
    message: "Not authorized to view trash",
    retryable: false,
  },
  {
    name: "the same flat body at 403 to AccessDeniedError",
    slug: "trash-403",
    status: 403,
    headers: json,
    body: FLAT_TRASH,
    Class: AccessDeniedError,
    code: "ACCESS_DENIED",
    message: "Not authorized to view trash",
    retryable: false,
  },
  {
    name: 'a 500 {"error": "Unknown error"} to a retryable ServerError',
    slug: "unknown",
    method: "POST",
    status: 500,
    headers: json,
    body: FLAT_UNKNOWN,
    Class: ServerError,
    code: "INTERNAL_ERROR",
    message: "Unknown error",
    retryable: true,
  },
  {
    name: "a snake_case error with a message to NotFoundError whose type is the code and message the words",
    slug: "model-eval",
    status: 404,
    headers: json,
    body: CODE_AND_MESSAGE,
    Class: NotFoundError,
    code: "NOT_FOUND",
    message: "...",
    retryable: false,
    type: "model_eval_not_found",
  },
  {
    name: "the standard error body at 404 to NotFoundError",
    slug: "standard",
    status: 404,
    headers: { ...json, "x-request-id": "rf-req-77" },
    body: STANDARD_BODY,
    Class: NotFoundError,
    code: "NOT_FOUND",
    message: "Project 'nonexistent' not found",
    retryable: false,
    requestId: "rf-req-77",
  },
  {
    name: "a flat error with a sentence for message to BadRequestError that keeps the message as detail",
    slug: "bad-request",
    method: "POST",
    status: 400,
    headers: json,
    body: '{"error": "Invalid request", "message": "augmentation and preprocessing are required"}',
    Class: BadRequestError,
    code: "BAD_REQUEST",
    message: "Invalid request",
    detail: "augmentation and preprocessing are required",
    retryable: false,
  },
  {
    name: "a nested body with its hint at the top level to an error with that hint",
    slug: "top-hint",
    status: 404,
    headers: json,
    body: '{"error": {"message": "Version not found", "type": "GraphMethodException"}, "hint": "List versions with GET /{ws}/{proj}"}',
    Class: NotFoundError,
    code: "NOT_FOUND",
    message: "Version not found",
    retryable: false,
    type: "GraphMethodException",
    hint: "List versions with GET /{ws}/{proj}",
  },
  {
    name: "a 423 to LockedError that is never retryable",
    slug: "locked",
    status: 423,
    headers: json,
    body: LOCKED,
    Class: LockedError,
    code: "LOCKED",
    message: "Workspace billing is paused: the plan's usage limit was reached",
    retryable: false,
  },
  {
    name: "a 409 to ConflictError",
    slug: "conflict",
    method: "POST",
    status: 409,
    headers: json,
    body: CONFLICT,
    Class: ConflictError,
    code: "CONFLICT",
    message: "Cannot restore version 3 while its project is in Trash",
    retryable: false,
  },
  {
    name: "a 429 with Retry-After to RateLimitedError with retryAfterMs",
    slug: "rate-after",
    status: 429,
    headers: { ...json, "retry-after": "30" },
    body: RATE,
    Class: RateLimitedError,
    code: "RATE_LIMITED",
    message: "Rate limit exceeded",
    retryable: true,
    retryAfterMs: 30_000,
  },
  {
    name: "a 429 without Retry-After to RateLimitedError with no retryAfterMs",
    slug: "rate-bare",
    status: 429,
    headers: json,
    body: RATE,
    Class: RateLimitedError,
    code: "RATE_LIMITED",
    message: "Rate limit exceeded",
    retryable: true,
  },
  {
    name: "the 2023 bare 400 \"already annotated\" to ConflictError whose hint names overwrite: true",
    slug: "annotated-2023",
    method: "POST",
    status: 400,
    headers: json,
    body: ANNOTATED_2023,
    Class: ConflictError,
    code: "CONFLICT",
    message: "Image was already annotated.",
    retryable: false,
    type: "InvalidImageException",
    hint: "The image already has an annotation: pass `overwrite: true` to rf.images.annotate to replace it.",
  },
  {
    name: "today's nested 409 \"already annotated\" to ConflictError with the same hint",
    slug: "annotated-409",
    method: "POST",
    status: 409,
    headers: json,
    body: ANNOTATED_409,
    Class: ConflictError,
    code: "CONFLICT",
    message: "Image was already annotated.",
    retryable: false,
    type: "InvalidImageException",
    hint: "The image already has an annotation: pass `overwrite: true` to rf.images.annotate to replace it.",
  },
  {
    name: "the 400 \"Could not fetch image URL\" to BadRequestError with a hint",
    slug: "fetch-400",
    method: "POST",
    status: 400,
    headers: json,
    body: FETCH_400,
    Class: BadRequestError,
    code: "BAD_REQUEST",
    message: "Could not fetch image URL: the host answered 404",
    retryable: false,
    hint: "Roboflow could not download the image: check that the URL is well formed, public (no private address) and answers 200, or upload the bytes with { file } instead.",
  },
  {
    name: "the 502 with a top-level retryable: true to a retryable ServerError with a hint",
    slug: "fetch-502",
    method: "POST",
    status: 502,
    headers: json,
    body: FETCH_502,
    Class: ServerError,
    code: "INTERNAL_ERROR",
    message: "Could not fetch image URL: the host answered 503",
    retryable: true,
    hint: "The image's own host failed or could not be reached: the same request may succeed later, or upload the bytes with { file } instead.",
  },
  {
    name: "a 500 whose top-level retryable: false wins over the status",
    slug: "flat-no-retry",
    method: "POST",
    status: 500,
    headers: json,
    body: '{"error": "Unknown error", "retryable": false}',
    Class: ServerError,
    code: "INTERNAL_ERROR",
    message: "Unknown error",
    retryable: false,
  },
  {
    name: "a 400 whose nested body says retryable: true to a retryable BadRequestError",
    slug: "nested-retry",
    method: "POST",
    status: 400,
    headers: json,
    body: '{"error": {"message": "Try again", "type": "TransientException"}, "retryable": true}',
    Class: BadRequestError,
    code: "BAD_REQUEST",
    message: "Try again",
    retryable: true,
    type: "TransientException",
  },
  {
    name: "a 404 whose body says retryable: true to a NotFoundError never retried",
    slug: "nested-404-retry",
    status: 404,
    headers: json,
    body: '{"error": {"message": "Image not found yet", "type": "NotFoundException"}, "retryable": true}',
    Class: NotFoundError,
    code: "NOT_FOUND",
    message: "Image not found yet",
    retryable: false,
    type: "NotFoundException",
  },
  {
    name: "an HTML 413 from the edge to an HTTP_413 ApiError with the 20 MB hint",
    slug: "too-big",
    method: "POST",
    status: 413,
    headers: { "content-type": "text/html" },
    body: "<html><head><title>413 Request Entity Too Large</title></head></html>",
    Class: ApiError,
    code: "HTTP_413",
    message: "HTTP 413 (HTML body)",
    retryable: false,
    hint: "Roboflow takes images up to 20 MB: shrink or recompress the image.",
  },
  {
    name: "a proxy's HTML 502 page to ServerError with the page kept as text",
    slug: "html-502",
    status: 502,
    headers: { "content-type": "text/html" },
    body: HTML_502,
    Class: ServerError,
    code: "INTERNAL_ERROR",
    message: "HTTP 502 Bad Gateway (HTML body)",
    retryable: true,
  },
];

const pathOf = (slug: string): string => `/acme/${slug}`;

const routes = new Map<string, Reply>();
for (const f of FIXTURES) routes.set(pathOf(f.slug), { status: f.status, ...(f.headers === undefined ? {} : { headers: f.headers }), body: f.body });
HOSTILE_REPLIES.forEach((h, i) => routes.set(pathOf(`hostile-${i}`), h.reply));
routes.set(pathOf("hostile-retryable-string"), { status: 500, headers: json, body: '{"error": "Unknown error", "retryable": "false"}' });
routes.set(pathOf("hostile-wrong-nested"), {
  status: 404,
  headers: json,
  body: '{"error": {"message": 404, "type": "GraphMethodException", "hint": ["not", "a", "string"]}}',
});

const harness = dialectHarness({ dialect: roboflowDialect, key: KEY, auth: { authQuery: { api_key: KEY } }, routes });
const failWith = (slug: string, method?: "GET" | "POST" | "DELETE"): Promise<ApiError> => harness.failWith(pathOf(slug), method);

function parsedOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

describe("Roboflow dialect, reference bodies", () => {
  it.each(FIXTURES.map((f) => [f.name, f] as const))("maps %s", async (_name, f) => {
    const method = f.method ?? "GET";
    const err = await failWith(f.slug, method);

    expect(err.constructor).toBe(f.Class);
    expect(err).toBeInstanceOf(FaultlineError);
    expect(err.status).toBe(f.status);
    expect(err.code).toBe(f.code);
    expect(err.message).toBe(f.message);
    expect(err.detail).toBe(f.detail);
    expect(err.retryable).toBe(f.retryable);
    expect(err.requestId).toBe(f.requestId);
    expect(err.referenceId).toBeUndefined();
    expect(err.hint).toBe(f.hint);
    expect(err.type).toBe(f.type);
    expect(err.retryAfterMs).toBe(f.retryAfterMs);
    expect(err.headers).toMatchObject(f.headers ?? {});
    expect(err.body).toEqual(parsedOrText(f.body));
    expect(err.method).toBe(method);
    expect(err.url).toBe(`${harness.server.url}${pathOf(f.slug)}?api_key=***`);
    expect(err.attempts).toBe(1);
  });

  it("sent the key in the api_key query parameter, and the error's url masks it", async () => {
    const err = await failWith("standard");
    const seen = harness.server.requests.filter((r) => r.url.startsWith(pathOf("standard")));
    expect(seen.at(-1)?.url).toBe(`${pathOf("standard")}?api_key=${KEY}`);
    expect(err.url).not.toContain(KEY);
    expect(err.url).toContain("api_key=***");
  });
});

describe("Roboflow dialect, bodies that are not Roboflow's", () => {
  const cases = HOSTILE_REPLIES.map((h, i) => [h.what, h.status, { ...h, slug: `hostile-${i}` }] as const);

  it.each(cases)(
    "keeps %s in body, as the class a %i earns, and throws nothing else",
    async (_what, _status, h) => {
      const started = Date.now();
      const err = await failWith(h.slug);

      expect(err.constructor).toBe(BY_STATUS[h.status]?.Class);
      expect(err.status).toBe(h.status);
      expect(err.code).toBe(BY_STATUS[h.status]?.code);
      expect(err.message).toBe(h.message);
      expect(err.body).toEqual(h.body);
      if (typeof err.body === "string") expect(Buffer.byteLength(err.body)).toBeLessThanOrEqual(ERROR_BODY_CAP);
      expect(err.detail).toBeUndefined();
      expect(err.hint).toBeUndefined();
      expect(err.type).toBeUndefined();
      expect(err.retryable).toBe(h.status === 429 || h.status >= 500);
      expect(err.retryAfterMs).toBe(h.retryAfterMs);
      expect(err.attempts).toBe(1);
      expect(err.url).toBe(`${harness.server.url}${pathOf(h.slug)}?api_key=***`);
      expect(Date.now() - started).toBeLessThan(5_000);
    },
    10_000,
  );

  it("keeps a 10 KB header value whole in headers", async () => {
    const index = HOSTILE_REPLIES.findIndex((h) => h.what.includes("10 KB"));
    const err = await failWith(`hostile-${index}`);
    expect(err.headers["x-junk"]).toBe("j".repeat(10 * 1024));
  });

  it("reads a retryable that is not a boolean as no flag at all", async () => {
    const err = await failWith("hostile-retryable-string");
    expect(err).toBeInstanceOf(ServerError);
    expect(err.message).toBe("Unknown error");
    expect(err.retryable).toBe(true);
  });

  it("reads a nested error whose fields have the wrong types as far as they go, without throwing", async () => {
    const err = await failWith("hostile-wrong-nested");
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toBe("HTTP 404 Not Found");
    expect(err.type).toBe("GraphMethodException");
    expect(err.hint).toBeUndefined();
  });
});
