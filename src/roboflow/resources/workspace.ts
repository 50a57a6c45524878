import * as z from "zod/mini";
import type { APIPromise } from "../../core/api-promise.js";
import type { RequestOptions } from "../../core/transport.js";
import type { Roboflow } from "../client.js";
import { pathOf } from "../paths.js";
import { WorkspaceResponse, type Workspace } from "../schemas.js";

const WorkspaceOf = z.pipe(WorkspaceResponse, z.transform((r) => r.workspace));

/**
 * The workspace itself.
 *
 * @example
 * ```ts
 * const ws = await rf.workspace.get();          // the client's workspace
 * const other = await rf.workspace.get("beta"); // another one the key can see
 * ```
 */
export class WorkspaceResource {
  constructor(private readonly client: Roboflow) {}

  /** `GET /{ws}`: the workspace with its projects; `ws` defaults to the client's. */
  get(ws?: string, options?: RequestOptions): APIPromise<Workspace> {
    return this.client.call(() => ({ operation: "workspace.get", method: "GET", path: pathOf(this.client.workspaceFor(ws)), schema: WorkspaceOf }), options);
  }
}
