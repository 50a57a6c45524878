import type { EmulatorRequest, EmulatorResponse } from "../types.js";
import { resultsBody, textOf } from "./extraction.js";
import { MultipartError, boundaryOf, parseMultipart, type FormPart } from "../multipart.js";
import {
  INVALID,
  apiError,
  invalidJson,
  iso,
  noContent,
  notFound,
  ok,
  paginate,
  readJson,
  tooLarge,
  validationError,
  type ValidationIssue,
} from "./responses.js";
import type {
  AnyformatCollectionRecord,
  AnyformatFileRecord,
  AnyformatOutcome,
  AnyformatStore,
  AnyformatWebhookRecord,
  AnyformatWorkflowRecord,
  IdSource,
  RateTier,
} from "./state.js";
import { validateWebhook, validateWorkflow } from "./validation.js";

/** anyformat's limit on one file. */
export const MAX_FILE_BYTES = 20 * 1024 * 1024;
/** anyformat's limit on active webhooks per organisation. */
export const MAX_ACTIVE_WEBHOOKS = 50;

/** What a run is decided from: the submitted file's name and text (a binary file has no text). */
export interface AnyformatOutcomeInput {
  readonly filename?: string | undefined;
  readonly text?: string | undefined;
}

export interface RouteContext {
  readonly request: EmulatorRequest;
  readonly store: AnyformatStore;
  readonly ids: IdSource;
  readonly now: number;
  /** The id of this request: in `x-request-id` and in every error body. */
  readonly requestId: string;
  readonly terminalForm: "412" | "422";
  readonly outcomeOf: (input: AnyformatOutcomeInput) => AnyformatOutcome;
  /** Where the emulator is served, for the links it gives (`verification_url`). */
  readonly baseUrl: string;
  /** Told of every run started, so that its end can be announced to webhooks on time. */
  readonly runStarted: (collection: AnyformatCollectionRecord) => void;
}

type Handler = (ctx: RouteContext, params: readonly string[]) => EmulatorResponse;

export interface Route {
  /** Literal segments, with `*` for an id. */
  readonly pattern: readonly string[];
  readonly methods: Readonly<Record<string, Handler>>;
  /** The tier a POST to this route counts in; every other request counts as general. */
  readonly postTier?: RateTier;
}

const ID = "*";

export const HEALTH_ROUTE: Route = { pattern: ["health"], methods: { GET: () => ok({ message: "ok" }) } };

const ROUTES: readonly Route[] = [
  HEALTH_ROUTE,
  { pattern: ["v2", "workflows"], methods: { GET: listWorkflows, POST: createWorkflow } },
  { pattern: ["v2", "workflows", ID], methods: { GET: getWorkflow, DELETE: deleteWorkflow } },
  { pattern: ["v2", "workflows", ID, "run"], methods: { POST: (ctx, p) => submit(ctx, p, true) }, postTier: "submission" },
  { pattern: ["v2", "workflows", ID, "upload"], methods: { POST: (ctx, p) => submit(ctx, p, false) }, postTier: "submission" },
  { pattern: ["v2", "workflows", ID, "runs"], methods: { GET: listRuns } },
  { pattern: ["v2", "workflows", ID, "files"], methods: { GET: listFiles, POST: createFiles }, postTier: "submission" },
  { pattern: ["v2", "workflows", ID, "files", ID, "run"], methods: { POST: runFile }, postTier: "submission" },
  { pattern: ["v2", "workflows", ID, "files", ID, "results"], methods: { GET: results } },
  { pattern: ["v2", "files", ID], methods: { DELETE: deleteCollection } },
  { pattern: ["v2", "webhooks"], methods: { GET: listWebhooks, POST: createWebhook } },
  { pattern: ["v2", "webhooks", ID], methods: { DELETE: deleteWebhook } },
];

export interface RouteMatch {
  readonly route: Route;
  /** The ids in the path, percent-decoded. */
  readonly params: readonly string[];
  /** Whether the path ended in `/`: without it the API answers 301. */
  readonly slashed: boolean;
}

export function matchRoute(path: string): RouteMatch | undefined {
  const slashed = path.endsWith("/");
  const segments = (slashed ? path.slice(1, -1) : path.slice(1)).split("/");
  for (const route of ROUTES) {
    if (route.pattern.length !== segments.length) continue;
    const params: string[] = [];
    const fits = route.pattern.every((literal, i) => {
      const segment = segments[i] ?? "";
      if (literal !== ID) return segment === literal;
      if (segment === "") return false;
      params.push(decode(segment));
      return true;
    });
    if (fits) return { route, params, slashed };
  }
  return undefined;
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Newest first: the order the dashboard lists in, and the one a poller wants to see its last run in. */
function newestFirst<T extends { createdAt: number }>(items: Iterable<T>): T[] {
  return [...items].reverse().sort((a, b) => b.createdAt - a.createdAt);
}

function workflowWire(w: AnyformatWorkflowRecord): Record<string, unknown> {
  return {
    id: w.id,
    name: w.name,
    description: w.description,
    created_at: iso(w.createdAt),
    updated_at: iso(w.updatedAt),
    fields: structuredClone(w.fields),
  };
}

function collectionWire(c: AnyformatCollectionRecord): Record<string, unknown> {
  const wire: Record<string, unknown> = { id: c.id, status: c.status };
  if (c.name !== undefined) wire["name"] = c.name;
  return { ...wire, created_at: iso(c.createdAt), updated_at: iso(c.updatedAt) };
}

function listWorkflows(ctx: RouteContext): EmulatorResponse {
  return paginate(ctx.requestId, ctx.request.query, newestFirst(ctx.store.workflows.values()), workflowWire);
}

function createWorkflow(ctx: RouteContext): EmulatorResponse {
  const body = readJson(ctx.request.body);
  if (body === INVALID) return invalidJson(ctx.requestId);
  const checked = validateWorkflow(body);
  if (Array.isArray(checked)) return validationError(ctx.requestId, checked);
  const workflow: AnyformatWorkflowRecord = {
    id: ctx.ids.uuid(),
    ...checked,
    versionId: ctx.ids.uuid(),
    createdAt: ctx.now,
    updatedAt: ctx.now,
  };
  ctx.store.workflows.set(workflow.id, workflow);
  return ok(workflowWire(workflow), 201);
}

function workflowOf(ctx: RouteContext, id: string | undefined): AnyformatWorkflowRecord | EmulatorResponse {
  const workflow = id === undefined ? undefined : ctx.store.workflows.get(id);
  return workflow ?? notFound(ctx.requestId, `Workflow '${id ?? ""}' not found.`);
}

function getWorkflow(ctx: RouteContext, [id]: readonly string[]): EmulatorResponse {
  const workflow = workflowOf(ctx, id);
  return "status" in workflow ? workflow : ok(workflowWire(workflow));
}

function deleteWorkflow(ctx: RouteContext, [id]: readonly string[]): EmulatorResponse {
  const workflow = workflowOf(ctx, id);
  if ("status" in workflow) return workflow;
  ctx.store.deleteWorkflow(workflow.id);
  return noContent();
}

const notMultipart = (detail: string): ValidationIssue[] => [{ type: "value_error", loc: ["body"], msg: `Value error, ${detail}` }];

/** The parts of a multipart body, or the 400 for a body that is not one. */
function formParts(ctx: RouteContext): FormPart[] | EmulatorResponse {
  const boundary = boundaryOf(ctx.request.headers["content-type"]);
  if (boundary === undefined) {
    return validationError(ctx.requestId, notMultipart("expected a multipart/form-data body"));
  }
  try {
    return parseMultipart(ctx.request.body, boundary);
  } catch (error) {
    const reason = error instanceof MultipartError ? error.message : String(error);
    return validationError(ctx.requestId, notMultipart(`malformed multipart/form-data body: ${reason}`));
  }
}

/** A file part as a stored file, or the 400/413 it earns. */
function fileFrom(ctx: RouteContext, part: FormPart, collectionId: string, loc: string): AnyformatFileRecord | EmulatorResponse {
  if (part.filename === undefined || part.filename === "") {
    return validationError(ctx.requestId, [
      { type: "value_error", loc: ["body", loc], msg: `Value error, '${loc}' must be a file upload with a filename` },
    ]);
  }
  if (part.data.byteLength > MAX_FILE_BYTES) return tooLarge(ctx.requestId, part.filename, MAX_FILE_BYTES);
  return { id: ctx.ids.uuid(), collectionId, filename: part.filename, text: textOf(part.data), size: part.data.byteLength };
}

/** Starts (or starts again) a collection's run on one of its files. */
function startRun(ctx: RouteContext, workflow: AnyformatWorkflowRecord, collection: AnyformatCollectionRecord, file: AnyformatFileRecord): EmulatorResponse {
  const outcome = ctx.outcomeOf({ filename: file.filename, text: file.text });
  collection.run = { fileId: file.id, submittedAt: ctx.now, outcome };
  collection.status = "pending";
  collection.updatedAt = ctx.now;
  ctx.runStarted(collection);
  return ok({ id: collection.id, status: "pending", workflow_id: workflow.id, version_id: workflow.versionId }, 202);
}

/** POST run/ (`run` true) and upload/: one `file` or one `text`, never both. */
function submit(ctx: RouteContext, [id]: readonly string[], run: boolean): EmulatorResponse {
  const workflow = workflowOf(ctx, id);
  if ("status" in workflow) return workflow;
  const parts = formParts(ctx);
  if (!Array.isArray(parts)) return parts;
  const files = parts.filter((p) => p.name === "file");
  const texts = parts.filter((p) => p.name === "text");
  if (files.length + texts.length === 0) {
    return validationError(ctx.requestId, [{ type: "missing", loc: ["body", "file"], msg: "Field required: send either 'file' or 'text'" }]);
  }
  if (files.length + texts.length > 1) {
    return validationError(ctx.requestId, notMultipart("send either one 'file' or one 'text', not both"));
  }
  const collectionId = ctx.ids.uuid();
  let file: AnyformatFileRecord;
  const [filePart] = files;
  if (filePart !== undefined) {
    const stored = fileFrom(ctx, filePart, collectionId, "file");
    if ("status" in stored) return stored;
    file = stored;
  } else {
    const text = textOf(texts[0]?.data ?? new Uint8Array()) ?? "";
    if (text === "") {
      return validationError(ctx.requestId, [{ type: "string_too_short", loc: ["body", "text"], msg: "String should have at least 1 character" }]);
    }
    file = { id: ctx.ids.uuid(), collectionId, filename: undefined, text, size: new TextEncoder().encode(text).byteLength };
  }
  const collection: AnyformatCollectionRecord = {
    id: collectionId,
    workflowId: workflow.id,
    name: file.filename,
    files: [file],
    createdAt: ctx.now,
    updatedAt: ctx.now,
    status: "uploaded",
    run: undefined,
  };
  ctx.store.collections.set(collection.id, collection);
  if (run) return startRun(ctx, workflow, collection, file);
  return ok({ status: "uploaded", filename: file.filename ?? "text.txt", file_collection_id: collection.id, file_id: file.id }, 201);
}

function runFile(ctx: RouteContext, [id, fileId]: readonly string[]): EmulatorResponse {
  const workflow = workflowOf(ctx, id);
  if ("status" in workflow) return workflow;
  const file = fileId === undefined ? undefined : ctx.store.fileOf(workflow.id, fileId);
  const collection = file === undefined ? undefined : ctx.store.collections.get(file.collectionId);
  if (file === undefined || collection === undefined) return notFound(ctx.requestId, `File '${fileId ?? ""}' not found.`);
  return startRun(ctx, workflow, collection, file);
}

function createFiles(ctx: RouteContext, [id]: readonly string[]): EmulatorResponse {
  const workflow = workflowOf(ctx, id);
  if ("status" in workflow) return workflow;
  const parts = formParts(ctx);
  if (!Array.isArray(parts)) return parts;
  const fileParts = parts.filter((p) => p.name === "files");
  if (fileParts.length === 0) {
    return validationError(ctx.requestId, [{ type: "missing", loc: ["body", "files"], msg: "Field required" }]);
  }
  const collectionId = ctx.ids.uuid();
  const files: AnyformatFileRecord[] = [];
  for (const part of fileParts) {
    const stored = fileFrom(ctx, part, collectionId, "files");
    if ("status" in stored) return stored;
    files.push(stored);
  }
  const named = parts.find((p) => p.name === "name" && p.filename === undefined);
  const name = (named === undefined ? undefined : textOf(named.data)) || (files.length === 1 ? files[0]?.filename : `${files.length} files`);
  const collection: AnyformatCollectionRecord = {
    id: collectionId,
    workflowId: workflow.id,
    name,
    files,
    createdAt: ctx.now,
    updatedAt: ctx.now,
    status: "uploaded",
    run: undefined,
  };
  ctx.store.collections.set(collection.id, collection);
  return ok(
    {
      id: collection.id,
      name: collection.name,
      files: files.map((f) => ({ filename: f.filename, status: "uploaded" })),
      workflow_id: workflow.id,
    },
    201,
  );
}

function listFiles(ctx: RouteContext, [id]: readonly string[]): EmulatorResponse {
  const workflow = workflowOf(ctx, id);
  if ("status" in workflow) return workflow;
  return paginate(ctx.requestId, ctx.request.query, newestFirst(ctx.store.collectionsOf(workflow.id)), collectionWire);
}

function listRuns(ctx: RouteContext, [id]: readonly string[]): EmulatorResponse {
  const workflow = workflowOf(ctx, id);
  if ("status" in workflow) return workflow;
  const runs = ctx.store.collectionsOf(workflow.id).filter((c) => c.run !== undefined);
  return paginate(ctx.requestId, ctx.request.query, newestFirst(runs), collectionWire);
}

function results(ctx: RouteContext, [id, collectionId]: readonly string[]): EmulatorResponse {
  const workflow = workflowOf(ctx, id);
  if ("status" in workflow) return workflow;
  const collection = collectionId === undefined ? undefined : ctx.store.collections.get(collectionId);
  if (collection === undefined || collection.workflowId !== workflow.id) {
    return notFound(ctx.requestId, `File collection '${collectionId ?? ""}' not found.`);
  }
  const status = collection.status;
  if (status === "processed") return ok(resultsBody(workflow, collection, ctx.baseUrl));
  if (status === "error" || status === "cancelled") {
    if (ctx.terminalForm === "412") {
      return apiError(
        ctx.requestId,
        412,
        "PRECONDITION_FAILED",
        "Extraction not available",
        `Extraction status is '${status}'. It will not be processed; submit the file again.`,
        false,
      );
    }
    return status === "error"
      ? apiError(ctx.requestId, 422, "EXTRACTION_FAILED", "Extraction failed", "Extraction status is 'error'. The document could not be processed.", false)
      : apiError(ctx.requestId, 422, "EXTRACTION_CANCELLED", "Extraction cancelled", "Extraction status is 'cancelled'. The run was cancelled before it finished.", false);
  }
  // Never run: polling will not help until someone runs it, but nor is it a failure.
  const detail =
    status === "uploaded"
      ? "Extraction status is 'uploaded'. The file has not been run yet; results are available once a run is processed."
      : `Extraction status is '${status}'. Results are available when status is 'processed'.`;
  return apiError(ctx.requestId, 412, "PRECONDITION_FAILED", "Results not ready", detail, true);
}

function deleteCollection(ctx: RouteContext, [id]: readonly string[]): EmulatorResponse {
  if (id === undefined || !ctx.store.collections.delete(id)) return notFound(ctx.requestId, `File collection '${id ?? ""}' not found.`);
  return noContent();
}

function webhookWire(w: AnyformatWebhookRecord): Record<string, unknown> {
  return { id: w.id, url: w.url, events: [...w.events], is_active: w.isActive, created_at: iso(w.createdAt) };
}

function listWebhooks(ctx: RouteContext): EmulatorResponse {
  return ok([...ctx.store.webhooks.values()].map(webhookWire));
}

function createWebhook(ctx: RouteContext): EmulatorResponse {
  const body = readJson(ctx.request.body);
  if (body === INVALID) return invalidJson(ctx.requestId);
  const checked = validateWebhook(body);
  if (Array.isArray(checked)) return validationError(ctx.requestId, checked);
  const active = [...ctx.store.webhooks.values()].filter((w) => w.isActive).length;
  if (active >= MAX_ACTIVE_WEBHOOKS) {
    return validationError(ctx.requestId, [
      { type: "value_error", loc: ["body"], msg: `Value error, at most ${MAX_ACTIVE_WEBHOOKS} active webhooks are allowed per organisation` },
    ]);
  }
  const webhook: AnyformatWebhookRecord = {
    id: ctx.ids.uuid(),
    url: checked.url,
    events: checked.events,
    isActive: true,
    secret: ctx.ids.secret(),
    createdAt: ctx.now,
  };
  ctx.store.webhooks.set(webhook.id, webhook);
  return ok({ ...webhookWire(webhook), secret: webhook.secret }, 201);
}

function deleteWebhook(ctx: RouteContext, [id]: readonly string[]): EmulatorResponse {
  if (id === undefined || !ctx.store.webhooks.delete(id)) return notFound(ctx.requestId, `Webhook '${id ?? ""}' not found.`);
  return noContent();
}
