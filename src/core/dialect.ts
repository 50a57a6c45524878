import type { ValidationIssue } from "./errors.js";

/** An error response as a dialect sees it: the body already decoded, JSON parsed when it was JSON. */
export interface ErrorResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** The body's text (at most the read cap). */
  readonly text: string;
  /** The parsed body; `undefined` when the body was not valid JSON. */
  readonly json: unknown;
}

/** What a dialect could read from an error body. Everything is optional: bodies lie, or are HTML. */
export interface ErrorBodyFields {
  readonly message?: string | undefined;
  readonly detail?: string | readonly ValidationIssue[] | undefined;
  readonly errorCode?: string | undefined;
  readonly retryable?: boolean | undefined;
  readonly requestId?: string | undefined;
  readonly referenceId?: string | undefined;
  readonly hint?: string | undefined;
  readonly type?: string | undefined;
}

/**
 * How one API phrases its errors. The core knows nothing of any API: each client hands it a dialect,
 * which must never throw, whatever the body holds.
 */
export interface Dialect {
  readonly name: string;
  readErrorBody(response: ErrorResponse): ErrorBodyFields;
}
