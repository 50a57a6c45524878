/**
 * Batch extraction: a hundred documents with bounded concurrency, paced to stay inside the
 * submission tier's rate limit (read from the `x-ratelimit-*` headers of each answer), with one
 * typed outcome per document. Against the emulator the submission tier is shrunk to 25 per second
 * so the example runs in seconds; against the real API (60 per minute) the same code just waits longer.
 *
 *   npx tsx examples/batch-extract.ts
 */
import { Anyformat, FaultlineError, type RateLimit } from "faultline";
import { ANYFORMAT_EMULATOR_KEY, startEmulator } from "faultline/testing";

const DOCUMENTS = 100;
const CONCURRENCY = 8;

const real = process.env["ANYFORMAT_API_KEY"] !== undefined;
const emulator = real
  ? undefined
  : await startEmulator({ api: "anyformat", stepMs: 100, rateLimits: { submission: 25, windowMs: 1000 } });
const af = real ? new Anyformat() : new Anyformat({ apiKey: ANYFORMAT_EMULATOR_KEY, baseUrl: emulator?.url });

/** Holds submissions back once the server says the window is spent, until it resets. */
class SubmissionPacer {
  #resumeAt = 0;
  #queue: Promise<void> = Promise.resolve();

  /** Waits for a turn; turns are taken one at a time so the wait is shared, not stampeded. */
  turn(): Promise<void> {
    const next = this.#queue.then(async () => {
      const wait = this.#resumeAt - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    });
    this.#queue = next;
    return next;
  }

  observe(rateLimit: RateLimit | undefined): void {
    if (rateLimit?.remaining === 0 && rateLimit.resetMs !== undefined) {
      this.#resumeAt = Math.max(this.#resumeAt, Date.now() + rateLimit.resetMs);
    }
  }
}

type Outcome = { doc: number; ok: true; total: unknown } | { doc: number; ok: false; code: string; message: string };

async function main(): Promise<void> {
  const workflow = await af.workflows.create({
    name: "Batch invoices",
    fields: [{ name: "total", description: "The amount due", data_type: "float" }],
  });
  const pacer = new SubmissionPacer();
  let rateLimited = 0;

  async function extractOne(doc: number): Promise<Outcome> {
    try {
      await pacer.turn();
      const text = doc % 25 === 24 ? `document ${doc} will FAIL` : `invoice ${doc}\ntotal: ${doc * 10}.00\n`;
      const { data: run, rateLimit } = await af.workflows
        .run(workflow.id, { text }, { onRetry: () => void rateLimited++ })
        .withResponse();
      pacer.observe(rateLimit);
      const results = await af.results.waitFor(workflow.id, run.id, { pollInterval: 100 });
      const total = results.extraction?.["total"];
      return { doc, ok: true, total: Array.isArray(total) ? total : total?.value };
    } catch (err) {
      if (err instanceof FaultlineError) return { doc, ok: false, code: err.code, message: err.message };
      throw err;
    }
  }

  const started = Date.now();
  const outcomes: Outcome[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < DOCUMENTS) outcomes.push(await extractOne(next++));
    }),
  );
  outcomes.sort((a, b) => a.doc - b.doc);

  const failed = outcomes.filter((o) => !o.ok);
  console.log(`${DOCUMENTS} documents in ${((Date.now() - started) / 1000).toFixed(1)} s, concurrency ${CONCURRENCY}`);
  console.log(`succeeded: ${DOCUMENTS - failed.length}, failed: ${failed.length}, rate-limit retries: ${rateLimited}`);
  for (const o of failed) if (!o.ok) console.log(`  document ${o.doc}: ${o.code} ${o.message}`);
  if (outcomes.length !== DOCUMENTS) throw new Error("an outcome went missing");
  await af.workflows.delete(workflow.id);
}

try {
  await main();
} finally {
  await af.close();
  await emulator?.close();
}
