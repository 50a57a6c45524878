import * as z from "zod";
import type { Dialect, ErrorBodyFields, ErrorResponse } from "../core/dialect.js";
import type { ValidationIssue } from "../core/errors.js";

const issue = z.looseObject({
  type: z.string().catch("unknown"),
  loc: z.array(z.union([z.string(), z.number()])).catch([]),
  msg: z.string().catch(""),
});

const text = z.string().optional().catch(undefined);

/**
 * anyformat's structured body (`error`, `detail`, `error_code`, `retryable`, `request_id`, `reference_id`)
 * and its framework form (`{"detail": "Not found."}`). Every field is read on its own, so one wrong type
 * spoils only that field.
 */
const structured = z.looseObject({
  error: text,
  detail: z.union([z.string(), z.array(issue)]).optional().catch(undefined),
  error_code: text,
  retryable: z.boolean().optional().catch(undefined),
  request_id: text,
  reference_id: text,
});

/** How anyformat's error bodies map to the shared error fields. */
export const anyformatDialect: Dialect = {
  name: "anyformat",
  readErrorBody(response: ErrorResponse): ErrorBodyFields {
    const parsed = structured.safeParse(response.json);
    if (!parsed.success) return {};
    const body = parsed.data;
    const detail = body.detail as string | ValidationIssue[] | undefined;
    return {
      // The framework form has only `detail`: it is then the whole message.
      message: body.error ?? (typeof detail === "string" ? detail : undefined),
      detail,
      errorCode: body.error_code,
      retryable: body.retryable,
      requestId: body.request_id,
      referenceId: body.reference_id,
    };
  },
};
