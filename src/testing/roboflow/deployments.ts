import type { EmulatorRequest, EmulatorResponse } from "../types.js";
import { INVALID, flat, isRecord, iso, ok, readJson, stableHash } from "./responses.js";
import type { RoboflowDeploymentRecord, RoboflowStore } from "./state.js";

/**
 * The dedicated-deployments service (roboflow.cloud), served under `/deployments`. It is a separate
 * service with its own habits: the key rides in the query of GETs and in the JSON body of POSTs,
 * and every error is flat `{"error": "..."}`.
 */

export interface DeploymentContext {
  readonly store: RoboflowStore;
  readonly now: number;
  readonly apiKey: string;
  readonly scopelessKey: string;
  readonly workspace: string;
  /** How long a new deployment stays `pending`. */
  readonly startMs: number;
}

/** What the emulated service offers; a real account sees a similar short list. */
export const MACHINE_TYPES = [
  { name: "dev-cpu", description: "Development, 4 vCPU, 16 GB", gpu: false, vcpu: 4, memory_gb: 16 },
  { name: "dev-gpu", description: "Development, 1x NVIDIA T4", gpu: true, vcpu: 4, memory_gb: 16 },
  { name: "prod-cpu", description: "Production, 8 vCPU, 32 GB", gpu: false, vcpu: 8, memory_gb: 32 },
  { name: "prod-gpu", description: "Production, 1x NVIDIA L4", gpu: true, vcpu: 8, memory_gb: 32 },
] as const;

const HOUR = 60 * 60 * 1000;
const DEFAULT_DURATION_HOURS = 3;
// The name becomes a DNS label of the deployment's domain.
const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function handleDeployments(request: EmulatorRequest, route: string, ctx: DeploymentContext): EmulatorResponse {
  const post = ["add", "pause", "resume", "delete"].includes(route);
  const get = ["get", "list", "machine_types", "get_log"].includes(route);
  if (!post && !get) return flat(404, "Not found");
  if ((post && request.method !== "POST") || (get && request.method !== "GET")) return flat(405, "Method not allowed");

  let params: Record<string, unknown>;
  if (post) {
    const body = readJson(request.body);
    if (body === INVALID || !isRecord(body)) return flat(400, "Request body must be a JSON object");
    params = body;
  } else {
    params = Object.fromEntries(request.query);
  }

  const key = params["api_key"];
  if (key === ctx.scopelessKey) return flat(401, "This API key does not have the scope to manage dedicated deployments");
  if (key !== ctx.apiKey) return flat(401, "Invalid API key");

  switch (route) {
    case "list":
      return ok([...ctx.store.deployments.values()].map((d) => wire(d, ctx.workspace)));
    case "machine_types":
      return ok(MACHINE_TYPES.map((m) => ({ ...m })));
    case "add":
      return add(params, ctx);
  }

  const name = params["deployment_name"];
  if (typeof name !== "string" || name === "") return flat(400, "deployment_name is required");
  const deployment = ctx.store.deployments.get(name);
  if (deployment === undefined) return flat(404, "deployment not found");

  switch (route) {
    case "get":
      return ok(wire(deployment, ctx.workspace));
    case "get_log":
      return log(deployment, params);
    case "delete":
      ctx.store.deployments.delete(name);
      return ok({ message: `Deployment ${name} deleted` });
  }

  if (deployment.status === "expired") return flat(409, `Deployment ${name} has expired`);
  if (route === "pause") {
    if (!deployment.paused) {
      deployment.paused = true;
      deployment.status = "paused";
      deployment.log.push({ at: ctx.now, severity: "INFO", message: `Deployment ${name} paused.` });
    }
    return ok({ message: `Deployment ${name} paused` });
  }
  if (deployment.paused) {
    deployment.paused = false;
    deployment.status = "running";
    deployment.readyAt = Math.min(deployment.readyAt, ctx.now);
    deployment.log.push({ at: ctx.now, severity: "INFO", message: `Deployment ${name} resumed.` });
  }
  return ok({ message: `Deployment ${name} resumed` });
}

function add(params: Record<string, unknown>, ctx: DeploymentContext): EmulatorResponse {
  const name = params["deployment_name"];
  if (typeof name !== "string" || !NAME.test(name)) {
    return flat(400, "deployment_name must be 1 to 63 lowercase letters, digits or hyphens, starting and ending with a letter or digit");
  }
  const machineType = params["machine_type"];
  if (typeof machineType !== "string" || !MACHINE_TYPES.some((m) => m.name === machineType)) {
    return flat(400, `Invalid machine_type ${JSON.stringify(machineType ?? null)}; GET /machine_types lists the valid ones`);
  }
  const duration = params["duration"] ?? DEFAULT_DURATION_HOURS;
  if (typeof duration !== "number" || !(duration > 0) || !Number.isFinite(duration)) {
    return flat(400, "duration must be a positive number of hours");
  }
  const deleteOnExpiration = params["delete_on_expiration"] ?? true;
  if (typeof deleteOnExpiration !== "boolean") return flat(400, "delete_on_expiration must be a boolean");
  const inferenceVersion = params["inference_version"] ?? "latest";
  if (typeof inferenceVersion !== "string" || inferenceVersion === "") return flat(400, "inference_version must be a string");
  const email = params["creator_email"];
  if (email !== undefined && typeof email !== "string") return flat(400, "creator_email must be a string");
  if (ctx.store.deployments.has(name)) return flat(409, `Deployment name ${name} is already taken`);

  ctx.store.sequence += 1;
  const record: RoboflowDeploymentRecord = {
    id: stableHash(`deployment/${name}/${ctx.store.sequence}`, 12),
    name,
    machineType,
    creatorEmail: email,
    duration,
    deleteOnExpiration,
    inferenceVersion,
    createdAt: ctx.now,
    readyAt: ctx.now + ctx.startMs,
    expiresAt: ctx.now + duration * HOUR,
    paused: false,
    status: "pending",
    log: [{ at: ctx.now, severity: "INFO", message: `Deployment ${name} created; provisioning ${machineType}.` }],
  };
  ctx.store.deployments.set(name, record);
  ctx.store.settle(ctx.now);
  return ok(wire(record, ctx.workspace));
}

function log(deployment: RoboflowDeploymentRecord, params: Record<string, unknown>): EmulatorResponse {
  let entries = deployment.log;
  const from = bound(params["from_timestamp"]);
  const to = bound(params["to_timestamp"]);
  if (Number.isNaN(from) || Number.isNaN(to)) return flat(400, "from_timestamp and to_timestamp must be ISO 8601 times");
  if (from !== undefined) entries = entries.filter((e) => e.at >= from);
  if (to !== undefined) entries = entries.filter((e) => e.at <= to);
  const max = params["max_entries"];
  if (max !== undefined) {
    const n = typeof max === "string" && /^\d+$/.test(max) ? Number(max) : NaN;
    if (!(n >= 1)) return flat(400, "max_entries must be a positive whole number");
    entries = entries.slice(-n);
  }
  return ok(entries.map((e) => ({ timestamp: iso(e.at), severity: e.severity, payload: e.message })));
}

function bound(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  return typeof value === "string" ? Date.parse(value) : NaN;
}

function wire(d: RoboflowDeploymentRecord, workspace: string): Record<string, unknown> {
  return {
    deployment_id: d.id,
    deployment_name: d.name,
    workspace_url: workspace,
    machine_type: d.machineType,
    creator_email: d.creatorEmail ?? null,
    status: d.status,
    domain: `${d.name}.roboflow.cloud`,
    duration: d.duration,
    delete_on_expiration: d.deleteOnExpiration,
    inference_version: d.inferenceVersion,
    created_at: iso(d.createdAt),
    expires_at: iso(d.expiresAt),
  };
}
