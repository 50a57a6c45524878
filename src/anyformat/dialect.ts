import * as z from "zod/mini";
import type { Dialect, ErrorBodyFields, ErrorResponse } from "../core/dialect.js";
import type { ValidationIssue } from "../core/errors.js";

// Each schema is built on first use (`z.lazy`, which keeps what it built): building every one of them at
// import cost each process a cold start of over ten milliseconds, and a process uses a few.

const issue = z.lazy(() => z.looseObject({
  type: z.catch(z.string(), "unknown"),
  loc: z.catch(z.array(z.union([z.string(), z.number()])), []),
  msg: z.catch(z.string(), ""),
}));

const text = z.catch(z.optional(z.string()), undefined);

/**
 * anyformat's structured body (`error`, `detail`, `error_code`, `retryable`, `request_id`, `reference_id`)
 * and its framework form (`{"detail": "Not found."}`). Every field is read on its own, so one wrong type
 * spoils only that field.
 */
const structured = z.lazy(() => z.looseObject({
  error: text,
  detail: z.catch(z.optional(z.union([z.string(), z.array(issue)])), undefined),
  error_code: text,
  retryable: z.catch(z.optional(z.boolean()), undefined),
  request_id: text,
  reference_id: text,
}));

/** How much of the body's `detail` a message carries; the whole of it stays in `err.detail`. */
const DETAIL_CHARS = 300;
/** How many validation issues a message names; `err.issues` has every one. */
const ISSUES_NAMED = 3;

/** How anyformat's error bodies map to the shared error fields. */
export const anyformatDialect: Dialect = {
  name: "anyformat",
  readErrorBody(response: ErrorResponse): ErrorBodyFields {
    const parsed = structured.safeParse(response.json);
    if (!parsed.success) return {};
    const body = parsed.data;
    const detail = body.detail as string | ValidationIssue[] | undefined;
    return {
      message: messageOf(body.error, detail),
      detail,
      errorCode: body.error_code,
      retryable: body.retryable,
      requestId: body.request_id,
      referenceId: body.reference_id,
    };
  },
};

/**
 * The short `error` with what `detail` explains (`Resource not found: Workflow 'x' not found.`), or for
 * validation the issues as `loc: msg` (`Validation failed: body.name: Field required`). The framework
 * form has only `detail`: it is then the whole message.
 */
function messageOf(error: string | undefined, detail: string | readonly ValidationIssue[] | undefined): string | undefined {
  const summary = detail === undefined ? undefined : typeof detail === "string" ? bounded(detail) : issuesText(detail);
  const head = error === undefined || error.trim() === "" ? undefined : error.trim();
  if (head === undefined) return summary;
  if (summary === undefined || summary === "" || head.includes(summary)) return head;
  return `${head.replace(/[.:]$/, "")}: ${summary}`;
}

function issuesText(issues: readonly ValidationIssue[]): string | undefined {
  if (issues.length === 0) return undefined;
  const named = issues.slice(0, ISSUES_NAMED).map((i) => (i.loc.length === 0 ? i.msg : `${i.loc.join(".")}: ${i.msg}`));
  const more = issues.length > ISSUES_NAMED ? ` (and ${issues.length - ISSUES_NAMED} more)` : "";
  return `${bounded(named.join("; "))}${more}`;
}

/**
 * Text on one line, at most `DETAIL_CHARS`. A cut drops the word it falls in, whole: the core masks
 * secrets in the message afterwards, and half a key would no longer match the key.
 */
function bounded(value: string): string {
  const flat = value.replace(/\s+/g, " ").trim();
  if (flat.length <= DETAIL_CHARS) return flat;
  const cut = flat.slice(0, DETAIL_CHARS);
  const whole = flat[DETAIL_CHARS] === " " ? cut : cut.replace(/\S*$/, "");
  return `${whole.trimEnd()}…`;
}
