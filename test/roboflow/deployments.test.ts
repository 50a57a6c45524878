import { describe, expect, it } from "vitest";
import {
  AuthFailedError,
  BadRequestError,
  ConflictError,
  LockedError,
  NotFoundError,
  ServerError,
} from "../../src/core/errors.js";
import { ROBOFLOW_SCOPELESS_KEY } from "../../src/testing/roboflow/app.js";
import { KEY, expectMasked, failure, setup } from "./support.js";

const DEV = { deployment_name: "dev", machine_type: "dev-gpu", creator_email: "ops@acme.test", duration: 1 };

describe("rf.deployments", () => {
  it("lists no deployments at first, from the deployments service", async () => {
    const { emu, rf } = await setup();
    expect(await rf.deployments.list()).toEqual([]);
    expect(emu.requests[0]).toMatchObject({ method: "GET", path: "/deployments/list" });
    expect(emu.requests[0]?.query).toContain("api_key=***");
  });

  it("creates a deployment with the key in the JSON body, not the URL", async () => {
    const { emu, rf } = await setup();
    const created = await rf.deployments.create(DEV);
    expect(created.deployment_name).toBe("dev");
    expect(created.machine_type).toBe("dev-gpu");
    expect(emu.requests[0]).toMatchObject({ method: "POST", path: "/deployments/add" });
    expect(emu.requests[0]?.query).not.toContain("api_key");
  });

  it("gets a deployment, which comes up running", async () => {
    const { rf } = await setup();
    await rf.deployments.create(DEV);
    let dep = await rf.deployments.get("dev");
    expect(["pending", "running"]).toContain(dep.status);
    for (let i = 0; i < 50 && dep.status !== "running"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      dep = await rf.deployments.get("dev");
    }
    expect(dep.deployment_name).toBe("dev");
    expect(dep.status).toBe("running");
    expect((await rf.deployments.list()).map((d) => d.deployment_name)).toEqual(["dev"]);
  });

  it("pauses and resumes a deployment", async () => {
    const { emu, rf } = await setup();
    await rf.deployments.create(DEV);
    await rf.deployments.pause("dev");
    expect((await rf.deployments.get("dev")).status).toBe("paused");
    await rf.deployments.resume("dev");
    expect((await rf.deployments.get("dev")).status).toBe("running");
    const posts = emu.requests.filter((r) => r.method === "POST").map((r) => r.path);
    expect(posts).toEqual(["/deployments/add", "/deployments/pause", "/deployments/resume"]);
  });

  it("deletes a deployment", async () => {
    const { emu, rf } = await setup();
    await rf.deployments.create(DEV);
    await rf.deployments.delete("dev");
    expect(emu.requests.at(-1)).toMatchObject({ method: "POST", path: "/deployments/delete" });
    expect(await failure(rf.deployments.get("dev"))).toBeInstanceOf(NotFoundError);
  });

  it("lists machine types", async () => {
    const { emu, rf } = await setup();
    const types = await rf.deployments.machineTypes();
    expect(types.map((t) => t.name)).toContain("dev-gpu");
    expect(emu.requests[0]?.path).toBe("/deployments/machine_types");
  });

  it("reads a deployment's log, at most maxEntries of it", async () => {
    const { emu, rf } = await setup();
    await rf.deployments.create(DEV);
    await rf.deployments.pause("dev");
    const all = await rf.deployments.log("dev");
    expect(all.length).toBeGreaterThanOrEqual(2);
    expect(all[0]).toHaveProperty("payload");
    const last = await rf.deployments.log("dev", { maxEntries: 1 });
    expect(last).toEqual([all.at(-1)]);
    expect(emu.requests.at(-1)?.query).toContain("max_entries=1");
  });

  it("throws NotFoundError with service 'deployments' for a deployment that does not exist", async () => {
    const { emu, rf } = await setup();
    const error = await failure(rf.deployments.get("ghost"));
    expect(error).toBeInstanceOf(NotFoundError);
    const e = error as NotFoundError;
    expect(e.service).toBe("deployments");
    expect(e.message).toBe("deployment not found");
    expect(emu.requests).toHaveLength(1);
    expectMasked(error);
  });

  it("throws NotFoundError for pausing a deployment that does not exist, the key masked", async () => {
    const { rf } = await setup();
    const error = await failure(rf.deployments.pause("ghost"));
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).service).toBe("deployments");
    expectMasked(error);
  });

  it("throws AuthFailedError with service 'deployments' for an invalid key, in a GET and in a POST", async () => {
    const { rf } = await setup({ apiKey: "rf-bad-deploy-key" });
    for (const call of [() => rf.deployments.list(), () => rf.deployments.create(DEV)]) {
      const error = await failure(call());
      expect(error).toBeInstanceOf(AuthFailedError);
      expect((error as AuthFailedError).service).toBe("deployments");
      expectMasked(error, "rf-bad-deploy-key");
    }
  });

  it("throws AuthFailedError for a key without the deployments scope", async () => {
    const { rf } = await setup({ apiKey: ROBOFLOW_SCOPELESS_KEY });
    expect(await failure(rf.deployments.machineTypes())).toBeInstanceOf(AuthFailedError);
  });

  it("throws BadRequestError for an unknown machine type", async () => {
    const { emu, rf } = await setup();
    const error = await failure(rf.deployments.create({ ...DEV, machine_type: "quantum" }));
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).message).toMatch(/machine_type/);
    expect(emu.requests).toHaveLength(1);
  });

  it("throws ConflictError for a name already taken", async () => {
    const { rf } = await setup();
    await rf.deployments.create(DEV);
    const error = await failure(rf.deployments.create(DEV));
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as ConflictError).service).toBe("deployments");
  });

  it("throws LockedError from the deployments service and sends one request", async () => {
    const { emu, rf } = await setup();
    emu.inject("locked", { path: "/deployments" });
    const error = await failure(rf.deployments.list());
    expect(error).toBeInstanceOf(LockedError);
    expect((error as LockedError).service).toBe("deployments");
    expect(emu.requests).toHaveLength(1);
  });

  it("retries a deployments 500 and gives the data", async () => {
    const { emu, rf } = await setup();
    emu.inject("serverError", { path: "/deployments/list" });
    expect(await rf.deployments.list()).toEqual([]);
    expect(emu.requests.map((r) => r.status)).toEqual([500, 200]);
  });

  it("throws ServerError with service 'deployments' when the 500s outlast the retries", async () => {
    const { emu, rf } = await setup({ maxRetries: 0 });
    emu.inject("serverError", { path: "/deployments/list" });
    const error = await failure(rf.deployments.list());
    expect(error).toBeInstanceOf(ServerError);
    expect((error as ServerError).service).toBe("deployments");
    expectMasked(error, KEY);
  });
});
