import type { APIPromise } from "../core/api-promise.js";
import { ApiClient, baseUrlFrom, checkApiKey, checkClientOptions } from "../core/client.js";
import { CredentialsError, InvalidArgumentError, type FaultlineError } from "../core/errors.js";
import { pathOf } from "../core/paths.js";
import type { ClientOptions, RequestOptions, RequestSpec } from "../core/transport.js";
import { BatchResource } from "./batch/extract.js";
import { anyformatDialect } from "./dialect.js";
import { ANYFORMAT_RATE_TIERS } from "./rate-tiers.js";
import { FilesResource } from "./resources/files.js";
import { ResultsResource } from "./resources/results.js";
import { WebhooksResource } from "./resources/webhooks.js";
import { WorkflowsResource } from "./resources/workflows.js";
import { Health } from "./schemas.js";

/** Where the API lives unless `baseUrl` or `ANYFORMAT_BASE_URL` says otherwise. */
export const ANYFORMAT_BASE_URL = "https://api.anyformat.ai";

/** anyformat refuses files over 20 MB; faultline refuses them first, before sending a byte. */
export const ANYFORMAT_MAX_FILE_BYTES = 20 * 1024 * 1024;

/**
 * Options for `new Anyformat(...)`: the options every client takes (`apiKey`, `baseUrl`, `maxRetries`,
 * `timeout`, `deadline`, `maxRetryAfter`, `dispatcher`, `signal`, `onRetry`, `logger`).
 *
 * @example
 * ```ts
 * const af = new Anyformat({ apiKey: process.env.AF_KEY, maxRetries: 4, deadline: 30_000 });
 * ```
 */
export interface AnyformatOptions extends ClientOptions {}

/**
 * The anyformat v2 client: workflows, files, results and webhooks. The key travels as
 * `Authorization: Bearer`, and is masked (`***`) in every error and log line.
 *
 * @example
 * ```ts
 * import { Anyformat, ExtractionFailedError } from "faultline";
 * const af = new Anyformat(); // ANYFORMAT_API_KEY from the environment
 * const wf = await af.workflows.create({
 *   name: "Invoices",
 *   fields: [{ name: "total", description: "Amount due", data_type: "float" }],
 * });
 * const results = await af.workflows.extract(wf.id, { file: "./invoice.pdf" });
 * console.log(results.extraction?.total);
 * ```
 */
export class Anyformat extends ApiClient {
  /** The base URL calls go to. */
  readonly baseUrl: string;
  /** Workflows: list, create, get, delete, run, upload, runs, extract. */
  readonly workflows: WorkflowsResource;
  /** File collections: create, list, run, delete. */
  readonly files: FilesResource;
  /** A run's results: get (412 while processing) and waitFor. */
  readonly results: ResultsResource;
  /** Webhooks: create, list, delete. */
  readonly webhooks: WebhooksResource;
  /** Many documents at once, resumable from a journal: extract. */
  readonly batch: BatchResource;

  readonly #hasKey: boolean;

  constructor(options: AnyformatOptions = {}) {
    checkClientOptions(options);
    const apiKey = checkApiKey(options.apiKey, "apiKey") ?? checkApiKey(process.env["ANYFORMAT_API_KEY"], "ANYFORMAT_API_KEY");
    const base = baseUrlFrom(options.baseUrl, "ANYFORMAT_BASE_URL", ANYFORMAT_BASE_URL);
    super(options, {
      baseUrl: base,
      dialect: anyformatDialect,
      apiKey,
      authHeaders: apiKey === undefined ? undefined : { authorization: `Bearer ${apiKey}` },
      rateTiers: ANYFORMAT_RATE_TIERS,
    });
    this.#hasKey = apiKey !== undefined;
    this.baseUrl = base;
    this.workflows = new WorkflowsResource(this);
    this.files = new FilesResource(this);
    this.results = new ResultsResource(this);
    this.webhooks = new WebhooksResource(this);
    this.batch = new BatchResource(this);
  }

  /**
   * `GET /health/`: `{message: "ok"}`. Needs no key, and sends none.
   *
   * @example
   * ```ts
   * const { message } = await new Anyformat().health();
   * ```
   */
  health(options?: RequestOptions): APIPromise<Health> {
    return this.request({ operation: "health", method: "GET", path: "/health/", schema: Health, anonymous: true }, options);
  }

  /** @internal An API path: segments percent-encoded, with the trailing slash anyformat requires. */
  path(...segments: ReadonlyArray<string | number>): string {
    return pathOf(segments, true);
  }

  /** @internal An id given by the caller: a non-empty string, or an `InvalidArgumentError` before any request. */
  id(value: unknown, what: string): string {
    if (typeof value !== "string" || value.trim() === "") {
      throw new InvalidArgumentError(`A ${what} id is required, got ${JSON.stringify(value) ?? String(value)}`);
    }
    return value;
  }

  /**
   * A client with some options changed, sharing this one's connection pool, circuit breakers and retry budgets.
   *
   * @example
   * ```ts
   * const patient = af.withOptions({ maxRetries: 5, timeout: 120_000 });
   * ```
   */
  withOptions(options: AnyformatOptions): Anyformat {
    return this.derive(options);
  }

  protected override precheck(spec: RequestSpec<unknown> | undefined): FaultlineError | undefined {
    if (this.#hasKey || spec?.anonymous === true) return undefined;
    return new CredentialsError("No anyformat API key", {
      hint: "Pass `apiKey` to new Anyformat({...}) or set ANYFORMAT_API_KEY.",
    });
  }
}
