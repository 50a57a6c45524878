import * as z from "zod";
import type { Dialect, ErrorBodyFields, ErrorResponse } from "../core/dialect.js";

const text = z.string().optional().catch(undefined);

/** `{"error": {"message", "type", "hint", "status"}}`: the Graph API form. */
const nested = z.looseObject({
  error: z.looseObject({
    message: text,
    type: text,
    hint: text,
    status: z.unknown().optional(),
    code: z.unknown().optional(),
  }),
  hint: text,
  error_code: text,
});

/** `{"error": "..."}`, or `{"error": "<code>", "message": "..."}`. */
const flat = z.looseObject({
  error: z.string(),
  message: text,
  hint: text,
  type: text,
  error_code: text,
});

const SNAKE_CODE = /^[a-z][a-z0-9]*(_[a-z0-9]+)+$/;

/** How Roboflow's error bodies (all three JSON forms) map to the shared error fields. */
export const roboflowDialect: Dialect = {
  name: "roboflow",
  readErrorBody(response: ErrorResponse): ErrorBodyFields {
    const n = nested.safeParse(response.json);
    if (n.success) {
      const { error, hint, error_code: errorCode } = n.data;
      return { message: error.message, type: error.type, hint: error.hint ?? hint, errorCode };
    }
    const f = flat.safeParse(response.json);
    if (!f.success) return {};
    const { error, message, hint, type, error_code: errorCode } = f.data;
    // `{"error": "model_eval_not_found", "message": "..."}`: the error is a code, the message the words.
    if (message !== undefined && SNAKE_CODE.test(error)) return { message, type: type ?? error, hint, errorCode };
    return { message: error, detail: message, type, hint, errorCode };
  },
};
