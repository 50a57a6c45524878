import { EXPORT_FORMATS } from "../../roboflow/formats.js";
import type { EmulatorRequest, EmulatorResponse } from "../types.js";
import { routeProjectImages, setMetadata } from "./images.js";
import {
  INVALID,
  conflict,
  flat,
  graphNotFound,
  isRecord,
  ok,
  readJson,
  stableHash,
  validation,
} from "./responses.js";
import {
  PROJECT_TYPES,
  RESERVED_SLUGS,
  exportKey,
  slugOf,
  versionKey,
  type RoboflowProjectRecord,
  type RoboflowStore,
  type RoboflowVersionRecord,
  type RoboflowTrashItem,
  type RoboflowWorkflowRecord,
} from "./state.js";

/** The export formats Roboflow prepares; any other is a 400. */
export const ROBOFLOW_EXPORT_FORMATS: readonly string[] = EXPORT_FORMATS;

export interface RouteContext {
  readonly store: RoboflowStore;
  readonly now: number;
  readonly workspace: string;
  readonly workspaceName: string;
  readonly members: number;
  readonly exportMs: number;
  readonly baseUrl: string;
  readonly apiKey: string;
  /** How long a fresh image id answers 404. */
  readonly visibleAfterMs: number;
  readonly maxImageBytes: number;
}

/** Routes `/{ws}/...` once the key and the workspace have been accepted. `rest` is decoded, after `ws`. */
export function routeWorkspace(request: EmulatorRequest, rest: readonly string[], ctx: RouteContext): EmulatorResponse {
  const m = request.method;
  const [a, b, c, ...more] = rest;
  const miss = (): EmulatorResponse => graphNotFound(m, [ctx.workspace, ...rest].join("/"));

  if (a === undefined) return m === "GET" ? ok({ workspace: { ...workspaceRef(ctx), projects: projectList(ctx) } }) : miss();
  if (more.length > 0) return miss();
  if (a === "projects" && b === undefined) return m === "POST" ? createProject(request, ctx) : miss();
  if (a === "trash" && b === undefined) return m === "GET" ? trashList(ctx) : miss();
  if (a === "trash" && b === "restore" && c === undefined) return m === "POST" ? restore(request, ctx) : miss();
  if (a === "createWorkflow" && b === undefined) return m === "POST" ? createWorkflow(request, ctx) : miss();
  if (a === "updateWorkflow" && b === undefined) return m === "POST" ? updateWorkflow(request, ctx) : miss();
  if (a === "workflows" && b === undefined) return m === "GET" ? workflowList(ctx) : miss();
  if (a === "images" && b !== undefined && c === "metadata") return setMetadata(request, b, ctx);
  if (a === "workflows" && b !== undefined && c === undefined) {
    const workflow = ctx.store.workflow(b);
    if (workflow === undefined || (m !== "GET" && m !== "DELETE")) return miss();
    if (m === "GET") return ok({ workflow: workflowWire(workflow) });
    workflow.deletedAt = ctx.now;
    return ok({ success: true });
  }

  const project = ctx.store.project(a);
  if (project === undefined) return miss();
  if (b === undefined) {
    if (m === "GET") return ok(projectDetail(project, ctx));
    if (m !== "DELETE") return miss();
    project.deletedAt = ctx.now;
    return ok({ success: true });
  }
  if (b === "generate" && c === undefined) return m === "POST" ? generate(request, project, ctx) : miss();
  if (b === "images") return routeProjectImages(request, project, c, ctx);

  const number = /^[1-9]\d{0,8}$/.test(b) ? Number(b) : undefined;
  const version = number === undefined ? undefined : ctx.store.version(project.slug, number);
  if (version === undefined) return miss();
  if (c === undefined) {
    if (m === "GET") return ok(versionDetail(project, version, ctx));
    if (m !== "DELETE") return miss();
    version.deletedAt = ctx.now;
    return ok({ success: true });
  }
  return m === "GET" ? exportVersion(project, version, c, ctx) : miss();
}

function workspaceRef(ctx: RouteContext): Record<string, unknown> {
  return { name: ctx.workspaceName, url: ctx.workspace, members: ctx.members };
}

function projectList(ctx: RouteContext): Array<Record<string, unknown>> {
  return [...ctx.store.projects.values()].filter((p) => p.deletedAt === undefined).map((p) => projectWire(p, ctx));
}

function projectWire(p: RoboflowProjectRecord, ctx: RouteContext): Record<string, unknown> {
  const versions = ctx.store.versionsOf(p.slug).filter((v) => v.deletedAt === undefined).length;
  return {
    id: `${ctx.workspace}/${p.slug}`,
    type: p.type,
    name: p.name,
    created: p.created / 1000,
    updated: p.updated / 1000,
    images: p.images,
    unannotated: p.unannotated,
    annotation: p.annotation,
    versions,
    public: p.public,
    license: p.license,
    splits: { ...p.splits },
    classes: { ...p.classes },
  };
}

function versionWire(v: RoboflowVersionRecord, ctx: RouteContext): Record<string, unknown> {
  const ready = ROBOFLOW_EXPORT_FORMATS.filter((format) => {
    const record = ctx.store.exports.get(exportKey(v.project, v.number, format));
    return record !== undefined && ctx.now - record.requestedAt >= ctx.exportMs;
  });
  return {
    id: `${ctx.workspace}/${v.project}/${v.number}`,
    name: v.name,
    created: v.created / 1000,
    images: v.images,
    splits: { ...v.splits },
    preprocessing: v.preprocessing,
    augmentation: v.augmentation,
    exports: ready,
  };
}

function projectDetail(p: RoboflowProjectRecord, ctx: RouteContext): Record<string, unknown> {
  return {
    workspace: workspaceRef(ctx),
    project: projectWire(p, ctx),
    versions: ctx.store
      .versionsOf(p.slug)
      .filter((v) => v.deletedAt === undefined)
      .map((v) => versionWire(v, ctx)),
  };
}

function versionDetail(p: RoboflowProjectRecord, v: RoboflowVersionRecord, ctx: RouteContext): Record<string, unknown> {
  const generating = ctx.now < v.readyAt;
  const span = v.readyAt - v.created;
  const progress = generating && span > 0 ? Math.round(((ctx.now - v.created) / span) * 100) / 100 : 1;
  return {
    workspace: workspaceRef(ctx),
    project: projectWire(p, ctx),
    version: { ...versionWire(v, ctx), generating, progress, models: {}, classes: { ...p.classes } },
  };
}

function createProject(request: EmulatorRequest, ctx: RouteContext): EmulatorResponse {
  const body = readJson(request.body);
  if (body === INVALID) return validation("Request body is not valid JSON");
  if (!isRecord(body)) return validation("Request body must be a JSON object with name and type");
  const { name, type, license, annotation } = body;
  if (typeof name !== "string" || name.trim() === "") return validation("name is required");
  if (typeof type !== "string" || !PROJECT_TYPES.includes(type)) {
    return validation(`type must be one of: ${PROJECT_TYPES.join(", ")}`);
  }
  if (license !== undefined && typeof license !== "string") return validation("license must be a string");
  if (annotation !== undefined && typeof annotation !== "string") return validation("annotation must be a string");
  const slug = slugOf(name);
  if (slug === "" || RESERVED_SLUGS.includes(slug)) return validation(`"${name}" cannot be used as a project name`);
  const existing = ctx.store.projects.get(slug);
  if (existing !== undefined) {
    return existing.deletedAt === undefined
      ? conflict(`A project named ${slug} already exists in workspace ${ctx.workspace}.`, "Choose another name.")
      : conflict(`A project named ${slug} is in Trash.`, "Restore it from Trash, or choose another name.");
  }
  const project: RoboflowProjectRecord = {
    slug,
    name: name.trim(),
    type,
    license: license ?? "Private",
    annotation: annotation ?? slug,
    created: ctx.now,
    updated: ctx.now,
    images: 0,
    unannotated: 0,
    public: false,
    splits: { train: 0, valid: 0, test: 0 },
    classes: {},
    deletedAt: undefined,
  };
  ctx.store.projects.set(slug, project);
  return ok(projectWire(project, ctx));
}

function generate(request: EmulatorRequest, project: RoboflowProjectRecord, ctx: RouteContext): EmulatorResponse {
  const body = readJson(request.body);
  if (body === INVALID) return flat(400, "Request body is not valid JSON");
  const augmentation = isRecord(body) ? body["augmentation"] : undefined;
  const preprocessing = isRecord(body) ? body["preprocessing"] : undefined;
  if (!isRecord(augmentation) || !isRecord(preprocessing)) {
    return flat(400, "Both augmentation and preprocessing are required, as objects ({} for none)");
  }
  const number = Math.max(0, ...ctx.store.versionsOf(project.slug).map((v) => v.number)) + 1;
  const train = (project.splits["train"] ?? 0) * outputsPerImage(augmentation);
  const splits = { ...project.splits, train };
  const version: RoboflowVersionRecord = {
    project: project.slug,
    number,
    name: versionName(augmentation, preprocessing),
    created: ctx.now,
    readyAt: ctx.now + ctx.exportMs,
    images: Object.values(splits).reduce((sum, n) => sum + n, 0),
    splits,
    preprocessing,
    augmentation,
    deletedAt: undefined,
  };
  ctx.store.versions.set(versionKey(project.slug, number), version);
  project.updated = ctx.now;
  return ok({ message: `Version ${number} of ${project.slug} is being generated.`, version: number });
}

/** How many images augmentation makes of each training image: `image.versions`, else Roboflow's default of 3. */
function outputsPerImage(augmentation: Record<string, unknown>): number {
  if (Object.keys(augmentation).length === 0) return 1;
  const image = augmentation["image"];
  const versions = isRecord(image) ? image["versions"] : undefined;
  return typeof versions === "number" && Number.isInteger(versions) && versions >= 1 && versions <= 50 ? versions : 3;
}

/** Names a version the way the Roboflow app does: by what was done to it. */
function versionName(augmentation: Record<string, unknown>, preprocessing: Record<string, unknown>): string {
  const kind = Object.keys(augmentation).length > 0 ? "augmented" : "raw";
  const resize = preprocessing["resize"];
  if (isRecord(resize) && typeof resize["width"] === "number" && typeof resize["height"] === "number") {
    return `${kind}-${resize["width"]}x${resize["height"]}`;
  }
  return kind === "raw" ? "raw-images" : kind;
}

function exportVersion(
  project: RoboflowProjectRecord,
  version: RoboflowVersionRecord,
  format: string,
  ctx: RouteContext,
): EmulatorResponse {
  if (!ROBOFLOW_EXPORT_FORMATS.includes(format)) {
    return flat(400, `Unknown export format ${format}. Valid formats: ${ROBOFLOW_EXPORT_FORMATS.join(", ")}`);
  }
  const key = exportKey(project.slug, version.number, format);
  let record = ctx.store.exports.get(key);
  if (record === undefined) {
    record = { requestedAt: ctx.now };
    ctx.store.exports.set(key, record);
  }
  const elapsed = ctx.now - record.requestedAt;
  if (elapsed < ctx.exportMs) {
    return ok({ progress: Math.min(0.99, Math.floor((elapsed / ctx.exportMs) * 100) / 100) }, 202);
  }
  const path = `${ctx.workspace}/${project.slug}/${version.number}/${format}`;
  return ok({ export: { link: `${ctx.baseUrl}/downloads/${path}.zip?signature=${downloadSignature(path, ctx.apiKey)}` } });
}

/** Signs a download path, so a link works only as the export answer gave it. */
export function downloadSignature(path: string, apiKey: string): string {
  return stableHash(`${apiKey}:${path}`, 32);
}

function trashList(ctx: RouteContext): EmulatorResponse {
  const items = ctx.store.trash();
  const of = (type: RoboflowTrashItem["type"]): RoboflowTrashItem[] => items.filter((i) => i.type === type);
  return ok({ items, sections: { projects: of("project"), versions: of("version"), workflows: of("workflow") } });
}

/** Trash answers in the flat dialect, as the real endpoints do. */
function restore(request: EmulatorRequest, ctx: RouteContext): EmulatorResponse {
  const body = readJson(request.body);
  if (body === INVALID) return flat(400, "Request body is not valid JSON");
  if (!isRecord(body)) return flat(400, "Request body must be a JSON object with type and id");
  const { type, id, parentId } = body;
  if (typeof id !== "string" || id === "") return flat(400, "id is required");
  if (parentId !== undefined && parentId !== null && typeof parentId !== "string") return flat(400, "parentId must be a string");
  const prefix = `${ctx.workspace}/`;
  // Accept the forms a caller is likely to hold: the Trash item's own id, or a "ws/..." id from a listing.
  const local = (s: string): string => (s.startsWith(prefix) ? s.slice(prefix.length) : s);
  const notInTrash = flat(404, `No ${String(type)} ${id} in Trash`);

  if (type === "project") {
    const project = ctx.store.projects.get(local(id));
    if (project?.deletedAt === undefined) return notInTrash;
    project.deletedAt = undefined;
    return ok({ success: true });
  }
  if (type === "workflow") {
    const workflow =
      ctx.store.workflows.get(local(id)) ?? [...ctx.store.workflows.values()].find((w) => w.id === id);
    if (workflow?.deletedAt === undefined) return notInTrash;
    workflow.deletedAt = undefined;
    return ok({ success: true });
  }
  if (type !== "version") return flat(400, "type must be one of: project, version, workflow");

  const parts = local(id).split("/");
  const projectSlug = parts.length === 2 ? parts[0] : typeof parentId === "string" ? local(parentId) : undefined;
  const numberText = parts.at(-1) ?? "";
  if (projectSlug === undefined) return flat(400, "parentId (the project) is required to restore a version");
  if (parts.length > 2 || !/^[1-9]\d*$/.test(numberText)) return flat(400, "id of a version is its number");
  const version = ctx.store.versions.get(versionKey(projectSlug, Number(numberText)));
  if (version?.deletedAt === undefined) return notInTrash;
  if (ctx.store.projects.get(projectSlug)?.deletedAt !== undefined) {
    return flat(409, `Cannot restore version ${numberText}: its project ${projectSlug} is in Trash. Restore the project first.`);
  }
  version.deletedAt = undefined;
  return ok({ success: true });
}

function workflowWire(w: RoboflowWorkflowRecord): Record<string, unknown> {
  return { id: w.id, name: w.name, url: w.url, config: w.config };
}

function workflowList(ctx: RouteContext): EmulatorResponse {
  const workflows = [...ctx.store.workflows.values()]
    .filter((w) => w.deletedAt === undefined)
    .map((w) => ({ id: w.id, name: w.name, url: w.url, status: w.status }));
  return ok({ workflows });
}

/** A workflow's definition: an object is stored as its JSON text; text must itself be JSON. */
function configText(config: unknown): string | EmulatorResponse {
  if (typeof config === "string") {
    try {
      JSON.parse(config);
      return config;
    } catch {
      return validation("config is not valid JSON");
    }
  }
  if (!isRecord(config)) return validation("config must be a JSON object or its JSON text");
  return JSON.stringify(config);
}

function createWorkflow(request: EmulatorRequest, ctx: RouteContext): EmulatorResponse {
  const body = readJson(request.body);
  if (body === INVALID) return validation("Request body is not valid JSON");
  if (!isRecord(body)) return validation("Request body must be a JSON object with name");
  const { name, url, config } = body;
  if (typeof name !== "string" || name.trim() === "") return validation("name is required");
  if (url !== undefined && (typeof url !== "string" || slugOf(url) !== url)) {
    return validation("url must be lowercase letters, digits and hyphens");
  }
  const slug = url ?? slugOf(name);
  if (slug === "") return validation(`"${name}" cannot be used as a workflow name`);
  const text = configText(config ?? { version: "1.0", inputs: [], steps: [], outputs: [] });
  if (typeof text !== "string") return text;
  const existing = ctx.store.workflows.get(slug);
  if (existing !== undefined) {
    return conflict(
      existing.deletedAt === undefined ? `A workflow with url ${slug} already exists.` : `A workflow with url ${slug} is in Trash.`,
      "Choose another name or url.",
    );
  }
  ctx.store.sequence += 1;
  const workflow: RoboflowWorkflowRecord = {
    id: stableHash(`workflow/${slug}/${ctx.store.sequence}`, 20),
    url: slug,
    name: name.trim(),
    config: text,
    status: "active",
    created: ctx.now,
    updated: ctx.now,
    deletedAt: undefined,
  };
  ctx.store.workflows.set(slug, workflow);
  return ok({ workflow: workflowWire(workflow) });
}

function updateWorkflow(request: EmulatorRequest, ctx: RouteContext): EmulatorResponse {
  const body = readJson(request.body);
  if (body === INVALID) return validation("Request body is not valid JSON");
  if (!isRecord(body)) return validation("Request body must be a JSON object with url");
  const { url, id, name, config } = body;
  const workflow =
    typeof url === "string"
      ? ctx.store.workflow(url)
      : typeof id === "string"
        ? [...ctx.store.workflows.values()].find((w) => w.id === id && w.deletedAt === undefined)
        : undefined;
  if (typeof url !== "string" && typeof id !== "string") return validation("url (or id) of the workflow is required");
  if (workflow === undefined) return graphNotFound("POST", `${ctx.workspace}/${String(url ?? id)}`);
  if (name !== undefined && (typeof name !== "string" || name.trim() === "")) return validation("name must be a non-empty string");
  let text: string | undefined;
  if (config !== undefined) {
    const checked = configText(config);
    if (typeof checked !== "string") return checked;
    text = checked;
  }
  if (typeof name === "string") workflow.name = name.trim();
  if (text !== undefined) workflow.config = text;
  workflow.updated = ctx.now;
  return ok({ workflow: workflowWire(workflow) });
}
