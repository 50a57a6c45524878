import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Anyformat } from "../../src/anyformat/client.js";
import type { BatchOutcome, BatchProgress } from "../../src/anyformat/batch/extract.js";
import type { BatchInput } from "../../src/anyformat/batch/inputs.js";
import { CLOCK_SKEW_MS, reconcile } from "../../src/anyformat/batch/reconcile.js";
import { openJournal } from "../../src/core/batch/journal.js";
import {
  AbortedError,
  AccessDeniedError,
  AuthFailedError,
  ExtractionFailedError,
  InvalidArgumentError,
  LockedError,
  NotFoundError,
  ValidationError,
} from "../../src/core/errors.js";
import type { AnyformatApp } from "../../src/testing/anyformat/app.js";
import type { Emulator } from "../../src/testing/server.js";
import { filenameIn, startProxy } from "../helpers/proxy.js";
import { KEY, closeAfterTest, setup } from "./support.js";

const FIELDS = [{ name: "total", description: "The amount due", data_type: "float" as const }];
const FAST = { pollInterval: 20, reconcileAfter: 20 };

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "faultline-batch-"));
  dirs.push(dir);
  return dir;
}

async function workflow(af: Anyformat): Promise<string> {
  return (await af.workflows.create({ name: "Batch", fields: FIELDS })).id;
}

async function all<I extends BatchInput>(iterable: AsyncIterable<BatchOutcome<I>>): Promise<BatchOutcome<I>[]> {
  const out: BatchOutcome<I>[] = [];
  for await (const outcome of iterable) out.push(outcome);
  return out;
}

const texts = (n: number, prefix = "doc"): Array<{ text: string; name: string }> =>
  Array.from({ length: n }, (_, i) => ({ text: `Invoice ${prefix}-${i}\ntotal: ${i}.5`, name: `${prefix}-${i}` }));

const totalOf = (outcome: BatchOutcome): unknown => (outcome.results?.extraction?.["total"] as { value?: unknown } | undefined)?.value;

/** How many collections hold each text: exactly one each means nothing was submitted twice. */
function submissionsByText(emu: Emulator<AnyformatApp>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const c of emu.app.collections.values()) {
    const text = c.files[0]?.text ?? "";
    counts.set(text, (counts.get(text) ?? 0) + 1);
  }
  return counts;
}

describe("af.batch.extract", () => {
  it("extracts paths, files given as bytes or paths, and named texts, each with its own results", async () => {
    const { af, emu } = await setup();
    const id = await workflow(af);
    const dir = await tempDir();
    await writeFile(join(dir, "a.txt"), "total: 1.25");
    await writeFile(join(dir, "b.txt"), "total: 2.5");
    const inputs: BatchInput[] = [
      join(dir, "a.txt"),
      { file: join(dir, "b.txt") },
      { file: Buffer.from("total: 3.75"), filename: "c.txt" },
      { file: new File(["total: 5"], "d.txt") },
      { text: "total: 4", name: "typed note" },
    ];
    const outcomes = await all(af.batch.extract(id, inputs, FAST));
    expect(outcomes.map((o) => o.status)).toEqual(["processed", "processed", "processed", "processed", "processed"]);
    const byInput = new Map(outcomes.map((o) => [o.input, totalOf(o)]));
    expect(inputs.map((i) => byInput.get(i))).toEqual([1.25, 2.5, 3.75, 5, 4]);
    // A text is sent as a text file, so that the server lists it by name and a resumed batch can find it.
    expect([...emu.app.collections.values()].map((c) => c.name).sort()).toEqual(["a.txt", "b.txt", "c.txt", "d.txt", "typed note.txt"]);
  });

  it("under 429s, 500s, resets and slow headers, ends every document once, each submitted once, results its own", async () => {
    const { af, emu } = await setup(
      { maxRetries: 3, timeout: 1_000, maxRetryAfter: 2_000 },
      {
        seed: 5,
        slowHeadersMs: 1_500,
        faults: { rateLimit: 0.06, serverError: 0.06, reset: 0.06, slowHeaders: 0.03 },
        rateLimits: { submission: 15, windowMs: 1_000 },
      },
    );
    const id = await workflow(af);
    const inputs = texts(40).map((doc, i) => (i % 13 === 5 ? { ...doc, text: `${doc.text}\nthis one will FAIL` } : doc));
    const outcomes = await all(af.batch.extract(id, inputs, { ...FAST, concurrency: 8 }));

    expect(outcomes).toHaveLength(40);
    expect(new Set(outcomes.map((o) => o.input)).size).toBe(40);
    for (const outcome of outcomes) {
      if (outcome.input.text.includes("FAIL")) {
        expect(outcome.error).toBeInstanceOf(ExtractionFailedError);
      } else {
        expect(outcome.status, outcome.error?.message).toBe("processed");
        expect(totalOf(outcome)).toBe(Number(/total: (.*)/.exec(outcome.input.text)?.[1]));
      }
    }
    const counts = submissionsByText(emu);
    expect(counts.size).toBe(40);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    // The faults were met, not dodged.
    const faults = new Set(emu.requests.map((r) => r.fault).filter((f) => f !== undefined));
    expect(faults).toEqual(new Set(["rateLimit", "serverError", "reset", "slowHeaders"]));
  }, 60_000);

  it("takes a submission whose answer was cut off from the server's collections instead of sending it again", async () => {
    const { af, emu } = await setup();
    const id = await workflow(af);
    // The app makes the collection, then the connection is reset before the answer.
    emu.inject("reset", { method: "POST", path: `/v2/workflows/${id}/run/`, count: 2 });
    const outcomes = await all(af.batch.extract(id, texts(4), FAST));
    expect(outcomes.every((o) => o.status === "processed")).toBe(true);
    const runs = emu.requests.filter((r) => r.method === "POST" && r.path.endsWith("/run/"));
    expect(runs).toHaveLength(4);
    expect(emu.app.collections.size).toBe(4);
    expect(emu.requests.some((r) => r.method === "GET" && r.path === `/v2/workflows/${id}/files/`)).toBe(true);
  });

  it("reports a document refused for itself (a 400, a file too big) and goes on with the others", async () => {
    const { af, emu } = await setup();
    const id = await workflow(af);
    const proxy = await startProxy(emu.url, (req) =>
      req.method === "POST" && filenameIn(req.body) === "bad.txt"
        ? { status: 400, json: { error: "Validation failed", detail: [{ type: "value_error", loc: ["body", "file"], msg: "Unsupported file" }], error_code: "VALIDATION_ERROR", retryable: false } }
        : "forward",
    );
    closeAfterTest(() => proxy.close());
    const viaProxy = new Anyformat({ apiKey: KEY, baseUrl: proxy.url });
    closeAfterTest(() => viaProxy.close());
    const inputs: BatchInput[] = [
      { text: "total: 1", name: "good-1" },
      { text: "total: 2", name: "bad.txt" },
      { file: new Uint8Array(20 * 1024 * 1024 + 1), filename: "huge.pdf" },
      { text: "total: 3", name: "good-2" },
    ];
    const outcomes = await all(viaProxy.batch.extract(id, inputs, FAST));
    const byName = Object.fromEntries(outcomes.map((o) => [typeof o.input === "string" ? o.input : (o.input.filename ?? o.input.name), o]));
    expect(byName["good-1"]?.status).toBe("processed");
    expect(byName["good-2"]?.status).toBe("processed");
    expect(byName["bad.txt"]?.error).toBeInstanceOf(ValidationError);
    expect(byName["huge.pdf"]?.error).toBeInstanceOf(InvalidArgumentError);
    expect(emu.app.collections.size).toBe(2);
  });

  it.each([
    ["a rejected key (401)", 401, "AUTH_FAILED", AuthFailedError],
    ["a key without access (403)", 403, "ACCESS_DENIED", AccessDeniedError],
    ["a locked account (423)", 423, "LOCKED", LockedError],
  ] as const)("stops the whole batch at once on %s, throwing that error", async (_name, status, code, Class) => {
    const { af, emu } = await setup();
    const id = await workflow(af);
    let runs = 0;
    const proxy = await startProxy(emu.url, (req) => {
      if (req.method !== "POST") return "forward";
      runs += 1;
      return runs === 4 ? { status, json: { error: "No", detail: "No.", error_code: code, retryable: false } } : "forward";
    });
    closeAfterTest(() => proxy.close());
    const viaProxy = new Anyformat({ apiKey: KEY, baseUrl: proxy.url });
    closeAfterTest(() => viaProxy.close());
    const seen: BatchOutcome[] = [];
    const error = await (async () => {
      for await (const o of viaProxy.batch.extract(id, texts(20), { ...FAST, concurrency: 1 })) seen.push(o);
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Class);
    expect(seen).toHaveLength(3);
    expect(runs).toBe(4);
  });

  it("throws NotFoundError before submitting anything when the workflow does not exist", async () => {
    const { af, emu } = await setup();
    await expect(all(af.batch.extract("00000000-0000-4000-8000-000000000000", texts(3), FAST))).rejects.toBeInstanceOf(NotFoundError);
    expect(emu.requests.filter((r) => r.method === "POST")).toHaveLength(0);
  });

  it("tells progress: counts, the total, the time submissions waited for rate-limit slots, and the tier's headers", async () => {
    // One submission per 300 ms: the governor holds the second and third for their turn.
    const { af } = await setup({}, { rateLimits: { submission: 1, general: 1_000, windowMs: 300 } });
    const id = await workflow(af);
    const seen: BatchProgress[] = [];
    await all(af.batch.extract(id, texts(3), { ...FAST, concurrency: 3, onProgress: (p) => seen.push(p) }));
    expect(seen.at(-1)).toMatchObject({ submitted: 3, done: 3, failed: 0, total: 3 });
    expect(Math.max(...seen.map((p) => p.queuedMs))).toBeGreaterThanOrEqual(200);
    expect(seen.at(-1)?.rateLimit).toMatchObject({ limit: 1 });
  });

  describe("with a journal", () => {
    it("stopped by its signal and resumed, submits every document exactly once and loses no results", async () => {
      const { af, emu } = await setup();
      const id = await workflow(af);
      const journal = join(await tempDir(), "batch.journal");
      const inputs = texts(24);
      const controller = new AbortController();
      const first: BatchOutcome[] = [];
      const error = await (async () => {
        for await (const o of af.batch.extract(id, inputs, { ...FAST, journal, concurrency: 6, signal: controller.signal })) {
          first.push(o);
          if (first.length === 8) controller.abort();
        }
      })().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AbortedError);
      const second = await all(af.batch.extract(id, inputs, { ...FAST, journal, concurrency: 6 }));
      const names = [...first, ...second].map((o) => (o.input as { name: string }).name).sort();
      expect(names).toEqual(inputs.map((d) => d.name).sort());
      expect([...first, ...second].every((o) => o.status === "processed" && totalOf(o) === Number(/total: (.*)/.exec((o.input as { text: string }).text)?.[1]))).toBe(true);
      expect([...submissionsByText(emu).values()]).toEqual(Array(24).fill(1));
    });

    it("resumed, skips what was delivered, waits for what was submitted, and finds a lost submission before sending anything", async () => {
      const { af, emu } = await setup();
      const id = await workflow(af);
      const journal = join(await tempDir(), "batch.journal");
      const [delivered, submitted, lost, neverSent] = texts(4);
      const run = async (doc: { text: string; name: string }): Promise<string> =>
        (await af.workflows.run(id, { file: Buffer.from(doc.text), filename: `${doc.name}.txt` })).id;
      const at = Date.now();
      const refs = { delivered: await run(delivered!), submitted: await run(submitted!), lost: await run(lost!) };
      const j = await openJournal(journal, { kind: "anyformat.extract", target: id });
      await j.record({ event: "intent", key: `text:${delivered!.name}`, label: `${delivered!.name}.txt`, at });
      await j.record({ event: "submitted", key: `text:${delivered!.name}`, ref: refs.delivered });
      await j.record({ event: "done", key: `text:${delivered!.name}` });
      await j.record({ event: "delivered", key: `text:${delivered!.name}` });
      await j.record({ event: "intent", key: `text:${submitted!.name}`, label: `${submitted!.name}.txt`, at });
      await j.record({ event: "submitted", key: `text:${submitted!.name}`, ref: refs.submitted });
      await j.record({ event: "intent", key: `text:${lost!.name}`, label: `${lost!.name}.txt`, at });
      await j.record({ event: "intent", key: `text:${neverSent!.name}`, label: `${neverSent!.name}.txt`, at });
      await j.close();
      const before = emu.requests.length;

      const outcomes = await all(af.batch.extract(id, [delivered!, submitted!, lost!, neverSent!], { ...FAST, journal }));
      expect(outcomes.map((o) => o.input.name).sort()).toEqual([lost!.name, neverSent!.name, submitted!.name].sort());
      expect(outcomes.every((o) => o.status === "processed")).toBe(true);
      const after = emu.requests.slice(before);
      expect(after.filter((r) => r.method === "POST").map((r) => r.path)).toEqual([`/v2/workflows/${id}/run/`]);
      expect(after.some((r) => r.path.includes(refs.delivered))).toBe(false);
      expect([...submissionsByText(emu).values()]).toEqual([1, 1, 1, 1]);
      // The listing came before the one submission.
      const listing = after.findIndex((r) => r.path === `/v2/workflows/${id}/files/`);
      const submission = after.findIndex((r) => r.method === "POST");
      expect(listing).toBeGreaterThanOrEqual(0);
      expect(listing).toBeLessThan(submission);
    });

    it("resumed with another workflow's journal, refuses it before sending anything", async () => {
      const { af, emu } = await setup();
      const [one, two] = [await workflow(af), await workflow(af)];
      const journal = join(await tempDir(), "batch.journal");
      await all(af.batch.extract(one, texts(1), { ...FAST, journal }));
      const posts = emu.requests.filter((r) => r.method === "POST").length;
      await expect(all(af.batch.extract(two, texts(1), { ...FAST, journal }))).rejects.toThrow(/belongs to another batch/);
      expect(emu.requests.filter((r) => r.method === "POST")).toHaveLength(posts);
    });
  });

  describe("documents that share a name", () => {
    it("are each submitted once and get their own results", async () => {
      const { af, emu } = await setup();
      const id = await workflow(af);
      const dir = await tempDir();
      const paths: string[] = [];
      for (let i = 0; i < 6; i++) {
        await mkdir(join(dir, `folder-${i}`));
        const path = join(dir, `folder-${i}`, "invoice.txt");
        await writeFile(path, `total: ${i}`);
        paths.push(path);
      }
      // Every other answer cut off: each lost one must be told apart from its namesakes.
      emu.inject("reset", { method: "POST", path: `/v2/workflows/${id}/run/`, count: 3 });
      const outcomes = await all(af.batch.extract(id, paths, { ...FAST, concurrency: 6 }));
      expect(outcomes.map((o) => [o.input, totalOf(o)]).sort()).toEqual(paths.map((p, i) => [p, i]).sort());
      expect([...submissionsByText(emu).values()]).toEqual(Array(6).fill(1));
    });

    it("reconciliation takes the namesake made after the intent, never one another document owns nor one older than the clock skew", async () => {
      const { af } = await setup();
      const id = await workflow(af);
      const earlier = (await af.workflows.run(id, { file: Buffer.from("total: 1"), filename: "invoice.txt" })).id;
      await new Promise((resolve) => setTimeout(resolve, 5));
      const at = Date.now();
      const owned = (await af.workflows.run(id, { file: Buffer.from("total: 2"), filename: "invoice.txt" })).id;
      const ours = (await af.workflows.run(id, { file: Buffer.from("total: 3"), filename: "invoice.txt" })).id;
      const signal = new AbortController().signal;
      const lookup = (intentAt: number, claimed: string[]): Promise<Map<string, string>> =>
        reconcile(af, id, [{ key: "k", label: "invoice.txt", at: intentAt }], new Set(claimed), signal);

      expect((await lookup(at, [owned])).get("k")).toBe(ours);
      // Nothing made after the intent: one made shortly before it (the server's clock a little behind) is taken.
      expect((await lookup(Date.now() + 1_000, [owned, ours])).get("k")).toBe(earlier);
      // Made longer before the intent than any clock skew: an earlier batch's, never taken.
      expect((await lookup(Date.now() + CLOCK_SKEW_MS + 1_000, [])).size).toBe(0);
      expect((await lookup(at, [earlier, owned, ours])).size).toBe(0);
    });
  });

  it("refuses a document given twice and a nameless one, and submits the others", async () => {
    const { af, emu } = await setup();
    const id = await workflow(af);
    const outcomes = await all(
      af.batch.extract(id, [{ text: "total: 1", name: "a" }, { text: "total: 1", name: "a" }, { file: Buffer.from("x") }, 42 as unknown as BatchInput], FAST),
    );
    expect(outcomes.filter((o) => o.status === "processed")).toHaveLength(1);
    const failures = outcomes.filter((o) => o.status === "failed");
    expect(failures).toHaveLength(3);
    for (const f of failures) expect(f.error).toBeInstanceOf(InvalidArgumentError);
    expect(emu.app.collections.size).toBe(1);
  });
});

describe("a batch larger than its tier's window", () => {
  it("waits its turn for submission slots, however long the queue, and fails no document for it", async () => {
    // 2 submissions per 500 ms and a maxRetryAfter of 200 ms: the last of 24 documents is refused a slot a
    // dozen times before it is sent, more than the rounds passing trouble gets; the batch waits its turn
    // rather than counting that against the document.
    const { af } = await setup({ maxRetryAfter: 200 }, { rateLimits: { submission: 2, general: 1_000, windowMs: 500 } });
    const id = await workflow(af);
    const outcomes = await all(af.batch.extract(id, texts(24), { ...FAST, concurrency: 24 }));
    expect(outcomes.map((o) => o.status)).toEqual(Array(24).fill("processed"));
  }, 30_000);
});
