import type { EmulatorResponse } from "../types.js";

/**
 * The answers and error bodies of the anyformat emulator. anyformat has one structured error form,
 * `{error, detail, error_code, retryable, request_id}`, and the framework's bare `{"detail": ...}` for
 * unknown paths and wrong methods; both are kept, so a client is tested against each.
 */

/** One item of a validation error's `detail` array, in the form anyformat (pydantic) gives. */
export interface ValidationIssue {
  readonly type: string;
  readonly loc: ReadonlyArray<string | number>;
  readonly msg: string;
}

export function ok(json: unknown, status = 200): EmulatorResponse {
  return { status, json };
}

export function noContent(): EmulatorResponse {
  return { status: 204 };
}

/** The structured error body. The request id is the one the response's `x-request-id` carries. */
export function apiError(
  requestId: string,
  status: number,
  code: string,
  error: string,
  detail: string | readonly ValidationIssue[],
  retryable: boolean,
  extra: Readonly<Record<string, unknown>> = {},
): EmulatorResponse {
  return { status, json: { error, detail, error_code: code, retryable, ...extra, request_id: requestId } };
}

export function validationError(requestId: string, issues: readonly ValidationIssue[]): EmulatorResponse {
  return apiError(requestId, 400, "VALIDATION_ERROR", "Validation failed", issues, false);
}

export function invalidJson(requestId: string): EmulatorResponse {
  return apiError(
    requestId,
    400,
    "INVALID_JSON",
    "Invalid JSON format",
    "The request body contains invalid JSON. Please check your JSON syntax.",
    false,
  );
}

export function notFound(requestId: string, detail = "The requested resource could not be found."): EmulatorResponse {
  return apiError(requestId, 404, "NOT_FOUND", "Resource not found", detail, false);
}

export function authFailed(requestId: string): EmulatorResponse {
  return apiError(requestId, 401, "AUTH_FAILED", "Authentication failed", "Invalid or missing authentication credentials.", false);
}

export function accessDenied(requestId: string): EmulatorResponse {
  return apiError(
    requestId,
    403,
    "ACCESS_DENIED",
    "Access denied",
    "API key is required. Use 'Authorization: Bearer <key>'.",
    false,
  );
}

export function rateLimited(requestId: string, seconds: number): EmulatorResponse {
  return apiError(requestId, 429, "RATE_LIMITED", "Rate limited", `Rate limit exceeded. Try again in ${seconds}s.`, true);
}

export function internalError(requestId: string, referenceId: string): EmulatorResponse {
  return apiError(
    requestId,
    500,
    "INTERNAL_ERROR",
    "Internal server error",
    "An unexpected error occurred while processing your request. Please try again or contact support.",
    true,
    { reference_id: referenceId },
  );
}

/** anyformat reports a 503 as `INTERNAL_ERROR`, like its 500 and 502 (Error Handling page). */
export function serviceUnavailable(requestId: string, seconds: number): EmulatorResponse {
  return apiError(requestId, 503, "INTERNAL_ERROR", "Service unavailable", `Service temporarily unavailable. Try again in ${seconds}s.`, true);
}

export function gatewayTimeout(requestId: string): EmulatorResponse {
  return apiError(requestId, 504, "GATEWAY_TIMEOUT", "Gateway timeout", "The backend did not respond in time. Please try again.", true);
}

/** anyformat documents no 423; this is the structured form it would most likely take, final like other 4xx. */
export function locked(requestId: string): EmulatorResponse {
  return apiError(requestId, 423, "LOCKED", "Locked", "The organisation is locked. Contact support to unlock it.", false);
}

export function tooLarge(requestId: string, filename: string, maxBytes: number): EmulatorResponse {
  return apiError(
    requestId,
    413,
    "VALIDATION_ERROR",
    "File too large",
    `File '${filename}' is larger than the ${maxBytes / (1024 * 1024)} MB limit.`,
    false,
  );
}

/** The framework's answer for a path no route matches: no structured body, no request id in it. */
export function frameworkNotFound(): EmulatorResponse {
  return { status: 404, json: { detail: "Not found." } };
}

export function methodNotAllowed(method: string, allowed: readonly string[]): EmulatorResponse {
  return { status: 405, headers: { allow: allowed.join(", ") }, json: { detail: `Method "${method}" not allowed.` } };
}

/** What a path without its trailing slash gets: the same path with it, query kept. */
export function redirect(location: string): EmulatorResponse {
  return { status: 301, headers: { location }, text: "" };
}

// Shared by both emulators; re-exported so each emulator's modules import from one place.
export { INVALID, isRecord, readJson } from "../json.js";

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;

/** Reads `page` and `page_size`: the page asked for, or the issues that make the query invalid. */
export function readPaging(query: URLSearchParams): { page: number; pageSize: number } | ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const read = (name: string, fallback: number): number => {
    const raw = query.get(name);
    if (raw === null) return fallback;
    if (!/^\s*[+-]?\d+\s*$/.test(raw)) {
      issues.push({ type: "int_parsing", loc: ["query", name], msg: "Input should be a valid integer, unable to parse string as an integer" });
      return fallback;
    }
    const value = Number.parseInt(raw, 10);
    if (value < 1) issues.push({ type: "greater_than_equal", loc: ["query", name], msg: "Input should be greater than or equal to 1" });
    return value;
  };
  const page = read("page", 1);
  const pageSize = Math.min(MAX_PAGE_SIZE, read("page_size", DEFAULT_PAGE_SIZE));
  return issues.length > 0 ? issues : { page, pageSize };
}

/** One page of `items`, or 404 "Invalid page." past the end (page 1 of nothing is an empty page). */
export function paginate<T>(requestId: string, query: URLSearchParams, items: readonly T[], wire: (item: T) => unknown): EmulatorResponse {
  const paging = readPaging(query);
  if (Array.isArray(paging)) return validationError(requestId, paging);
  const { page, pageSize } = paging;
  const start = (page - 1) * pageSize;
  if (page > 1 && start >= items.length) return notFound(requestId, "Invalid page.");
  return ok({ count: items.length, page, page_size: pageSize, results: items.slice(start, start + pageSize).map(wire) });
}
