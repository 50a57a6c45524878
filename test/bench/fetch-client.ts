/**
 * The peer to beat: a minimal client on the global `fetch`, doing what a generated SDK does per call
 * (a per-request timeout through an AbortController, JSON parsing, zod validation of the body, and a
 * status-to-class mapping for errors), without retries (the bench measures single attempts).
 */
import * as z from "zod";

const field: z.ZodType<unknown> = z.lazy(() =>
  z.looseObject({
    name: z.string(),
    description: z.string(),
    data_type: z.enum(["string", "integer", "float", "date", "datetime", "boolean", "list", "object", "enum", "multi_select"]),
    enum_options: z.array(z.string()).optional(),
    nested_fields: z.array(field).optional(),
  }),
);

const workflowSchema = z.looseObject({
  id: z.string(),
  name: z.string(),
  description: z.string().nullable().optional(),
  created_at: z.string().optional(),
  updated_at: z.string().optional(),
  fields: z.array(field).nullable().optional(),
});

export type FetchWorkflow = z.infer<typeof workflowSchema>;

export class FetchApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Headers,
  ) {
    super(`${status} ${typeof body === "string" ? body.slice(0, 200) : JSON.stringify(body)}`);
  }
}
export class FetchRateLimitError extends FetchApiError {}
export class FetchInternalServerError extends FetchApiError {}
export class FetchNotFoundError extends FetchApiError {}

function errorFor(status: number, body: unknown, headers: Headers): FetchApiError {
  if (status === 429) return new FetchRateLimitError(status, body, headers);
  if (status === 404) return new FetchNotFoundError(status, body, headers);
  if (status >= 500) return new FetchInternalServerError(status, body, headers);
  return new FetchApiError(status, body, headers);
}

export class FetchClient {
  constructor(
    private readonly baseUrl: string,
    private readonly apiKey: string,
    private readonly timeout = 60_000,
  ) {}

  async getWorkflow(id: string): Promise<FetchWorkflow> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeout);
    try {
      const response = await fetch(`${this.baseUrl}/v2/workflows/${encodeURIComponent(id)}/`, {
        method: "GET",
        headers: {
          accept: "application/json",
          authorization: `Bearer ${this.apiKey}`,
          "user-agent": "fetch-client/1.0",
        },
        signal: controller.signal,
      });
      if (!response.ok) {
        const text = await response.text();
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // An HTML page stays text.
        }
        throw errorFor(response.status, body, response.headers);
      }
      return workflowSchema.parse(await response.json());
    } finally {
      clearTimeout(timer);
    }
  }
}
