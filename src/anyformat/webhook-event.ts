import * as z from "zod/mini";
import { InvalidArgumentError } from "../core/errors.js";
import { safeParse, type SafeParseResult } from "../core/schema.js";

// Each schema is built on first use (`z.lazy`, which keeps what it built): building every one of them at
// import cost each process a cold start of over ten milliseconds, and a process uses a few.

/** The events anyformat sends to a webhook. */
export const WEBHOOK_EVENT_TYPES = ["extraction.completed", "extraction.failed"] as const;

/**
 * `"extraction.completed"` or `"extraction.failed"`.
 *
 * @example
 * ```ts
 * const events: WebhookEventType[] = ["extraction.failed"];
 * await af.webhooks.create({ url: "https://example.com/hooks/anyformat", events });
 * ```
 */
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** A time as anyformat writes it; the docs give no format, so an ISO string or a number is taken as sent. */
const Instant = z.union([z.string().check(z.minLength(1)), z.number()]);

/**
 * The documented event body: `{event, timestamp, data: {extraction_id, status, workflow_id, processed_at}}`.
 * Keys the docs do not name are kept, as everywhere in faultline: the API may add some.
 */
const WebhookEventSchema = z.lazy(() => z.looseObject({
  event: z.enum(WEBHOOK_EVENT_TYPES),
  timestamp: Instant,
  data: z.looseObject({
    /** The run's file collection: what `results.get` takes as `collectionId`. */
    extraction_id: z.string().check(z.minLength(1)),
    status: z.enum(["processed", "error"]),
    workflow_id: z.string().check(z.minLength(1)),
    processed_at: Instant,
  }),
}));

/**
 * An anyformat webhook event, as `parseWebhookEvent` returns it, in the API's wire names.
 *
 * @example
 * ```ts
 * const event: WebhookEvent = parseWebhookEvent(body);
 * if (event.event === "extraction.completed") await af.results.get(event.data.workflow_id, event.data.extraction_id);
 * ```
 */
export type WebhookEvent = z.infer<typeof WebhookEventSchema>;

/** The largest body taken as an event. Events are a few hundred bytes; this bounds the parsing of anything else. */
export const MAX_WEBHOOK_EVENT_BYTES = 256 * 1024;
const ISSUES_NAMED = 3;

/**
 * Checks a webhook request's body against the event anyformat documents and returns it typed. The body
 * may be the raw text, its bytes (a `Buffer`, `Uint8Array` or `ArrayBuffer`), or what a framework already
 * parsed. Anything else (not JSON, over 256 KiB, another shape, an event type anyformat does not document)
 * is an `InvalidArgumentError` naming what is wrong, at most three issues, without quoting the body.
 *
 * anyformat documents no signature for its webhook requests, so nothing here can prove that a request
 * came from anyformat: treat an event as a hint to fetch the results (`af.results.get`), which does prove it.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { InvalidArgumentError, parseWebhookEvent } from "faultline";
 *
 * createServer(async (req, res) => {
 *   const chunks: Buffer[] = [];
 *   for await (const chunk of req) chunks.push(chunk as Buffer);
 *   try {
 *     const event = parseWebhookEvent(Buffer.concat(chunks));
 *     console.log(event.event, event.data.extraction_id);
 *     res.writeHead(204).end();
 *   } catch (err) {
 *     res.writeHead(err instanceof InvalidArgumentError ? 400 : 500).end();
 *   }
 * }).listen(8080);
 * ```
 */
export function parseWebhookEvent(body: unknown): WebhookEvent {
  const value = typeof body === "string" || body instanceof Uint8Array || body instanceof ArrayBuffer ? fromJson(body) : body;
  let result: SafeParseResult<WebhookEvent>;
  try {
    result = safeParse(WebhookEventSchema, value);
  } catch (error) {
    // An object whose getters throw, or a Proxy that refuses to be read.
    throw new InvalidArgumentError("The webhook body could not be read as an object", { cause: error });
  }
  if (result.success) return result.data;
  const issues = result.error.issues;
  const named = issues
    .slice(0, ISSUES_NAMED)
    .map((issue) => `${issue.path.map(String).join(".") || "(body)"}: ${issue.message}`)
    .join("; ");
  const more = issues.length > ISSUES_NAMED ? ` (and ${issues.length - ISSUES_NAMED} more)` : "";
  throw new InvalidArgumentError(`Not an anyformat webhook event: ${named}${more}`, {
    hint: `anyformat documents the events ${WEBHOOK_EVENT_TYPES.join(" and ")}; answer 2xx to anything else you do not handle.`,
  });
}

function fromJson(body: string | Uint8Array | ArrayBuffer): unknown {
  // A string's length never exceeds its UTF-8 size: no need to encode a huge one to know it is too big.
  const tooBig = typeof body === "string" ? body.length > MAX_WEBHOOK_EVENT_BYTES || Buffer.byteLength(body) > MAX_WEBHOOK_EVENT_BYTES : body.byteLength > MAX_WEBHOOK_EVENT_BYTES;
  if (tooBig) throw new InvalidArgumentError("The webhook body is over 256 KiB: more than an event can be");
  const text = typeof body === "string" ? body : new TextDecoder().decode(body);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Not the parser's error as the cause: its message quotes the body.
    throw new InvalidArgumentError("The webhook body is not JSON");
  }
}
