/**
 * Response shapes of the anyformat v2 API. Objects are loose: keys anyformat adds later are kept, and
 * wire names (`workflow_id`, `created_at`) are never renamed. Where the documentation and the generated
 * SDK disagree (run statuses, results keys) the field is an open string or optional, so both validate.
 * Users' extraction field names are record keys: never touched.
 */
import * as z from "zod/mini";
import type { DataType } from "./data-types.js";

// Each schema is built on first use (`z.lazy`, which keeps what it built): building every one of them at
// import cost each process a cold start of over ten milliseconds, and a process uses a few.

/** A run's or a collection's status. Documented values first; any other string is still accepted. */
export type RunStatus = "pending" | "queued" | "in_progress" | "processed" | "error" | "cancelled" | (string & {});
const status = z.string() as z.ZodMiniType<RunStatus>;

/** A field to extract. `enum_options` is required for `enum` and `multi_select`, `nested_fields` for `object`. */
export interface Field {
  name: string;
  description: string;
  data_type: DataType | (string & {});
  enum_options?: string[] | null | undefined;
  nested_fields?: Field[] | null | undefined;
  [key: string]: unknown;
}
export const Field: z.ZodMiniType<Field> = z.lazy(() => z.looseObject({
  name: z.string(),
  description: z.string(),
  data_type: z.string(),
  enum_options: z.nullish(z.array(z.string())),
  get nested_fields() {
    return z.nullish(z.array(Field));
  },
}));

/** `GET /v2/workflows/{id}/`. */
export const Workflow = z.lazy(() => z.looseObject({
  id: z.string(),
  name: z.string(),
  description: z.nullish(z.string()),
  created_at: z.nullish(z.string()),
  updated_at: z.nullish(z.string()),
  fields: z.nullish(z.array(Field)),
}));
export type Workflow = z.infer<typeof Workflow>;

/** `{count, page, page_size, results}`. */
export function pageOf<T extends z.ZodMiniType>(item: T) {
  return z.looseObject({
    count: z.number(),
    page: z.number(),
    page_size: z.number(),
    results: z.array(item),
  });
}

/** `POST /v2/workflows/{id}/run/` and `.../files/{file_id}/run/`: `id` is the file collection's id. */
export const RunStarted = z.lazy(() => z.looseObject({
  id: z.string(),
  status,
  workflow_id: z.nullish(z.string()),
  version_id: z.nullish(z.string()),
}));
export type RunStarted = z.infer<typeof RunStarted>;

/** `POST /v2/workflows/{id}/upload/`: stored, not run. */
export const Uploaded = z.lazy(() => z.looseObject({
  status: z.string(),
  filename: z.nullish(z.string()),
  file_collection_id: z.string(),
  file_id: z.string(),
}));
export type Uploaded = z.infer<typeof Uploaded>;

/** `POST /v2/workflows/{id}/files/`: a collection of files, not run. */
export const FileCollection = z.lazy(() => z.looseObject({
  id: z.string(),
  name: z.nullish(z.string()),
  files: z.array(z.looseObject({ filename: z.string(), status: z.string() })),
  workflow_id: z.nullish(z.string()),
}));
export type FileCollection = z.infer<typeof FileCollection>;

/** One item of `GET .../files/` and `GET .../runs/`. */
export const CollectionSummary = z.lazy(() => z.looseObject({
  id: z.string(),
  status,
  name: z.nullish(z.string()),
  created_at: z.nullish(z.string()),
  updated_at: z.nullish(z.string()),
}));
export type CollectionSummary = z.infer<typeof CollectionSummary>;

/** One extracted value with its confidence (0 to 100) and the text it came from. */
export const ExtractedField = z.lazy(() => z.looseObject({
  value: z.unknown(),
  confidence: z.nullish(z.number()),
  evidence: z.nullish(z.array(z.looseObject({ text: z.nullish(z.string()), page_number: z.nullish(z.number()) }))),
  value_override: z.optional(z.unknown()),
  verification_status: z.nullish(z.string()),
}));
export type ExtractedField = z.infer<typeof ExtractedField>;

/**
 * `GET .../files/{collection_id}/results/` when done. Every key but `collection_id` is optional, as the
 * sources disagree; `extraction` is keyed by the workflow's own field names.
 */
export const Results = z.lazy(() => z.looseObject({
  collection_id: z.string(),
  verification_url: z.nullish(z.string()),
  parse: z.nullish(z.looseObject({ markdown: z.nullish(z.string()) })),
  extraction: z.nullish(z.record(z.string(), z.union([ExtractedField, z.array(z.record(z.string(), ExtractedField))]))),
  classifications: z.nullish(z.array(z.unknown())),
  splits: z.nullish(z.array(z.unknown())),
  extractions: z.nullish(z.array(z.unknown())),
}));
export type Results = z.infer<typeof Results>;

/** `POST /v2/webhooks/`: the only answer that shows `secret`. */
export const WebhookCreated = z.lazy(() => z.looseObject({
  id: z.string(),
  url: z.string(),
  events: z.nullish(z.array(z.string())),
  is_active: z.nullish(z.boolean()),
  secret: z.string(),
  created_at: z.nullish(z.string()),
}));
export type WebhookCreated = z.infer<typeof WebhookCreated>;

/** An item of `GET /v2/webhooks/` (a plain array, not paged, without `secret`). */
export const Webhook = z.lazy(() => z.looseObject({
  id: z.string(),
  url: z.string(),
  events: z.nullish(z.array(z.string())),
  is_active: z.nullish(z.boolean()),
  created_at: z.nullish(z.string()),
}));
export type Webhook = z.infer<typeof Webhook>;

/** `GET /health/`. */
export const Health = z.lazy(() => z.looseObject({ message: z.string() }));
export type Health = z.infer<typeof Health>;

/** Deletes answer 200 or 204, with or without a body: both resolve to `undefined`. */
export const Deleted = z.lazy(() => z.pipe(z.unknown(), z.transform((): void => undefined)));
