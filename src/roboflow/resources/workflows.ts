import type { APIPromise } from "../../core/api-promise.js";
import type { RequestOptions } from "../../core/transport.js";
import type { Roboflow } from "../client.js";
import { pathOf } from "../paths.js";
import { Acknowledgement, WorkflowList, WorkflowResponse, type Workflow, type WorkflowSummary } from "../schemas.js";

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
 * Workflows. A workflow is named by its `url` (slug), or `"ws/url"` for another workspace.
 *
 * @example
 * ```ts
 * const wf = await rf.workflows.create({ name: "Count widgets", config: { version: "1.0", steps: [] } });
 * const again = await rf.workflows.get(wf.url);
 * ```
 */
export class WorkflowsResource {
  constructor(private readonly client: Roboflow) {}

  /** `GET /{ws}/workflows`; `ws` defaults to the client's. */
  list(ws?: string, options?: RequestOptions): APIPromise<WorkflowSummary[]> {
    const schema = WorkflowList.transform((r) => r.workflows);
    return this.client.call(
      () => ({ method: "GET", path: pathOf(this.client.workspaceFor(ws), "workflows"), schema }),
      options,
    );
  }

  /** `GET /{ws}/workflows/{url}`: the workflow with its `config`. */
  get(url: string, options?: RequestOptions): APIPromise<Workflow> {
    return this.client.call(() => {
      const ref = this.client.projectRef(url, "workflow");
      const schema = WorkflowResponse.transform((r) => r.workflow);
      return { method: "GET", path: pathOf(ref.workspace, "workflows", ref.project), schema };
    }, options);
  }

  /** `POST /{ws}/createWorkflow`. */
  create(params: WorkflowCreateParams, options?: RequestOptions): APIPromise<Workflow> {
    return this.client.call(() => {
      const { workspace, ...json } = params;
      const schema = WorkflowResponse.transform((r) => r.workflow);
      return { method: "POST", path: pathOf(this.client.workspaceFor(workspace), "createWorkflow"), json, schema };
    }, options);
  }

  /** `POST /{ws}/updateWorkflow`. */
  update(params: WorkflowUpdateParams, options?: RequestOptions): APIPromise<Workflow> {
    return this.client.call(() => {
      const { workspace, ...json } = params;
      const schema = WorkflowResponse.transform((r) => r.workflow);
      return { method: "POST", path: pathOf(this.client.workspaceFor(workspace), "updateWorkflow"), json, schema };
    }, options);
  }

  /** `DELETE /{ws}/workflows/{url}`: moves the workflow to Trash. */
  delete(url: string, options?: RequestOptions): APIPromise<Acknowledgement> {
    return this.client.call(() => {
      const ref = this.client.projectRef(url, "workflow");
      return { method: "DELETE", path: pathOf(ref.workspace, "workflows", ref.project), schema: Acknowledgement };
    }, options);
  }
}
