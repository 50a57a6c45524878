import { describe, expect, it } from "vitest";
import { BadRequestError, ConflictError, NotFoundError } from "../../src/core/errors.js";
import { expectMasked, failure, setup } from "./support.js";

describe("rf.workflows", () => {
  it("lists the workspace's workflows", async () => {
    const { emu, rf } = await setup();
    const workflows = await rf.workflows.list();
    expect(workflows.map((w) => w.url)).toEqual(["detect-widgets"]);
    expect(workflows[0]?.status).toBe("active");
    expect(emu.requests[0]).toMatchObject({ method: "GET", path: "/acme/workflows" });
  });

  it("gets a workflow with its config", async () => {
    const { emu, rf } = await setup();
    const workflow = await rf.workflows.get("detect-widgets");
    expect(workflow.name).toBe("Detect widgets");
    expect(workflow.config).toBeDefined();
    expect(emu.requests[0]?.path).toBe("/acme/workflows/detect-widgets");
  });

  it("gets a workflow named as ws/url from another default workspace", async () => {
    const { emu, rf } = await setup({ workspace: "elsewhere" });
    expect((await rf.workflows.get("acme/detect-widgets")).url).toBe("detect-widgets");
    expect(emu.requests[0]?.path).toBe("/acme/workflows/detect-widgets");
  });

  it("creates a workflow from an object config and reads it back", async () => {
    const { emu, rf } = await setup();
    const config = { version: "1.0", inputs: [], steps: [], outputs: [] };
    const created = await rf.workflows.create({ name: "Count widgets", config });
    expect(created.url).toBe("count-widgets");
    expect(emu.requests[0]).toMatchObject({ method: "POST", path: "/acme/createWorkflow" });
    const fetched = await rf.workflows.get(created.url);
    expect(JSON.parse(String(fetched.config))).toEqual(config);
  });

  it("updates a workflow's name and config", async () => {
    const { emu, rf } = await setup();
    const updated = await rf.workflows.update({ url: "detect-widgets", name: "Find widgets", config: { version: "1.0" } });
    expect(updated.name).toBe("Find widgets");
    expect(emu.requests[0]).toMatchObject({ method: "POST", path: "/acme/updateWorkflow" });
    expect((await rf.workflows.get("detect-widgets")).name).toBe("Find widgets");
  });

  it("deletes a workflow to Trash, from where trash.restore takes it back", async () => {
    const { emu, rf } = await setup();
    await rf.workflows.delete("detect-widgets");
    expect(emu.requests[0]).toMatchObject({ method: "DELETE", path: "/acme/workflows/detect-widgets" });
    expect(await failure(rf.workflows.get("detect-widgets"))).toBeInstanceOf(NotFoundError);
    const { items } = await rf.trash.list();
    expect(items).toEqual([expect.objectContaining({ type: "workflow", id: "detect-widgets" })]);
    await rf.trash.restore({ type: "workflow", id: "detect-widgets" });
    expect((await rf.workflows.list()).map((w) => w.url)).toEqual(["detect-widgets"]);
  });

  it("throws NotFoundError for a workflow that does not exist, without retrying", async () => {
    const { emu, rf } = await setup();
    const error = await failure(rf.workflows.get("missing"));
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).type).toBe("GraphMethodException");
    expect(emu.requests).toHaveLength(1);
    expectMasked(error);
  });

  it("throws ConflictError creating a workflow whose url is taken", async () => {
    const { emu, rf } = await setup();
    const error = await failure(rf.workflows.create({ name: "Detect widgets" }));
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as ConflictError).hint).toBeTypeOf("string");
    expect(emu.requests).toHaveLength(1);
  });

  it("throws BadRequestError for a config that is not JSON", async () => {
    const { rf } = await setup();
    const error = await failure(rf.workflows.create({ name: "Broken", config: "{not json" }));
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).type).toBe("ValidationException");
    expect((error as BadRequestError).message).toMatch(/config/);
  });
});
