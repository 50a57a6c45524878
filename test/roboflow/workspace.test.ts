import { describe, expect, it } from "vitest";
import { AccessDeniedError, LockedError, NotFoundError } from "../../src/core/errors.js";
import { expectMasked, failure, setup } from "./support.js";

describe("rf.workspace", () => {
  it("gets the client's workspace with its projects", async () => {
    const { emu, rf } = await setup();
    const ws = await rf.workspace.get();
    expect(ws.url).toBe("acme");
    expect(ws.projects.map((p) => p.id).sort()).toEqual(["acme/gadgets", "acme/widgets"]);
    expect(emu.requests[0]?.method).toBe("GET");
    expect(emu.requests[0]?.path).toBe("/acme");
  });

  it("gives the response's status and attempts through withResponse()", async () => {
    const { rf } = await setup();
    const { data, status, attempts } = await rf.workspace.get().withResponse();
    expect(data.url).toBe("acme");
    expect(status).toBe(200);
    expect(attempts).toBe(1);
  });

  it("gets a workspace named in the call instead of the client's", async () => {
    const { emu, rf } = await setup({ workspace: "elsewhere" });
    expect((await rf.workspace.get("acme")).url).toBe("acme");
    expect(emu.requests[0]?.path).toBe("/acme");
  });

  it("throws AccessDeniedError for a workspace the key may not see, with the API's hint", async () => {
    const { rf } = await setup();
    const error = await failure(rf.workspace.get("other"));
    expect(error).toBeInstanceOf(AccessDeniedError);
    expect((error as AccessDeniedError).type).toBe("ForbiddenException");
    expect((error as AccessDeniedError).hint).toBeTypeOf("string");
    expectMasked(error);
  });

  it("throws NotFoundError for a workspace that does not exist", async () => {
    const { rf } = await setup();
    expect(await failure(rf.workspace.get("nowhere"))).toBeInstanceOf(NotFoundError);
  });

  it("throws LockedError with the billing hint for a locked workspace", async () => {
    const { emu, rf } = await setup({}, { lockedWorkspaces: ["acme"] });
    const error = await failure(rf.workspace.get());
    expect(error).toBeInstanceOf(LockedError);
    expect((error as LockedError).message).toMatch(/locked/);
    expect((error as LockedError).hint).toMatch(/billing/);
    expect(emu.requests).toHaveLength(1);
  });
});
