import { describe, expect, it } from "vitest";
import { AccessDeniedError } from "../../src/core/errors.js";
import { expectMasked, failure, setup } from "./support.js";

describe("rf.trash", () => {
  it("lists nothing in a fresh workspace", async () => {
    const { emu, rf } = await setup();
    const trash = await rf.trash.list();
    expect(trash.items).toEqual([]);
    expect(emu.requests[0]).toMatchObject({ method: "GET", path: "/acme/trash" });
  });

  it("lists what was deleted, with wire names kept", async () => {
    const { rf } = await setup();
    await rf.versions.delete("widgets", 2);
    const { items } = await rf.trash.list();
    expect(items).toHaveLength(1);
    const [item] = items;
    expect(item?.type).toBe("version");
    expect(item).toHaveProperty("deletedAt");
    expect(item).toHaveProperty("parentId");
  });

  it("restores an item as trash.list gives it", async () => {
    const { rf } = await setup();
    await rf.projects.delete("gadgets");
    const { items } = await rf.trash.list();
    for (const item of items) await rf.trash.restore(item);
    expect((await rf.trash.list()).items).toEqual([]);
    expect((await rf.projects.get("gadgets")).project.id).toBe("acme/gadgets");
  });

  it("throws AccessDeniedError listing the Trash of a workspace the key cannot see", async () => {
    const { rf } = await setup();
    const error = await failure(rf.trash.list("other"));
    expect(error).toBeInstanceOf(AccessDeniedError);
    expectMasked(error);
  });
});
