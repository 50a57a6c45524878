import type { Clock, EmulatorApp, EmulatorRequest, EmulatorResponse, HttpFaultName } from "../types.js";
import { handleDeployments } from "./deployments.js";
import { routeDataset } from "./images.js";
import { handleInference } from "./inference.js";
import * as inferenceAnswers from "./inference-responses.js";
import type { RoboflowRemoteImage } from "./remote.js";
import {
  ROBOFLOW_HTML_503,
  flat,
  forbidden,
  graphNotFound,
  locked,
  lockedMessage,
  nested,
  ok,
  unauthorized,
} from "./responses.js";
import { downloadSignature, routeWorkspace } from "./routes.js";
import {
  DEFAULT_ANSWER_FORMS,
  RoboflowStore,
  exportKey,
  type RoboflowAnswerForms,
  type RoboflowDeploymentRecord,
  type RoboflowImageRecord,
  type RoboflowModelFault,
  type RoboflowExportRecord,
  type RoboflowProjectRecord,
  type RoboflowTrashItem,
  type RoboflowVersionRecord,
  type RoboflowWorkflowRecord,
} from "./state.js";

export { ROBOFLOW_HTML_502 } from "./responses.js";
export { ROBOFLOW_EXPORT_FORMATS } from "./routes.js";
export { MACHINE_TYPES as ROBOFLOW_MACHINE_TYPES } from "./deployments.js";
export type { RoboflowRemoteImage } from "./remote.js";
export type {
  RoboflowAnnotationRecord,
  RoboflowAnswerForms,
  RoboflowDeploymentLogRecord,
  RoboflowDeploymentRecord,
  RoboflowExportRecord,
  RoboflowImageRecord,
  RoboflowModelFault,
  RoboflowProjectRecord,
  RoboflowTrashItem,
  RoboflowTrashType,
  RoboflowVersionRecord,
  RoboflowWorkflowRecord,
} from "./state.js";

/** The key with full access to the emulated workspace. */
export const ROBOFLOW_EMULATOR_KEY = "rf-emulator-key";
/** A valid key without scopes: every call but `POST /` is a 404 GraphMethodException, as on the real API. */
export const ROBOFLOW_SCOPELESS_KEY = "rf-scopeless-key";
export const ROBOFLOW_EMULATOR_WORKSPACE = "acme";
/** A workspace that exists but that the emulator's key may not see: every call to it is a 403. */
export const ROBOFLOW_FORBIDDEN_WORKSPACE = "other";

export interface RoboflowEmulatorOptions {
  /** The key with full access [`ROBOFLOW_EMULATOR_KEY`]. */
  readonly apiKey?: string | undefined;
  /** The key's workspace, holding the seed projects [`ROBOFLOW_EMULATOR_WORKSPACE`]. */
  readonly workspace?: string | undefined;
  readonly clock?: Clock | undefined;
  /** Ms an export takes to prepare after its first request; also how long generation and deployment start-up take [1500]. */
  readonly exportMs?: number | undefined;
  /** Workspaces that answer 423 from the start. */
  readonly lockedWorkspaces?: readonly string[] | undefined;
  /** `Retry-After` of an injected 429, in seconds; `null` sends none [1]. */
  readonly faultRetryAfterSeconds?: number | null | undefined;
  /** Where export download links point [http://127.0.0.1]. */
  readonly baseUrl?: string | undefined;
  /** Ms a freshly uploaded image's id answers 404 (to annotate, get, metadata), as fresh ids do for real [0]. */
  readonly imageVisibleAfterMs?: number | undefined;
  /** The largest image the API and the inference host take, in bytes; a larger one gets 413 [20 MB]. */
  readonly maxImageBytes?: number | undefined;
  /** Ms a model takes to load after its first call, answering 503 "not ready" with `Retry-After: 1` meanwhile [0]. */
  readonly modelLoadMs?: number | undefined;
  /** Inference calls the workspace can pay for; at 0 the inference host answers 402 [Infinity]. */
  readonly inferenceCredits?: number | undefined;
  /** Which form to answer where sources disagree [200 duplicates, 409 already annotated, 204 deletes]. */
  readonly answerForms?: Partial<RoboflowAnswerForms> | undefined;
}

/** The in-memory Roboflow API. Its state is live: read it, or change it to set up a test. */
export interface RoboflowApp extends EmulatorApp {
  readonly api: "roboflow";
  readonly apiKey: string;
  readonly workspace: string;
  /** Projects by slug, those in Trash included (`deletedAt` set). */
  readonly projects: Map<string, RoboflowProjectRecord>;
  /** Versions by `"project/number"`, those in Trash included. */
  readonly versions: Map<string, RoboflowVersionRecord>;
  /** Workflows by url (slug), those in Trash included. */
  readonly workflows: Map<string, RoboflowWorkflowRecord>;
  /** Exports by `"project/version/format"`, from their first request. */
  readonly exports: Map<string, RoboflowExportRecord>;
  /** Dedicated deployments by name, status brought up to the clock. */
  readonly deployments: Map<string, RoboflowDeploymentRecord>;
  /** What `GET /{ws}/trash` would list now. */
  readonly trash: readonly RoboflowTrashItem[];
  /**
   * Dataset images by id. Each record holds its content `hash` (SHA-256) and `uploads`, the requests that
   * carried its bytes: every image uploaded exactly once is `uploads === 1` for all.
   */
  readonly images: Map<string, RoboflowImageRecord>;
  /** What each URL serves when Roboflow fetches it (uploads and inference by `image=` URL); the rest answer 404. */
  readonly remoteImages: Map<string, RoboflowRemoteImage>;
  /** Models (`project/version`) that fail on the inference host, and how, until removed. */
  readonly modelFaults: Map<string, RoboflowModelFault>;
  /** Inference calls left before the host answers 402; each successful one spends one. */
  credits: number;
  /** Which form the emulator answers where sources disagree; change it live. */
  readonly answerForms: RoboflowAnswerForms;
  readonly lockedWorkspaces: ReadonlySet<string>;
  /** Locks a workspace (billing paused): its calls answer 423 until `unlock`. */
  lock(workspace?: string): void;
  unlock(workspace?: string): void;
  /** Back to the seed data, no deployments or exports, and the initially locked workspaces. */
  reset(): void;
}

const DEPLOYMENTS_PREFIX = "/deployments";
const INFERENCE_PREFIX = "/inference";
const DOWNLOADS_PREFIX = "/downloads/";
/** An empty zip archive (its end-of-central-directory record alone): what an emulated export downloads as. */
const EMPTY_ZIP = `PK\u0005\u0006${"\u0000".repeat(18)}`;

/**
 * Creates the emulator of the Roboflow REST API and its dedicated-deployments service (under
 * `/deployments`), as a pure request-to-response app.
 *
 * @example
 * ```ts
 * const clock = new ManualClock();
 * const app = createRoboflowApp({ clock, exportMs: 1000 });
 * const first = await app.handle(request("GET", "/acme/widgets/1/coco")); // 202 {progress: 0}
 * clock.advance(1000);                                                  // the export is ready
 * ```
 */
export function createRoboflowApp(options: RoboflowEmulatorOptions = {}): RoboflowApp {
  const apiKey = options.apiKey ?? ROBOFLOW_EMULATOR_KEY;
  const workspace = options.workspace ?? ROBOFLOW_EMULATOR_WORKSPACE;
  const clock: Clock = options.clock ?? { now: () => Date.now() };
  const exportMs = Math.max(0, options.exportMs ?? 1500);
  const retryAfter = options.faultRetryAfterSeconds === undefined ? 1 : options.faultRetryAfterSeconds;
  const baseUrl = (options.baseUrl ?? "http://127.0.0.1").replace(/\/+$/, "");
  const visibleAfterMs = Math.max(0, options.imageVisibleAfterMs ?? 0);
  const maxImageBytes = options.maxImageBytes ?? 20 * 1024 * 1024;
  const modelLoadMs = Math.max(0, options.modelLoadMs ?? 0);
  const store = new RoboflowStore({
    locked: options.lockedWorkspaces ?? [],
    credits: options.inferenceCredits ?? Infinity,
    forms: { ...DEFAULT_ANSWER_FORMS, ...options.answerForms },
  });
  const workspaceName = workspace === ROBOFLOW_EMULATOR_WORKSPACE ? "Acme" : workspace;

  const settled = (): RoboflowStore => {
    store.settle(clock.now());
    return store;
  };

  function handle(request: EmulatorRequest): EmulatorResponse {
    const now = clock.now();
    store.settle(now);
    const path = request.path;
    if (under(path, DEPLOYMENTS_PREFIX)) {
      const route = path.slice(DEPLOYMENTS_PREFIX.length).replace(/^\/+|\/+$/g, "");
      return handleDeployments(request, route, {
        store,
        now,
        apiKey,
        scopelessKey: ROBOFLOW_SCOPELESS_KEY,
        workspace,
        startMs: exportMs,
      });
    }
    if (path.startsWith(DOWNLOADS_PREFIX) && request.method === "GET") return download(request, now);
    if (under(path, INFERENCE_PREFIX)) {
      const route = decodeSegments(path.slice(INFERENCE_PREFIX.length) || "/");
      if (route === undefined) return { status: 404, json: { detail: "Not Found" } };
      const ctx = { store, now, workspace, apiKey, scopelessKey: ROBOFLOW_SCOPELESS_KEY, modelLoadMs, maxImageBytes };
      return handleInference(request, route, ctx);
    }

    const segments = decodeSegments(path);
    if (segments === undefined) return graphNotFound(request.method, path);
    const key = request.query.get("api_key");
    if (key !== apiKey && key !== ROBOFLOW_SCOPELESS_KEY) return unauthorized();
    const [ws, ...rest] = segments;
    if (ws === undefined) {
      if (request.method !== "POST") return graphNotFound(request.method, "");
      return ok({
        welcome: "Welcome to the Roboflow API.",
        instructions: "You are successfully authenticated.",
        docs: "https://docs.roboflow.com",
        workspace,
      });
    }
    if (key === ROBOFLOW_SCOPELESS_KEY) return graphNotFound(request.method, ws);
    const images = { store, now, workspace, visibleAfterMs, maxImageBytes, baseUrl };
    // `/dataset/{proj}/...`: the key names the workspace.
    if (ws === "dataset") return store.locked.has(workspace) ? locked(workspace) : routeDataset(request, rest, images);
    if (ws !== workspace) {
      if (ws !== ROBOFLOW_FORBIDDEN_WORKSPACE) return graphNotFound(request.method, ws);
      // Trash keeps the flat dialect even for this refusal.
      return rest[0] === "trash" ? flat(403, "Not authorized to view trash") : forbidden(ws);
    }
    if (store.locked.has(ws)) return locked(ws);
    return routeWorkspace(request, rest, {
      store,
      now,
      workspace,
      workspaceName,
      members: 4,
      exportMs,
      baseUrl,
      apiKey,
      visibleAfterMs,
      maxImageBytes,
    });
  }

  /** The signed link an export answer gives: it needs no key, only its signature. */
  function download(request: EmulatorRequest, now: number): EmulatorResponse {
    const match = /^\/downloads\/(.+)\.zip$/.exec(request.path);
    const target = match?.[1];
    const xml = (status: number, code: string, message: string): EmulatorResponse => ({
      status,
      headers: { "content-type": "application/xml; charset=UTF-8" },
      text: `<?xml version='1.0' encoding='UTF-8'?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
    });
    if (target === undefined) return xml(404, "NoSuchKey", "The specified key does not exist.");
    if (request.query.get("signature") !== downloadSignature(target, apiKey)) {
      return xml(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.");
    }
    const [ws, project, version, format] = target.split("/");
    const record = store.exports.get(exportKey(project ?? "", Number(version), format ?? ""));
    const visible = ws === workspace && store.version(project ?? "", Number(version)) !== undefined;
    if (!visible || record === undefined || now - record.requestedAt < exportMs) {
      return xml(404, "NoSuchKey", "The specified key does not exist.");
    }
    return {
      status: 200,
      headers: {
        "content-type": "application/zip",
        "content-disposition": `attachment; filename="${project}-${version}-${format}.zip"`,
      },
      text: EMPTY_ZIP,
    };
  }

  function fault(name: HttpFaultName, request: EmulatorRequest): EmulatorResponse {
    if (under(request.path, INFERENCE_PREFIX)) return inferenceFault(name);
    const deployments = under(request.path, DEPLOYMENTS_PREFIX);
    const first = decodeSegments(request.path)?.[0];
    const target = deployments || first === undefined || first === "" ? workspace : first;
    switch (name) {
      case "rateLimit": {
        const headers = retryAfter === null ? undefined : { "retry-after": String(retryAfter) };
        const body = deployments
          ? flat(429, "Rate limit exceeded")
          : nested(429, "RateLimitException", "Rate limit exceeded");
        return headers === undefined ? body : { ...body, headers };
      }
      case "serverError":
        return flat(500, "Unknown error");
      case "gatewayTimeout":
        return flat(504, "Gateway timeout");
      case "locked":
        return deployments ? flat(423, lockedMessage(target)) : locked(target);
      case "serviceUnavailable": {
        // The main API's edge answers a 503 with a page, as GCP's does; the deployments service with its flat JSON.
        const body = deployments ? flat(503, "Service unavailable") : { status: 503, headers: { "content-type": "text/html" }, text: ROBOFLOW_HTML_503 };
        return retryAfter === null ? body : { ...body, headers: { ...body.headers, "retry-after": String(retryAfter) } };
      }
    }
  }

  /** Faults as the inference host words them. */
  function inferenceFault(name: HttpFaultName): EmulatorResponse {
    const wait = retryAfter === null ? undefined : { "retry-after": String(retryAfter) };
    switch (name) {
      case "rateLimit":
        return inferenceAnswers.message(429, "Too many requests: the stream quota is spent. Slow down.", wait);
      case "serverError":
        return inferenceAnswers.message(500, "Internal error.");
      case "gatewayTimeout":
        return inferenceAnswers.message(504, "Timeout when attempting to connect to Roboflow API.");
      case "locked":
        return inferenceAnswers.locked(workspace);
      case "serviceUnavailable":
        return inferenceAnswers.message(503, "Model is temporarily not ready - retry request.", wait);
    }
  }

  return {
    api: "roboflow",
    apiKey,
    workspace,
    handle,
    fault,
    get projects() {
      return settled().projects;
    },
    get versions() {
      return settled().versions;
    },
    get workflows() {
      return settled().workflows;
    },
    get exports() {
      return settled().exports;
    },
    get deployments() {
      return settled().deployments;
    },
    get trash() {
      return settled().trash();
    },
    get images() {
      return settled().images;
    },
    get remoteImages() {
      return store.remoteImages;
    },
    get modelFaults() {
      return store.modelFaults;
    },
    get credits() {
      return store.credits;
    },
    set credits(value: number) {
      store.credits = value;
    },
    get answerForms() {
      return store.forms;
    },
    get lockedWorkspaces() {
      return store.locked;
    },
    lock(ws = workspace) {
      store.locked.add(ws);
    },
    unlock(ws = workspace) {
      store.locked.delete(ws);
    },
    reset() {
      store.reset();
    },
  };
}

function under(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

/** Path segments, percent-decoded one by one so an encoded `/` stays inside its segment. */
function decodeSegments(path: string): string[] | undefined {
  const raw = path.split("/").slice(1);
  if (raw.at(-1) === "") raw.pop();
  try {
    return raw.map((s) => decodeURIComponent(s));
  } catch {
    return undefined;
  }
}
