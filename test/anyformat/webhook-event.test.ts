import { describe, expect, it } from "vitest";
import { MAX_WEBHOOK_EVENT_BYTES } from "../../src/anyformat/webhook-event.js";
// From the package's entry: users import it from "faultline".
import { parseWebhookEvent, type WebhookEvent } from "../../src/index.js";
import { InvalidArgumentError } from "../../src/core/errors.js";
import { eventually, startReceiver } from "../helpers/receiver.js";
import { closeAfterTest, failure, invoiceWorkflow, setup } from "./support.js";

/** The event as anyformat-api.md documents it. */
const COMPLETED = {
  event: "extraction.completed",
  timestamp: "2026-01-01T00:00:01.200Z",
  data: {
    extraction_id: "0b6c9c43-5a8e-4d1f-9c1e-3f1d2a4b5c6d",
    status: "processed",
    workflow_id: "7f3e2d1c-0b9a-4876-9543-210fedcba987",
    processed_at: "2026-01-01T00:00:01.200Z",
  },
} as const;

function thrown(body: unknown): InvalidArgumentError {
  try {
    parseWebhookEvent(body);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return error as InvalidArgumentError;
  }
  throw new Error("expected parseWebhookEvent to throw");
}

describe("parseWebhookEvent", () => {
  it("reads the documented event from its text, its bytes, or an object a framework already parsed", () => {
    const text = JSON.stringify(COMPLETED);
    const bytes = Buffer.from(text);
    for (const body of [text, bytes, new Uint8Array(bytes), bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), JSON.parse(text)]) {
      const event: WebhookEvent = parseWebhookEvent(body);
      expect(event).toEqual(COMPLETED);
    }
  });

  it("reads extraction.failed, numeric times, and keeps keys the docs do not name", () => {
    const event = parseWebhookEvent({
      event: "extraction.failed",
      timestamp: 1767225601,
      data: { ...COMPLETED.data, status: "error", processed_at: 1767225601, reason: "unreadable scan" },
      delivery_id: "d-1",
    });
    expect(event.event).toBe("extraction.failed");
    expect(event.data.status).toBe("error");
    expect(event.data["reason"]).toBe("unreadable scan");
    expect(event["delivery_id"]).toBe("d-1");
  });

  it("names what is wrong, up to three issues, then counts the rest", () => {
    const error = thrown({ event: "extraction.started", timestamp: "", data: { status: "done" } });
    expect(error.message).toBe(
      'Not an anyformat webhook event: event: Invalid option: expected one of "extraction.completed"|"extraction.failed"; ' +
        "timestamp: Too small: expected string to have >=1 characters; data.extraction_id: Invalid input: expected string, received undefined (and 3 more)",
    );
    expect(error.hint).toMatch(/extraction\.completed and extraction\.failed/);
  });

  it.each([
    ["text that is not JSON", "event=extraction.completed", "The webhook body is not JSON"],
    ["an empty body", "", "The webhook body is not JSON"],
    ["a JSON array", "[1,2]", "Not an anyformat webhook event: (body): Invalid input: expected object, received array"],
    ["null", null, "Not an anyformat webhook event: (body): Invalid input: expected object, received null"],
    ["a number", 42, "Not an anyformat webhook event: (body): Invalid input: expected object, received number"],
  ])("refuses %s with InvalidArgumentError", (_what, body, message) => {
    expect(thrown(body).message).toBe(message);
  });

  it("never quotes the body it refuses", () => {
    const secret = "whsec_0123456789abcdef0123456789abcdef";
    for (const body of [`{"event": "${secret}"`, { event: secret, timestamp: secret, data: secret }, `${secret}`]) {
      const error = thrown(body);
      expect(String(error)).not.toContain(secret);
      expect(JSON.stringify(error.toJSON())).not.toContain(secret);
      expect(String(error.cause ?? "")).not.toContain(secret);
    }
  });

  it("refuses a body over 256 KiB without parsing it, however it is given", () => {
    const huge = `{"event":"extraction.completed","pad":"${"x".repeat(64 * 1024 * 1024)}"}`;
    const started = Date.now();
    for (const body of [huge, Buffer.alloc(MAX_WEBHOOK_EVENT_BYTES + 1, 0x20), "é".repeat(MAX_WEBHOOK_EVENT_BYTES / 2 + 1)]) {
      expect(thrown(body).message).toBe("The webhook body is over 256 KiB: more than an event can be");
    }
    // Generous: parsing 64 MB would take far longer, and an endless read would never end.
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("refuses deeply nested JSON without overflowing the stack", () => {
    const depth = 100_000;
    expect(thrown("[".repeat(depth) + "]".repeat(depth)).message).toMatch(/expected object, received array$/);
    // As deep as fits in 256 KiB.
    const nested = `{"event":"extraction.completed","timestamp":"t","data":${'{"a":'.repeat(40_000)}1${"}".repeat(40_000)}}`;
    expect(thrown(nested).message).toMatch(/^Not an anyformat webhook event: data\.extraction_id: /);
  });

  it("reads an already parsed object however deep, cyclic or hostile it is, throwing only InvalidArgumentError", () => {
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 100_000; i++) deep = { inner: deep };
    expect(parseWebhookEvent({ ...COMPLETED, extra: deep }).event).toBe("extraction.completed");
    const cyclic: Record<string, unknown> = { ...COMPLETED, data: { ...COMPLETED.data } };
    (cyclic["data"] as Record<string, unknown>)["self"] = cyclic;
    expect(parseWebhookEvent(cyclic).data.extraction_id).toBe(COMPLETED.data.extraction_id);
    const hostile = Object.defineProperty({}, "event", {
      enumerable: true,
      get() {
        throw new Error("no");
      },
    });
    expect(thrown(hostile).message).toBe("The webhook body could not be read as an object");
  });
});

describe("webhook events end to end", () => {
  it("reach a user's receiver for a processed and a failed run, which parses each with parseWebhookEvent", async () => {
    // The user's receiver, as they would write it: parse the body, answer 204, or 400 for anything else.
    const events: WebhookEvent[] = [];
    const refused: unknown[] = [];
    const receiver = await startReceiver(({ body }) => {
      try {
        events.push(parseWebhookEvent(body));
        return 204;
      } catch (error) {
        refused.push(error);
        return 400;
      }
    });
    closeAfterTest(() => receiver.close());
    const { emu, af } = await setup({}, { stepMs: 20 });
    const hook = await af.webhooks.create({ url: `${receiver.url}/hooks/anyformat` });
    const wf = await invoiceWorkflow(af);
    const done = await af.workflows.run(wf.id, { text: "Invoice 7, total 12.30" });
    const failed = await af.workflows.run(wf.id, { text: "FAIL this one" });

    // Nothing polls the API: the events come on their own when the runs end.
    await eventually(() => events.length === 2);
    expect(refused).toEqual([]);
    const byId = new Map(events.map((event) => [event.data.extraction_id, event]));
    expect(byId.get(done.id)).toMatchObject({ event: "extraction.completed", data: { status: "processed", workflow_id: wf.id } });
    expect(byId.get(failed.id)).toMatchObject({ event: "extraction.failed", data: { status: "error", workflow_id: wf.id } });
    for (const request of receiver.received) {
      expect(request.method).toBe("POST");
      expect(request.path).toBe("/hooks/anyformat");
      expect(request.headers["content-type"]).toBe("application/json");
      expect(request.headers["user-agent"]).toMatch(/faultline-emulator/);
      // anyformat documents no signature: none is invented.
      expect(Object.keys(request.headers).filter((name) => /signature|hmac/i.test(name))).toEqual([]);
    }
    await eventually(() => emu.app.webhookDeliveries.every((d) => d.state !== "pending"));
    expect(emu.app.webhookDeliveries.map((d) => [d.webhookId, d.state, d.status])).toEqual([
      [hook.id, "delivered", 204],
      [hook.id, "delivered", 204],
    ]);

    // The event names what to fetch next; fetching it proves it, as no signature can.
    const completed = byId.get(done.id) as WebhookEvent;
    const results = await af.results.get(completed.data.workflow_id, completed.data.extraction_id);
    expect(results.collection_id).toBe(done.id);
    const error = await failure(af.results.get(wf.id, failed.id));
    expect((error as Error).name).toBe("ExtractionFailedError");
  });
});
