import type * as z from "zod";
import type { APIPromise } from "../core/api-promise.js";
import { ApiClient, baseUrlFrom, checkApiKey, checkClientOptions, setting } from "../core/client.js";
import { CredentialsError, InvalidArgumentError, type FaultlineError } from "../core/errors.js";
import type { ClientOptions, Query, RequestOptions, RequestSpec } from "../core/transport.js";
import { roboflowDialect } from "./dialect.js";
import { DeploymentsResource } from "./resources/deployments.js";
import { ProjectsResource } from "./resources/projects.js";
import { TrashResource } from "./resources/trash.js";
import { VersionsResource } from "./resources/versions.js";
import { WorkflowsResource } from "./resources/workflows.js";
import { WorkspaceResource } from "./resources/workspace.js";

/** Where the main API lives unless `baseUrl` or `ROBOFLOW_BASE_URL` says otherwise. */
export const ROBOFLOW_BASE_URL = "https://api.roboflow.com";
/** Where dedicated deployments live unless `deploymentsUrl` or `ROBOFLOW_DEPLOYMENTS_URL` says otherwise. */
export const ROBOFLOW_DEPLOYMENTS_URL = "https://roboflow.cloud";

/**
 * Options for `new Roboflow(...)`: the common client options plus the default workspace and the
 * deployments service's base URL.
 *
 * @example
 * ```ts
 * const rf = new Roboflow({ apiKey: process.env.RF_KEY, workspace: "acme", maxRetries: 4 });
 * ```
 */
export interface RoboflowOptions extends ClientOptions {
  /** The workspace calls use when they are not given one [env `ROBOFLOW_WORKSPACE`]. */
  readonly workspace?: string | undefined;
  /** Base URL of the dedicated-deployments service [env `ROBOFLOW_DEPLOYMENTS_URL`, else https://roboflow.cloud]. */
  readonly deploymentsUrl?: string | undefined;
}

/** A project named either `"proj"` (in the default workspace) or `"ws/proj"`. */
export interface ProjectRef {
  readonly workspace: string;
  readonly project: string;
}

/**
 * The Roboflow client. The API key travels as the `api_key` query parameter (Roboflow's own rule),
 * so every URL faultline shows, in errors or logs, has it masked as `***`.
 *
 * @example
 * ```ts
 * import { Roboflow, NotFoundError } from "faultline";
 * const rf = new Roboflow({ workspace: "acme" }); // ROBOFLOW_API_KEY from the environment
 * const projects = await rf.projects.list();
 * const { link } = await rf.versions.export("widgets", 2, "coco", { wait: true });
 * ```
 */
export class Roboflow extends ApiClient {
  /** The workspace used when a call is not given one. */
  readonly defaultWorkspace: string | undefined;
  /** Base URL of the main API. */
  readonly baseUrl: string;
  /** Base URL of the dedicated-deployments service. */
  readonly deploymentsUrl: string;

  /** `GET /{ws}`. */
  readonly workspace: WorkspaceResource;
  /** Projects: list, get, create, delete (to Trash), restore. */
  readonly projects: ProjectsResource;
  /** Dataset versions: get, generate, export, delete (to Trash), restore. */
  readonly versions: VersionsResource;
  /** What is in the workspace's Trash, and taking it back. */
  readonly trash: TrashResource;
  /** Workflows: list, get, create, update, delete. */
  readonly workflows: WorkflowsResource;
  /** Dedicated deployments, a second service (errors carry `service: "deployments"`). */
  readonly deployments: DeploymentsResource;

  readonly #apiKey: string | undefined;

  constructor(options: RoboflowOptions = {}) {
    const { workspace, deploymentsUrl } = options;
    checkClientOptions(options);
    const apiKey = checkApiKey(options.apiKey, "apiKey") ?? checkApiKey(process.env["ROBOFLOW_API_KEY"], "ROBOFLOW_API_KEY");
    const base = baseUrlFrom(options.baseUrl, "ROBOFLOW_BASE_URL", ROBOFLOW_BASE_URL);
    super(options, {
      baseUrl: base,
      dialect: roboflowDialect,
      apiKey,
      authQuery: apiKey === undefined ? undefined : { api_key: apiKey },
      // Roboflow publishes no limits: each service is paced from its own 429s.
      rateTiers: { tierOf: (spec) => spec.service ?? "api", documented: {} },
    });
    this.#apiKey = apiKey;
    this.baseUrl = base;
    this.deploymentsUrl =
      setting(deploymentsUrl, process.env["ROBOFLOW_DEPLOYMENTS_URL"]) ?? ROBOFLOW_DEPLOYMENTS_URL;
    this.defaultWorkspace = setting(workspace, process.env["ROBOFLOW_WORKSPACE"]);
    this.workspace = new WorkspaceResource(this);
    this.projects = new ProjectsResource(this);
    this.versions = new VersionsResource(this);
    this.trash = new TrashResource(this);
    this.workflows = new WorkflowsResource(this);
    this.deployments = new DeploymentsResource(this);
  }

  // Roboflow has no call that works without a key, so the check ignores `anonymous` (which deployments
  // use only to keep the key out of the query string when it rides in the body).
  /**
   * A client with some options changed, sharing this one's connection pool, circuit breakers and retry budgets.
   *
   * @example
   * ```ts
   * const elsewhere = rf.withOptions({ workspace: "acme-eu", maxRetries: 5 });
   * ```
   */
  withOptions(options: RoboflowOptions): Roboflow {
    return this.derive(options);
  }

  protected override precheck(_spec: RequestSpec<unknown> | undefined): FaultlineError | undefined {
    return this.#missingKey();
  }

  /** @internal Sends a call, marking its errors as the main API's (deployments mark theirs). */
  override call<T>(build: () => RequestSpec<T>, options?: RequestOptions): APIPromise<T> {
    return super.call(() => ({ service: "api", ...build() }), options);
  }

  /** @internal The workspace for a call: the one given, else the client's; throws `CredentialsError` when neither. */
  workspaceFor(ws: string | undefined): string {
    const chosen = setting(ws) ?? this.defaultWorkspace;
    if (chosen === undefined) {
      throw new CredentialsError("No workspace selected", {
        hint: "Pass `workspace` to new Roboflow({...}), set ROBOFLOW_WORKSPACE, or name it in the call (\"ws/project\").",
      });
    }
    return chosen;
  }

  /** @internal Splits `"proj"` or `"ws/proj"` (the form `projects.list` gives as `id`). */
  projectRef(project: string, what = "project"): ProjectRef {
    if (typeof project !== "string" || project.trim() === "") {
      throw new InvalidArgumentError(`A ${what} name is required`);
    }
    const parts = project.split("/");
    if (parts.length === 1) return { workspace: this.workspaceFor(undefined), project };
    const [workspace, name] = parts;
    if (parts.length > 2 || workspace === undefined || workspace === "" || name === undefined || name === "") {
      throw new InvalidArgumentError(`"${project}" is not a ${what}: expected "${what}" or "workspace/${what}"`);
    }
    return { workspace, project: name };
  }

  /**
   * @internal A call to the dedicated-deployments service. GETs carry the key in the query like the
   * main API; POSTs carry it in the JSON body, as that service requires, and not in the URL.
   */
  deploymentCall<T>(
    method: "GET" | "POST",
    endpoint: string,
    params: object,
    schema: z.ZodType<T>,
    options?: RequestOptions,
  ): APIPromise<T> {
    return this.call(() => {
      const common = { method, path: endpoint, schema, baseUrl: this.deploymentsUrl, service: "deployments" } as const;
      if (method === "GET") return { ...common, query: params as Query };
      return { ...common, anonymous: true, json: { ...params, api_key: this.#apiKey } };
    }, options);
  }

  #missingKey(): CredentialsError | undefined {
    if (this.#apiKey !== undefined) return undefined;
    return new CredentialsError("No Roboflow API key", {
      hint: "Pass `apiKey` to new Roboflow({...}) or set ROBOFLOW_API_KEY.",
    });
  }
}
