import * as z from "zod/mini";
import type { APIPromise } from "../../core/api-promise.js";
import { InvalidArgumentError } from "../../core/errors.js";
import type { NamedSpec } from "../../core/client.js";
import type { RequestOptions } from "../../core/transport.js";
import type { FileInput } from "../../core/upload.js";
import type { Roboflow } from "../client.js";
import { WORKFLOW_IMAGE_HINT, WORKFLOW_MAX_IMAGE_BYTES, prepareImage, readAll } from "../image-input.js";
import { pathOf } from "../paths.js";
import { WorkflowRunResult } from "../predictions.js";
import { Acknowledgement, WorkflowList, WorkflowResponse, type Workflow, type WorkflowSummary } from "../schemas.js";

/** The answers' inner values: the list, and the workflow. */
const WorkflowsOf = z.pipe(WorkflowList, z.transform((r) => r.workflows));
const WorkflowOf = z.pipe(WorkflowResponse, z.transform((r) => r.workflow));

/** What `workflows.create` takes. `config` is the workflow definition (an object, or its JSON text). */
export interface WorkflowCreateParams {
  readonly name: string;
  /** The slug [Roboflow derives one from `name`]. */
  readonly url?: string | undefined;
  readonly config?: unknown;
  /** The workspace to create it in [the client's]. */
  readonly workspace?: string | undefined;
}

/** What `workflows.update` takes: the workflow's `url` (slug), and what changes. */
export interface WorkflowUpdateParams {
  readonly url: string;
  readonly name?: string | undefined;
  readonly config?: unknown;
  readonly workspace?: string | undefined;
}

/**
 * An image input of a Workflow: a file (a path, bytes, a `Blob` or a stream; read and sent as base64,
 * at most 15 MB so the body stays under the host's 20 MB) or a URL the host fetches. A list of them is a batch.
 *
 * @example
 * ```ts
 * await rf.workflows.run("detect-widgets", { image: [{ file: "./a.jpg" }, { url: "https://cdn.example.com/b.jpg" }] });
 * ```
 */
export type WorkflowImage =
  | { readonly file: FileInput; readonly filename?: string | undefined }
  | { readonly url: string };

/** A Workflow's inputs by name: images (as `WorkflowImage`, or already `{type, value}`) and parameters. @example `{ image: { file: "./a.jpg" }, threshold: 0.6 }` */
export type WorkflowInputs = Readonly<Record<string, unknown>>;

/** How `workflows.run` runs. @example `await rf.workflows.run("detect-widgets", inputs, { disableSinks: true })` */
export interface WorkflowRunOptions {
  /** Outputs to leave out of the answer. */
  readonly excludedFields?: readonly string[] | undefined;
  /** Use the host's cached definition (about 15 minutes old at most) [true]. */
  readonly useCache?: boolean | undefined;
  /** Run this saved version of the Workflow [the current one]. */
  readonly workflowVersionId?: string | undefined;
  /** Add `profiler_trace` to the answer. */
  readonly enableProfiling?: boolean | undefined;
  /** Skip sinks (uploads, webhooks) the Workflow would trigger: worth it when a call may be retried. */
  readonly disableSinks?: boolean | undefined;
}

/**
 * Workflows. A workflow is named by its `url` (slug), or `"ws/url"` for another workspace. `run`
 * goes to the inference host (`inferenceUrl`), with the key in the JSON body; the rest to the main API.
 *
 * @example
 * ```ts
 * const wf = await rf.workflows.create({ name: "Count widgets", config: { version: "1.0", steps: [] } });
 * const again = await rf.workflows.get(wf.url);
 * const { outputs } = await rf.workflows.run("detect-widgets", { image: { file: "./widget.jpg" } });
 * ```
 */
export class WorkflowsResource {
  constructor(private readonly client: Roboflow) {}

  /** `GET /{ws}/workflows`; `ws` defaults to the client's. */
  list(ws?: string, options?: RequestOptions): APIPromise<WorkflowSummary[]> {
    return this.client.call(
      () => ({ operation: "workflows.list", method: "GET", path: pathOf(this.client.workspaceFor(ws), "workflows"), schema: WorkflowsOf }),
      options,
    );
  }

  /** `GET /{ws}/workflows/{url}`: the workflow with its `config`. */
  get(url: string, options?: RequestOptions): APIPromise<Workflow> {
    return this.client.call(() => {
      const ref = this.client.projectRef(url, "workflow");
      return { operation: "workflows.get", method: "GET", path: pathOf(ref.workspace, "workflows", ref.project), schema: WorkflowOf };
    }, options);
  }

  /** `POST /{ws}/createWorkflow`. */
  create(params: WorkflowCreateParams, options?: RequestOptions): APIPromise<Workflow> {
    return this.client.call(() => {
      const { workspace, ...json } = params;
      return { operation: "workflows.create", method: "POST", path: pathOf(this.client.workspaceFor(workspace), "createWorkflow"), json, schema: WorkflowOf };
    }, options);
  }

  /** `POST /{ws}/updateWorkflow`. */
  update(params: WorkflowUpdateParams, options?: RequestOptions): APIPromise<Workflow> {
    return this.client.call(() => {
      const { workspace, ...json } = params;
      return { operation: "workflows.update", method: "POST", path: pathOf(this.client.workspaceFor(workspace), "updateWorkflow"), json, schema: WorkflowOf };
    }, options);
  }

  /** `DELETE /{ws}/workflows/{url}`: moves the workflow to Trash. */
  delete(url: string, options?: RequestOptions): APIPromise<Acknowledgement> {
    return this.client.call(() => {
      const ref = this.client.projectRef(url, "workflow");
      return { operation: "workflows.delete", method: "DELETE", path: pathOf(ref.workspace, "workflows", ref.project), schema: Acknowledgement };
    }, options);
  }

  /**
   * `POST /{ws}/workflows/{url}` on the inference host: runs the saved Workflow on `inputs` and resolves
   * to `{outputs}`, one entry per input image. The key rides in the body, never in the URL; errors carry
   * `service: "inference"`. A POST: a 5xx is retried, so pass `disableSinks` when a repeat must not re-trigger sinks.
   */
  run(workflow: string, inputs: WorkflowInputs, runOptions: WorkflowRunOptions = {}, options?: RequestOptions): APIPromise<WorkflowRunResult> {
    return this.client.inferenceCall(() => this.#runSpec(workflow, inputs, runOptions), options, "body");
  }

  async #runSpec(workflow: string, inputs: WorkflowInputs, o: WorkflowRunOptions): Promise<NamedSpec<WorkflowRunResult>> {
    const ref = this.client.projectRef(workflow, "workflow");
    if (inputs === null || typeof inputs !== "object" || Array.isArray(inputs)) {
      throw new InvalidArgumentError("A Workflow's `inputs` is an object of inputs by name, e.g. { image: { file: \"./a.jpg\" } }");
    }
    const wire: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(inputs)) wire[name] = await wireInput(value);
    const json = {
      inputs: wire,
      excluded_fields: o.excludedFields,
      use_cache: o.useCache,
      workflow_version_id: o.workflowVersionId,
      enable_profiling: o.enableProfiling,
      disable_sinks: o.disableSinks,
    };
    return { operation: "workflows.run", method: "POST", path: pathOf(ref.workspace, "workflows", ref.project), json, schema: WorkflowRunResult };
  }
}

/** A `WorkflowImage` (or a list of them) in the form the host reads; any other value as it is. */
async function wireInput(value: unknown): Promise<unknown> {
  if (Array.isArray(value)) return Promise.all(value.map(wireInput));
  if (!isImageShape(value)) return value;
  const image = await prepareImage(value as WorkflowImage, WORKFLOW_MAX_IMAGE_BYTES, WORKFLOW_IMAGE_HINT);
  if (image.kind === "url") return { type: "url", value: image.url };
  return { type: "base64", value: (await readAll(image.file)).toString("base64") };
}

/** `{ file, filename? }` or `{ url }` and nothing else: a parameter object that merely has a `url` stays as it is. */
function isImageShape(value: unknown): boolean {
  if (value === null || typeof value !== "object" || Object.getPrototypeOf(value) !== Object.prototype) return false;
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0] === "url") return true;
  return keys.includes("file") && keys.every((k) => k === "file" || k === "filename" || k === "contentType");
}
