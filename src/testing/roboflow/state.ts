import type { RoboflowRemoteImage } from "./remote.js";
import { iso } from "./responses.js";

/** A project of the emulated workspace. Times are epoch ms; `deletedAt` is set while it is in Trash. */
export interface RoboflowProjectRecord {
  slug: string;
  name: string;
  type: string;
  license: string;
  annotation: string;
  created: number;
  updated: number;
  images: number;
  unannotated: number;
  public: boolean;
  splits: Record<string, number>;
  classes: Record<string, number>;
  deletedAt: number | undefined;
}

/** A dataset version; `readyAt` is when its generation ends. */
export interface RoboflowVersionRecord {
  project: string;
  number: number;
  name: string;
  created: number;
  readyAt: number;
  images: number;
  splits: Record<string, number>;
  preprocessing: Record<string, unknown>;
  augmentation: Record<string, unknown>;
  deletedAt: number | undefined;
}

/** A workflow; `config` is kept as JSON text, the form Roboflow stores and answers. */
export interface RoboflowWorkflowRecord {
  id: string;
  url: string;
  name: string;
  config: string;
  status: string;
  created: number;
  updated: number;
  deletedAt: number | undefined;
}

/** An export being prepared or ready, from its first request. */
export interface RoboflowExportRecord {
  requestedAt: number;
}

export interface RoboflowDeploymentLogRecord {
  at: number;
  severity: "INFO" | "WARNING";
  message: string;
}

/** A dedicated deployment. `status` is brought up to date with the clock before every read. */
export interface RoboflowDeploymentRecord {
  id: string;
  name: string;
  machineType: string;
  creatorEmail: string | undefined;
  duration: number;
  deleteOnExpiration: boolean;
  inferenceVersion: string;
  createdAt: number;
  readyAt: number;
  expiresAt: number;
  paused: boolean;
  status: "pending" | "running" | "paused" | "expired";
  log: RoboflowDeploymentLogRecord[];
}

/** An image's annotation: the file as sent, and the boxes the emulator could read from it (YOLO, VOC). */
export interface RoboflowAnnotationRecord {
  name: string;
  text: string;
  labelmap: Record<string, string> | undefined;
  /** Empty when the file could not be read: Roboflow, too, accepts such a file and stores no boxes. */
  boxes: Array<{ label: string; x: number; y: number; width: number; height: number }>;
}

/** An image of a project's dataset. */
export interface RoboflowImageRecord {
  id: string;
  project: string;
  name: string;
  /** SHA-256 of the bytes, hex: how duplicates are told apart (by content, not by name). */
  hash: string;
  bytes: number;
  width: number;
  height: number;
  split: string;
  batch: string | undefined;
  tags: string[];
  metadata: Record<string, unknown>;
  created: number;
  /** Until this time (epoch ms) the id answers 404, as a fresh id does on the real API. */
  visibleAt: number;
  /**
   * Upload requests that carried these bytes to this project, the first included: 1 means the image was
   * sent exactly once; more means resubmissions, answered as duplicates.
   */
  uploads: number;
  annotation: RoboflowAnnotationRecord | undefined;
}

/** A lasting failure of one model on the inference host, until removed from `modelFaults`. */
export type RoboflowModelFault =
  /** 500 "Model loading failed". */
  | "loadFailed"
  /** 507: the model is too big for the server. */
  | "tooBig"
  /** 502 "Internal error. Request to Roboflow API failed." (persistent, even with a working key). */
  | "apiFailed"
  /** 503 "Internal error. Could not connect to Roboflow API.", without Retry-After. */
  | "apiUnreachable";

/** Where sources disagree on an answer, which form the emulator gives: both must be handled. */
export interface RoboflowAnswerForms {
  /** A duplicate upload: 200 `{duplicate: true, id}` (SDK code) or 409 (computer-vision-skills) [200]. */
  duplicate: 200 | 409;
  /** Annotating an annotated image without overwrite: 409 (today) or 400 (2023 answers) [409]. */
  alreadyAnnotated: 409 | 400;
  /** Deleting images: 204 with no body (documented) or 200 with counts [204]. */
  imageDelete: 204 | 200;
}

export const DEFAULT_ANSWER_FORMS: Readonly<RoboflowAnswerForms> = { duplicate: 200, alreadyAnnotated: 409, imageDelete: 204 };

export type RoboflowTrashType = "project" | "version" | "workflow";

/** One item of Trash, in the wire form `GET /{ws}/trash` lists. */
export interface RoboflowTrashItem {
  readonly id: string;
  readonly type: RoboflowTrashType;
  readonly name: string;
  readonly deletedAt: string;
  readonly scheduledCleanupAt: string;
  readonly parentId: string | null;
}

/** Roboflow empties Trash 30 days after a deletion. */
export const TRASH_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

export const PROJECT_TYPES: readonly string[] = [
  "object-detection",
  "classification",
  "single-label-classification",
  "multi-label-classification",
  "instance-segmentation",
  "semantic-segmentation",
  "keypoint-detection",
];

/** Path words under `/{ws}/` that are routes, so no project may take them as its slug. */
export const RESERVED_SLUGS: readonly string[] = ["projects", "trash", "workflows", "createWorkflow", "updateWorkflow", "images"];

export function slugOf(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
}

// Fixed seed times: the same data on every run, whatever the clock says.
const T0 = Date.parse("2025-03-04T09:15:00Z");
const DAY = 24 * 60 * 60 * 1000;

function seedProjects(): Map<string, RoboflowProjectRecord> {
  const widgets: RoboflowProjectRecord = {
    slug: "widgets",
    name: "Widgets",
    type: "object-detection",
    license: "CC BY 4.0",
    annotation: "widgets",
    created: T0,
    updated: T0 + 20 * DAY,
    images: 955,
    unannotated: 12,
    public: false,
    splits: { train: 668, valid: 191, test: 96 },
    classes: { widget: 812, "widget-defect": 143 },
    deletedAt: undefined,
  };
  const gadgets: RoboflowProjectRecord = {
    slug: "gadgets",
    name: "Gadgets",
    type: "classification",
    license: "Private",
    annotation: "gadgets",
    created: T0 + 2 * DAY,
    updated: T0 + 9 * DAY,
    images: 215,
    unannotated: 0,
    public: false,
    splits: { train: 150, valid: 43, test: 22 },
    classes: { gizmo: 120, doohickey: 95 },
    deletedAt: undefined,
  };
  return new Map([
    [widgets.slug, widgets],
    [gadgets.slug, gadgets],
  ]);
}

function seedVersions(): Map<string, RoboflowVersionRecord> {
  const versions: RoboflowVersionRecord[] = [
    {
      project: "widgets",
      number: 1,
      name: "raw-images",
      created: T0 + DAY,
      readyAt: T0 + DAY,
      images: 955,
      splits: { train: 668, valid: 191, test: 96 },
      preprocessing: { "auto-orient": true },
      augmentation: {},
      deletedAt: undefined,
    },
    {
      project: "widgets",
      number: 2,
      name: "augmented-640x640",
      created: T0 + 20 * DAY,
      readyAt: T0 + 20 * DAY,
      images: 2291,
      splits: { train: 2004, valid: 191, test: 96 },
      preprocessing: { "auto-orient": true, resize: { width: 640, height: 640, format: "Stretch to" } },
      augmentation: { flip: { horizontal: true, vertical: false }, rotate: { degrees: 15 }, image: { versions: 3 } },
      deletedAt: undefined,
    },
    {
      project: "gadgets",
      number: 1,
      name: "raw-images",
      created: T0 + 9 * DAY,
      readyAt: T0 + 9 * DAY,
      images: 215,
      splits: { train: 150, valid: 43, test: 22 },
      preprocessing: { resize: { width: 224, height: 224, format: "Stretch to" } },
      augmentation: {},
      deletedAt: undefined,
    },
  ];
  return new Map(versions.map((v) => [versionKey(v.project, v.number), v]));
}

function seedWorkflows(): Map<string, RoboflowWorkflowRecord> {
  const config = {
    version: "1.0",
    inputs: [{ type: "InferenceImage", name: "image" }],
    steps: [
      {
        type: "roboflow_core/roboflow_object_detection_model@v2",
        name: "detector",
        images: "$inputs.image",
        model_id: "widgets/2",
      },
    ],
    outputs: [{ type: "JsonField", name: "predictions", selector: "$steps.detector.predictions" }],
  };
  const workflow: RoboflowWorkflowRecord = {
    id: "3kXqv8dT0wYfPz1RbL9c",
    url: "detect-widgets",
    name: "Detect widgets",
    config: JSON.stringify({ specification: config }),
    status: "active",
    created: T0 + 21 * DAY,
    updated: T0 + 21 * DAY,
    deletedAt: undefined,
  };
  return new Map([[workflow.url, workflow]]);
}

export function versionKey(project: string, version: number): string {
  return `${project}/${version}`;
}

export function exportKey(project: string, version: number, format: string): string {
  return `${project}/${version}/${format}`;
}

/** What a store starts with, and goes back to on `reset`. */
export interface RoboflowStoreSeed {
  readonly locked: readonly string[];
  /** Inference calls the workspace can pay for [Infinity]. */
  readonly credits: number;
  readonly forms: Readonly<RoboflowAnswerForms>;
}

/** Everything the emulated workspace holds. Maps are live: tests may read or seed them. */
export class RoboflowStore {
  projects = seedProjects();
  versions = seedVersions();
  workflows = seedWorkflows();
  exports = new Map<string, RoboflowExportRecord>();
  deployments = new Map<string, RoboflowDeploymentRecord>();
  images = new Map<string, RoboflowImageRecord>();
  remoteImages = new Map<string, RoboflowRemoteImage>();
  /** When each model that was asked for is loaded (epoch ms): until then it answers 503 "not ready". */
  modelsReadyAt = new Map<string, number>();
  modelFaults = new Map<string, RoboflowModelFault>();
  locked: Set<string>;
  credits: number;
  forms: RoboflowAnswerForms;
  /** Makes every generated id distinct and repeatable. */
  sequence = 0;

  constructor(private readonly seed: RoboflowStoreSeed) {
    this.locked = new Set(seed.locked);
    this.credits = seed.credits;
    this.forms = { ...seed.forms };
  }

  reset(): void {
    this.projects = seedProjects();
    this.versions = seedVersions();
    this.workflows = seedWorkflows();
    this.exports = new Map();
    this.deployments = new Map();
    this.images = new Map();
    this.remoteImages = new Map();
    this.modelsReadyAt = new Map();
    this.modelFaults = new Map();
    this.locked = new Set(this.seed.locked);
    this.credits = this.seed.credits;
    this.forms = { ...this.seed.forms };
    this.sequence = 0;
  }

  /** An image that is visible now: present, in `project`, and past its fresh-id delay. */
  image(project: string, id: string, now: number): RoboflowImageRecord | undefined {
    const image = this.images.get(id);
    return image === undefined || image.project !== project || now < image.visibleAt ? undefined : image;
  }

  /** The image holding these bytes in `project`, if it has one. */
  imageByHash(project: string, hash: string): RoboflowImageRecord | undefined {
    for (const image of this.images.values()) if (image.project === project && image.hash === hash) return image;
    return undefined;
  }

  /** A project that is visible: present and not in Trash. */
  project(slug: string): RoboflowProjectRecord | undefined {
    const p = this.projects.get(slug);
    return p === undefined || p.deletedAt !== undefined ? undefined : p;
  }

  /** A version that is visible: present, not in Trash, and its project visible too. */
  version(project: string, version: number): RoboflowVersionRecord | undefined {
    if (this.project(project) === undefined) return undefined;
    const v = this.versions.get(versionKey(project, version));
    return v === undefined || v.deletedAt !== undefined ? undefined : v;
  }

  versionsOf(project: string): RoboflowVersionRecord[] {
    return [...this.versions.values()].filter((v) => v.project === project).sort((a, b) => a.number - b.number);
  }

  workflow(url: string): RoboflowWorkflowRecord | undefined {
    const w = this.workflows.get(url);
    return w === undefined || w.deletedAt !== undefined ? undefined : w;
  }

  /** What is in Trash, newest deletion first. */
  trash(): RoboflowTrashItem[] {
    const items: Array<RoboflowTrashItem & { at: number }> = [];
    const add = (type: RoboflowTrashType, id: string, name: string, at: number, parentId: string | null): void => {
      items.push({ id, type, name, deletedAt: iso(at), scheduledCleanupAt: iso(at + TRASH_RETENTION_MS), parentId, at });
    };
    for (const p of this.projects.values()) if (p.deletedAt !== undefined) add("project", p.slug, p.name, p.deletedAt, null);
    for (const v of this.versions.values()) {
      if (v.deletedAt !== undefined) add("version", String(v.number), v.name, v.deletedAt, v.project);
    }
    for (const w of this.workflows.values()) if (w.deletedAt !== undefined) add("workflow", w.url, w.name, w.deletedAt, null);
    items.sort((a, b) => b.at - a.at);
    return items.map(({ at: _at, ...item }) => item);
  }

  /** Brings time-driven state up to `now`: Trash past its retention is emptied, deployments move on. */
  settle(now: number): void {
    for (const [slug, p] of this.projects) {
      if (p.deletedAt !== undefined && now >= p.deletedAt + TRASH_RETENTION_MS) {
        this.projects.delete(slug);
        for (const v of this.versionsOf(slug)) this.versions.delete(versionKey(slug, v.number));
        for (const key of this.exports.keys()) if (key.startsWith(`${slug}/`)) this.exports.delete(key);
        for (const [id, image] of this.images) if (image.project === slug) this.images.delete(id);
      }
    }
    for (const [key, v] of this.versions) {
      if (v.deletedAt !== undefined && now >= v.deletedAt + TRASH_RETENTION_MS) this.versions.delete(key);
    }
    for (const [url, w] of this.workflows) {
      if (w.deletedAt !== undefined && now >= w.deletedAt + TRASH_RETENTION_MS) this.workflows.delete(url);
    }
    for (const [name, d] of this.deployments) {
      if (!d.paused && d.status === "pending" && now >= d.readyAt) {
        d.status = "running";
        d.log.push({ at: d.readyAt, severity: "INFO", message: `Deployment ${d.name} is running on ${d.machineType}.` });
      }
      if (d.status !== "expired" && now >= d.expiresAt) {
        d.status = "expired";
        d.log.push({ at: d.expiresAt, severity: "WARNING", message: `Deployment ${d.name} expired after ${d.duration} h.` });
        if (d.deleteOnExpiration) this.deployments.delete(name);
      }
    }
  }
}
