import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { Anyformat } from "../../src/anyformat/client.js";
import { AuthFailedError, RateLimitedError, ServerError, ValidationError } from "../../src/core/errors.js";
import { ANYFORMAT_EMULATOR_KEY, type AnyformatApp } from "../../src/testing/anyformat/app.js";
import { ManualClock } from "../../src/testing/clock.js";
import { ROBOFLOW_EMULATOR_KEY, ROBOFLOW_HTML_502 } from "../../src/testing/roboflow/app.js";
import { startEmulator, type Emulator } from "../../src/testing/server.js";

const open: Emulator[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((emu) => emu.close()));
});

async function emulator(options: Parameters<typeof startEmulator>[0]): Promise<Emulator> {
  const emu = await startEmulator(options as never);
  open.push(emu);
  return emu;
}

describe("startEmulator's request log and faults", () => {
  it("logs a request held by slowHeaders as soon as it arrives, without a status", async () => {
    const emu = await emulator({ api: "anyformat", slowHeadersMs: 5_000 });
    emu.inject("slowHeaders");
    const pending = request(`${emu.url}/health/`, { headersTimeout: 200 }).catch((error: unknown) => error);
    await expect(pending).resolves.toBeInstanceOf(Error);
    expect(emu.requests).toHaveLength(1);
    expect(emu.requests[0]).toMatchObject({ path: "/health/", fault: "slowHeaders", status: undefined });
  });

  it("gives a held request its status when the hold ends with an answer", async () => {
    const emu = await emulator({ api: "anyformat", slowHeadersMs: 50 });
    emu.inject("slowHeaders");
    const response = await request(`${emu.url}/health/`);
    await response.body.text();
    expect(emu.requests).toEqual([expect.objectContaining({ fault: "slowHeaders", status: 200 })]);
  });

  it("stamps each entry with the emulator's clock", async () => {
    const clock = new ManualClock(1_000);
    const emu = await emulator({ api: "anyformat", clock });
    await (await request(`${emu.url}/health/`)).body.text();
    clock.advance(500);
    await (await request(`${emu.url}/health/`)).body.text();
    expect(emu.requests.map((r) => r.at)).toEqual([1_000, 1_500]);
  });

  it("answers Roboflow's htmlBadGateway with Roboflow's own proxy page", async () => {
    const emu = await emulator({ api: "roboflow" });
    emu.inject("htmlBadGateway");
    const response = await request(`${emu.url}/acme?api_key=${ROBOFLOW_EMULATOR_KEY}`);
    expect(response.statusCode).toBe(502);
    expect(await response.body.text()).toBe(ROBOFLOW_HTML_502);
  });
});

describe("startEmulator's Idempotency-Key replay store", () => {
  const clients: Anyformat[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((af) => af.close()));
  });

  /** An emulator whose submission tier takes one request per 1 s window of a clock the test moves. */
  async function tight(): Promise<{ emu: Emulator<AnyformatApp>; clock: ManualClock; af: Anyformat; workflow: string }> {
    const clock = new ManualClock();
    const emu = (await emulator({ api: "anyformat", clock, rateLimits: { submission: 1, windowMs: 1_000 } })) as Emulator<AnyformatApp>;
    const af = client(emu.url);
    const workflow = await af.workflows.create({ name: "Invoices", fields: [{ name: "total", description: "Total", data_type: "float" }] });
    return { emu, clock, af, workflow: workflow.id };
  }

  function client(baseUrl: string, apiKey = ANYFORMAT_EMULATOR_KEY): Anyformat {
    const af = new Anyformat({ apiKey, baseUrl, maxRetries: 0 });
    clients.push(af);
    return af;
  }

  const runs = (emu: Emulator): Array<[number | undefined, boolean]> =>
    emu.requests.filter((r) => r.method === "POST" && r.path.endsWith("/run/")).map((r) => [r.status, r.replayed]);

  it("replays the answer to a keyed POST it carried out, instead of acting twice", async () => {
    const { emu, clock, af, workflow } = await tight();
    const first = await af.workflows.run(workflow, { text: "Total: 10" }, { idempotencyKey: "doc-1" });
    clock.advance(1_000);
    const again = await af.workflows.run(workflow, { text: "Total: 10" }, { idempotencyKey: "doc-1" });
    expect(again.id).toBe(first.id);
    expect(runs(emu)).toEqual([
      [202, false],
      [202, true],
    ]);
    expect((emu.app as AnyformatApp).collections.size).toBe(1);
  });

  it("never stores its own 429: a keyed POST retried once the window has reset is carried out", async () => {
    const { emu, clock, af, workflow } = await tight();
    await af.workflows.run(workflow, { text: "Total: 10" }, { idempotencyKey: "doc-1" });
    await expect(af.workflows.run(workflow, { text: "Total: 20" }, { idempotencyKey: "doc-2" })).rejects.toBeInstanceOf(RateLimitedError);
    clock.advance(1_000);
    const second = await af.workflows.run(workflow, { text: "Total: 20" }, { idempotencyKey: "doc-2" });
    expect(runs(emu)).toEqual([
      [202, false],
      [429, false],
      [202, false],
    ]);
    expect((emu.app as AnyformatApp).collections.get(second.id)?.files[0]?.text).toBe("Total: 20");
  });

  it("never stores a 401: the same key sent again with the right API key is carried out", async () => {
    const { emu, af, workflow } = await tight();
    const wrong = client(emu.url, "sk-wrong-key-000");
    await expect(wrong.workflows.run(workflow, { text: "Total: 10" }, { idempotencyKey: "doc-1" })).rejects.toBeInstanceOf(AuthFailedError);
    await af.workflows.run(workflow, { text: "Total: 10" }, { idempotencyKey: "doc-1" });
    expect(runs(emu)).toEqual([
      [401, false],
      [202, false],
    ]);
  });

  it("never stores an injected fault: a keyed POST after a 500 or a 429 fault is carried out", async () => {
    const { emu, af, workflow } = await tight();
    emu.inject("serverError", { method: "POST" });
    emu.inject("rateLimit", { method: "POST" });
    await expect(af.workflows.run(workflow, { text: "Total: 10" }, { idempotencyKey: "doc-1" })).rejects.toBeInstanceOf(ServerError);
    await expect(af.workflows.run(workflow, { text: "Total: 10" }, { idempotencyKey: "doc-1" })).rejects.toBeInstanceOf(RateLimitedError);
    await af.workflows.run(workflow, { text: "Total: 10" }, { idempotencyKey: "doc-1" });
    expect(runs(emu)).toEqual([
      [500, false],
      [429, false],
      [202, false],
    ]);
  });

  it("stores a refusal on the request's merits, and replays it", async () => {
    const { emu, clock, af, workflow } = await tight();
    await expect(af.workflows.run(workflow, { text: "" }, { idempotencyKey: "empty" })).rejects.toBeInstanceOf(ValidationError);
    clock.advance(1_000);
    // The same key and path: the stored 400 comes back, the app is not asked again.
    const replayed = await request(`${emu.url}/v2/workflows/${workflow}/run/`, {
      method: "POST",
      headers: { authorization: `Bearer ${ANYFORMAT_EMULATOR_KEY}`, "idempotency-key": "empty", "content-type": "text/plain" },
      body: "not even multipart",
    });
    const body = (await replayed.body.json()) as { error_code: string; detail: Array<{ loc: string[] }> };
    expect(replayed.statusCode).toBe(400);
    expect(body.detail[0]?.loc).toEqual(["body", "text"]);
    expect(runs(emu).map(([, replay]) => replay)).toEqual([false, true]);
  });

  it("without a key, replays nothing: each POST is carried out", async () => {
    const { emu, clock, af, workflow } = await tight();
    await af.workflows.run(workflow, { text: "Total: 10" });
    await expect(af.workflows.run(workflow, { text: "Total: 10" })).rejects.toBeInstanceOf(RateLimitedError);
    clock.advance(1_000);
    await af.workflows.run(workflow, { text: "Total: 10" });
    expect(runs(emu)).toEqual([
      [202, false],
      [429, false],
      [202, false],
    ]);
    expect((emu.app as AnyformatApp).collections.size).toBe(2);
  });
});
