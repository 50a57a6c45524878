/**
 * Response shapes of the anyformat v2 API. Objects are loose: keys anyformat adds later are kept, and
 * wire names (`workflow_id`, `created_at`) are never renamed. Where the documentation and the generated
 * SDK disagree (run statuses, results keys) the field is an open string or optional, so both validate.
 * Users' extraction field names are record keys: never touched.
 */
import * as z from "zod";
import type { DataType } from "./data-types.js";



/** A run's or a collection's status. Documented values first; any other string is still accepted. */
export type RunStatus = "pending" | "queued" | "in_progress" | "processed" | "error" | "cancelled" | (string & {});
const status = z.string() as z.ZodType<RunStatus>;

/** A field to extract. `enum_options` is required for `enum` and `multi_select`, `nested_fields` for `object`. */
export interface Field {
  name: string;
  description: string;
  data_type: DataType | (string & {});
  enum_options?: string[] | null | undefined;
  nested_fields?: Field[] | null | undefined;
  [key: string]: unknown;
}
export const Field: z.ZodType<Field> = z.looseObject({
  name: z.string(),
  description: z.string(),
  data_type: z.string(),
  enum_options: z.array(z.string()).nullish(),
  get nested_fields() {
    return z.array(Field).nullish();
  },
});

/** `GET /v2/workflows/{id}/`. */
export const Workflow = z.looseObject({
  id: z.string(),
  name: z.string(),
  description: z.string().nullish(),
  created_at: z.string().nullish(),
  updated_at: z.string().nullish(),
  fields: z.array(Field).nullish(),
});
export type Workflow = z.infer<typeof Workflow>;

/** `{count, page, page_size, results}`. */
export function pageOf<T extends z.ZodType>(item: T) {
  return z.looseObject({
    count: z.number(),
    page: z.number(),
    page_size: z.number(),
    results: z.array(item),
  });
}

/** `POST /v2/workflows/{id}/run/` and `.../files/{file_id}/run/`: `id` is the file collection's id. */
export const RunStarted = z.looseObject({
  id: z.string(),
  status,
  workflow_id: z.string().nullish(),
  version_id: z.string().nullish(),
});
export type RunStarted = z.infer<typeof RunStarted>;

/** `POST /v2/workflows/{id}/upload/`: stored, not run. */
export const Uploaded = z.looseObject({
  status: z.string(),
  filename: z.string().nullish(),
  file_collection_id: z.string(),
  file_id: z.string(),
});
export type Uploaded = z.infer<typeof Uploaded>;

/** `POST /v2/workflows/{id}/files/`: a collection of files, not run. */
export const FileCollection = z.looseObject({
  id: z.string(),
  name: z.string().nullish(),
  files: z.array(z.looseObject({ filename: z.string(), status: z.string() })),
  workflow_id: z.string().nullish(),
});
export type FileCollection = z.infer<typeof FileCollection>;

/** One item of `GET .../files/` and `GET .../runs/`. */
export const CollectionSummary = z.looseObject({
  id: z.string(),
  status,
  name: z.string().nullish(),
  created_at: z.string().nullish(),
  updated_at: z.string().nullish(),
});
export type CollectionSummary = z.infer<typeof CollectionSummary>;

/** One extracted value with its confidence (0 to 100) and the text it came from. */
export const ExtractedField = z.looseObject({
  value: z.unknown(),
  confidence: z.number().nullish(),
  evidence: z.array(z.looseObject({ text: z.string().nullish(), page_number: z.number().nullish() })).nullish(),
  value_override: z.unknown().optional(),
  verification_status: z.string().nullish(),
});
export type ExtractedField = z.infer<typeof ExtractedField>;

/**
 * `GET .../files/{collection_id}/results/` when done. Every key but `collection_id` is optional, as the
 * sources disagree; `extraction` is keyed by the workflow's own field names.
 */
export const Results = z.looseObject({
  collection_id: z.string(),
  verification_url: z.string().nullish(),
  parse: z.looseObject({ markdown: z.string().nullish() }).nullish(),
  extraction: z
    .record(z.string(), z.union([ExtractedField, z.array(z.record(z.string(), ExtractedField))]))
    .nullish(),
  classifications: z.array(z.unknown()).nullish(),
  splits: z.array(z.unknown()).nullish(),
  extractions: z.array(z.unknown()).nullish(),
});
export type Results = z.infer<typeof Results>;

/** `POST /v2/webhooks/`: the only answer that shows `secret`. */
export const WebhookCreated = z.looseObject({
  id: z.string(),
  url: z.string(),
  events: z.array(z.string()).nullish(),
  is_active: z.boolean().nullish(),
  secret: z.string(),
  created_at: z.string().nullish(),
});
export type WebhookCreated = z.infer<typeof WebhookCreated>;

/** An item of `GET /v2/webhooks/` (a plain array, not paged, without `secret`). */
export const Webhook = z.looseObject({
  id: z.string(),
  url: z.string(),
  events: z.array(z.string()).nullish(),
  is_active: z.boolean().nullish(),
  created_at: z.string().nullish(),
});
export type Webhook = z.infer<typeof Webhook>;

/** `GET /health/`. */
export const Health = z.looseObject({ message: z.string() });
export type Health = z.infer<typeof Health>;

/** Deletes answer 200 or 204, with or without a body: both resolve to `undefined`. */
export const Deleted = z.unknown().transform((): void => undefined);
