import type { APIPromise } from "../../core/api-promise.js";
import { InvalidArgumentError } from "../../core/errors.js";
import { paginate, type PagePromise } from "../../core/pagination.js";
import type { RequestOptions } from "../../core/transport.js";
import { multipartBody, prepareFile, type FileParam } from "../../core/upload.js";
import { ANYFORMAT_MAX_FILE_BYTES, type Anyformat } from "../client.js";
import { CollectionSummary, Deleted, FileCollection, RunStarted, pageOf } from "../schemas.js";
import type { PageQuery } from "./workflows.js";

const CollectionPage = pageOf(CollectionSummary);

/**
 * File collections of a workflow: stored files, run later by `files.run`.
 *
 * @example
 * ```ts
 * const collection = await af.files.create(workflowId, [{ file: "./a.pdf" }, { file: "./b.pdf" }]);
 * for await (const c of af.files.list(workflowId)) console.log(c.id, c.status);
 * ```
 */
export class FilesResource {
  constructor(private readonly client: Anyformat) {}

  /** `POST /v2/workflows/{id}/files/` (multipart `files`): stores a collection without running it. */
  create(workflowId: string, files: FileParam | readonly FileParam[], options?: RequestOptions): APIPromise<FileCollection> {
    return this.client.call(async () => {
      const path = this.client.path("v2", "workflows", this.client.id(workflowId, "workflow"), "files");
      const list = Array.isArray(files) ? (files as readonly FileParam[]) : [files as FileParam];
      if (list.length === 0) throw new InvalidArgumentError("At least one file is required");
      const prepared = await Promise.all(list.map((f) => prepareFile(f, ANYFORMAT_MAX_FILE_BYTES)));
      const parts = prepared.map((file) => ({ name: "files", file }));
      return {
        operation: "files.create",
        method: "POST",
        path,
        body: () => multipartBody(parts),
        replayable: prepared.every((f) => f.replayable),
        schema: FileCollection,
      };
    }, options);
  }

  /** `GET /v2/workflows/{id}/files/`: a page of collections, iterable across every page. */
  list(workflowId: string, query: PageQuery = {}, options?: RequestOptions): PagePromise<CollectionSummary> {
    return paginate(
      (page) =>
        this.client.call(
          () => ({
            operation: "files.list",
            method: "GET",
            path: this.client.path("v2", "workflows", this.client.id(workflowId, "workflow"), "files"),
            query: { ...query, page },
            schema: CollectionPage,
          }),
          options,
        ),
      query.page,
    );
  }

  /** `POST /v2/workflows/{id}/files/{file_id}/run/`: runs a stored file (its file id, not its collection id). */
  run(workflowId: string, fileId: string, options?: RequestOptions): APIPromise<RunStarted> {
    return this.client.call(
      () => ({
        operation: "files.run",
        method: "POST",
        path: this.client.path("v2", "workflows", this.client.id(workflowId, "workflow"), "files", this.client.id(fileId, "file"), "run"),
        schema: RunStarted,
      }),
      options,
    );
  }

  /** `DELETE /v2/files/{collection_id}/`. */
  delete(collectionId: string, options?: RequestOptions): APIPromise<void> {
    return this.client.call(
      () => ({ operation: "files.delete", method: "DELETE", path: this.client.path("v2", "files", this.client.id(collectionId, "collection")), schema: Deleted }),
      options,
    );
  }
}
