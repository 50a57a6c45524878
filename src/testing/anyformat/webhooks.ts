import type { WebhookEvent, WebhookEventType } from "../../anyformat/webhook-event.js";
import { Agent, request } from "../../core/undici.js";
import type { Clock } from "../types.js";
import { iso } from "./responses.js";
import type { AnyformatCollectionRecord, AnyformatWebhookRecord } from "./state.js";

/**
 * One event the emulator sent (or tried to send) to one webhook.
 *
 * @example
 * ```ts
 * const [delivery] = await emu.app.deliverWebhooks();
 * expect(delivery).toMatchObject({ state: "delivered", status: 204, event: { event: "extraction.completed" } });
 * ```
 */
export interface AnyformatWebhookDelivery {
  readonly webhookId: string;
  readonly url: string;
  /** The body sent, as JSON. */
  readonly event: WebhookEvent;
  /** When it was sent, by the emulator's clock, in ms. */
  readonly at: number;
  /** `"pending"` while the request is out; `"delivered"` on a 2xx; `"failed"` on anything else. */
  readonly state: "pending" | "delivered" | "failed";
  /** The receiver's status, when it answered. */
  readonly status: number | undefined;
  /** Why it failed: `HTTP 500`, the network error, or the timeout. */
  readonly error: string | undefined;
}

type Delivery = { -readonly [K in keyof AnyformatWebhookDelivery]: AnyformatWebhookDelivery[K] };

export interface WebhookDelivererOptions {
  readonly clock: Clock;
  /** How long a receiver has to answer [5000]. */
  readonly timeoutMs: number;
  /** The webhooks registered now. */
  readonly webhooks: () => Iterable<AnyformatWebhookRecord>;
}

/** What a receiver's answer is read to: its body means nothing to the sender. */
const ANSWER_CAP = 64 * 1024;
const USER_AGENT = "faultline-emulator (anyformat webhooks)";

/**
 * Sends the emulator's webhook events: when a run ends, one POST of the event as JSON to every active
 * webhook subscribed to it. A receiver that is down, slow (past `timeoutMs`) or answers non-2xx makes a
 * failed delivery, recorded like the others; nothing is retried, and nothing it does reaches the API's
 * answers. anyformat documents no signature scheme, so none is sent.
 */
export class WebhookDeliverer {
  readonly deliveries: AnyformatWebhookDelivery[] = [];
  readonly #options: WebhookDelivererOptions;
  readonly #inFlight = new Set<Promise<void>>();
  #agent: InstanceType<typeof Agent> | undefined;

  constructor(options: WebhookDelivererOptions) {
    this.#options = options;
  }

  /**
   * Announces a run that has just ended: `extraction.completed` for `processed`, `extraction.failed` for
   * `error`. A cancelled run sends nothing: anyformat documents no event for it.
   */
  runEnded(collection: AnyformatCollectionRecord): void {
    const run = collection.run;
    if (run === undefined || run.outcome === "cancelled") return;
    const type: WebhookEventType = run.outcome === "processed" ? "extraction.completed" : "extraction.failed";
    const now = this.#options.clock.now();
    const event: WebhookEvent = {
      event: type,
      timestamp: iso(now),
      data: {
        extraction_id: collection.id,
        status: run.outcome,
        workflow_id: collection.workflowId,
        processed_at: iso(collection.updatedAt),
      },
    };
    for (const hook of this.#options.webhooks()) {
      if (!hook.isActive || !hook.events.includes(type)) continue;
      const delivery: Delivery = { webhookId: hook.id, url: hook.url, event, at: now, state: "pending", status: undefined, error: undefined };
      this.deliveries.push(delivery);
      const sending = this.#send(delivery).finally(() => this.#inFlight.delete(sending));
      this.#inFlight.add(sending);
    }
  }

  /** Resolves once every delivery under way has ended (deliveries started meanwhile included). */
  async settled(): Promise<readonly AnyformatWebhookDelivery[]> {
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
    return this.deliveries;
  }

  /** Forgets every delivery made. Those under way still end, unrecorded. */
  reset(): void {
    this.deliveries.length = 0;
  }

  /** Waits for deliveries under way (each ends within `timeoutMs`), then closes the connections. */
  async close(): Promise<void> {
    await this.settled();
    const agent = this.#agent;
    this.#agent = undefined;
    await agent?.close();
  }

  async #send(delivery: Delivery): Promise<void> {
    const { timeoutMs } = this.#options;
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const url = new URL(delivery.url);
      const answer = await request(this.#pool(), {
        origin: url.origin,
        path: url.pathname + url.search,
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": USER_AGENT },
        body: JSON.stringify(delivery.event),
        signal,
      });
      delivery.status = answer.statusCode;
      await answer.body.dump({ limit: ANSWER_CAP }).catch(() => undefined);
      const ok = answer.statusCode >= 200 && answer.statusCode < 300;
      delivery.state = ok ? "delivered" : "failed";
      if (!ok) delivery.error = `HTTP ${answer.statusCode}`;
    } catch (error) {
      delivery.state = "failed";
      delivery.error = signal.aborted ? `no answer within ${timeoutMs} ms` : reasonOf(error);
    }
  }

  #pool(): InstanceType<typeof Agent> {
    this.#agent ??= new Agent({ keepAliveTimeout: 1_000, connections: 16 });
    return this.#agent;
  }
}

/** A network failure in a line: its code when it has one (`ECONNREFUSED`), with undici's message. */
function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  let code: unknown;
  for (let e: unknown = error, depth = 0; e !== null && typeof e === "object" && depth < 4 && code === undefined; depth++) {
    code = (e as { code?: unknown }).code;
    e = (e as { cause?: unknown }).cause;
  }
  return typeof code === "string" && !message.includes(code) ? `${message} (${code})` : message;
}
