import { afterEach, describe, expect, it, vi } from "vitest";
import { CredentialsError, InvalidArgumentError, NotFoundError } from "../../src/core/errors.js";
import { expectMasked, failure, setup } from "./support.js";

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("rf.projects", () => {
  it("lists the projects of the client's workspace, keeping wire names", async () => {
    const { rf } = await setup();
    const projects = await rf.projects.list();
    const widgets = projects.find((p) => p.id === "acme/widgets");
    expect(widgets).toBeDefined();
    expect(widgets?.name).toBeTypeOf("string");
  });

  it("lists the projects of a workspace named in the call", async () => {
    const { emu, rf } = await setup({ workspace: "elsewhere" });
    expect((await rf.projects.list("acme")).length).toBe(2);
    expect(emu.requests[0]?.path).toBe("/acme");
  });

  it("gets a project with its versions", async () => {
    const { emu, rf } = await setup();
    const detail = await rf.projects.get("widgets");
    expect(detail.project.id).toBe("acme/widgets");
    expect(detail.versions.length).toBe(2);
    expect(emu.requests[0]?.path).toBe("/acme/widgets");
  });

  it("takes a project as ws/proj, the workspace overriding the client's", async () => {
    const { emu, rf } = await setup({ workspace: "elsewhere" });
    expect((await rf.projects.get("acme/widgets")).project.id).toBe("acme/widgets");
    expect(emu.requests[0]?.path).toBe("/acme/widgets");
  });

  it("accepts a project id from projects.list() as is", async () => {
    const { rf } = await setup();
    const [first] = await rf.projects.list();
    expect((await rf.projects.get(first?.id ?? "")).project.id).toBe(first?.id);
  });

  it("percent-encodes path segments, so a name cannot reach another path", async () => {
    const { emu, rf } = await setup();
    expect(await failure(rf.projects.get("wid gets?x=1#y"))).toBeInstanceOf(NotFoundError);
    expect(emu.requests[0]?.path).toBe("/acme/wid%20gets%3Fx%3D1%23y");
  });

  it("throws InvalidArgumentError for an empty or over-nested project name, before any request", async () => {
    const { emu, rf } = await setup();
    expect(await failure(rf.projects.get(""))).toBeInstanceOf(InvalidArgumentError);
    expect(await failure(rf.projects.get("a/b/c"))).toBeInstanceOf(InvalidArgumentError);
    expect(await failure(rf.projects.get("/widgets"))).toBeInstanceOf(InvalidArgumentError);
    expect(emu.requests.length).toBe(0);
  });

  it("creates a project that can then be fetched", async () => {
    const { emu, rf } = await setup();
    const created = await rf.projects.create({ name: "Bolts", type: "object-detection", annotation: "bolts" });
    expect(created.id).toMatch(/^acme\//);
    expect(emu.requests[0]).toMatchObject({ method: "POST", path: "/acme/projects" });
    expect((await rf.projects.get(created.id)).project.id).toBe(created.id);
  });

  it("creates a project in a workspace named in the call", async () => {
    const { emu, rf } = await setup({ workspace: undefined });
    await rf.projects.create({ name: "Nuts", type: "object-detection", workspace: "acme" });
    expect(emu.requests[0]?.path).toBe("/acme/projects");
  });

  it("throws CredentialsError creating a project with no workspace anywhere, and sends no request", async () => {
    vi.stubEnv("ROBOFLOW_WORKSPACE", "");
    const { emu, rf } = await setup({ workspace: undefined });
    expect(await failure(rf.projects.create({ name: "x", type: "object-detection" }))).toBeInstanceOf(CredentialsError);
    expect(emu.requests.length).toBe(0);
  });

  it("deletes a project to Trash and restores it", async () => {
    const { emu, rf } = await setup();
    await rf.projects.delete("gadgets");
    expect(emu.requests.at(-1)).toMatchObject({ method: "DELETE", path: "/acme/gadgets" });
    const error = await failure(rf.projects.get("gadgets"));
    expect(error).toBeInstanceOf(NotFoundError);
    expectMasked(error);
    const { items } = await rf.trash.list();
    expect(items.some((i) => i.type === "project")).toBe(true);
    await rf.projects.restore("gadgets");
    expect(emu.requests.at(-1)).toMatchObject({ method: "POST", path: "/acme/trash/restore" });
    expect((await rf.projects.get("gadgets")).project.id).toBe("acme/gadgets");
  });

  it("throws NotFoundError deleting a project that does not exist, without retrying", async () => {
    const { emu, rf } = await setup();
    expect(await failure(rf.projects.delete("nope"))).toBeInstanceOf(NotFoundError);
    expect(emu.requests).toHaveLength(1);
  });
});
