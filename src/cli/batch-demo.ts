/**
 * The demo's batch chapter: a dozen documents through a tight submission tier with a few faults,
 * interrupted part-way (as Ctrl-C would) and resumed from the journal, ending with each document
 * submitted exactly once. Runs against an emulator it is given; start it with a tight tier, e.g.
 * `startEmulator({ api: "anyformat", stepMs: 150, rateLimits: { submission: 4, windowMs: 1000 }, faultRetryAfterSeconds: 0.3 })`.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Anyformat } from "../anyformat/client.js";
import type { BatchOutcome } from "../anyformat/batch/extract.js";
import { AbortedError } from "../core/errors.js";
import { ANYFORMAT_EMULATOR_KEY, type AnyformatApp } from "../testing/anyformat/app.js";
import type { Emulator } from "../testing/server.js";

const DOCUMENTS = 12;

/**
 * Tells the chapter through `say`, a line at a time.
 *
 * @example
 * ```ts
 * const emu = await startEmulator({ api: "anyformat", stepMs: 150, rateLimits: { submission: 4, windowMs: 1000 } });
 * await runBatchChapter(emu, (line = "") => console.log(line));
 * ```
 */
export async function runBatchChapter(emu: Emulator<AnyformatApp>, say: (line?: string) => void): Promise<void> {
  // On the embedded emulator, on loopback: no proxy in the environment can reach it.
  const af = new Anyformat({ apiKey: ANYFORMAT_EMULATOR_KEY, baseUrl: emu.url, proxy: false });
  const dir = await mkdtemp(join(tmpdir(), "faultline-demo-batch-"));
  const journal = join(dir, "invoices.journal");
  const workflow = await af.workflows.create({
    name: "Invoices (batch demo)",
    fields: [{ name: "total", description: "Amount due", data_type: "float" }],
  });
  const documents = Array.from({ length: DOCUMENTS }, (_, i) => ({
    name: `invoice-${String(i + 1).padStart(2, "0")}`,
    text: `Invoice ${i + 1}\ntotal: ${(i + 1) * 100}.00${i === 8 ? "\n(a scan the service will FAIL on)" : ""}`,
  }));
  const show = (o: BatchOutcome<(typeof documents)[number]>): string =>
    o.status === "processed"
      ? `✓ ${o.input.name}: total ${JSON.stringify((o.results.extraction?.["total"] as { value?: unknown } | undefined)?.value)}`
      : `✗ ${o.input.name}: ${o.error.code}`;
  const options = { journal, concurrency: 4, pollInterval: 150, reconcileAfter: 200 };
  try {
    say(`${DOCUMENTS} invoices through a tight submission tier, with a 429, a 500 and an answer cut off on the way`);
    emu.inject("rateLimit", { method: "POST", path: /\/run\/$/ });
    emu.inject("serverError", { method: "POST", path: /\/run\/$/ });
    emu.inject("reset", { method: "POST", path: /\/run\/$/ });

    const stop = new AbortController();
    let first = 0;
    try {
      for await (const outcome of af.batch.extract(workflow.id, documents, { ...options, signal: stop.signal })) {
        say(show(outcome));
        if (++first === 5) stop.abort();
      }
    } catch (error) {
      if (!(error instanceof AbortedError)) throw error;
    }
    say(`■ interrupted after ${first} (as Ctrl-C would): what was in flight stays in the journal`);

    let second = 0;
    for await (const outcome of af.batch.extract(workflow.id, documents, options)) {
      second += 1;
      say(show(outcome));
    }
    const submitted = [...emu.app.collections.values()].filter((c) => c.workflowId === workflow.id).length;
    say(`▶ resumed from the journal: ${second} more, none of the first ${first} again`);
    say(`the emulator holds ${submitted} submissions for ${DOCUMENTS} documents: nothing was submitted twice`);
  } finally {
    await af.workflows.delete(workflow.id).catch(() => undefined);
    await af.close();
    await rm(dir, { recursive: true, force: true });
  }
}
