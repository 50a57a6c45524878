import { describe, expect, it } from "vitest";
import { NotFoundError, ValidationError } from "../../src/core/errors.js";
import { expectMasked, failure, setup, statuses } from "./support.js";

describe("af.webhooks", () => {
  it("creates a webhook for every event by default, showing its secret once", async () => {
    const { emu, af } = await setup();
    const { data: hook, status } = await af.webhooks.create({ url: "https://example.com/hooks/af" }).withResponse();
    expect(status).toBe(201);
    expect(hook).toMatchObject({
      url: "https://example.com/hooks/af",
      events: ["extraction.completed", "extraction.failed"],
      is_active: true,
      created_at: expect.any(String),
    });
    expect(hook.secret).toMatch(/^whsec_[0-9a-f]{32}$/);
    expect(emu.requests[0]).toMatchObject({ method: "POST", path: "/v2/webhooks/" });
    expect(emu.requests[0]?.headers["content-type"]).toBe("application/json");
  });

  it("creates a webhook for chosen events", async () => {
    const { emu, af } = await setup();
    const hook = await af.webhooks.create({ url: "https://example.com/failed", events: ["extraction.failed"] });
    expect(hook.events).toEqual(["extraction.failed"]);
    expect(emu.app.webhooks.get(hook.id)?.events).toEqual(["extraction.failed"]);
  });

  it("lists webhooks as a plain array, without their secrets", async () => {
    const { af } = await setup();
    expect(await af.webhooks.list()).toEqual([]);
    const a = await af.webhooks.create({ url: "https://example.com/a" });
    const b = await af.webhooks.create({ url: "https://example.com/b" });
    const list = await af.webhooks.list();
    expect(Array.isArray(list)).toBe(true);
    expect(list.map((h) => h.id)).toEqual([a.id, b.id]);
    for (const hook of list) expect(hook).not.toHaveProperty("secret");
  });

  it("deletes a webhook, after which deleting it again is a 404", async () => {
    const { emu, af } = await setup();
    const hook = await af.webhooks.create({ url: "https://example.com/a" });
    expect(await af.webhooks.delete(hook.id)).toBeUndefined();
    expect(await af.webhooks.list()).toEqual([]);
    const error = await failure(af.webhooks.delete(hook.id));
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).detail).toBe(`Webhook '${hook.id}' not found.`);
    expect(emu.requests.map((r) => `${r.method} ${r.path.replace(hook.id, "{id}")} ${r.status}`)).toEqual([
      "POST /v2/webhooks/ 201",
      "DELETE /v2/webhooks/{id}/ 204",
      "GET /v2/webhooks/ 200",
      "DELETE /v2/webhooks/{id}/ 404",
    ]);
    expectMasked(error);
  });

  it("throws ValidationError for a url that is not https, without retrying", async () => {
    const { emu, af } = await setup();
    const error = await failure(af.webhooks.create({ url: "http://example.com/hook" }));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues).toEqual([{ type: "url_scheme", loc: ["body", "url"], msg: "URL scheme should be 'https'" }]);
    expect(emu.requests).toHaveLength(1);
  });

  it("throws ValidationError listing an empty url and an unknown event together", async () => {
    const { af } = await setup();
    const error = await failure(af.webhooks.create({ url: "", events: ["extraction.completed", "run.started"] }));
    expect((error as ValidationError).issues.map((i) => [i.type, i.loc.join(".")])).toEqual([
      ["url_parsing", "body.url"],
      ["literal_error", "body.events.1"],
    ]);
  });

  it("throws ValidationError for a url over 2083 characters", async () => {
    const { af } = await setup();
    const error = await failure(af.webhooks.create({ url: `https://example.com/${"a".repeat(2083)}` }));
    expect((error as ValidationError).issues[0]?.type).toBe("url_too_long");
  });

  it("throws ValidationError for a 51st active webhook", async () => {
    const { emu, af } = await setup();
    for (let i = 0; i < 50; i++) await af.webhooks.create({ url: `https://example.com/${i}` });
    const error = await failure(af.webhooks.create({ url: "https://example.com/one-too-many" }));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues[0]?.msg).toMatch(/at most 50 active webhooks/);
    expect(statuses(emu).at(-1)).toBe(400);
    expect(emu.app.webhooks.size).toBe(50);
  });

  it("throws NotFoundError deleting a webhook that never existed, percent-encoding its id", async () => {
    const { emu, af } = await setup();
    expect(await failure(af.webhooks.delete("a/b?c"))).toBeInstanceOf(NotFoundError);
    expect(emu.requests[0]?.path).toBe("/v2/webhooks/a%2Fb%3Fc/");
  });
});
