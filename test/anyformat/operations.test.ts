/** Every anyformat call is named for the resource method that made it: the name its spans and logs carry. */
import { expect, it } from "vitest";
import { recordCallNames } from "../helpers/operations.js";
import { invoiceWorkflow, setup } from "./support.js";

const names = recordCallNames();

it("names each call by its resource method", async () => {
  const { af } = await setup();
  const wf = await invoiceWorkflow(af);
  const run = await af.workflows.run(wf.id, { text: "Invoice 42" });
  const file = { file: Buffer.from("%PDF-1.4 invoice"), filename: "a.pdf" };
  await Promise.allSettled([
    af.health(),
    af.workflows.list(),
    af.workflows.get(wf.id),
    af.workflows.upload(wf.id, { text: "Invoice 43" }),
    af.workflows.runs(wf.id),
    af.files.create(wf.id, [file]),
    af.files.list(wf.id),
    af.files.run(wf.id, "file_missing"),
    af.results.get(wf.id, run.id),
    af.webhooks.create({ url: "https://example.com/hook" }),
    af.webhooks.list(),
    af.webhooks.delete("wh_missing"),
    af.files.delete("collection_missing"),
  ]);
  await af.workflows.delete(wf.id);

  expect(names.sort()).toEqual(
    [
      "workflows.create",
      "workflows.run",
      "health",
      "workflows.list",
      "workflows.get",
      "workflows.upload",
      "workflows.runs",
      "files.create",
      "files.list",
      "files.run",
      "results.get",
      "webhooks.create",
      "webhooks.list",
      "webhooks.delete",
      "files.delete",
      "workflows.delete",
    ]
      .map((name) => `anyformat ${name}`)
      .sort(),
  );
});
