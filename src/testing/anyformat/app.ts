import type { Clock, EmulatorApp, EmulatorRequest, EmulatorResponse, HttpFaultName } from "../types.js";
import {
  accessDenied,
  authFailed,
  frameworkNotFound,
  gatewayTimeout,
  internalError,
  locked,
  methodNotAllowed,
  rateLimited,
  redirect,
  serviceUnavailable,
} from "./responses.js";
import { VERIFICATION_PATH } from "./extraction.js";
import { verificationPage } from "./verification.js";
import { HEALTH_ROUTE, matchRoute, type AnyformatOutcomeInput, type RouteContext } from "./routes.js";
import { WebhookDeliverer, type AnyformatWebhookDelivery } from "./webhooks.js";
import {
  AnyformatStore,
  IdSource,
  RateLimiter,
  type AnyformatCollectionRecord,
  type AnyformatOutcome,
  type AnyformatWebhookRecord,
  type AnyformatWorkflowRecord,
  type RateTier,
} from "./state.js";

export { MAX_ACTIVE_WEBHOOKS, MAX_FILE_BYTES, type AnyformatOutcomeInput } from "./routes.js";
export type { AnyformatWebhookDelivery } from "./webhooks.js";
export type {
  AnyformatCollectionRecord,
  AnyformatDataType,
  AnyformatFieldRecord,
  AnyformatFileRecord,
  AnyformatOutcome,
  AnyformatRunRecord,
  AnyformatStatus,
  AnyformatWebhookRecord,
  AnyformatWorkflowRecord,
} from "./state.js";

/** The key the emulator accepts as `Authorization: Bearer <key>`. */
export const ANYFORMAT_EMULATOR_KEY = "af-emulator-key";

/** The two rate-limit tiers' sizes. */
export interface AnyformatRateLimits {
  /** Requests per window to `POST run/`, `POST upload/`, `POST files/` and `POST files/{id}/run/` [60]. */
  readonly submission?: number | undefined;
  /** Requests per window to everything else but `/health/` [600]. */
  readonly general?: number | undefined;
  /** The window's length in ms [60000]. */
  readonly windowMs?: number | undefined;
}

export interface AnyformatEmulatorOptions {
  /** The valid Bearer key [`ANYFORMAT_EMULATOR_KEY`]. */
  readonly apiKey?: string | undefined;
  /** What run progress, timestamps and rate-limit windows read [`Date.now`]. */
  readonly clock?: Clock | undefined;
  /** Seeds the uuids, secrets and request ids: the same seed and requests give the same ids [1]. */
  readonly seed?: number | undefined;
  /**
   * Ms of clock time per step of a run: pending, then queued, then in_progress, then its outcome, so a
   * run ends `3 * stepMs` after it was submitted; 0 ends it at once [400].
   */
  readonly stepMs?: number | undefined;
  /**
   * How results answer once a run ended in `error` or `cancelled`, the two forms anyformat documents:
   * `"412"` is 412 PRECONDITION_FAILED with `retryable: false`; `"422"` is 422 with `error_code`
   * EXTRACTION_FAILED or EXTRACTION_CANCELLED ["422"].
   */
  readonly terminalForm?: "412" | "422" | undefined;
  /**
   * Decides how a run ends, when it is submitted. By default a run whose text or file name contains
   * `FAIL` ends in `error`, one containing `CANCEL` in `cancelled`, any other in `processed`.
   */
  readonly outcome?: ((input: AnyformatOutcomeInput) => AnyformatOutcome) | undefined;
  /** The rate limits; `false` turns them off, headers included [60 / 600 per 60 s]. */
  readonly rateLimits?: AnyformatRateLimits | false | undefined;
  /** `Retry-After` of an injected `rateLimit` fault, in seconds; fractions are sent as they are [1]. */
  readonly faultRetryAfterSeconds?: number | undefined;
  /**
   * Where the emulator is served, for the links it gives: results' `verification_url` is
   * `<baseUrl>/verify/<collection id>`, a page the emulator serves itself (`startEmulator` sets its own URL)
   * [http://127.0.0.1].
   */
  readonly baseUrl?: string | undefined;
  /** How long a webhook receiver has to answer a delivery before it counts as failed [5000]. */
  readonly webhookTimeoutMs?: number | undefined;
}

/**
 * The in-memory anyformat API. Its state is live: read it, or change it to set up a test. Run
 * statuses in `collections` are brought up to the clock whenever they are read.
 *
 * @example
 * ```ts
 * const clock = new ManualClock();
 * const app = createAnyformatApp({ clock, stepMs: 1000 });
 * app.setOutcome("error");              // every run submitted from now on fails
 * clock.advance(3000);                  // runs submitted before now have ended
 * [...app.collections.values()].map((c) => c.status);
 * ```
 */
export interface AnyformatApp extends EmulatorApp {
  readonly api: "anyformat";
  readonly apiKey: string;
  /** Workflows by id. */
  readonly workflows: ReadonlyMap<string, AnyformatWorkflowRecord>;
  /** File collections (what run/, upload/ and POST files/ make) by id, status brought up to the clock. */
  readonly collections: ReadonlyMap<string, AnyformatCollectionRecord>;
  /** Webhooks by id, secrets included. */
  readonly webhooks: ReadonlyMap<string, AnyformatWebhookRecord>;
  /**
   * Every webhook delivery made, in order: when a run ends in `processed` or `error`, the emulator POSTs
   * `extraction.completed` or `extraction.failed` as JSON to each active webhook subscribed to it
   * (a cancelled run sends nothing: anyformat documents no event for it). With the real clock a run's
   * end is announced when it comes, by a timer; with a clock of your own, when the emulator next looks at
   * its runs (any request, reading `collections`, or `deliverWebhooks()`).
   */
  readonly webhookDeliveries: readonly AnyformatWebhookDelivery[];
  /**
   * Announces every run that has ended by the clock, then resolves once every delivery under way has
   * ended (each within `webhookTimeoutMs`), with the deliveries made so far.
   */
  deliverWebhooks(): Promise<readonly AnyformatWebhookDelivery[]>;
  /**
   * Sets how runs submitted from now on end: a fixed outcome, a function of the submission, or
   * `undefined` for the one given in the options (else the FAIL / CANCEL rule).
   */
  setOutcome(outcome: AnyformatOutcome | ((input: AnyformatOutcomeInput) => AnyformatOutcome) | undefined): void;
  /** Empties everything (webhook deliveries included), restarts the rate-limit windows and the id sequence. */
  reset(): void;
  /** Stops announcing runs and waits for deliveries under way; `startEmulator`'s `close()` calls it. */
  close(): Promise<void>;
}

/** The rule runs follow unless told otherwise: the words in the submission decide. */
export function defaultOutcome(input: AnyformatOutcomeInput): AnyformatOutcome {
  const said = `${input.filename ?? ""}\n${input.text ?? ""}`;
  if (said.includes("FAIL")) return "error";
  if (said.includes("CANCEL")) return "cancelled";
  return "processed";
}

/**
 * Creates the emulator of the anyformat v2 API as a pure request-to-response app. Requests are
 * answered in the API's order: a path without its trailing slash is redirected, then the key is
 * checked, then the request is counted against its rate-limit tier, then routed.
 *
 * @example
 * ```ts
 * const clock = new ManualClock();
 * const app = createAnyformatApp({ clock, stepMs: 1000, terminalForm: "412" });
 * const res = await app.handle({
 *   method: "GET",
 *   path: "/v2/workflows/",
 *   query: new URLSearchParams(),
 *   headers: { authorization: `Bearer ${ANYFORMAT_EMULATOR_KEY}` },
 *   body: new Uint8Array(),
 * }); // 200 {count: 0, page: 1, page_size: 20, results: []}
 * ```
 */
export function createAnyformatApp(options: AnyformatEmulatorOptions = {}): AnyformatApp {
  const apiKey = options.apiKey ?? ANYFORMAT_EMULATOR_KEY;
  const clock: Clock = options.clock ?? { now: () => Date.now() };
  const terminalForm = options.terminalForm ?? "422";
  const retryAfter = options.faultRetryAfterSeconds ?? 1;
  const limits = options.rateLimits;
  const store = new AnyformatStore(Math.max(0, options.stepMs ?? 400));
  const ids = new IdSource(options.seed ?? 1);
  const limiter = new RateLimiter(
    limits === false
      ? undefined
      : { submission: limits?.submission ?? 60, general: limits?.general ?? 600, windowMs: Math.max(1, limits?.windowMs ?? 60_000) },
  );
  const baseUrl = (options.baseUrl ?? "http://127.0.0.1").replace(/\/+$/, "");
  const configured = options.outcome ?? defaultOutcome;
  let outcomeOf = configured;
  const deliverer = new WebhookDeliverer({
    clock,
    timeoutMs: Math.max(1, options.webhookTimeoutMs ?? 5_000),
    webhooks: () => store.webhooks.values(),
  });
  // Timers announce runs' ends on time only on the real clock: a clock of the test's own moves by hand.
  const timers = options.clock === undefined ? new Set<NodeJS.Timeout>() : undefined;
  let closed = false;

  /** Brings runs up to `now`, announcing those that ended to the webhooks. */
  const settle = (now: number): void => {
    const ended = store.settle(now);
    if (!closed) for (const collection of ended) deliverer.runEnded(collection);
  };
  const settled = (): AnyformatStore => {
    settle(clock.now());
    return store;
  };
  const runStarted = (collection: AnyformatCollectionRecord): void => {
    if (timers === undefined || closed || collection.run === undefined) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      settle(clock.now());
    }, Math.max(0, store.endOf(collection.run) - clock.now()) + 1);
    timer.unref();
    timers.add(timer);
  };

  function handle(request: EmulatorRequest): EmulatorResponse {
    const now = clock.now();
    settle(now);
    const requestId = ids.requestId();
    const tag = (response: EmulatorResponse, extra: Record<string, string> = {}): EmulatorResponse => ({
      ...response,
      headers: { ...response.headers, ...extra, "x-request-id": requestId },
    });

    // The reviewer page is the app's, not the API's: a browser opens it, with no key and no rate limit.
    if (request.method === "GET" && request.path.startsWith(VERIFICATION_PATH)) {
      return tag(verificationPage(store, request.path, baseUrl));
    }
    const match = matchRoute(request.path);
    if (match === undefined) return tag(frameworkNotFound());
    if (!match.slashed) {
      const query = request.query.toString();
      return tag(redirect(`${request.path}/${query === "" ? "" : `?${query}`}`));
    }
    const handler = match.route.methods[request.method];
    const allowed = Object.keys(match.route.methods);
    if (match.route === HEALTH_ROUTE) {
      return tag(handler === undefined ? methodNotAllowed(request.method, allowed) : handler(context(request, now, requestId), []));
    }

    const auth = /^\s*bearer(?:\s+(.*))?$/i.exec(request.headers["authorization"] ?? "");
    const key = auth?.[1]?.trim() ?? "";
    if (key === "") return tag(accessDenied(requestId));
    if (key !== apiKey) return tag(authFailed(requestId));

    const tier: RateTier = request.method === "POST" && match.route.postTier !== undefined ? match.route.postTier : "general";
    const decision = limiter.take(tier, now);
    if (!decision.allowed) {
      return tag(rateLimited(requestId, decision.retryAfter), { ...decision.headers, "retry-after": String(decision.retryAfter) });
    }
    if (handler === undefined) return tag(methodNotAllowed(request.method, allowed), decision.headers);
    return tag(handler(context(request, now, requestId), match.params), decision.headers);
  }

  function context(request: EmulatorRequest, now: number, requestId: string): RouteContext {
    return { request, store, ids, now, requestId, terminalForm, outcomeOf, baseUrl, runStarted };
  }

  function fault(name: HttpFaultName, _request: EmulatorRequest): EmulatorResponse {
    const requestId = ids.requestId();
    const tag = (response: EmulatorResponse, extra: Record<string, string> = {}): EmulatorResponse => ({
      ...response,
      headers: { ...extra, "x-request-id": requestId },
    });
    switch (name) {
      case "rateLimit":
        return tag(rateLimited(requestId, retryAfter), { "retry-after": String(retryAfter) });
      case "serverError":
        return tag(internalError(requestId, ids.referenceId()));
      case "gatewayTimeout":
        return tag(gatewayTimeout(requestId));
      case "locked":
        return tag(locked(requestId));
      case "serviceUnavailable":
        return tag(serviceUnavailable(requestId, retryAfter), { "retry-after": String(retryAfter) });
    }
  }

  return {
    api: "anyformat",
    apiKey,
    handle,
    fault,
    get workflows() {
      return store.workflows;
    },
    get collections() {
      return settled().collections;
    },
    get webhooks() {
      return store.webhooks;
    },
    get webhookDeliveries() {
      return deliverer.deliveries;
    },
    deliverWebhooks() {
      settle(clock.now());
      return deliverer.settled();
    },
    setOutcome(outcome) {
      outcomeOf = outcome === undefined ? configured : typeof outcome === "function" ? outcome : () => outcome;
    },
    reset() {
      for (const timer of timers ?? []) clearTimeout(timer);
      timers?.clear();
      store.reset();
      limiter.reset();
      ids.reset();
      deliverer.reset();
      outcomeOf = configured;
    },
    async close() {
      closed = true;
      for (const timer of timers ?? []) clearTimeout(timer);
      timers?.clear();
      await deliverer.close();
    },
  };
}
