/** Every Roboflow call is named for the resource method that made it: the name its spans and logs carry. */
import { expect, it } from "vitest";
import { recordCallNames } from "../helpers/operations.js";
import { setup } from "./support.js";

const names = recordCallNames();

it("names each call by its resource method", async () => {
  const { emu, rf: main } = await setup({ maxRetries: 0 });
  const rf = main.withOptions({ inferenceUrl: emu.inferenceUrl });
  const image = { file: Buffer.from("not really a jpeg"), filename: "a.jpg" };
  const calls: Record<string, () => Promise<unknown>> = {
    "workspace.get": () => rf.workspace.get(),
    "projects.list": () => rf.projects.list(),
    "projects.get": () => rf.projects.get("widgets"),
    "projects.create": () => rf.projects.create({ name: "gadgets", type: "object-detection" }),
    "projects.delete": () => rf.projects.delete("gadgets"),
    "projects.restore": () => rf.projects.restore("gadgets"),
    "versions.get": () => rf.versions.get("widgets", 1),
    "versions.generate": () => rf.versions.generate("widgets", { augmentation: {}, preprocessing: {} }),
    "versions.export": () => rf.versions.export("widgets", 1, "coco"),
    "versions.delete": () => rf.versions.delete("widgets", 9),
    "versions.restore": () => rf.versions.restore("widgets", 9),
    "trash.list": () => rf.trash.list(),
    "trash.restore": () => rf.trash.restore({ type: "project", id: "nothing" }),
    "workflows.list": () => rf.workflows.list(),
    "workflows.get": () => rf.workflows.get("missing"),
    "workflows.create": () => rf.workflows.create({ name: "Count", url: "count" }),
    "workflows.update": () => rf.workflows.update({ url: "count", name: "Count them" }),
    "workflows.delete": () => rf.workflows.delete("count"),
    "deployments.list": () => rf.deployments.list(),
    "deployments.get": () => rf.deployments.get("dev"),
    "deployments.create": () => rf.deployments.create({ deployment_name: "dev", machine_type: "dev-gpu" }),
    "deployments.pause": () => rf.deployments.pause("dev"),
    "deployments.resume": () => rf.deployments.resume("dev"),
    "deployments.delete": () => rf.deployments.delete("dev"),
    "deployments.machineTypes": () => rf.deployments.machineTypes(),
    "deployments.log": () => rf.deployments.log("dev"),
    "images.upload": () => rf.images.upload("widgets", image),
    "images.annotate": () => rf.images.annotate("widgets", "img_missing", { annotation: "{}", name: "a.json", waitTimeout: 0 }),
    "images.get": () => rf.images.get("widgets", "img_missing"),
    "images.delete": () => rf.images.delete("widgets", "img_missing"),
    "images.setMetadata": () => rf.images.setMetadata("img_missing", { addTags: ["x"] }),
    "models.predict": () => rf.models.predict("widgets/1", { url: "https://example.com/a.jpg" }),
    "workflows.run": () => rf.workflows.run("count", { image: { type: "url", value: "https://example.com/a.jpg" } }),
  };
  for (const call of Object.values(calls)) await call().catch(() => undefined);

  expect(names).toEqual(Object.keys(calls).map((name) => `roboflow ${name}`));
});
