/**
 * The anyformat emulator's webhook deliveries: when a run ends it POSTs the documented event to every
 * active webhook subscribed to it, records each delivery, and survives any receiver.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Anyformat } from "../../../src/anyformat/client.js";
import { parseWebhookEvent } from "../../../src/anyformat/webhook-event.js";
import { ValidationError } from "../../../src/core/errors.js";
import { ANYFORMAT_EMULATOR_KEY, type AnyformatApp } from "../../../src/testing/anyformat/app.js";
import { ManualClock } from "../../../src/testing/clock.js";
import { startEmulator, type Emulator, type StartAnyformatOptions } from "../../../src/testing/server.js";
import { closedPort, startServer } from "../../helpers/server.js";
import { startReceiver, type Answer, type Receiver } from "../../helpers/receiver.js";

const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).reverse().map((close) => close()));
});

async function emulator(options: Omit<StartAnyformatOptions, "api"> = {}): Promise<{ emu: Emulator<AnyformatApp>; af: Anyformat }> {
  const emu = await startEmulator({ api: "anyformat", stepMs: 10, ...options });
  const af = new Anyformat({ apiKey: ANYFORMAT_EMULATOR_KEY, baseUrl: emu.url });
  open.push(async () => {
    await af.close();
    await emu.close();
  });
  return { emu, af };
}

async function receiver(answer?: Answer): Promise<Receiver> {
  const r = await startReceiver(answer);
  open.push(() => r.close());
  return r;
}

async function workflow(af: Anyformat): Promise<string> {
  const wf = await af.workflows.create({ name: "Hooks", fields: [{ name: "total", description: "Total", data_type: "float" }] });
  return wf.id;
}

describe("anyformat emulator webhooks", () => {
  it("sends each event only to the active webhooks subscribed to it", async () => {
    const all = await receiver();
    const failures = await receiver();
    const { emu, af } = await emulator({ stepMs: 0 });
    await af.webhooks.create({ url: `${all.url}/all` });
    await af.webhooks.create({ url: `${failures.url}/failed`, events: ["extraction.failed"] });
    const gone = await af.webhooks.create({ url: `${all.url}/deleted` });
    await af.webhooks.delete(gone.id);
    const wf = await workflow(af);
    await af.workflows.run(wf, { text: "fine" });
    await af.workflows.run(wf, { text: "FAIL" });
    await emu.app.deliverWebhooks();

    expect(all.received.map((r) => [r.path, parseWebhookEvent(r.body).event])).toEqual([
      ["/all", "extraction.completed"],
      ["/all", "extraction.failed"],
    ]);
    expect(failures.received.map((r) => parseWebhookEvent(r.body).event)).toEqual(["extraction.failed"]);
    expect(emu.app.webhookDeliveries.map((d) => d.state)).toEqual(["delivered", "delivered", "delivered"]);
  });

  it("sends nothing for a cancelled run: anyformat documents no event for it", async () => {
    const hooks = await receiver();
    const { emu, af } = await emulator({ stepMs: 0 });
    await af.webhooks.create({ url: hooks.url });
    await af.workflows.run(await workflow(af), { text: "CANCEL" });
    expect(await emu.app.deliverWebhooks()).toEqual([]);
    expect(hooks.received).toEqual([]);
  });

  it("records a receiver that is down as a failed delivery, and goes on answering the API", async () => {
    const port = await closedPort();
    const { emu, af } = await emulator({ stepMs: 0 });
    await af.webhooks.create({ url: `http://127.0.0.1:${port}/down` });
    const wf = await workflow(af);
    const run = await af.workflows.run(wf, { text: "fine" });
    const [delivery] = await emu.app.deliverWebhooks();
    expect(delivery).toMatchObject({ state: "failed", status: undefined, url: `http://127.0.0.1:${port}/down` });
    expect(delivery?.error).toMatch(/ECONNREFUSED/);
    expect((await af.results.get(wf, run.id)).collection_id).toBe(run.id);
  });

  it("records a non-2xx answer as failed, with its status", async () => {
    const hooks = await receiver(() => 500);
    const { emu, af } = await emulator({ stepMs: 0 });
    await af.webhooks.create({ url: hooks.url });
    await af.workflows.run(await workflow(af), { text: "fine" });
    expect(await emu.app.deliverWebhooks()).toMatchObject([{ state: "failed", status: 500, error: "HTTP 500" }]);
    expect(hooks.received).toHaveLength(1);
  });

  it("gives up on a receiver that never answers after webhookTimeoutMs", async () => {
    const hooks = await receiver(() => "hang");
    const { emu, af } = await emulator({ stepMs: 0, webhookTimeoutMs: 200 });
    await af.webhooks.create({ url: hooks.url });
    await af.workflows.run(await workflow(af), { text: "fine" });
    const started = Date.now();
    expect(await emu.app.deliverWebhooks()).toMatchObject([{ state: "failed", error: "no answer within 200 ms" }]);
    // Generous: the point is that it ended at all.
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("announces runs by the test's own clock when the emulator next looks at them", async () => {
    const hooks = await receiver();
    const clock = new ManualClock();
    const { emu, af } = await emulator({ clock, stepMs: 1_000 });
    await af.webhooks.create({ url: hooks.url });
    const wf = await workflow(af);
    const run = await af.workflows.run(wf, { text: "fine" });
    expect(await emu.app.deliverWebhooks()).toEqual([]);
    clock.advance(3_000);
    const [delivery] = await emu.app.deliverWebhooks();
    expect(delivery).toMatchObject({ state: "delivered", status: 204, at: clock.now() });
    expect(parseWebhookEvent(hooks.received[0]?.body)).toEqual({
      event: "extraction.completed",
      timestamp: new Date(clock.now()).toISOString(),
      data: { extraction_id: run.id, status: "processed", workflow_id: wf, processed_at: new Date(clock.now()).toISOString() },
    });
    // Once: looking again announces nothing new.
    expect(await emu.app.deliverWebhooks()).toHaveLength(1);
  });

  it("announces a run that is run again when it ends again", async () => {
    const hooks = await receiver();
    const { emu, af } = await emulator({ stepMs: 0 });
    await af.webhooks.create({ url: hooks.url });
    const wf = await workflow(af);
    const uploaded = await af.workflows.upload(wf, { text: "fine" });
    await af.files.run(wf, uploaded.file_id);
    await emu.app.deliverWebhooks();
    await af.files.run(wf, uploaded.file_id);
    await emu.app.deliverWebhooks();
    expect(hooks.received.map((r) => parseWebhookEvent(r.body).data.extraction_id)).toEqual([
      uploaded.file_collection_id,
      uploaded.file_collection_id,
    ]);
  });

  it("reads no more than it must of a receiver's endless answer", async () => {
    let written = 0;
    const endless = await startServer((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "text/plain" });
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      const pump = (): void => {
        while (!res.destroyed && written < 1024 * 1024 * 1024) {
          written += chunk.byteLength;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
      };
      pump();
    });
    open.push(() => endless.close());
    const { emu, af } = await emulator({ stepMs: 0 });
    await af.webhooks.create({ url: `${endless.url}/h` });
    await af.workflows.run(await workflow(af), { text: "fine" });
    expect(await emu.app.deliverWebhooks()).toMatchObject([{ state: "delivered", status: 200 }]);
    // It stopped reading at its cap: the server never got to write more than a few MB of its gigabyte.
    expect(written).toBeLessThan(64 * 1024 * 1024);
  });

  it("takes https webhooks anywhere and http ones only on loopback", async () => {
    const { af } = await emulator();
    for (const url of ["https://example.com/h", "http://127.0.0.1:9/h", "http://127.5.6.7/h", "http://localhost:9/h", "http://[::1]:9/h"]) {
      expect((await af.webhooks.create({ url })).url).toBe(url);
    }
    for (const url of ["http://example.com/h", "http://10.0.0.1/h", "http://127.0.0.1.example.com/h", "ftp://127.0.0.1/h"]) {
      const error = await af.webhooks.create({ url }).catch((e: unknown) => e);
      expect(error, url).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues).toEqual([{ type: "url_scheme", loc: ["body", "url"], msg: "URL scheme should be 'https'" }]);
    }
  });

  it("forgets its deliveries on reset(), and announces nothing more once closed", async () => {
    const hooks = await receiver();
    const { emu, af } = await emulator({ stepMs: 0 });
    await af.webhooks.create({ url: hooks.url });
    const wf = await workflow(af);
    await af.workflows.run(wf, { text: "fine" });
    expect(await emu.app.deliverWebhooks()).toHaveLength(1);
    emu.app.reset();
    expect(emu.app.webhookDeliveries).toEqual([]);
    await emu.app.close();
    await af.webhooks.create({ url: hooks.url });
    await af.workflows.run(await workflow(af), { text: "fine" });
    expect(await emu.app.deliverWebhooks()).toEqual([]);
    expect(hooks.received).toHaveLength(1);
  });
});
