/**
 * The records the anyformat emulator keeps, the id generator, run progress and the rate-limit windows.
 * Nothing here runs on a timer: time-driven state is worked out from the clock when it is read.
 */

import type { DataType } from "../../anyformat/data-types.js";
import { mulberry32 } from "../random.js";

export type AnyformatDataType = DataType;

/** A workflow field, in its wire form: users' names are kept exactly as given. */
export interface AnyformatFieldRecord {
  name: string;
  description: string;
  data_type: AnyformatDataType;
  enum_options?: string[];
  nested_fields?: AnyformatFieldRecord[];
}

export interface AnyformatWorkflowRecord {
  id: string;
  name: string;
  description: string | null;
  fields: AnyformatFieldRecord[];
  /** What run answers carry as `version_id`: the workflow cannot be updated, so it has one version. */
  versionId: string;
  createdAt: number;
  updatedAt: number;
}

/** What a run ends as. */
export type AnyformatOutcome = "processed" | "error" | "cancelled";

/** A run's status as the API lists it; `uploaded` is a collection stored and never run. */
export type AnyformatStatus = "uploaded" | "pending" | "queued" | "in_progress" | AnyformatOutcome;

export interface AnyformatFileRecord {
  id: string;
  collectionId: string;
  /** Absent for a run of `text`. */
  filename: string | undefined;
  /** The text of a `text` submission, or of a file whose bytes are UTF-8 text. */
  text: string | undefined;
  size: number;
}

export interface AnyformatRunRecord {
  fileId: string;
  submittedAt: number;
  /** Decided when the run is submitted, so changing the outcome later leaves it alone. */
  outcome: AnyformatOutcome;
}

/** A file collection: what run/, upload/ and POST files/ make, and what results are read from. */
export interface AnyformatCollectionRecord {
  id: string;
  workflowId: string;
  name: string | undefined;
  files: AnyformatFileRecord[];
  createdAt: number;
  /** Brought up to the clock before every read. */
  updatedAt: number;
  /** Brought up to the clock before every read. */
  status: AnyformatStatus;
  /** The latest run; `undefined` until the collection is run. */
  run: AnyformatRunRecord | undefined;
}

export interface AnyformatWebhookRecord {
  id: string;
  url: string;
  events: string[];
  isActive: boolean;
  secret: string;
  createdAt: number;
}

/** The order a run walks through, one step per `stepMs`, before it reaches its outcome. */
const PROGRESS: readonly AnyformatStatus[] = ["pending", "queued", "in_progress"];


/**
 * Ids from a seed. Resource ids and request ids come from separate streams, so how many errors a
 * test provokes does not shift the ids of the workflows it creates.
 */
export class IdSource {
  #resources: () => number = () => 0;
  #requests: () => number = () => 0;

  constructor(private readonly seed: number) {
    this.reset();
  }

  reset(): void {
    this.#resources = mulberry32(this.seed);
    this.#requests = mulberry32(this.seed ^ 0x5bd1e995);
  }

  /** A version-4 UUID. */
  uuid(): string {
    const hex = randomHex(this.#resources, 32).split("");
    hex[12] = "4";
    hex[16] = "89ab"[Number.parseInt(hex[16] ?? "0", 16) & 3] ?? "8";
    const h = hex.join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  /** 32 lower-case hex digits, the form of anyformat's `request_id`. */
  requestId(): string {
    return randomHex(this.#requests, 32);
  }

  /** A webhook signing secret. */
  secret(): string {
    return `whsec_${randomHex(this.#resources, 32)}`;
  }

  /** The `reference_id` a 500 carries. */
  referenceId(): string {
    return `err_${randomHex(this.#requests, 8)}`;
  }
}

function randomHex(random: () => number, length: number): string {
  let out = "";
  while (out.length < length) out += Math.floor(random() * 0x100000000).toString(16).padStart(8, "0");
  return out.slice(0, length);
}

/** Everything the emulated organisation holds. Maps are live: tests may read or seed them. */
export class AnyformatStore {
  workflows = new Map<string, AnyformatWorkflowRecord>();
  collections = new Map<string, AnyformatCollectionRecord>();
  webhooks = new Map<string, AnyformatWebhookRecord>();

  constructor(readonly stepMs: number) {}

  reset(): void {
    this.workflows = new Map();
    this.collections = new Map();
    this.webhooks = new Map();
  }

  collectionsOf(workflowId: string): AnyformatCollectionRecord[] {
    return [...this.collections.values()].filter((c) => c.workflowId === workflowId);
  }

  /** The workflow's collection holding the file, if any. */
  fileOf(workflowId: string, fileId: string): AnyformatFileRecord | undefined {
    for (const c of this.collectionsOf(workflowId)) {
      const file = c.files.find((f) => f.id === fileId);
      if (file !== undefined) return file;
    }
    return undefined;
  }

  deleteWorkflow(id: string): void {
    this.workflows.delete(id);
    for (const c of this.collectionsOf(id)) this.collections.delete(c.id);
  }

  /** Brings every run's status up to `now`; returns the collections whose run ended since the last look. */
  settle(now: number): AnyformatCollectionRecord[] {
    const ended: AnyformatCollectionRecord[] = [];
    for (const c of this.collections.values()) {
      if (c.run === undefined) continue;
      const step = this.stepMs <= 0 ? PROGRESS.length : Math.floor(Math.max(0, now - c.run.submittedAt) / this.stepMs);
      const reached = Math.min(step, PROGRESS.length);
      const was = c.status;
      c.status = PROGRESS[reached] ?? c.run.outcome;
      c.updatedAt = c.run.submittedAt + reached * Math.max(0, this.stepMs);
      if (c.status === c.run.outcome && was !== c.status) ended.push(c);
    }
    return ended;
  }

  /** When a run reaches its outcome, by the clock. */
  endOf(run: AnyformatRunRecord): number {
    return run.submittedAt + PROGRESS.length * Math.max(0, this.stepMs);
  }
}

/** The two tiers anyformat counts requests in, independently. */
export type RateTier = "submission" | "general";

export interface RateLimitSettings {
  readonly submission: number;
  readonly general: number;
  readonly windowMs: number;
}

/** The outcome of counting one request, with the headers that report it. */
export interface RateDecision {
  readonly allowed: boolean;
  readonly headers: Record<string, string>;
  /** Whole seconds until the window resets, at least 1: what `Retry-After` says on a 429. */
  readonly retryAfter: number;
}

/** Fixed windows, one per tier, each opening at the first request after the last one closed. */
export class RateLimiter {
  #windows = new Map<RateTier, { start: number; count: number }>();

  constructor(readonly settings: RateLimitSettings | undefined) {}

  reset(): void {
    this.#windows = new Map();
  }

  /** Counts a request unless it is over the limit; with limits off, every request passes without headers. */
  take(tier: RateTier, now: number): RateDecision {
    if (this.settings === undefined) return { allowed: true, headers: {}, retryAfter: 0 };
    const limit = this.settings[tier];
    const windowMs = this.settings.windowMs;
    let window = this.#windows.get(tier);
    if (window === undefined || now >= window.start + windowMs) {
      window = { start: now, count: 0 };
      this.#windows.set(tier, window);
    }
    const allowed = window.count < limit;
    if (allowed) window.count += 1;
    const seconds = Math.max(1, Math.ceil((window.start + windowMs - now) / 1000));
    return {
      allowed,
      retryAfter: seconds,
      headers: {
        "x-ratelimit-limit": String(limit),
        "x-ratelimit-remaining": String(Math.max(0, limit - window.count)),
        "x-ratelimit-reset": String(seconds),
      },
    };
  }
}
