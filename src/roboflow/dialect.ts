import * as z from "zod/mini";
import type { Dialect, ErrorBodyFields, ErrorResponse } from "../core/dialect.js";
import { API_REMEDIES, withRemedy } from "./remedies.js";

// Each schema is built on first use (`z.lazy`, which keeps what it built): building every one of them at
// import cost each process a cold start of over ten milliseconds, and a process uses a few.

const text = z.catch(z.optional(z.string()), undefined);
const flag = z.catch(z.optional(z.boolean()), undefined);

/** `{"error": {"message", "type", "hint", "status"}}`: the Graph API form. */
const nested = z.lazy(() => z.looseObject({
  error: z.looseObject({
    message: text,
    type: text,
    hint: text,
    status: z.optional(z.unknown()),
    code: z.optional(z.unknown()),
  }),
  hint: text,
  error_code: text,
  retryable: flag,
}));

/** `{"error": "..."}`, or `{"error": "<code>", "message": "..."}`. */
const flat = z.lazy(() => z.looseObject({
  error: z.string(),
  message: text,
  hint: text,
  type: text,
  error_code: text,
  retryable: flag,
}));

/** `{"message", "type", "hint"}` with no `error` at all: how annotation refusals were worded in 2023. */
const bare = z.lazy(() => z.looseObject({
  message: z.string(),
  type: text,
  hint: text,
  error_code: text,
  retryable: flag,
}));

const SNAKE_CODE = /^[a-z][a-z0-9]*(_[a-z0-9]+)+$/;

function readBody(json: unknown): ErrorBodyFields {
  const n = nested.safeParse(json);
  if (n.success) {
    const { error, hint, error_code: errorCode, retryable } = n.data;
    return { message: error.message, type: error.type, hint: error.hint ?? hint, errorCode, retryable };
  }
  const f = flat.safeParse(json);
  if (!f.success) {
    const b = bare.safeParse(json);
    if (!b.success) return {};
    const { message, type, hint, error_code: errorCode, retryable } = b.data;
    return { message, type, hint, errorCode, retryable };
  }
  const { error, message, hint, type, error_code: errorCode, retryable } = f.data;
  // `{"error": "model_eval_not_found", "message": "..."}`: the error is a code, the message the words.
  if (message !== undefined && SNAKE_CODE.test(error)) return { message, type: type ?? error, hint, errorCode, retryable };
  return { message: error, detail: message, type, hint, errorCode, retryable };
}

/**
 * How Roboflow's error bodies (nested, flat, and the older bare `{message}`) map to the shared error fields. A top-level
 * `retryable` (the image-URL 502 sends one) is the body's own verdict; known failures get a hint.
 */
export const roboflowDialect: Dialect = {
  name: "roboflow",
  readErrorBody(response: ErrorResponse): ErrorBodyFields {
    return withRemedy(API_REMEDIES, response.status, readBody(response.json));
  },
};
