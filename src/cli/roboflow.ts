/** `faultline roboflow ...`: one small handler per command, over the `Roboflow` client. */
import { Roboflow, type RoboflowOptions } from "../roboflow/client.js";
import type { ExportStatus, ProjectSummary, TrashItem, VersionSummary, WorkflowSummary, Deployment } from "../roboflow/schemas.js";
import { AbortedError, CredentialsError } from "../core/errors.js";
import { commonClientOptions, firstSet, type CommandContext, type Handler } from "./context.js";
import { listing, whole } from "./listing.js";
import { deleted, keyValues, restored, table, when, type Rendered } from "./output.js";
import { imageOf, predictionsText, workflowOutputsText } from "./predictions.js";

/** The key this invocation would use, for masking and for the client. */
export function roboflowKey(ctx: Pick<CommandContext, "options" | "env">): string | undefined {
  return firstSet(ctx.options.apiKey, ctx.env["ROBOFLOW_API_KEY"]);
}

/** Where and as whom the invocation calls Roboflow, from flags then environment; a missing key is refused here. */
export function roboflowTarget(ctx: Pick<CommandContext, "options" | "env">): RoboflowOptions {
  const apiKey = roboflowKey(ctx);
  if (apiKey === undefined) throw new CredentialsError("No Roboflow API key");
  return {
    apiKey,
    workspace: firstSet(ctx.options.workspace, ctx.env["ROBOFLOW_WORKSPACE"]),
    baseUrl: firstSet(ctx.options.baseUrl, ctx.env["ROBOFLOW_BASE_URL"]),
    deploymentsUrl: firstSet(ctx.options.deploymentsUrl, ctx.env["ROBOFLOW_DEPLOYMENTS_URL"]),
    inferenceUrl: firstSet(ctx.options.inferenceUrl, ctx.env["ROBOFLOW_INFERENCE_URL"]),
  };
}

/** A client for the invocation, before anything is sent. */
function client(ctx: CommandContext): Roboflow {
  return new Roboflow({ ...roboflowTarget(ctx), ...commonClientOptions(ctx) });
}

/** Runs `work` with a client and closes its connection pool after, so the process can end. */
async function withClient(ctx: CommandContext, work: (rf: Roboflow) => Promise<Rendered>): Promise<Rendered> {
  const rf = client(ctx);
  try {
    return await work(rf);
  } finally {
    await rf.close();
  }
}

/** Roboflow's epoch timestamps, made readable for the text rendering only (JSON keeps the wire values). */
function dated<T extends Record<string, unknown>>(record: T): T {
  const out: Record<string, unknown> = { ...record };
  for (const key of ["created", "updated", "deletedAt", "scheduledCleanupAt"]) {
    if (out[key] !== undefined) out[key] = when(out[key]);
  }
  return out as T;
}

const arg = (ctx: CommandContext, name: string): string => ctx.args[name] ?? "";

const projectColumns = [
  ["ID", (p: ProjectSummary) => p.id],
  ["NAME", (p: ProjectSummary) => p.name],
  ["TYPE", (p: ProjectSummary) => p.type],
  ["VERSIONS", (p: ProjectSummary) => p.versions],
  ["IMAGES", (p: ProjectSummary) => p.images],
] as const;

const versionColumns = [
  ["ID", (v: VersionSummary) => v.id],
  ["NAME", (v: VersionSummary) => v.name],
  ["IMAGES", (v: VersionSummary) => v.images],
  ["CREATED", (v: VersionSummary) => when(v.created)],
] as const;

const trashColumns = [
  ["TYPE", (t: TrashItem) => t.type],
  ["ID", (t: TrashItem) => t.id],
  ["NAME", (t: TrashItem) => t.name],
  ["PARENT", (t: TrashItem) => t.parentId],
  ["DELETED", (t: TrashItem) => when(t.deletedAt)],
] as const;

const workflowColumns = [
  ["URL", (w: WorkflowSummary) => w.url],
  ["NAME", (w: WorkflowSummary) => w.name],
  ["STATUS", (w: WorkflowSummary) => w.status],
] as const;

const deploymentColumns = [
  ["NAME", (d: Deployment) => d.deployment_name],
  ["STATUS", (d: Deployment) => d.status],
  ["MACHINE", (d: Deployment) => d.machine_type],
  ["DOMAIN", (d: Deployment) => d.domain],
] as const;

function exportText(status: ExportStatus): string {
  if (status.status === "ready") return `Export ready: ${status.link}`;
  return `Export preparing: ${Math.round(status.progress * 100)}% (run again later, or add --wait)`;
}

/** A workflow's `config` arrives as JSON text or an object: show it as an object either way. */
function readableConfig(config: unknown): unknown {
  if (typeof config !== "string") return config;
  try {
    return JSON.parse(config) as unknown;
  } catch {
    return config;
  }
}

export const ROBOFLOW_HANDLERS: Readonly<Record<string, Handler>> = {
  // Its own module, loaded only when used: the batch machinery costs the other commands nothing.
  upload: (ctx) => import("./roboflow-upload.js").then((upload) => upload.runRoboflowUpload(ctx)),

  infer: (ctx) =>
    withClient(ctx, async (rf) => {
      const model = arg(ctx, "project/version");
      const result = await rf.models.predict(model, imageOf(arg(ctx, "image")), {
        confidence: ctx.flags.confidence,
        overlap: ctx.flags.overlap,
      });
      return { data: result, text: () => predictionsText(model, result) };
    }),

  "project list": (ctx) =>
    withClient(ctx, (rf) =>
      listing(ctx, whole(rf.projects.list()), { columns: projectColumns, empty: "No projects.", noun: "projects" }),
    ),

  "project get": (ctx) =>
    withClient(ctx, async (rf) => {
      const detail = await rf.projects.get(arg(ctx, "project"));
      const { classes: _c, splits: _s, ...project } = detail.project;
      return {
        data: detail,
        text: () => `${keyValues(dated(project))}\n\nVersions:\n${table(detail.versions, versionColumns, "  (none)")}`,
      };
    }),

  "project delete": (ctx) =>
    withClient(ctx, async (rf) => {
      const project = arg(ctx, "project");
      await rf.projects.delete(project);
      return {
        data: deleted("project", project, true),
        text: `Moved project ${project} to Trash (undo: faultline roboflow project restore ${project})`,
      };
    }),

  "project restore": (ctx) =>
    withClient(ctx, async (rf) => {
      const project = arg(ctx, "project");
      await rf.projects.restore(project);
      return { data: restored("project", project), text: `Restored project ${project} from Trash` };
    }),

  "version get": (ctx) =>
    withClient(ctx, async (rf) => {
      const detail = await rf.versions.get(arg(ctx, "project"), arg(ctx, "version"));
      return { data: detail, text: () => keyValues(dated(detail.version)) };
    }),

  "version export": (ctx) =>
    withClient(ctx, async (rf) => {
      const [project, version, format] = [arg(ctx, "project"), arg(ctx, "version"), arg(ctx, "format")];
      const status = await rf.versions
        .export(project, version, format, {
          wait: ctx.flags.wait,
          onProgress: (progress) => ctx.output.progress(`Preparing ${format} export: ${Math.round(progress * 100)}%`),
        })
        .catch((error: unknown) => {
          // Roboflow goes on preparing the export: asking again later picks it up.
          if (error instanceof AbortedError) {
            throw new AbortedError("Interrupted while waiting for the export", {
              hint: "Roboflow goes on preparing it: run the same command again for its link",
              cause: error,
            });
          }
          throw error;
        });
      return { data: status, text: () => exportText(status) };
    }),

  "version delete": (ctx) =>
    withClient(ctx, async (rf) => {
      const [project, version] = [arg(ctx, "project"), arg(ctx, "version")];
      await rf.versions.delete(project, version);
      return {
        data: deleted("version", `${project}/${version}`, true),
        text: `Moved version ${project}/${version} to Trash (undo: faultline roboflow version restore ${project} ${version})`,
      };
    }),

  "version restore": (ctx) =>
    withClient(ctx, async (rf) => {
      const [project, version] = [arg(ctx, "project"), arg(ctx, "version")];
      await rf.versions.restore(project, version);
      return { data: restored("version", `${project}/${version}`), text: `Restored version ${project}/${version} from Trash` };
    }),

  "trash list": (ctx) =>
    withClient(ctx, async (rf) => {
      const trash = await rf.trash.list();
      return listing(ctx, whole(Promise.resolve(trash.items)), {
        columns: trashColumns,
        empty: "Trash is empty.",
        noun: "items",
        json: (items) => ({ ...trash, items }),
      });
    }),

  "workflow list": (ctx) =>
    withClient(ctx, (rf) =>
      listing(ctx, whole(rf.workflows.list()), { columns: workflowColumns, empty: "No workflows.", noun: "workflows" }),
    ),

  "workflow get": (ctx) =>
    withClient(ctx, async (rf) => {
      const workflow = await rf.workflows.get(arg(ctx, "url"));
      return { data: workflow, text: () => keyValues({ ...workflow, config: readableConfig(workflow.config) }) };
    }),

  "workflow run": (ctx) =>
    withClient(ctx, async (rf) => {
      const result = await rf.workflows.run(arg(ctx, "id"), { image: imageOf(ctx.flags.image ?? "") });
      return { data: result, text: () => workflowOutputsText(result) };
    }),

  "deployment list": (ctx) =>
    withClient(ctx, (rf) =>
      listing(ctx, whole(rf.deployments.list()), { columns: deploymentColumns, empty: "No deployments.", noun: "deployments" }),
    ),

  "deployment get": (ctx) =>
    withClient(ctx, async (rf) => {
      const deployment = await rf.deployments.get(arg(ctx, "name"));
      return { data: deployment, text: () => keyValues(deployment) };
    }),
};

/** What to suggest when a Roboflow command meets a 404. */
export function roboflowNotFoundHint(
  resource: string,
  action: string | undefined,
  args: Readonly<Record<string, string>>,
): string {
  if (action === "restore") return "Run 'faultline roboflow trash list' to see what is in Trash";
  switch (resource) {
    case "infer": {
      // The model is a project's version: either may be missing, or the version may have no trained model.
      const project = (args["project/version"] ?? "").split("/")[0] || "<project>";
      return `Run 'faultline roboflow project get ${project}' to see its versions (a model is a version that was trained)`;
    }
    case "version":
      return `Run 'faultline roboflow project get ${args["project"] ?? "<project>"}' to see its versions`;
    case "workflow":
      return "Run 'faultline roboflow workflow list' to see your workflows";
    case "deployment":
      return "Run 'faultline roboflow deployment list' to see your deployments";
    default:
      return "Run 'faultline roboflow project list' to see your projects";
  }
}
