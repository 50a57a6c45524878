import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openJournal } from "../../../src/core/batch/journal.js";
import { runBatch, type BatchProgress, type BatchResult, type BatchTask, type CollectHistory, type InFlight, type Verdict } from "../../../src/core/batch/runner.js";
import {
  AbortedError,
  ConnectionError,
  InvalidArgumentError,
  RateLimitedError,
  codeFor,
  createApiError,
  type FaultlineError,
} from "../../../src/core/errors.js";
import { sleep } from "../../../src/core/retry.js";

/**
 * The runner against a server made of a Map: each test says how its submissions and waits behave, and
 * the server counts what it was asked, so "nothing twice" is read off its state.
 */

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempJournal(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "faultline-runner-"));
  dirs.push(dir);
  return join(dir, "batch.journal");
}

interface Doc {
  readonly name: string;
  readonly label?: string;
  /** Ms the submission takes. */
  readonly submitMs?: number;
  /** Ms until its result is ready, from submission. */
  readonly workMs?: number;
}

class FakeServer {
  /** Collections by ref: what was submitted, and when. */
  readonly made = new Map<string, { readonly key: string; readonly label: string; readonly at: number }>();
  readonly submissions: string[] = [];
  readonly collects: string[] = [];
  readonly reconciles: InFlight[][] = [];
  inFlight = 0;
  maxInFlight = 0;
  labelsInFlight = new Map<string, number>();
  maxSameLabel = 0;
  /** Called on each submission before it is carried out: throw to fail it. */
  beforeSubmit: (doc: Doc, attempt: number) => void = () => undefined;
  /** Called after it was carried out, before the answer: throw to lose the answer. */
  afterSubmit: (doc: Doc, attempt: number) => void = () => undefined;
  beforeCollect: (doc: Doc) => void = () => undefined;
  #next = 0;

  task(): BatchTask<Doc, string> {
    return {
      identity: { kind: "test.fake", target: "server" },
      describe: (doc) => {
        if (doc.name === "") throw new InvalidArgumentError("nameless");
        return { key: doc.name, label: doc.label ?? doc.name };
      },
      submit: async (doc, item, signal) => {
        this.inFlight += 1;
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
        const same = (this.labelsInFlight.get(item.label) ?? 0) + 1;
        this.labelsInFlight.set(item.label, same);
        this.maxSameLabel = Math.max(this.maxSameLabel, same);
        try {
          const attempt = this.submissions.filter((s) => s === item.key).length + 1;
          this.submissions.push(item.key);
          this.beforeSubmit(doc, attempt);
          await sleep(doc.submitMs ?? 1, signal);
          const ref = `ref-${++this.#next}`;
          this.made.set(ref, { key: item.key, label: item.label, at: Date.now() });
          this.afterSubmit(doc, attempt);
          return { ref, queuedMs: 7 };
        } finally {
          this.labelsInFlight.set(item.label, (this.labelsInFlight.get(item.label) ?? 1) - 1);
        }
      },
      collect: async (doc, ref, signal) => {
        try {
          this.collects.push(doc.name);
          this.beforeCollect(doc);
          const made = this.made.get(ref);
          if (made === undefined) throw new InvalidArgumentError(`no ${ref}`);
          const left = made.at + (doc.workMs ?? 1) - Date.now();
          if (left > 0) await sleep(left, signal);
          return `result of ${made.key}`;
        } finally {
          this.inFlight -= 1;
        }
      },
      reconcile: async (items, claimed) => {
        this.reconciles.push([...items]);
        const found = new Map<string, string>();
        for (const item of items) {
          const match = [...this.made].find(([ref, c]) => c.label === item.label && c.at >= item.at && !claimed.has(ref));
          if (match !== undefined) found.set(item.key, match[0]);
        }
        return found;
      },
      judge: (error): Verdict => {
        if (error.code === "AUTH_FAILED") return "fatal";
        if (error instanceof ConnectionError) return "uncertain";
        return error.retryable ? "again" : "failed";
      },
    };
  }

  /** How many collections each key has on the server. */
  countByKey(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const c of this.made.values()) counts[c.key] = (counts[c.key] ?? 0) + 1;
    return counts;
  }
}

const docs = (n: number, extra: Partial<Doc> = {}): Doc[] => Array.from({ length: n }, (_, i) => ({ name: `d${i}`, ...extra }));

async function collect<I, T>(iterable: AsyncIterable<BatchResult<I, T>>): Promise<BatchResult<I, T>[]> {
  const out: BatchResult<I, T>[] = [];
  for await (const result of iterable) out.push(result);
  return out;
}

const lost = (): ConnectionError => new ConnectionError("socket hang up after the request was sent");
const apiError = (status: number, code: string, retryable: boolean): FaultlineError =>
  createApiError({ status, code: codeFor(status, code), message: code, retryable, headers: {}, body: undefined });

describe("runBatch", () => {
  it("yields one result per input, in the order they end, not the order given", async () => {
    const server = new FakeServer();
    const inputs: Doc[] = [{ name: "slow", workMs: 150 }, { name: "quick", workMs: 1 }, { name: "middle", workMs: 60 }];
    const results = await collect(runBatch(server.task(), inputs, { concurrency: 3 }));
    expect(results.map((r) => r.input.name)).toEqual(["quick", "middle", "slow"]);
    expect(results.every((r) => r.status === "processed")).toBe(true);
    expect(results.map((r) => (r.status === "processed" ? r.value : ""))).toEqual(["result of quick", "result of middle", "result of slow"]);
  });

  it("keeps at most `concurrency` documents in flight, submission to result", async () => {
    const server = new FakeServer();
    const results = await collect(runBatch(server.task(), docs(30, { workMs: 15 }), { concurrency: 4 }));
    expect(results).toHaveLength(30);
    expect(server.maxInFlight).toBe(4);
  });

  it("never has two submissions of one label in flight: documents the server would name alike go one after another", async () => {
    const server = new FakeServer();
    const inputs = Array.from({ length: 12 }, (_, i) => ({ name: `dir${i}/invoice.pdf`, label: "invoice.pdf", submitMs: 10 }));
    const results = await collect(runBatch(server.task(), inputs, { concurrency: 6 }));
    expect(results.filter((r) => r.status === "processed")).toHaveLength(12);
    expect(server.maxSameLabel).toBe(1);
  });

  it("reports a document that fails for itself and goes on with the others", async () => {
    const server = new FakeServer();
    server.beforeSubmit = (doc) => {
      if (doc.name === "d3") throw apiError(400, "VALIDATION_ERROR", false);
    };
    const results = await collect(runBatch(server.task(), docs(8), { concurrency: 2 }));
    const failed = results.filter((r) => r.status === "failed");
    expect(failed.map((r) => r.input.name)).toEqual(["d3"]);
    expect(results.filter((r) => r.status === "processed")).toHaveLength(7);
    expect(server.submissions.filter((k) => k === "d3")).toHaveLength(1);
  });

  it("tries passing trouble again, a few rounds at most, then reports the document failed", async () => {
    const server = new FakeServer();
    server.beforeSubmit = (doc, attempt) => {
      if (doc.name === "flaky" && attempt < 3) throw new RateLimitedError({ status: 429, code: "RATE_LIMITED", message: "slow down", retryable: true, retryAfterMs: 5, headers: {}, body: undefined });
      if (doc.name === "down") throw apiError(503, "INTERNAL_ERROR", true);
    };
    const results = await collect(runBatch(server.task(), [{ name: "flaky" }, { name: "down" }], { maxRounds: 3 }));
    expect(results.find((r) => r.input.name === "flaky")?.status).toBe("processed");
    const down = results.find((r) => r.input.name === "down");
    expect(down?.status).toBe("failed");
    expect(server.submissions.filter((k) => k === "down")).toHaveLength(3);
  });

  it("stops the whole batch at once on an error every document would meet, throwing it", async () => {
    const server = new FakeServer();
    const refused = apiError(401, "AUTH_FAILED", false);
    server.beforeSubmit = (doc) => {
      if (doc.name === "d5") throw refused;
    };
    const seen: string[] = [];
    const error = await (async () => {
      for await (const result of runBatch(server.task(), docs(40, { submitMs: 5, workMs: 5 }), { concurrency: 1 })) seen.push(result.input.name);
    })().catch((e: unknown) => e);
    expect(error).toBe(refused);
    expect(seen).toEqual(["d0", "d1", "d2", "d3", "d4"]);
    expect(server.submissions).toHaveLength(6);
  });

  it("reports an input that names a document already given, and never submits it twice", async () => {
    const server = new FakeServer();
    const results = await collect(runBatch(server.task(), [{ name: "a" }, { name: "b" }, { name: "a" }, { name: "" }]));
    const failures = results.filter((r) => r.status === "failed");
    expect(failures).toHaveLength(2);
    for (const f of failures) expect(f.status === "failed" && f.error).toBeInstanceOf(InvalidArgumentError);
    expect(server.countByKey()).toEqual({ a: 1, b: 1 });
  });

  it("looks for a submission whose answer was lost before sending it again, and takes it when the server has it", async () => {
    const server = new FakeServer();
    server.afterSubmit = (doc, attempt) => {
      if (doc.name === "d2" && attempt === 1) throw lost();
    };
    server.beforeSubmit = (doc, attempt) => {
      // Lost before it reached the server: not found, so sent again.
      if (doc.name === "d4" && attempt === 1) throw lost();
    };
    const results = await collect(runBatch(server.task(), docs(6), { settleMs: 5 }));
    expect(results.filter((r) => r.status === "processed")).toHaveLength(6);
    expect(server.countByKey()).toEqual({ d0: 1, d1: 1, d2: 1, d3: 1, d4: 1, d5: 1 });
    expect(server.submissions.filter((k) => k === "d2")).toHaveLength(1);
    expect(server.submissions.filter((k) => k === "d4")).toHaveLength(2);
    expect(server.reconciles.flat().map((i) => i.key).sort()).toEqual(["d2", "d4"]);
  });

  it("tells progress after every submission and outcome, with the total of an array from the start", async () => {
    const server = new FakeServer();
    server.beforeSubmit = (doc) => {
      if (doc.name === "d1") throw apiError(400, "VALIDATION_ERROR", false);
    };
    const seen: BatchProgress[] = [];
    await collect(runBatch(server.task(), docs(3), { concurrency: 1, onProgress: (p) => seen.push(p) }));
    expect(seen.every((p) => p.total === 3)).toBe(true);
    expect(seen.at(-1)).toMatchObject({ submitted: 2, done: 2, failed: 1, queuedMs: 7 });
    expect(seen.map((p) => p.submitted + p.done + p.failed)).toEqual([...seen.map((p) => p.submitted + p.done + p.failed)].sort((a, b) => a - b));
  });

  it("pulls an async iterable lazily and learns its total at its end", async () => {
    const server = new FakeServer();
    let pulled = 0;
    async function* source(): AsyncGenerator<Doc> {
      for (let i = 0; i < 10; i++) {
        pulled += 1;
        yield { name: `s${i}` };
      }
    }
    const seen: BatchProgress[] = [];
    let firstSeenAtPull = -1;
    for await (const _ of runBatch(server.task(), source(), { concurrency: 2, onProgress: (p) => seen.push(p) })) {
      if (firstSeenAtPull < 0) firstSeenAtPull = pulled;
    }
    expect(firstSeenAtPull).toBeLessThan(10);
    expect(seen[0]?.total).toBeUndefined();
    expect(seen.at(-1)?.total).toBe(10);
  });

  it("rethrows an error from the caller's own iterator", async () => {
    const server = new FakeServer();
    const broken = new Error("the folder walk failed");
    async function* source(): AsyncGenerator<Doc> {
      yield { name: "a" };
      throw broken;
    }
    await expect(collect(runBatch(server.task(), source()))).rejects.toBe(broken);
  });

  it("refuses a concurrency that is not a whole number from 1 to 1000, and inputs that are not iterable", () => {
    const server = new FakeServer();
    for (const concurrency of [0, -1, 1.5, Number.NaN, 1001]) {
      expect(() => runBatch(server.task(), [], { concurrency })).toThrow(InvalidArgumentError);
    }
    expect(() => runBatch(server.task(), 42 as never)).toThrow(InvalidArgumentError);
  });

  describe("with a journal", () => {
    it("on a signal stops submitting, settles the journal and throws AbortedError; resumed, it finishes each document once", async () => {
      const path = await tempJournal();
      const server = new FakeServer();
      const controller = new AbortController();
      const first: string[] = [];
      const error = await (async () => {
        for await (const r of runBatch(server.task(), docs(20, { submitMs: 5, workMs: 20 }), { journal: path, concurrency: 3, signal: controller.signal })) {
          first.push(r.input.name);
          if (first.length === 5) controller.abort();
        }
      })().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AbortedError);
      const submittedBefore = server.submissions.length;
      await sleep(50);
      expect(server.submissions).toHaveLength(submittedBefore);

      const second = await collect(runBatch(server.task(), docs(20, { submitMs: 5, workMs: 20 }), { journal: path, concurrency: 3, settleMs: 5 }));
      expect([...first, ...second.map((r) => r.input.name)].sort()).toEqual(docs(20).map((d) => d.name).sort());
      expect(Object.values(server.countByKey()).every((n) => n === 1)).toBe(true);
      expect(Object.keys(server.countByKey())).toHaveLength(20);
    });

    it("stops even when documents in flight end after the signal (a request already on its way), and resumes them", async () => {
      const path = await tempJournal();
      const server = new FakeServer();
      const base = server.task();
      const controller = new AbortController();
      let collecting = 0;
      // Collects that finish what they started, as a request already sent does, whatever the signal says;
      // the signal comes while three are under way.
      const stubborn: BatchTask<Doc, string> = { ...base, collect: async (doc, ref, _signal, history) => {
        if (++collecting === 3) controller.abort();
        await sleep(30);
        return base.collect(doc, ref, new AbortController().signal, history);
      } };
      const run = (async () => {
        for await (const r of runBatch(stubborn, docs(6), { journal: path, concurrency: 3, signal: controller.signal })) void r;
      })().catch((e: unknown) => e);
      const ended = await Promise.race([run, sleep(5_000).then(() => "still running")]);
      expect(ended).toBeInstanceOf(AbortedError);

      const second = await collect(runBatch(server.task(), docs(6), { journal: path, concurrency: 3, settleMs: 5 }));
      expect(second.map((r) => r.status).every((s) => s === "processed")).toBe(true);
      expect(Object.values(server.countByKey()).every((n) => n === 1)).toBe(true);
    });

    it("resumes: delivered documents are skipped, submitted ones waited for, lost ones looked for before being sent", async () => {
      const path = await tempJournal();
      const server = new FakeServer();
      const refs = { done: "ref-done", submitted: "ref-sub", lost: "ref-lost" };
      const now = Date.now();
      server.made.set(refs.done, { key: "done", label: "done", at: now - 1_000 });
      server.made.set(refs.submitted, { key: "submitted", label: "submitted", at: now - 1_000 });
      // The server made it, the run that submitted it died before recording the answer.
      server.made.set(refs.lost, { key: "lost", label: "lost", at: now - 500 });
      const journal = await openJournal(path, server.task().identity);
      await journal.record({ event: "intent", key: "done", label: "done", at: now - 1_000 });
      await journal.record({ event: "submitted", key: "done", ref: refs.done });
      await journal.record({ event: "done", key: "done" });
      await journal.record({ event: "delivered", key: "done" });
      await journal.record({ event: "intent", key: "submitted", label: "submitted", at: now - 1_000 });
      await journal.record({ event: "submitted", key: "submitted", ref: refs.submitted });
      await journal.record({ event: "intent", key: "lost", label: "lost", at: now - 600 });
      await journal.record({ event: "intent", key: "never-sent", label: "never-sent", at: now - 600 });
      await journal.close();

      const seen: BatchProgress[] = [];
      const inputs = ["done", "submitted", "lost", "never-sent", "new"].map((name) => ({ name }));
      const results = await collect(runBatch(server.task(), inputs, { journal: path, settleMs: 5, onProgress: (p) => seen.push(p) }));
      expect(results.map((r) => r.input.name).sort()).toEqual(["lost", "never-sent", "new", "submitted"]);
      expect(server.submissions.sort()).toEqual(["never-sent", "new"]);
      expect(server.collects).not.toContain("done");
      expect(server.countByKey()).toEqual({ done: 1, submitted: 1, lost: 1, "never-sent": 1, new: 1 });
      // One listing, before anything was submitted.
      expect(server.reconciles).toHaveLength(1);
      expect(server.reconciles[0]?.map((i) => i.key).sort()).toEqual(["lost", "never-sent"]);
      expect(seen.at(-1)).toMatchObject({ submitted: 5, done: 5, failed: 0, total: 5 });
    });

    it("delivers again an outcome the caller never took, and only that one", async () => {
      const path = await tempJournal();
      const server = new FakeServer();
      const first: string[] = [];
      for await (const r of runBatch(server.task(), docs(6), { journal: path, concurrency: 1, settleMs: 5 })) {
        first.push(r.input.name);
        // Broken off while holding the third: as if the process died before it was saved.
        if (first.length === 3) break;
      }
      const again = await collect(runBatch(server.task(), docs(6), { journal: path, concurrency: 1, settleMs: 5 }));
      expect(again.map((r) => r.input.name)).toEqual(["d2", "d3", "d4", "d5"]);
      expect(server.countByKey()).toEqual({ d0: 1, d1: 1, d2: 1, d3: 1, d4: 1, d5: 1 });
      const records = (await readFile(path, "utf8")).trim().split("\n").map((l) => JSON.parse(l) as { event?: string; key?: string });
      expect(records.filter((r) => r.event === "delivered").map((r) => r.key)).toEqual(["d0", "d1", "d2", "d3", "d4", "d5"]);
    });

    it("journals the start of a second step that writes, and tells that step whether an earlier try began or finished it", async () => {
      const path = await tempJournal();
      const server = new FakeServer();
      const now = Date.now();
      for (const key of ["begun", "finished", "answered"]) server.made.set(`ref-${key}`, { key, label: key, at: now - 1_000 });
      const journal = await openJournal(path, server.task().identity);
      for (const key of ["begun", "finished", "answered"]) {
        await journal.record({ event: "intent", key, label: key, at: now - 1_000 });
        await journal.record({ event: "submitted", key, ref: `ref-${key}` });
      }
      await journal.record({ event: "collecting", key: "begun" });
      await journal.record({ event: "collecting", key: "finished" });
      await journal.record({ event: "done", key: "finished" });
      await journal.close();

      // Every document's second step writes but the one named "reads".
      const task: BatchTask<Doc, string> = { ...server.task(), collectWrites: (doc) => doc.name !== "reads" };
      const original = task.collect;
      const histories: Record<string, CollectHistory[]> = {};
      let refusals = 0;
      task.collect = async (doc, ref, signal, history) => {
        (histories[doc.name] ??= []).push(history);
        // The first try of the new document meets passing trouble: its second try knows the first began.
        if (doc.name === "new" && refusals++ === 0) throw apiError(503, "SERVICE_UNAVAILABLE", true);
        return original(doc, ref, signal, history);
      };
      const inputs = ["begun", "finished", "answered", "new", "reads"].map((name) => ({ name }));
      const results = await collect(runBatch(task, inputs, { journal: path, settleMs: 5, concurrency: 1 }));
      expect(results.map((r) => r.status)).toEqual(["processed", "processed", "processed", "processed", "processed"]);
      expect(histories).toEqual({
        begun: [{ begun: true, done: false }],
        finished: [{ begun: true, done: true }],
        answered: [{ begun: false, done: false }],
        new: [{ begun: false, done: false }, { begun: true, done: false }],
        reads: [{ begun: false, done: false }],
      });
      const records = (await readFile(path, "utf8")).trim().split("\n").map((l) => JSON.parse(l) as { event?: string; key?: string });
      // Once per submission, before its first try: never for one the journal already says was begun.
      expect(records.filter((r) => r.event === "collecting").map((r) => r.key)).toEqual(["begun", "finished", "answered", "new"]);
    });

    it("writes each state change before acting on it: intent before the submission, done before the outcome", async () => {
      const path = await tempJournal();
      const server = new FakeServer();
      const journalAt = async (): Promise<string[]> =>
        (await readFile(path, "utf8")).trim().split("\n").slice(1).map((l) => {
          const r = JSON.parse(l) as { event: string; key: string };
          return `${r.event} ${r.key}`;
        });
      const atSubmit: string[][] = [];
      const task = server.task();
      const original = task.submit;
      task.submit = async (doc, item, signal) => {
        atSubmit.push(await journalAt());
        return original(doc, item, signal);
      };
      for await (const r of runBatch(task, docs(2), { journal: path, concurrency: 1 })) {
        expect(await journalAt()).toContain(`done ${r.input.name}`);
      }
      expect(atSubmit[0]).toEqual(["intent d0"]);
      expect(atSubmit[1]).toContain("intent d1");
      // A task whose second step only waits has nothing more journalled.
      expect((await journalAt()).filter((line) => line.startsWith("collecting"))).toEqual([]);
    });
  });
});
