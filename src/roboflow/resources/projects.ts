import * as z from "zod/mini";
import type { APIPromise } from "../../core/api-promise.js";
import type { RequestOptions } from "../../core/transport.js";
import type { Roboflow } from "../client.js";
import { pathOf } from "../paths.js";
import {
  Acknowledgement,
  ProjectCreated,
  ProjectDetail,
  WorkspaceResponse,
  type ProjectSummary,
} from "../schemas.js";

/** The workspace answer's project list. */
const ProjectsOf = z.pipe(WorkspaceResponse, z.transform((r) => r.workspace.projects));

/** What `projects.create` takes. Wire names, sent as they are. */
export interface ProjectCreateParams {
  readonly name: string;
  /** `object-detection`, `single-label-classification`, `multi-label-classification`, `instance-segmentation`, `semantic-segmentation`, ... */
  readonly type: string;
  /** A license name such as `"MIT"` or `"Private"`. */
  readonly license?: string | undefined;
  /** What is annotated (the class group name). */
  readonly annotation?: string | undefined;
  /** The workspace to create it in [the client's]. */
  readonly workspace?: string | undefined;
}

/**
 * Projects. A `project` argument is `"proj"` (in the client's workspace) or `"ws/proj"`, the form
 * `projects.list()` returns as `id`.
 *
 * @example
 * ```ts
 * for (const p of await rf.projects.list()) console.log(p.id, p.images);
 * const { project, versions } = await rf.projects.get("widgets");
 * ```
 */
export class ProjectsResource {
  constructor(private readonly client: Roboflow) {}

  /** `GET /{ws}`: the workspace's projects; `ws` defaults to the client's. */
  list(ws?: string, options?: RequestOptions): APIPromise<ProjectSummary[]> {
    return this.client.call(() => ({ operation: "projects.list", method: "GET", path: pathOf(this.client.workspaceFor(ws)), schema: ProjectsOf }), options);
  }

  /** `GET /{ws}/{proj}`: the project and its versions. */
  get(project: string, options?: RequestOptions): APIPromise<ProjectDetail> {
    return this.client.call(() => {
      const ref = this.client.projectRef(project);
      return { operation: "projects.get", method: "GET", path: pathOf(ref.workspace, ref.project), schema: ProjectDetail };
    }, options);
  }

  /** `POST /{ws}/projects`: creates a project. */
  create(params: ProjectCreateParams, options?: RequestOptions): APIPromise<ProjectCreated> {
    return this.client.call(() => {
      const { workspace, ...body } = params;
      const path = `${pathOf(this.client.workspaceFor(workspace))}/projects`;
      return { operation: "projects.create", method: "POST", path, json: body, schema: ProjectCreated };
    }, options);
  }

  /** `DELETE /{ws}/{proj}`: moves the project to Trash (`restore` takes it back). */
  delete(project: string, options?: RequestOptions): APIPromise<Acknowledgement> {
    return this.client.call(() => {
      const ref = this.client.projectRef(project);
      return { operation: "projects.delete", method: "DELETE", path: pathOf(ref.workspace, ref.project), schema: Acknowledgement };
    }, options);
  }

  /** `POST /{ws}/trash/restore` `{type: "project", id}`: takes the project back out of Trash. */
  restore(project: string, options?: RequestOptions): APIPromise<Acknowledgement> {
    return this.client.call(() => {
      const ref = this.client.projectRef(project);
      const json = { type: "project", id: ref.project };
      return { operation: "projects.restore", method: "POST", path: pathOf(ref.workspace, "trash", "restore"), json, schema: Acknowledgement };
    }, options);
  }
}
