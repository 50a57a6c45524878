/**
 * Response shapes of the Roboflow API. Every object is loose: fields Roboflow adds later are kept,
 * and wire names (`created`, `deletedAt`, `deployment_name`) are never renamed. Only the fields a
 * caller needs to act on are required; the rest are optional, so a sparse answer still validates.
 */
import * as z from "zod/mini";

// Each schema is built on first use (`z.lazy`, which keeps what it built): building every one of them at
// import cost each process a cold start of over ten milliseconds, and a process uses a few.

// ---------------------------------------------------------------------------------------------
// Workspace and projects
// ---------------------------------------------------------------------------------------------

/** One project as listed in its workspace. `id` is `"ws/proj"`, usable wherever a project is asked for. */
const projectSummary = () => z.looseObject({
  id: z.string(),
  name: z.string(),
  type: z.optional(z.string()),
  created: z.optional(z.number()),
  updated: z.optional(z.number()),
  images: z.optional(z.number()),
  unannotated: z.optional(z.number()),
  annotation: z.optional(z.string()),
  versions: z.optional(z.number()),
  public: z.optional(z.boolean()),
  splits: z.optional(z.record(z.string(), z.number())),
  classes: z.optional(z.record(z.string(), z.number())),
});
export const ProjectSummary = z.lazy(projectSummary);
export type ProjectSummary = z.infer<typeof ProjectSummary>;

/** A workspace with its projects. */
export const Workspace = z.lazy(() => z.looseObject({
  name: z.string(),
  url: z.string(),
  members: z.optional(z.number()),
  projects: z.array(ProjectSummary),
}));
export type Workspace = z.infer<typeof Workspace>;

/** `GET /{ws}`: `{workspace: {...}}`. */
export const WorkspaceResponse = z.lazy(() => z.looseObject({ workspace: Workspace }));
export type WorkspaceResponse = z.infer<typeof WorkspaceResponse>;

/** One version as `GET /{ws}/{proj}` lists it. `id` is `"ws/proj/N"`. */
const versionSummary = () => z.looseObject({
  id: z.string(),
  name: z.optional(z.string()),
  created: z.optional(z.number()),
  images: z.optional(z.number()),
  splits: z.optional(z.record(z.string(), z.number())),
  preprocessing: z.optional(z.record(z.string(), z.unknown())),
  augmentation: z.optional(z.record(z.string(), z.unknown())),
  exports: z.optional(z.array(z.string())),
});
export const VersionSummary = z.lazy(versionSummary);
export type VersionSummary = z.infer<typeof VersionSummary>;

/** The workspace as project and version answers name it (without its project list). */
export const WorkspaceRef = z.lazy(() => z.looseObject({
  name: z.optional(z.string()),
  url: z.string(),
  members: z.optional(z.number()),
}));
export type WorkspaceRef = z.infer<typeof WorkspaceRef>;

/** `GET /{ws}/{proj}`: the project and its versions. */
export const ProjectDetail = z.lazy(() => z.looseObject({
  workspace: WorkspaceRef,
  project: ProjectSummary,
  versions: z.array(VersionSummary),
}));
export type ProjectDetail = z.infer<typeof ProjectDetail>;

/** `POST /{ws}/projects`: the new project (Roboflow answers with its fields at the top level). */
export const ProjectCreated = z.lazy(() => z.looseObject({
  id: z.string(),
  name: z.optional(z.string()),
  type: z.optional(z.string()),
}));
export type ProjectCreated = z.infer<typeof ProjectCreated>;

// ---------------------------------------------------------------------------------------------
// Versions and exports
// ---------------------------------------------------------------------------------------------

/** A version in full, as `GET /{ws}/{proj}/{version}` gives it. */
export const Version = z.lazy(() => z.extend(versionSummary(), {
  generating: z.optional(z.boolean()),
  progress: z.optional(z.number()),
  models: z.optional(z.unknown()),
  classes: z.optional(z.unknown()),
}));
export type Version = z.infer<typeof Version>;

/** `GET /{ws}/{proj}/{version}`. */
export const VersionDetail = z.lazy(() => z.looseObject({
  workspace: z.optional(WorkspaceRef),
  project: z.optional(z.partial(projectSummary())),
  version: Version,
}));
export type VersionDetail = z.infer<typeof VersionDetail>;

/** `POST /{ws}/{proj}/generate`: `{message, version}` (the new version's number or id). */
export const VersionGenerated = z.lazy(() => z.looseObject({
  message: z.optional(z.string()),
  version: z.union([z.number(), z.string()]),
}));
export type VersionGenerated = z.infer<typeof VersionGenerated>;

/** An export that is ready: `link` is the signed download URL. `raw` is Roboflow's whole answer. */
export interface ExportReady {
  readonly status: "ready";
  readonly link: string;
  readonly raw: Readonly<Record<string, unknown>>;
}

/** An export still being prepared: `progress` as Roboflow reports it (0 to 1). */
export interface ExportPreparing {
  readonly status: "preparing";
  readonly progress: number;
  readonly raw: Readonly<Record<string, unknown>>;
}

/** One answer to an export request, discriminated by `status`. */
export type ExportStatus = ExportReady | ExportPreparing;

/** The export answer, 200 `{export: {link}}` when ready or 202 `{progress}` while preparing, made an `ExportStatus`. */
export const ExportResponse: z.ZodMiniType<ExportStatus> = z.lazy(() => z.union([
  z.pipe(
    z.looseObject({ export: z.looseObject({ link: z.string() }) }),
    z.transform((raw): ExportReady => ({ status: "ready", link: raw.export.link, raw })),
  ),
  z.pipe(
    z.looseObject({ progress: z.number() }),
    z.transform((raw): ExportPreparing => ({ status: "preparing", progress: raw.progress, raw })),
  ),
]));

// ---------------------------------------------------------------------------------------------
// Trash
// ---------------------------------------------------------------------------------------------

/** What Trash can hold, and what `trash/restore` takes back. */
export type TrashItemType = "project" | "version" | "workflow";

/** One item in Trash. */
export const TrashItem = z.lazy(() => z.looseObject({
  id: z.string(),
  type: z.string(),
  name: z.optional(z.string()),
  deletedAt: z.optional(z.unknown()),
  scheduledCleanupAt: z.optional(z.unknown()),
  parentId: z.optional(z.nullable(z.string())),
}));
export type TrashItem = z.infer<typeof TrashItem>;

/** `GET /{ws}/trash`. */
export const TrashList = z.lazy(() => z.looseObject({
  items: z.array(TrashItem),
  sections: z.optional(z.record(z.string(), z.unknown())),
}));
export type TrashList = z.infer<typeof TrashList>;

/** What a delete, restore or other acknowledged action answers: whatever Roboflow says, kept whole. */
export const Acknowledgement = z.lazy(() => z.looseObject({}));
export type Acknowledgement = z.infer<typeof Acknowledgement>;

// ---------------------------------------------------------------------------------------------
// Workflows
// ---------------------------------------------------------------------------------------------

/** One workflow as listed. `url` is its slug, the name `get`/`delete` take. */
export const WorkflowSummary = z.lazy(() => z.looseObject({
  name: z.string(),
  url: z.string(),
  status: z.optional(z.string()),
  id: z.optional(z.string()),
}));
export type WorkflowSummary = z.infer<typeof WorkflowSummary>;

/** `GET /{ws}/workflows`. */
export const WorkflowList = z.lazy(() => z.looseObject({ workflows: z.array(WorkflowSummary) }));
export type WorkflowList = z.infer<typeof WorkflowList>;

/** A workflow with its definition. `config` is the workflow's JSON (Roboflow sends it as a string or an object). */
export const Workflow = z.lazy(() => z.looseObject({
  id: z.optional(z.string()),
  name: z.string(),
  url: z.string(),
  config: z.optional(z.unknown()),
}));
export type Workflow = z.infer<typeof Workflow>;

/** `GET /{ws}/workflows/{url}`, and what create and update answer. */
export const WorkflowResponse = z.lazy(() => z.looseObject({ workflow: Workflow }));
export type WorkflowResponse = z.infer<typeof WorkflowResponse>;

// ---------------------------------------------------------------------------------------------
// Dedicated deployments (roboflow.cloud)
// ---------------------------------------------------------------------------------------------

/** A dedicated deployment. */
export const Deployment = z.lazy(() => z.looseObject({
  deployment_name: z.string(),
  status: z.optional(z.string()),
  machine_type: z.optional(z.string()),
  domain: z.optional(z.string()),
}));
export type Deployment = z.infer<typeof Deployment>;

/** One machine type a deployment can run on. */
export const MachineType = z.lazy(() => z.looseObject({ name: z.string() }));
export type MachineType = z.infer<typeof MachineType>;

/** One deployment log line. */
export const DeploymentLogEntry = z.lazy(() => z.looseObject({}));
export type DeploymentLogEntry = z.infer<typeof DeploymentLogEntry>;

// ---------------------------------------------------------------------------------------------
// Dataset images
// ---------------------------------------------------------------------------------------------

/**
 * What an upload resolves to. `duplicate` is true when Roboflow already had these exact bytes in the
 * project, which is also the expected answer when a retry follows a 5xx that came after the image was
 * stored: either way the image is there. `id` is missing only if Roboflow answered a duplicate with a
 * 409 that does not name the image.
 *
 * @example
 * ```ts
 * const { id, duplicate } = await rf.images.upload("widgets", { file: "./w.jpg" });
 * if (duplicate) console.log(`already in the project as ${id ?? "an image Roboflow did not name"}`);
 * ```
 */
export type UploadedImage =
  | { readonly id: string; readonly duplicate: false }
  | { readonly id: string | undefined; readonly duplicate: true };

/** `POST /dataset/{proj}/upload`: `{success: true, id}` for a new image, `{duplicate: true, id}` for a known one. */
export const ImageUploadResponse: z.ZodMiniType<UploadedImage> = z.lazy(() => z.union([
  z.pipe(
    z.looseObject({ duplicate: z.literal(true), id: z.optional(z.string()) }),
    z.transform((r): UploadedImage => ({ id: r.id, duplicate: true })),
  ),
  z.pipe(z.looseObject({ id: z.string() }), z.transform((r): UploadedImage => ({ id: r.id, duplicate: false }))),
]));

/** One box of an image's annotation, in pixels (`x`, `y` the centre). @example `image.annotation?.boxes?.map((b) => b.label)` */
export const AnnotationBox = z.lazy(() => z.looseObject({
  label: z.string(),
  x: z.number(),
  y: z.number(),
  width: z.number(),
  height: z.number(),
}));
export type AnnotationBox = z.infer<typeof AnnotationBox>;

/** An image as `GET /{ws}/{proj}/images/{id}` gives it. @example `const { split, tags, urls } = await rf.images.get("widgets", id)` */
export const ImageDetail = z.lazy(() => z.looseObject({
  id: z.string(),
  name: z.optional(z.string()),
  annotation: z.optional(
    z.nullable(
      z.looseObject({
        key: z.optional(z.string()),
        width: z.optional(z.number()),
        height: z.optional(z.number()),
        boxes: z.optional(z.array(AnnotationBox)),
      }),
    ),
  ),
  labels: z.optional(z.array(z.string())),
  split: z.optional(z.string()),
  tags: z.optional(z.array(z.string())),
  created: z.optional(z.unknown()),
  urls: z.optional(z.looseObject({ original: z.optional(z.string()), thumb: z.optional(z.string()), annotation: z.optional(z.string()) })),
  embedding: z.optional(z.unknown()),
}));
export type ImageDetail = z.infer<typeof ImageDetail>;

/** `GET /{ws}/{proj}/images/{id}`: `{image: {...}}`. */
export const ImageResponse = z.lazy(() => z.looseObject({ image: ImageDetail }));

/** A delete answers 204 with no body (documented) or 200 with counts (seen): both are success; `{}` for the 204. */
export const ImagesDeleted = z.lazy(() => z.pipe(
  z.optional(z.looseObject({})),
  z.transform((r): Readonly<Record<string, unknown>> => r ?? {}),
));
