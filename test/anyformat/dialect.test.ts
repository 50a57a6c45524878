/**
 * anyformat's error bodies, driven through the real path: a loopback server answers each fixture and a
 * `Transport` with the anyformat dialect turns it into an error. Every example body of the reference
 * (anyformat-error-handling.md, anyformat-api.md) is here verbatim.
 */
import { describe, expect, it } from "vitest";
import { anyformatDialect } from "../../src/anyformat/dialect.js";
import {
  AccessDeniedError,
  ApiError,
  AuthFailedError,
  BadRequestError,
  ExtractionFailedError,
  FaultlineError,
  GatewayTimeoutError,
  InvalidJsonError,
  NotFoundError,
  PreconditionFailedError,
  RateLimitedError,
  ServerError,
  ValidationError,
  type RateLimit,
} from "../../src/core/errors.js";
import { ERROR_BODY_CAP } from "../../src/core/transport.js";
import { BY_STATUS, dialectHarness, type ErrorClass } from "../helpers/dialect.js";
import { HOSTILE_REPLIES, type Reply } from "../helpers/server.js";


const KEY = "af-test-key-0001";
const REQUEST_ID = "a1b2c3d4e5f67890abcdef1234567890";

interface Fixture {
  /** Reads after "maps ". */
  readonly name: string;
  readonly slug: string;
  readonly method?: "GET" | "POST" | "DELETE";
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: string;
  readonly Class: ErrorClass;
  readonly code: string;
  readonly message: string;
  readonly detail: unknown;
  readonly retryable: boolean;
  readonly requestId: string | undefined;
  readonly referenceId?: string | undefined;
  readonly retryAfterMs?: number | undefined;
  readonly rateLimit?: RateLimit | undefined;
}

// --- Verbatim from anyformat-error-handling.md -------------------------------------------------------

const GENERIC_FORMAT = `{
  "error": "Brief, human-readable error description",
  "detail": "Detailed explanation of what went wrong",
  "error_code": "MACHINE_READABLE_ERROR_CODE",
  "retryable": false,
  "request_id": "a1b2c3d4e5f67890abcdef1234567890"
}`;

const AUTH_FAILED = `{
  "error": "Authentication failed",
  "detail": "Invalid or missing authentication credentials.",
  "error_code": "AUTH_FAILED",
  "retryable": false,
  "request_id": "a1b2c3d4e5f67890abcdef1234567890"
}`;

const ACCESS_DENIED = `{
  "error": "Access denied",
  "detail": "API key is required. Use 'Authorization: Bearer <key>'.",
  "error_code": "ACCESS_DENIED",
  "retryable": false,
  "request_id": "a1b2c3d4e5f67890abcdef1234567890"
}`;

const VALIDATION_ERROR = `{
  "error": "Validation failed",
  "detail": [
    {"type": "missing", "loc": ["body", "name"], "msg": "Field required"},
    {"type": "missing", "loc": ["body", "fields"], "msg": "Field required"}
  ],
  "error_code": "VALIDATION_ERROR",
  "retryable": false,
  "request_id": "a1b2c3d4e5f67890abcdef1234567890"
}`;

const INVALID_JSON = `{
  "error": "Invalid JSON format",
  "detail": "The request body contains invalid JSON. Please check your JSON syntax.",
  "error_code": "INVALID_JSON",
  "retryable": false,
  "request_id": "a1b2c3d4e5f67890abcdef1234567890"
}`;

const NOT_FOUND = `{
  "error": "Resource not found",
  "detail": "The requested resource could not be found.",
  "error_code": "NOT_FOUND",
  "retryable": false,
  "request_id": "a1b2c3d4e5f67890abcdef1234567890"
}`;

const PRECONDITION_FAILED = `{
  "error": "Extraction not yet available",
  "detail": "Extraction status is 'processing'. Results are available when status is 'processed'.",
  "error_code": "PRECONDITION_FAILED",
  "retryable": true,
  "request_id": "a1b2c3d4e5f67890abcdef1234567890"
}`;

const RATE_LIMITED = `{
  "error": "Rate limited",
  "detail": "Rate limit exceeded. Try again in 12s.",
  "error_code": "RATE_LIMITED",
  "retryable": true,
  "request_id": "a1b2c3d4e5f67890abcdef1234567890"
}`;

const INTERNAL_ERROR = `{
  "error": "Internal server error",
  "detail": "An unexpected error occurred while processing your request. Please try again or contact support.",
  "error_code": "INTERNAL_ERROR",
  "retryable": true,
  "reference_id": "err_1234",
  "request_id": "a1b2c3d4e5f67890abcdef1234567890"
}`;

const GATEWAY_TIMEOUT = `{
  "error": "Gateway timeout",
  "detail": "The backend did not respond in time. Please try again.",
  "error_code": "GATEWAY_TIMEOUT",
  "retryable": true,
  "request_id": "a1b2c3d4e5f67890abcdef1234567890"
}`;

const FRAMEWORK_NOT_FOUND = `{ "detail": "Not found." }`;

// --- Described in the reference but without a verbatim body ----------------------------------------

/** anyformat-error-handling.md: a 412 with `retryable: false` once the run ended in error or cancelled. */
const PRECONDITION_TERMINAL = `{
  "error": "Extraction failed",
  "detail": "Extraction status is 'error'. Results will not become available.",
  "error_code": "PRECONDITION_FAILED",
  "retryable": false,
  "request_id": "a1b2c3d4e5f67890abcdef1234567890"
}`;

/** anyformat-api.md: 422 with `EXTRACTION_FAILED` / `EXTRACTION_CANCELLED` once a run ended badly. */
const extractionEnded = (code: string, words: string): string => `{
  "error": "${words}",
  "detail": "Extraction status is '${code === "EXTRACTION_FAILED" ? "error" : "cancelled"}'.",
  "error_code": "${code}",
  "retryable": false,
  "request_id": "a1b2c3d4e5f67890abcdef1234567890"
}`;

const json = { "content-type": "application/json" };

const FIXTURES: readonly Fixture[] = [
  {
    name: "the generic format example, whose unknown error_code leaves the 400 to pick BadRequestError",
    slug: "generic",
    method: "POST",
    status: 400,
    headers: json,
    body: GENERIC_FORMAT,
    Class: BadRequestError,
    code: "BAD_REQUEST",
    message: "Brief, human-readable error description: Detailed explanation of what went wrong",
    detail: "Detailed explanation of what went wrong",
    retryable: false,
    requestId: REQUEST_ID,
  },
  {
    name: "a 401 AUTH_FAILED body to AuthFailedError that is not retryable",
    slug: "auth-failed",
    status: 401,
    headers: json,
    body: AUTH_FAILED,
    Class: AuthFailedError,
    code: "AUTH_FAILED",
    message: "Authentication failed: Invalid or missing authentication credentials.",
    detail: "Invalid or missing authentication credentials.",
    retryable: false,
    requestId: REQUEST_ID,
  },
  {
    name: "a 403 ACCESS_DENIED body to AccessDeniedError",
    slug: "access-denied",
    status: 403,
    headers: json,
    body: ACCESS_DENIED,
    Class: AccessDeniedError,
    code: "ACCESS_DENIED",
    message: "Access denied: API key is required. Use 'Authorization: Bearer <key>'.",
    detail: "API key is required. Use 'Authorization: Bearer <key>'.",
    retryable: false,
    requestId: REQUEST_ID,
  },
  {
    name: "a 400 VALIDATION_ERROR body to ValidationError whose detail is the issue array",
    slug: "validation",
    method: "POST",
    status: 400,
    headers: json,
    body: VALIDATION_ERROR,
    Class: ValidationError,
    code: "VALIDATION_ERROR",
    message: "Validation failed: body.name: Field required; body.fields: Field required",
    detail: [
      { type: "missing", loc: ["body", "name"], msg: "Field required" },
      { type: "missing", loc: ["body", "fields"], msg: "Field required" },
    ],
    retryable: false,
    requestId: REQUEST_ID,
  },
  {
    name: "a 400 INVALID_JSON body to InvalidJsonError",
    slug: "invalid-json",
    method: "POST",
    status: 400,
    headers: json,
    body: INVALID_JSON,
    Class: InvalidJsonError,
    code: "INVALID_JSON",
    message: "Invalid JSON format: The request body contains invalid JSON. Please check your JSON syntax.",
    detail: "The request body contains invalid JSON. Please check your JSON syntax.",
    retryable: false,
    requestId: REQUEST_ID,
  },
  {
    name: "a 404 NOT_FOUND body to NotFoundError",
    slug: "not-found",
    method: "DELETE",
    status: 404,
    headers: json,
    body: NOT_FOUND,
    Class: NotFoundError,
    code: "NOT_FOUND",
    message: "Resource not found: The requested resource could not be found.",
    detail: "The requested resource could not be found.",
    retryable: false,
    requestId: REQUEST_ID,
  },
  {
    name: "a 412 with retryable true to PreconditionFailedError that is retryable",
    slug: "precondition",
    status: 412,
    headers: json,
    body: PRECONDITION_FAILED,
    Class: PreconditionFailedError,
    code: "PRECONDITION_FAILED",
    message: "Extraction not yet available: Extraction status is 'processing'. Results are available when status is 'processed'.",
    detail: "Extraction status is 'processing'. Results are available when status is 'processed'.",
    retryable: true,
    requestId: REQUEST_ID,
  },
  {
    name: "a 412 with retryable false to PreconditionFailedError that is not retryable",
    slug: "precondition-terminal",
    status: 412,
    headers: json,
    body: PRECONDITION_TERMINAL,
    Class: PreconditionFailedError,
    code: "PRECONDITION_FAILED",
    message: "Extraction failed: Extraction status is 'error'. Results will not become available.",
    detail: "Extraction status is 'error'. Results will not become available.",
    retryable: false,
    requestId: REQUEST_ID,
  },
  {
    name: "a 422 EXTRACTION_FAILED body to ExtractionFailedError",
    slug: "extraction-failed",
    status: 422,
    headers: json,
    body: extractionEnded("EXTRACTION_FAILED", "Extraction failed"),
    Class: ExtractionFailedError,
    code: "EXTRACTION_FAILED",
    message: "Extraction failed: Extraction status is 'error'.",
    detail: "Extraction status is 'error'.",
    retryable: false,
    requestId: REQUEST_ID,
  },
  {
    name: "a 422 EXTRACTION_CANCELLED body to ExtractionFailedError with that code",
    slug: "extraction-cancelled",
    status: 422,
    headers: json,
    body: extractionEnded("EXTRACTION_CANCELLED", "Extraction cancelled"),
    Class: ExtractionFailedError,
    code: "EXTRACTION_CANCELLED",
    message: "Extraction cancelled: Extraction status is 'cancelled'.",
    detail: "Extraction status is 'cancelled'.",
    retryable: false,
    requestId: REQUEST_ID,
  },
  {
    name: "a 429 RATE_LIMITED body with Retry-After and rate-limit headers to RateLimitedError with retryAfterMs",
    slug: "rate-limited",
    method: "POST",
    status: 429,
    headers: { ...json, "retry-after": "12", "x-ratelimit-limit": "60", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "12" },
    body: RATE_LIMITED,
    Class: RateLimitedError,
    code: "RATE_LIMITED",
    message: "Rate limited: Rate limit exceeded. Try again in 12s.",
    detail: "Rate limit exceeded. Try again in 12s.",
    retryable: true,
    requestId: REQUEST_ID,
    retryAfterMs: 12_000,
    rateLimit: { limit: 60, remaining: 0, resetMs: 12_000 },
  },
  ...[500, 502, 503].map(
    (status): Fixture => ({
      name: `a ${status} INTERNAL_ERROR body to ServerError with its reference_id`,
      slug: `internal-${status}`,
      status,
      headers: json,
      body: INTERNAL_ERROR,
      Class: ServerError,
      code: "INTERNAL_ERROR",
      message: "Internal server error: An unexpected error occurred while processing your request. Please try again or contact support.",
      detail: "An unexpected error occurred while processing your request. Please try again or contact support.",
      retryable: true,
      requestId: REQUEST_ID,
      referenceId: "err_1234",
    }),
  ),
  {
    name: "a 504 GATEWAY_TIMEOUT body to GatewayTimeoutError, the body's request_id winning over the header's",
    slug: "gateway-timeout",
    status: 504,
    headers: { ...json, "x-request-id": "from-the-header" },
    body: GATEWAY_TIMEOUT,
    Class: GatewayTimeoutError,
    code: "GATEWAY_TIMEOUT",
    message: "Gateway timeout: The backend did not respond in time. Please try again.",
    detail: "The backend did not respond in time. Please try again.",
    retryable: true,
    requestId: REQUEST_ID,
  },
  {
    name: 'the framework-level { "detail": "Not found." } to NotFoundError whose message is that detail',
    slug: "framework",
    status: 404,
    headers: { ...json, "x-request-id": "req-from-header" },
    body: FRAMEWORK_NOT_FOUND,
    Class: NotFoundError,
    code: "NOT_FOUND",
    message: "Not found.",
    detail: "Not found.",
    retryable: false,
    requestId: "req-from-header",
  },
  {
    name: "a 301 for a path without its trailing slash to a plain ApiError with code HTTP_301",
    slug: "moved",
    status: 301,
    headers: { location: "/v2/cases/moved/" },
    body: "",
    Class: ApiError,
    code: "HTTP_301",
    message: "HTTP 301 (empty body)",
    detail: undefined,
    retryable: false,
    requestId: undefined,
  },
];

const pathOf = (slug: string): string => `/v2/cases/${slug}/`;

const routes = new Map<string, Reply>();
for (const f of FIXTURES) {
  routes.set(pathOf(f.slug), { status: f.status, ...(f.headers === undefined ? {} : { headers: f.headers }), body: f.body });
}
HOSTILE_REPLIES.forEach((h, i) => routes.set(pathOf(`hostile-${i}`), h.reply));

const harness = dialectHarness({ dialect: anyformatDialect, key: KEY, auth: { authHeaders: { authorization: `Bearer ${KEY}` } }, routes });
const failWith = (slug: string, method?: "GET" | "POST" | "DELETE"): Promise<ApiError> => harness.failWith(pathOf(slug), method);

describe("anyformat dialect, reference bodies", () => {
  it.each(FIXTURES.map((f) => [f.name, f] as const))("maps %s", async (_name, f) => {
    const method = f.method ?? "GET";
    const err = await failWith(f.slug, method);

    expect(err.constructor).toBe(f.Class);
    expect(err).toBeInstanceOf(FaultlineError);
    expect(err.name).toBe(f.Class.name);
    expect(err.status).toBe(f.status);
    expect(err.code).toBe(f.code);
    expect(err.message).toBe(f.message);
    expect(err.detail).toEqual(f.detail);
    expect(err.retryable).toBe(f.retryable);
    expect(err.requestId).toBe(f.requestId);
    expect(err.referenceId).toBe(f.referenceId);
    expect(err.hint).toBeUndefined();
    expect(err.type).toBeUndefined();
    expect(err.retryAfterMs).toBe(f.retryAfterMs);
    expect(err.rateLimit).toEqual(f.rateLimit);
    expect(Object.getPrototypeOf(err.headers)).toBe(Object.prototype);
    expect(err.headers).toMatchObject(f.headers ?? {});
    expect(err.body).toEqual(f.body === "" ? "" : JSON.parse(f.body));
    expect(err.method).toBe(method);
    expect(err.url).toBe(`${harness.server.url}${pathOf(f.slug)}`);
    expect(err.attempts).toBe(1);
  });

  it("exposes the validation array as ValidationError.issues", async () => {
    const err = await failWith("validation", "POST");
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).issues.map((i) => i.loc.join("."))).toEqual(["body.name", "body.fields"]);
    expect((err as ValidationError).issues).toBe(err.detail);
  });

  it("gives toJSON() every field a log needs", async () => {
    const err = await failWith("internal-503");
    expect(err.toJSON()).toMatchObject({
      name: "ServerError",
      code: "INTERNAL_ERROR",
      status: 503,
      message: "Internal server error: An unexpected error occurred while processing your request. Please try again or contact support.",
      retryable: true,
      requestId: REQUEST_ID,
      referenceId: "err_1234",
      method: "GET",
      url: `${harness.server.url}${pathOf("internal-503")}`,
      attempts: 1,
    });
  });
});

/** Bodies whose `detail` the message must carry, bounded and masked. */
const wordy = (error: string | undefined, detail: unknown): Reply => ({
  status: 400,
  headers: json,
  body: JSON.stringify({ ...(error === undefined ? {} : { error }), detail, error_code: "BAD_REQUEST", retryable: false }),
});
const straddled = `${"word ".repeat(58)}xx${KEY}yy and then much more text ${"tail ".repeat(300)}`;
const MESSAGE_CASES: ReadonlyMap<string, Reply> = new Map([
  [pathOf("msg-locked"), { status: 423, headers: json, body: JSON.stringify({ error: "Locked", detail: "The organisation is locked. Contact support to unlock it.", error_code: "LOCKED", retryable: false }) }],
  [pathOf("msg-repeated"), wordy("Not found.", "Not found.")],
  [pathOf("msg-many-issues"), wordy("Validation failed", ["a", "b", "c", "d", "e"].map((name, i) => ({ type: "missing", loc: ["body", "fields", i, name], msg: "Field required" })))],
  [pathOf("msg-issue-without-loc"), wordy("Validation failed", [{ type: "value_error", loc: [], msg: "Value error, send either one 'file' or one 'text'" }])],
  [pathOf("msg-lines"), wordy("Bad request.", "first line\n\n   second line\tand a tab")],
  [pathOf("msg-key"), wordy("Bad request", `your key ${KEY} is not allowed here`)],
  [pathOf("msg-straddled"), wordy("Bad request", straddled)],
  [pathOf("msg-one-huge-word"), wordy("Bad request", "x".repeat(5_000))],
  [
    pathOf("msg-wrong-types"),
    {
      status: 404,
      headers: json,
      body: JSON.stringify({ error: "Workflow not found", detail: 42, error_code: 404, retryable: "yes", request_id: "req_123", reference_id: { id: 7 } }),
    },
  ],
  [pathOf("msg-wrong-typed-issue"), wordy("Validation failed", [{ type: 1, loc: "body.name", msg: "Field required" }])],
]);
for (const [path, reply] of MESSAGE_CASES) routes.set(path, reply);

describe("anyformat dialect, messages", () => {
  it("puts a string detail into the message, as String(err) shows it", async () => {
    const err = await failWith("msg-locked");
    expect(String(err)).toBe("LockedError: Locked: The organisation is locked. Contact support to unlock it.");
    expect(err.detail).toBe("The organisation is locked. Contact support to unlock it.");
  });

  it("says a detail that repeats the error only once", async () => {
    expect((await failWith("msg-repeated")).message).toBe("Not found.");
  });

  it("names the first three validation issues as loc: msg, and counts the rest", async () => {
    const err = await failWith("msg-many-issues", "POST");
    expect(err).toBeInstanceOf(BadRequestError);
    expect(err.message).toBe(
      "Validation failed: body.fields.0.a: Field required; body.fields.1.b: Field required; body.fields.2.c: Field required (and 2 more)",
    );
    expect((err.detail as unknown[]).length).toBe(5);
  });

  it("names an issue without a location by its msg alone", async () => {
    expect((await failWith("msg-issue-without-loc", "POST")).message).toBe(
      "Validation failed: Value error, send either one 'file' or one 'text'",
    );
  });

  it("keeps the message on one line, whatever whitespace the detail holds", async () => {
    expect((await failWith("msg-lines")).message).toBe("Bad request: first line second line and a tab");
  });

  it("masks a key the detail echoes, in the message and in detail", async () => {
    const err = await failWith("msg-key");
    expect(err.message).toBe("Bad request: your key *** is not allowed here");
    expect(err.detail).toBe("your key *** is not allowed here");
    expect(String(err)).not.toContain(KEY);
  });

  it("bounds a long detail in the message, dropping the word the cut falls in so no piece of a key shows", async () => {
    const err = await failWith("msg-straddled");
    // The key starts at character 292 of the detail: the cut at 300 falls inside it.
    expect(straddled.indexOf(KEY)).toBeLessThan(300);
    expect(straddled.indexOf(KEY) + KEY.length).toBeGreaterThan(300);
    expect(err.message).toBe(`Bad request: ${"word ".repeat(58).trimEnd()}…`);
    for (let n = 4; n <= KEY.length; n++) expect(err.message).not.toContain(KEY.slice(0, n));
    expect(err.detail).toBe(straddled.replace(KEY, "***"));
  });

  it("reads each field on its own: one of the wrong type is dropped, the others still count", async () => {
    const err = await failWith("msg-wrong-types");
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toBe("Workflow not found");
    expect(err.detail).toBeUndefined();
    expect(err.code).toBe("NOT_FOUND");
    expect(err.retryable).toBe(false);
    expect(err.requestId).toBe("req_123");
    expect(err.referenceId).toBeUndefined();
  });

  it("reads a validation issue whose fields have the wrong types as far as they go", async () => {
    const err = await failWith("msg-wrong-typed-issue", "POST");
    expect(err.message).toBe("Validation failed: Field required");
    expect(err.detail).toEqual([{ type: "unknown", loc: [], msg: "Field required" }]);
  });

  it("cuts a detail that is one huge word down to the ellipsis", async () => {
    const err = await failWith("msg-one-huge-word");
    expect(err.message).toBe("Bad request: …");
    expect((err.detail as string).length).toBe(5_000);
  });
});

describe("anyformat dialect, bodies that are not anyformat's", () => {
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
      expect(err.requestId).toBeUndefined();
      expect(err.retryable).toBe(h.status === 429 || h.status >= 500);
      expect(err.retryAfterMs).toBe(h.retryAfterMs);
      expect(err.attempts).toBe(1);
      expect(err.url).toBe(`${harness.server.url}${pathOf(h.slug)}`);
      expect(Date.now() - started).toBeLessThan(5_000);
    },
    10_000,
  );

  it("keeps a 10 KB header value whole in headers", async () => {
    const index = HOSTILE_REPLIES.findIndex((h) => h.what.includes("10 KB"));
    const err = await failWith(`hostile-${index}`);
    expect(err.headers["x-junk"]).toBe("j".repeat(10 * 1024));
  });

  it("answers the next call on the same pool after cutting a 5 MB body short", async () => {
    const index = HOSTILE_REPLIES.findIndex((h) => h.what.includes("5 MB"));
    await failWith(`hostile-${index}`);
    const err = await failWith("not-found", "DELETE");
    expect(err).toBeInstanceOf(NotFoundError);
  });
});

