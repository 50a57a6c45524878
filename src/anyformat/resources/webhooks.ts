import type { APIPromise } from "../../core/api-promise.js";
import type { RequestOptions } from "../../core/transport.js";
import type { Anyformat } from "../client.js";
import { Deleted, Webhook, WebhookCreated } from "../schemas.js";
import type { WebhookEventType } from "../webhook-event.js";
import * as z from "zod/mini";

/** What `webhooks.create` takes: an https `url` and the events to send (all when omitted). */
export interface WebhookCreateParams {
  readonly url: string;
  readonly events?: ReadonlyArray<WebhookEventType | (string & {})> | undefined;
}

const WebhookList = z.array(Webhook);

/**
 * Webhooks (at most 50 active per organisation). `secret` is shown once, by `create`: keep it. The events
 * they receive are read with `parseWebhookEvent`.
 *
 * @example
 * ```ts
 * const { id, secret } = await af.webhooks.create({ url: "https://example.com/hooks/anyformat" });
 * ```
 */
export class WebhooksResource {
  constructor(private readonly client: Anyformat) {}

  /** `POST /v2/webhooks/`. */
  create(params: WebhookCreateParams, options?: RequestOptions): APIPromise<WebhookCreated> {
    return this.client.call(
      () => ({ operation: "webhooks.create", method: "POST", path: this.client.path("v2", "webhooks"), json: params, schema: WebhookCreated }),
      options,
    );
  }

  /** `GET /v2/webhooks/`: every webhook (a plain list, not paged), without secrets. */
  list(options?: RequestOptions): APIPromise<Webhook[]> {
    return this.client.call(() => ({ operation: "webhooks.list", method: "GET", path: this.client.path("v2", "webhooks"), schema: WebhookList }), options);
  }

  /** `DELETE /v2/webhooks/{id}/`. */
  delete(webhookId: string, options?: RequestOptions): APIPromise<void> {
    return this.client.call(
      () => ({ operation: "webhooks.delete", method: "DELETE", path: this.client.path("v2", "webhooks", this.client.id(webhookId, "webhook")), schema: Deleted }),
      options,
    );
  }
}
