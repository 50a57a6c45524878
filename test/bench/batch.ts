/**
 * `npm run bench:batch`: `af.batch.extract` over 500 documents against the emulator with a scaled
 * submission tier (20 per 2 s, i.e. 600 a minute), journalled to a file. Reports the submissions per
 * minute achieved against the tier, the 429s met, and what the journal costs per document, measured on
 * its own (the same records, written the same way) beside `node:sqlite` doing the same job.
 * Figures are printed, never asserted: a missed target says so and the process still exits 0.
 */
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Anyformat } from "../../src/index.js";
import { openJournal } from "../../src/core/batch/journal.js";
import { ANYFORMAT_EMULATOR_KEY, startEmulator } from "../../src/testing/index.js";

const DOCUMENTS = Number(process.env["FAULTLINE_BENCH_DOCUMENTS"] ?? 500);
const TIER = { submission: 20, windowMs: 2_000 };
const TIER_PER_MINUTE = (TIER.submission * 60_000) / TIER.windowMs;
const CONCURRENCY = 16;

const dir = await mkdtemp(join(tmpdir(), "faultline-bench-batch-"));
try {
  console.log(`faultline bench:batch: node ${process.version}, ${DOCUMENTS} documents, tier ${TIER.submission} submissions / ${TIER.windowMs / 1000} s (${TIER_PER_MINUTE}/min)\n`);
  await pacing();
  await journalCost();
} finally {
  await rm(dir, { recursive: true, force: true });
}

async function pacing(): Promise<void> {
  const emu = await startEmulator({
    api: "anyformat",
    stepMs: 100,
    seed: 3,
    rateLimits: { submission: TIER.submission, general: 100_000, windowMs: TIER.windowMs },
  });
  const af = new Anyformat({ apiKey: ANYFORMAT_EMULATOR_KEY, baseUrl: emu.url });
  try {
    const workflow = await af.workflows.create({ name: "Bench", fields: [{ name: "total", description: "Total", data_type: "float" }] });
    const inputs = Array.from({ length: DOCUMENTS }, (_, i) => ({ text: `Invoice ${i}\ntotal: ${i}`, name: `invoice-${i}` }));
    const journal = join(dir, "pacing.journal");
    const sentAt: number[] = [];
    let sent = 0;
    let processed = 0;
    const started = performance.now();
    for await (const outcome of af.batch.extract(workflow.id, inputs, {
      journal,
      concurrency: CONCURRENCY,
      pollInterval: 200,
      onProgress: (p) => {
        for (; sent < p.sent; sent++) sentAt.push(performance.now());
      },
    })) {
      if (outcome.status === "processed") processed += 1;
    }
    const elapsed = performance.now() - started;
    const first = sentAt[0] ?? 0;
    const last = sentAt.at(-1) ?? 0;
    const perMinute = ((sentAt.length - 1) * 60_000) / (last - first);
    const runs = emu.requests.filter((r) => r.method === "POST" && r.path.endsWith("/run/"));
    const limited = runs.filter((r) => r.status === 429).length;
    const share = perMinute / TIER_PER_MINUTE;
    console.log(`pacing (concurrency ${CONCURRENCY}, submissions paced by the rate-limit governor, on by default)`);
    console.log(`  ${processed}/${DOCUMENTS} processed in ${(elapsed / 1000).toFixed(1)} s; ${sentAt.length} submissions, first to last in ${((last - first) / 1000).toFixed(1)} s`);
    console.log(`  submissions per minute: ${perMinute.toFixed(0)} against a tier of ${TIER_PER_MINUTE} = ${(share * 100).toFixed(1)} % (target >= 95 %)  ${share >= 0.95 ? "met" : "target missed"}`);
    console.log(`  429s met: ${limited} of ${runs.length} submission requests (${((limited / runs.length) * 100).toFixed(1)} %): every one a request the server refused and the client slept on`);
    console.log(`  journal: ${(await stat(journal)).size} bytes, ${((await stat(journal)).size / DOCUMENTS).toFixed(0)} bytes per document\n`);
  } finally {
    await af.close();
    await emu.close();
  }
}

/**
 * The journal alone: the four records a document gets (intent, submitted, done, delivered), written as the
 * runner writes them, one document at a time (every record waits for its own flush) and 16 at a time
 * (records made together share a flush). The same records through `node:sqlite` (WAL, synchronous=FULL,
 * one upsert per change), for the choice the journal made.
 */
async function journalCost(): Promise<void> {
  const identity = { kind: "bench", target: "journal" };
  const recordsOf = (i: number) => {
    const key = `/data/invoices/2026/invoice-${String(i).padStart(5, "0")}.pdf`;
    return [
      { event: "intent", key, label: `invoice-${String(i).padStart(5, "0")}.pdf`, at: Date.now() },
      { event: "submitted", key, ref: "1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed" },
      { event: "done", key },
      { event: "delivered", key },
    ] as const;
  };

  let run = 0;
  const jsonl = async (inFlight: number): Promise<number> => {
    const path = join(dir, `cost-${inFlight}-${run++}.journal`);
    const journal = await openJournal(path, identity);
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < DOCUMENTS) {
          for (const record of recordsOf(next++)) await journal.record(record);
        }
      }),
    );
    const ms = (performance.now() - started) / DOCUMENTS;
    await journal.close();
    return ms;
  };

  const sqlite = async (): Promise<number | undefined> => {
    // node:sqlite announces itself with an ExperimentalWarning on stderr: the reason it is not used.
    const warnings = process.listeners("warning");
    process.removeAllListeners("warning");
    try {
      const { DatabaseSync } = await import("node:sqlite");
      const db = new DatabaseSync(join(dir, `cost-${run++}.db`));
      db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE docs(key TEXT PRIMARY KEY, state TEXT, label TEXT, ref TEXT, at INTEGER)");
      const upsert = db.prepare(
        "INSERT INTO docs(key, state, label, ref, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET state = excluded.state, ref = coalesce(excluded.ref, ref)",
      );
      const started = performance.now();
      for (let i = 0; i < DOCUMENTS; i++) {
        for (const r of recordsOf(i)) upsert.run(r.key, r.event, "label" in r ? r.label : null, "ref" in r ? r.ref : null, Date.now());
      }
      const ms = (performance.now() - started) / DOCUMENTS;
      db.close();
      // The warning is emitted on a later tick: keep it unheard until it has been.
      await new Promise((resolve) => setImmediate(resolve));
      return ms;
    } catch {
      return undefined;
    } finally {
      for (const listener of warnings) process.on("warning", listener);
    }
  };

  // The disk is shared and noisy: three rounds in turn, medians reported.
  const samples = { one: [] as number[], many: [] as number[], lite: [] as number[] };
  for (let round = 0; round < 3; round++) {
    samples.one.push(await jsonl(1));
    samples.many.push(await jsonl(CONCURRENCY));
    const lite = await sqlite();
    if (lite !== undefined) samples.lite.push(lite);
  }
  const median = (values: number[]): number | undefined => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const one = median(samples.one) ?? 0;
  const many = median(samples.many) ?? 0;
  const lite = median(samples.lite);
  const bytes = (await stat(join(dir, "cost-1-0.journal"))).size / DOCUMENTS;
  console.log("journal overhead per document (4 records: intent, submitted, done, delivered; each flushed to disk before it is acted on; medians of 3)");
  console.log(`  JSONL + fdatasync, one document at a time     ${one.toFixed(2).padStart(6)} ms/document`);
  console.log(`  JSONL + fdatasync, ${CONCURRENCY} in flight (group commit) ${many.toFixed(2).padStart(6)} ms/document`);
  console.log(`  node:sqlite WAL synchronous=FULL, sequential  ${lite === undefined ? "  n/a" : lite.toFixed(2).padStart(6)} ms/document (for comparison)`);
  console.log(`  ${bytes.toFixed(0)} bytes per document on disk`);
  console.log(
    `  against the tier's ${(60_000 / TIER_PER_MINUTE).toFixed(0)} ms per submission here (1000 ms at anyformat's 60/min): ` +
      `${((one / (60_000 / TIER_PER_MINUTE)) * 100).toFixed(2)} % here, ${((one / 1_000) * 100).toFixed(2)} % at the real tier, one at a time`,
  );
}
