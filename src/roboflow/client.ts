import type { APIPromise } from "../core/api-promise.js";
import { ApiClient, baseUrlFrom, checkApiKey, checkBaseUrl, checkClientOptions, setting, type NamedSpec } from "../core/client.js";
import { CredentialsError, InvalidArgumentError, type FaultlineError } from "../core/errors.js";
import type { Schema } from "../core/schema.js";
import type { ClientOptions, Query, RequestOptions, RequestSpec } from "../core/transport.js";
import { roboflowDialect } from "./dialect.js";
import { ROBOFLOW_BASE_URL, resolveHosts } from "./hosts.js";
import { inferenceDialect } from "./inference-dialect.js";
import { DeploymentsResource } from "./resources/deployments.js";
import { ImagesResource } from "./resources/images.js";
import { ModelsResource } from "./resources/models.js";
import { ProjectsResource } from "./resources/projects.js";
import { TrashResource } from "./resources/trash.js";
import { VersionsResource } from "./resources/versions.js";
import { WorkflowsResource } from "./resources/workflows.js";
import { WorkspaceResource } from "./resources/workspace.js";

export { ROBOFLOW_BASE_URL, ROBOFLOW_DEPLOYMENTS_URL, ROBOFLOW_INFERENCE_URL } from "./hosts.js";

/**
 * Options for `new Roboflow(...)`: the common client options plus the default workspace and the base
 * URLs of Roboflow's two other services. Those follow a custom `baseUrl` unless given: with `baseUrl`
 * set to anything but https://api.roboflow.com (an emulator, a proxy), they default to
 * `{baseUrl}/deployments` and `{baseUrl}/inference`, so a client pointed away from Roboflow never
 * reaches a real Roboflow host it was not told to use.
 *
 * @example
 * ```ts
 * const rf = new Roboflow({ apiKey: process.env.RF_KEY, workspace: "acme", maxRetries: 4 });
 * ```
 */
export interface RoboflowOptions extends ClientOptions {
  /** The workspace calls use when they are not given one [env `ROBOFLOW_WORKSPACE`]. */
  readonly workspace?: string | undefined;
  /**
   * Base URL of the dedicated-deployments service [env `ROBOFLOW_DEPLOYMENTS_URL`, else https://roboflow.cloud,
   * or `{baseUrl}/deployments` when `baseUrl` is not Roboflow's].
   */
  readonly deploymentsUrl?: string | undefined;
  /**
   * Base URL of the hosted-inference service that runs models and Workflows [env `ROBOFLOW_INFERENCE_URL`,
   * else https://serverless.roboflow.com, or `{baseUrl}/inference` when `baseUrl` is not Roboflow's].
   */
  readonly inferenceUrl?: string | undefined;
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
  /** Base URL of the hosted-inference service (models and Workflows). */
  readonly inferenceUrl: string;

  /** `GET /{ws}`. */
  readonly workspace: WorkspaceResource;
  /** Projects: list, get, create, delete (to Trash), restore. */
  readonly projects: ProjectsResource;
  /** Dataset versions: get, generate, export, delete (to Trash), restore. */
  readonly versions: VersionsResource;
  /** What is in the workspace's Trash, and taking it back. */
  readonly trash: TrashResource;
  /** Dataset images: upload, annotate, get, delete, setMetadata. */
  readonly images: ImagesResource;
  /** Hosted models: predict, on the inference host (errors carry `service: "inference"`). */
  readonly models: ModelsResource;
  /** Workflows: list, get, create, update, delete; `run` on the inference host. */
  readonly workflows: WorkflowsResource;
  /** Dedicated deployments, a second service (errors carry `service: "deployments"`). */
  readonly deployments: DeploymentsResource;

  readonly #apiKey: string | undefined;

  constructor(options: RoboflowOptions = {}) {
    const { workspace, baseUrl, deploymentsUrl, inferenceUrl } = options;
    checkClientOptions(options);
    const apiKey = checkApiKey(options.apiKey, "apiKey") ?? checkApiKey(process.env["ROBOFLOW_API_KEY"], "ROBOFLOW_API_KEY");
    const hosts = resolveHosts({
      baseUrl: baseUrlFrom(baseUrl, "ROBOFLOW_BASE_URL", ROBOFLOW_BASE_URL),
      deploymentsUrl: urlOption(deploymentsUrl, "deploymentsUrl", "ROBOFLOW_DEPLOYMENTS_URL"),
      inferenceUrl: urlOption(inferenceUrl, "inferenceUrl", "ROBOFLOW_INFERENCE_URL"),
    });
    super(options, {
      baseUrl: hosts.baseUrl,
      dialect: roboflowDialect,
      apiKey,
      authQuery: apiKey === undefined ? undefined : { api_key: apiKey },
      // Roboflow publishes no limits: each service is paced from its own 429s.
      rateTiers: { tierOf: (spec) => spec.service ?? "api", documented: {} },
    });
    this.#apiKey = apiKey;
    this.baseUrl = hosts.baseUrl;
    this.deploymentsUrl = hosts.deploymentsUrl;
    this.inferenceUrl = hosts.inferenceUrl;
    this.defaultWorkspace = setting(workspace, process.env["ROBOFLOW_WORKSPACE"]);
    this.workspace = new WorkspaceResource(this);
    this.projects = new ProjectsResource(this);
    this.versions = new VersionsResource(this);
    this.trash = new TrashResource(this);
    this.images = new ImagesResource(this);
    this.models = new ModelsResource(this);
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

  /** @internal Sends a call, marking its errors as the main API's (deployments and inference mark theirs). */
  override call<T>(build: () => NamedSpec<T> | Promise<NamedSpec<T>>, options?: RequestOptions): APIPromise<T> {
    return super.call(() => {
      const spec = build();
      return spec instanceof Promise ? spec.then((ready) => ({ service: "api", ...ready })) : { service: "api", ...spec };
    }, options);
  }

  /**
   * @internal A call to the inference host, read with its own error dialect. With `keyIn: "body"` the key
   * rides in the JSON body (Workflows) and not in the URL; otherwise in the query, like the main API.
   */
  inferenceCall<T>(
    build: () => NamedSpec<T> | Promise<NamedSpec<T>>,
    options: RequestOptions | undefined,
    keyIn: "query" | "body" = "query",
  ): APIPromise<T> {
    const onHost = (spec: NamedSpec<T>): NamedSpec<T> => {
      const common = { ...spec, baseUrl: this.inferenceUrl, service: "inference", dialect: inferenceDialect };
      if (keyIn === "query") return common;
      return { ...common, anonymous: true, json: { ...(spec.json as object), api_key: this.#apiKey } };
    };
    return this.call(() => {
      const spec = build();
      return spec instanceof Promise ? spec.then(onHost) : onHost(spec);
    }, options);
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

  /**
   * @internal The project's slug alone, for the `/dataset/{proj}/...` routes, where the key names the
   * workspace: `"proj"` or `"ws/proj"`, and no default workspace is needed.
   */
  datasetSlug(project: string): string {
    if (typeof project !== "string" || project.trim() === "") throw new InvalidArgumentError("A project name is required");
    const parts = project.split("/");
    const slug = parts.at(-1);
    if (parts.length > 2 || slug === undefined || slug === "" || parts[0] === "") {
      throw new InvalidArgumentError(`"${project}" is not a project: expected "project" or "workspace/project"`);
    }
    return slug;
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
    operation: string,
    method: "GET" | "POST",
    endpoint: string,
    params: object,
    schema: Schema<T>,
    options?: RequestOptions,
  ): APIPromise<T> {
    return this.call(() => {
      const common = { operation, method, path: endpoint, schema, baseUrl: this.deploymentsUrl, service: "deployments" } as const;
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

/** A service's URL from its option, else its environment variable, checked; `undefined` when neither is set. */
function urlOption(option: string | undefined, name: string, envName: string): string | undefined {
  if (option !== undefined && (typeof option !== "string" || option.trim() !== "")) return checkBaseUrl(option, name);
  const fromEnv = process.env[envName];
  return fromEnv === undefined || fromEnv.trim() === "" ? undefined : checkBaseUrl(fromEnv.trim(), envName);
}
