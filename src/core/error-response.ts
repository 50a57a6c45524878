import type { Dialect, ErrorBodyFields } from "./dialect.js";
import { codeFor, createApiError, type ApiError } from "./errors.js";
import { parseRateLimit, parseRetryAfter } from "./headers.js";
import type { Redactor } from "./redact.js";
import { isRetryable } from "./retry.js";

/** An error response as the transport read it: headers flattened, the body's text (at most the cap). */
export interface ReadResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly text: string;
}

/** The call a response answered, and how to read and mask it. */
export interface ErrorSource {
  readonly dialect: Dialect;
  readonly redactor: Redactor;
  readonly method: string;
  /** The URL as sent: masked here. */
  readonly url: string;
  readonly service: string | undefined;
  readonly attempts: number;
}

/**
 * Turns a non-2xx response into its typed error: the dialect reads the body, the status (or the body's
 * own `error_code`) picks the class, and every field a person may read is masked. Never throws.
 */
export function apiErrorFrom(response: ReadResponse, source: ErrorSource): ApiError {
  const { status, headers, text } = response;
  const { redactor: redact } = source;
  const json = parseJsonLoosely(text);
  let fields: ErrorBodyFields;
  try {
    fields = source.dialect.readErrorBody({ status, headers, text, json });
  } catch {
    fields = {};
  }
  return createApiError({
    status,
    code: codeFor(status, fields.errorCode),
    message: redact.text(nonEmpty(fields.message) ?? defaultMessage(status, text, json)),
    detail: typeof fields.detail === "string" ? redact.text(fields.detail) : (redact.value(fields.detail) as never),
    retryable: isRetryable(status, fields.retryable),
    // Ids and types come from the server too, which may echo a key back in any of them.
    requestId: maskOptional(redact, fields.requestId ?? headers["x-request-id"]),
    referenceId: maskOptional(redact, fields.referenceId),
    hint: maskOptional(redact, fields.hint),
    type: maskOptional(redact, fields.type),
    service: source.service,
    retryAfterMs: parseRetryAfter(headers),
    rateLimit: parseRateLimit(headers),
    headers: redact.headers(headers),
    body: json === undefined ? redact.text(text) : redact.parsedBody(json, text),
    method: source.method,
    url: redact.url(source.url),
    attempts: source.attempts,
  });
}

function parseJsonLoosely(text: string): unknown {
  const trimmed = text.trimStart();
  const first = trimmed[0];
  // Only JSON-looking text is parsed: HTML and plain text stay text without paying for an exception.
  if (first !== "{" && first !== "[" && first !== '"' && first !== "n" && !(first !== undefined && /[-\d]/.test(first))) {
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  412: "Precondition Failed",
  422: "Unprocessable Entity",
  423: "Locked",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

function defaultMessage(status: number, text: string, json: unknown): string {
  const phrase = `HTTP ${status}${STATUS_TEXT[status] === undefined ? "" : ` ${STATUS_TEXT[status]}`}`;
  if (text.trim().length === 0) return `${phrase} (empty body)`;
  if (json !== undefined) return phrase;
  if (/^\s*</.test(text)) return `${phrase} (HTML body)`;
  const firstLine = text.trim().split(/\r?\n/, 1)[0] ?? "";
  return `${phrase}: ${firstLine.slice(0, 200)}`;
}

function maskOptional(redactor: Redactor, value: string | undefined): string | undefined {
  return value === undefined ? undefined : redactor.text(value);
}


function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}
