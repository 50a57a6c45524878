import type { EmulatorRequest, HttpFaultName } from "./types.js";
import { mulberry32 } from "./random.js";

/** Every fault an emulator can inject. */
export type FaultName =
  | "rateLimit"
  | "serverError"
  | "gatewayTimeout"
  | "htmlBadGateway"
  | "reset"
  | "slowHeaders"
  | "truncatedBody"
  | "locked"
  | "serviceUnavailable"
  | "badGatewayAfterWrite";

/**
 * The faults in the order rates are laid out on [0, 1): fixed, so a seed always gives the same run (new
 * faults go at the end). `serviceUnavailable` is a 503 with `Retry-After` in the API's own form (Roboflow's
 * inference host: "model not ready"); `badGatewayAfterWrite` lets the app act on the request, then answers
 * an HTML 502 in its place, as an edge does when the upstream stored an upload but its answer was lost.
 */
export const FAULT_NAMES: readonly FaultName[] = [
  "rateLimit",
  "serverError",
  "gatewayTimeout",
  "htmlBadGateway",
  "reset",
  "slowHeaders",
  "truncatedBody",
  "locked",
  "serviceUnavailable",
  "badGatewayAfterWrite",
];

const HTTP_FAULTS: ReadonlySet<FaultName> = new Set<HttpFaultName>(["rateLimit", "serverError", "gatewayTimeout", "locked", "serviceUnavailable"]);

/** Whether a fault is an answer the app phrases in its API's own form, given before the app sees the request. */
export function isHttpFault(fault: FaultName | "outage" | undefined): fault is HttpFaultName {
  return fault !== undefined && fault !== "outage" && HTTP_FAULTS.has(fault);
}

/** Fault rates by name: 0.1 injects that fault into about one request in ten. */
export type FaultRates = Partial<Record<FaultName, number>>;

/** An outage: every request fails the same way for a while. */
export interface OutageOptions {
  /** How every request fails: an error status in the API's own body form, or a reset connection. */
  readonly status: 500 | 502 | 503 | 504 | "reset";
  /** How long it lasts, in ms [until `outage(false)`]. */
  readonly forMs?: number | undefined;
}

/** Which requests a queued fault applies to. */
export interface InjectOptions {
  /** How many matching requests get it: a positive integer, or `Infinity` for every one from now on [1]. */
  readonly count?: number | undefined;
  readonly method?: string | undefined;
  /** A path prefix or a pattern the path must match. */
  readonly path?: string | RegExp | undefined;
}

interface Queued {
  readonly fault: FaultName;
  remaining: number;
  readonly method: string | undefined;
  readonly path: string | RegExp | undefined;
}


/** Decides, request by request, which fault (if any) to inject: queued ones first, then by rate. */
export class FaultPlan {
  #rates: FaultRates;
  readonly #random: () => number;
  readonly #queue: Queued[] = [];
  #outage: { readonly status: OutageOptions["status"]; readonly until: number } | undefined;

  constructor(rates: FaultRates, seed: number) {
    this.#rates = validRates(rates);
    this.#random = mulberry32(seed);
  }

  setRates(rates: FaultRates): void {
    this.#rates = validRates(rates);
  }

  inject(fault: FaultName, options: InjectOptions = {}): void {
    if (!FAULT_NAMES.includes(fault)) throw new TypeError(`Unknown fault "${String(fault)}"`);
    const count = options.count ?? 1;
    // 0 or a fraction used to inject one fault anyway, and NaN one into every matching request forever.
    if (!(count === Infinity || (Number.isInteger(count) && count >= 1))) {
      throw new RangeError(`A fault's count must be a positive integer or Infinity, got ${String(count)}`);
    }
    this.#queue.push({ fault, remaining: count, method: options.method?.toUpperCase(), path: options.path });
  }

  /** Starts an outage (or ends one, with `false`); it takes precedence over every other fault. */
  outage(options: OutageOptions | false): void {
    if (options === false) {
      this.#outage = undefined;
      return;
    }
    const { status, forMs = Infinity } = options;
    if (![500, 502, 503, 504, "reset"].includes(status)) throw new RangeError(`An outage fails with 500, 502, 503, 504 or "reset", not ${String(status)}`);
    if (!(forMs > 0)) throw new RangeError(`An outage lasts a positive number of ms, not ${String(forMs)}`);
    this.#outage = { status, until: Date.now() + forMs };
  }

  /** How the current outage fails a request, if one is on (by the real clock: clients measure it in real time). */
  outageNow(): OutageOptions["status"] | undefined {
    if (this.#outage === undefined) return undefined;
    if (Date.now() < this.#outage.until) return this.#outage.status;
    this.#outage = undefined;
    return undefined;
  }

  draw(request: EmulatorRequest): FaultName | undefined {
    const queued = this.#queue.find((q) => matches(q, request));
    if (queued !== undefined) {
      queued.remaining -= 1;
      if (queued.remaining <= 0) this.#queue.splice(this.#queue.indexOf(queued), 1);
      return queued.fault;
    }
    // Drawn for every request, so the sequence of outcomes depends only on the seed and the request order.
    const r = this.#random();
    let edge = 0;
    for (const name of FAULT_NAMES) {
      edge += this.#rates[name] ?? 0;
      if (r < edge) return name;
    }
    return undefined;
  }
}

function matches(q: Queued, request: EmulatorRequest): boolean {
  if (q.method !== undefined && q.method !== request.method) return false;
  if (q.path === undefined) return true;
  return typeof q.path === "string" ? request.path.startsWith(q.path) : q.path.test(request.path);
}

function validRates(rates: FaultRates): FaultRates {
  let total = 0;
  for (const [name, rate] of Object.entries(rates)) {
    if (!FAULT_NAMES.includes(name as FaultName)) throw new TypeError(`Unknown fault "${name}"`);
    if (typeof rate !== "number" || !(rate >= 0 && rate <= 1)) {
      throw new RangeError(`Fault rate for ${name} must be between 0 and 1, got ${String(rate)}`);
    }
    total += rate;
  }
  if (total > 1) throw new RangeError(`Fault rates add up to ${total}, more than 1`);
  return { ...rates };
}
