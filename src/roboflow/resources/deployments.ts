import * as z from "zod/mini";
import type { APIPromise } from "../../core/api-promise.js";
import { InvalidArgumentError } from "../../core/errors.js";
import type { RequestOptions } from "../../core/transport.js";
import type { Roboflow } from "../client.js";
import {
  Acknowledgement,
  Deployment,
  DeploymentLogEntry,
  MachineType,
} from "../schemas.js";

/** What `deployments.create` takes, in the service's wire names. */
export interface DeploymentCreateParams {
  readonly deployment_name: string;
  readonly machine_type: string;
  /** Who is billed and notified. */
  readonly creator_email?: string | undefined;
  /** Hours to run before expiring [the service's default]. */
  readonly duration?: number | undefined;
  readonly delete_on_expiration?: boolean | undefined;
  readonly inference_version?: string | undefined;
}

/** Which log lines `deployments.log` asks for. */
export interface DeploymentLogParams {
  /** At most this many entries [all]. */
  readonly maxEntries?: number | undefined;
  /** From this time (ISO 8601 or a Date). */
  readonly from?: string | Date | undefined;
  /** Up to this time (ISO 8601 or a Date). */
  readonly to?: string | Date | undefined;
}

const DeploymentList = z.pipe(
  z.union([z.array(Deployment), z.looseObject({ deployments: z.array(Deployment) })]),
  z.transform((r) => (Array.isArray(r) ? r : r.deployments)),
);
const MachineTypes = z.pipe(
  z.union([z.array(MachineType), z.looseObject({ machine_types: z.array(MachineType) })]),
  z.transform((r) => (Array.isArray(r) ? r : r.machine_types)),
);
const DeploymentLog = z.pipe(
  z.union([z.array(DeploymentLogEntry), z.looseObject({ logs: z.array(DeploymentLogEntry) })]),
  z.transform((r) => (Array.isArray(r) ? r : r.logs)),
);

/**
 * Dedicated deployments, served by a second service (`deploymentsUrl`). Its errors carry
 * `service: "deployments"`; the key rides in the query of GETs and in the JSON body of POSTs.
 *
 * @example
 * ```ts
 * await rf.deployments.create({ deployment_name: "dev", machine_type: "dev-gpu", creator_email: "me@acme.io" });
 * const dep = await rf.deployments.get("dev");
 * await rf.deployments.pause("dev");
 * ```
 */
export class DeploymentsResource {
  constructor(private readonly client: Roboflow) {}

  /** `GET /list`. */
  list(options?: RequestOptions): APIPromise<Deployment[]> {
    return this.client.deploymentCall("deployments.list", "GET", "/list", {}, DeploymentList, options);
  }

  /** `GET /get?deployment_name=`. */
  get(name: string, options?: RequestOptions): APIPromise<Deployment> {
    return this.client.deploymentCall("deployments.get", "GET", "/get", { deployment_name: name }, Deployment, options);
  }

  /** `POST /add`. */
  create(params: DeploymentCreateParams, options?: RequestOptions): APIPromise<Deployment> {
    return this.client.deploymentCall("deployments.create", "POST", "/add", params, Deployment, options);
  }

  /** `POST /pause`. */
  pause(name: string, options?: RequestOptions): APIPromise<Acknowledgement> {
    return this.client.deploymentCall("deployments.pause", "POST", "/pause", { deployment_name: name }, Acknowledgement, options);
  }

  /** `POST /resume`. */
  resume(name: string, options?: RequestOptions): APIPromise<Acknowledgement> {
    return this.client.deploymentCall("deployments.resume", "POST", "/resume", { deployment_name: name }, Acknowledgement, options);
  }

  /** `POST /delete`. */
  delete(name: string, options?: RequestOptions): APIPromise<Acknowledgement> {
    return this.client.deploymentCall("deployments.delete", "POST", "/delete", { deployment_name: name }, Acknowledgement, options);
  }

  /** `GET /machine_types`. */
  machineTypes(options?: RequestOptions): APIPromise<MachineType[]> {
    return this.client.deploymentCall("deployments.machineTypes", "GET", "/machine_types", {}, MachineTypes, options);
  }

  /** `GET /get_log`: the deployment's log lines, oldest first as the service sends them. */
  log(name: string, params: DeploymentLogParams = {}, options?: RequestOptions): APIPromise<DeploymentLogEntry[]> {
    const query = {
      deployment_name: name,
      max_entries: params.maxEntries,
      from_timestamp: timestamp(params.from),
      to_timestamp: timestamp(params.to),
    };
    return this.client.deploymentCall("deployments.log", "GET", "/get_log", query, DeploymentLog, options);
  }
}

function timestamp(value: string | Date | undefined): string | undefined {
  if (value === undefined || typeof value === "string") return value;
  if (Number.isNaN(value.getTime())) throw new InvalidArgumentError("An invalid Date was given as a log bound");
  return value.toISOString();
}
