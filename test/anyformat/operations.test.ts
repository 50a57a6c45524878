/** Every anyformat call is named for the resource method that made it: the name its spans and logs carry. */
import { tracingChannel } from "node:diagnostics_channel";
import { afterEach, beforeEach, expect, it } from "vitest";
import { TRACING_CHANNELS, type CallMessage } from "../../src/core/tracing/channels.js";
import { invoiceWorkflow, setup } from "./support.js";

const names: string[] = [];
const channel = tracingChannel<unknown, CallMessage>(TRACING_CHANNELS.call);
const handlers = {
  start: (call: CallMessage) => void names.push(`${call.api} ${call.operation}`),
  end: () => undefined,
  asyncStart: () => undefined,
  asyncEnd: () => undefined,
  error: () => undefined,
};
beforeEach(() => channel.subscribe(handlers));
afterEach(() => {
  channel.unsubscribe(handlers);
  names.length = 0;
});

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
