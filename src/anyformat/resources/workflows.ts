import { APIPromise } from "../../core/api-promise.js";
import { rejected } from "../../core/client.js";
import { FaultlineError } from "../../core/errors.js";
import { paginate, type PagePromise } from "../../core/pagination.js";
import type { RequestOptions } from "../../core/transport.js";
import type { Anyformat } from "../client.js";
import { documentSpec, type DocumentInput } from "../document.js";
import { CollectionSummary, Deleted, RunStarted, Uploaded, Workflow, pageOf, type Field, type Results } from "../schemas.js";
import { requestOptionsOf, waitSettings, type WaitForOptions } from "./results.js";

/** Paging: `page` counts from 1; `page_size` defaults to 20 and is capped at 100 by the API. */
export interface PageQuery {
  readonly page?: number | undefined;
  readonly page_size?: number | undefined;
}

/** `workflows.list` filters, passed through as the API names them. */
export interface WorkflowListQuery extends PageQuery {
  readonly sort_by?: string | undefined;
  readonly order?: "asc" | "desc" | (string & {}) | undefined;
  readonly status?: string | undefined;
}

/** What `workflows.create` takes. Field names are yours and come back unchanged in results. */
export interface WorkflowCreateParams {
  readonly name: string;
  readonly description?: string | undefined;
  readonly fields: readonly Field[];
}

/** `extract`'s options: how to wait for the results, and the per-call overrides for every request. */
export interface ExtractOptions extends WaitForOptions {}

const WorkflowPage = pageOf(Workflow);
const RunPage = pageOf(CollectionSummary);

/**
 * Workflows: what to extract, and runs of documents through it.
 *
 * @example
 * ```ts
 * const wf = await af.workflows.create({ name: "Invoices", fields: [{ name: "total", description: "Total", data_type: "float" }] });
 * const results = await af.workflows.extract(wf.id, { file: "./invoice.pdf" });
 * for await (const workflow of af.workflows.list()) console.log(workflow.name);
 * ```
 */
export class WorkflowsResource {
  constructor(private readonly client: Anyformat) {}

  /** `GET /v2/workflows/`: the first page, which is also iterable across every workflow of every page. */
  list(query: WorkflowListQuery = {}, options?: RequestOptions): PagePromise<Workflow> {
    return paginate(
      (page) =>
        this.client.call(
          () => ({ operation: "workflows.list", method: "GET", path: this.client.path("v2", "workflows"), query: { ...query, page }, schema: WorkflowPage }),
          options,
        ),
      query.page,
    );
  }

  /** `POST /v2/workflows/`. A `ValidationError` lists what the API rejected in `issues`. */
  create(params: WorkflowCreateParams, options?: RequestOptions): APIPromise<Workflow> {
    return this.client.call(() => ({ operation: "workflows.create", method: "POST", path: this.client.path("v2", "workflows"), json: params, schema: Workflow }), options);
  }

  /** `GET /v2/workflows/{id}/`. */
  get(workflowId: string, options?: RequestOptions): APIPromise<Workflow> {
    return this.client.call(() => ({ operation: "workflows.get", method: "GET", path: this.#path(workflowId), schema: Workflow }), options);
  }

  /** `DELETE /v2/workflows/{id}/`: deletes its collections and results too; cannot be undone. */
  delete(workflowId: string, options?: RequestOptions): APIPromise<void> {
    return this.client.call(() => ({ operation: "workflows.delete", method: "DELETE", path: this.#path(workflowId), schema: Deleted }), options);
  }

  /** `POST /v2/workflows/{id}/run/`: runs a document; `id` in the answer is the collection to ask results of. */
  run(workflowId: string, document: DocumentInput, options?: RequestOptions): APIPromise<RunStarted> {
    return this.client.call(() => documentSpec(document, { operation: "workflows.run", method: "POST", path: this.#path(workflowId, "run"), schema: RunStarted }), options);
  }

  /** `POST /v2/workflows/{id}/upload/`: stores a document without running it. */
  upload(workflowId: string, document: DocumentInput, options?: RequestOptions): APIPromise<Uploaded> {
    return this.client.call(() => documentSpec(document, { operation: "workflows.upload", method: "POST", path: this.#path(workflowId, "upload"), schema: Uploaded }), options);
  }

  /** `GET /v2/workflows/{id}/runs/`: a page of runs, iterable across every page. */
  runs(workflowId: string, query: PageQuery = {}, options?: RequestOptions): PagePromise<CollectionSummary> {
    return paginate(
      (page) => this.client.call(() => ({ operation: "workflows.runs", method: "GET", path: this.#path(workflowId, "runs"), query: { ...query, page }, schema: RunPage }), options),
      query.page,
    );
  }

  /**
   * Runs a document and waits for its results: `run` then `results.waitFor`, one call. Rate limits,
   * 5xx and 412 polls are handled on the way; a failed or cancelled run is an `ExtractionFailedError`.
   * `waitTimeout` bounds the wait for the results, `timeout` each request, `deadline` the whole call.
   *
   * @example
   * ```ts
   * const results = await af.workflows.extract(wf.id, { file: "./invoice.pdf" }, { waitTimeout: 120_000 });
   * ```
   */
  extract(workflowId: string, document: DocumentInput, options: ExtractOptions = {}): APIPromise<Results> {
    const started = Date.now();
    let request: RequestOptions;
    try {
      request = requestOptionsOf(options);
      // Checked before the run is sent: a wait that cannot start must not leave a run behind.
      waitSettings(options);
    } catch (error) {
      if (error instanceof FaultlineError) return rejected(error);
      throw error;
    }
    // The deadline covers the whole extraction: the wait gets what the run left of it. The client's own
    // `deadline` counts too; without it here, the wait would start a fresh one of its own after the run.
    const deadline = this.client.effectiveOptions(request).deadline;
    const remaining = (): number | undefined =>
      deadline === undefined ? undefined : Math.max(1, deadline - (Date.now() - started));
    return new APIPromise(
      this.client.traced("workflows.extract", () =>
        this.run(workflowId, document, request).then((submitted) =>
          this.client.results
            .waitFor(workflowId, submitted.id, { initialDelay: options.pollInterval ?? 1_000, ...options, deadline: remaining() })
            .withResponse(),
        ),
      ),
    );
  }

  #path(workflowId: string, ...rest: string[]): string {
    return this.client.path("v2", "workflows", this.client.id(workflowId, "workflow"), ...rest);
  }
}
