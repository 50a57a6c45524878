import type { APIPromise } from "../../core/api-promise.js";
import type { RequestOptions } from "../../core/transport.js";
import type { Roboflow } from "../client.js";
import { pathOf } from "../paths.js";
import { Acknowledgement, TrashList, type TrashItemType } from "../schemas.js";

/** What `trash.restore` takes: a Trash item's `type`, `id` and (for versions) `parentId`, as `trash.list` shows them. */
export interface TrashRestoreParams {
  readonly type: TrashItemType | (string & {});
  readonly id: string;
  readonly parentId?: string | null | undefined;
}

/**
 * The workspace's Trash: what `projects.delete`, `versions.delete` and `workflows.delete` put there.
 *
 * @example
 * ```ts
 * const { items } = await rf.trash.list();
 * for (const item of items) await rf.trash.restore(item);
 * ```
 */
export class TrashResource {
  constructor(private readonly client: Roboflow) {}

  /** `GET /{ws}/trash`; `ws` defaults to the client's. */
  list(ws?: string, options?: RequestOptions): APIPromise<TrashList> {
    return this.client.call(
      () => ({ operation: "trash.list", method: "GET", path: pathOf(this.client.workspaceFor(ws), "trash"), schema: TrashList }),
      options,
    );
  }

  /** `POST /{ws}/trash/restore`: takes an item back; `ConflictError` when its parent is in Trash too. */
  restore(item: TrashRestoreParams, ws?: string, options?: RequestOptions): APIPromise<Acknowledgement> {
    return this.client.call(() => {
      const json = { type: item.type, id: item.id, ...(item.parentId == null ? {} : { parentId: item.parentId }) };
      return { operation: "trash.restore", method: "POST", path: pathOf(this.client.workspaceFor(ws), "trash", "restore"), json, schema: Acknowledgement };
    }, options);
  }
}
