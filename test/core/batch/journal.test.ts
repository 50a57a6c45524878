import { spawnSync } from "node:child_process";
import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openJournal, type JournalIdentity } from "../../../src/core/batch/journal.js";
import { InvalidArgumentError } from "../../../src/core/errors.js";

const ID: JournalIdentity = { kind: "anyformat.extract", target: "wf-1" };
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function journalPath(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "faultline-journal-"));
  dirs.push(dir);
  return join(dir, "nested", "batch.journal");
}

const lines = async (path: string): Promise<unknown[]> =>
  (await readFile(path, "utf8"))
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as unknown);

describe("the batch journal", () => {
  it("creates the file (and its folder) with a header naming the batch, one record a line after it", async () => {
    const path = await journalPath();
    const journal = await openJournal(path, ID);
    await journal.record({ event: "intent", key: "/a.pdf", label: "a.pdf", at: 1 });
    await journal.record({ event: "submitted", key: "/a.pdf", ref: "c-1" });
    await journal.close();
    expect(await lines(path)).toEqual([
      { format: "faultline.batch-journal", version: 1, kind: "anyformat.extract", target: "wf-1" },
      { event: "intent", key: "/a.pdf", label: "a.pdf", at: 1 },
      { event: "submitted", key: "/a.pdf", ref: "c-1" },
    ]);
  });

  it("reopens with where every document stood", async () => {
    const path = await journalPath();
    const first = await openJournal(path, ID);
    expect(first.entries.size).toBe(0);
    expect(first.lastWrittenAt).toBe(0);
    await first.record({ event: "intent", key: "a", label: "a.pdf", at: 10 });
    await first.record({ event: "submitted", key: "a", ref: "c-a" });
    await first.record({ event: "done", key: "a" });
    await first.record({ event: "delivered", key: "a" });
    await first.record({ event: "intent", key: "b", label: "b.pdf", at: 11 });
    await first.record({ event: "submitted", key: "b", ref: "c-b" });
    await first.record({ event: "collecting", key: "b" });
    await first.record({ event: "intent", key: "c", label: "c.pdf", at: 12 });
    await first.record({ event: "intent", key: "d", label: "d.pdf", at: 13 });
    await first.record({ event: "failed", key: "d", code: "VALIDATION_ERROR" });
    await first.close();

    const again = await openJournal(path, ID);
    expect(Object.fromEntries(again.entries)).toEqual({
      a: { state: "done", label: "a.pdf", at: 10, ref: "c-a", collecting: false, code: undefined, delivered: true },
      b: { state: "submitted", label: "b.pdf", at: 11, ref: "c-b", collecting: true, code: undefined, delivered: false },
      c: { state: "intent", label: "c.pdf", at: 12, ref: undefined, collecting: false, code: undefined, delivered: false },
      d: { state: "failed", label: "d.pdf", at: 13, ref: undefined, collecting: false, code: "VALIDATION_ERROR", delivered: false },
    });
    expect(again.lastWrittenAt).toBeGreaterThan(0);
    await again.close();
  });

  it("a new intent supersedes a failure that was never delivered, and a second step begun for the submission before it", async () => {
    const path = await journalPath();
    const journal = await openJournal(path, ID);
    await journal.record({ event: "intent", key: "a", label: "a.pdf", at: 1 });
    await journal.record({ event: "submitted", key: "a", ref: "c-a" });
    await journal.record({ event: "collecting", key: "a" });
    await journal.record({ event: "failed", key: "a", code: "INTERNAL_ERROR" });
    await journal.record({ event: "intent", key: "a", label: "a.pdf", at: 2 });
    await journal.close();
    const again = await openJournal(path, ID);
    expect(again.entries.get("a")).toMatchObject({ state: "intent", at: 2, ref: undefined, collecting: false, code: undefined, delivered: false });
    await again.close();
  });

  it("drops a record a crash cut short, and appends after the last whole one", async () => {
    const path = await journalPath();
    const journal = await openJournal(path, ID);
    await journal.record({ event: "intent", key: "a", label: "a.pdf", at: 1 });
    await journal.close();
    await appendFile(path, '{"event":"submitted","key":"a","re');
    const again = await openJournal(path, ID);
    expect(again.entries.get("a")?.state).toBe("intent");
    await again.record({ event: "submitted", key: "a", ref: "c-a" });
    await again.close();
    expect((await lines(path)).slice(1)).toEqual([
      { event: "intent", key: "a", label: "a.pdf", at: 1 },
      { event: "submitted", key: "a", ref: "c-a" },
    ]);
  });

  it("rewrites a header a crash cut short", async () => {
    const path = await journalPath();
    await (await openJournal(path, ID)).close();
    await writeFile(path, '{"format":"faultline.ba');
    const journal = await openJournal(path, ID);
    expect(journal.entries.size).toBe(0);
    await journal.record({ event: "intent", key: "a", label: "a.pdf", at: 1 });
    await journal.close();
    expect(await lines(path)).toHaveLength(2);
  });

  it("refuses a journal with a bad record among good ones: that is corruption, not a crash", async () => {
    const path = await journalPath();
    const journal = await openJournal(path, ID);
    await journal.close();
    await appendFile(path, 'garbage\n{"event":"intent","key":"a","label":"a.pdf","at":1}\n');
    const error = await openJournal(path, ID).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(/corrupt at line 2/);
  });

  it("refuses the journal of another batch, and a file that is not a journal", async () => {
    const path = await journalPath();
    await (await openJournal(path, ID)).close();
    await expect(openJournal(path, { kind: "anyformat.extract", target: "wf-2" })).rejects.toThrow(/belongs to another batch/);
    await writeFile(path, '{"hello":"world"}\n');
    await expect(openJournal(path, ID)).rejects.toThrow(/not a faultline batch journal/);
  });

  it("refuses a record of an unknown kind", async () => {
    const path = await journalPath();
    await (await openJournal(path, ID)).close();
    await appendFile(path, '{"event":"teleported","key":"a"}\n');
    await expect(openJournal(path, ID)).rejects.toThrow(/unknown record at line 2/);
  });

  it("is held by one batch at a time, and taken over from a process that died", async () => {
    const path = await journalPath();
    const journal = await openJournal(path, ID);
    const busy = await openJournal(path, ID).catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(InvalidArgumentError);
    expect((busy as InvalidArgumentError).message).toMatch(new RegExp(`in use by process ${process.pid}`));
    await journal.close();

    // A lock left by a process that is gone: a batch killed with SIGKILL leaves exactly that.
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid;
    const { hostname } = await import("node:os");
    await writeFile(`${path}.lock`, JSON.stringify({ pid: dead, host: hostname() }));
    const taken = await openJournal(path, ID);
    expect(JSON.parse(await readFile(`${path}.lock`, "utf8"))).toMatchObject({ pid: process.pid });
    await taken.close();
  });

  it("resolves each record once it is written; records made together land together, in the order made", async () => {
    const path = await journalPath();
    const journal = await openJournal(path, ID);
    await Promise.all(Array.from({ length: 300 }, (_, i) => journal.record({ event: "intent", key: `k${i}`, label: `${i}.pdf`, at: i })));
    const written = (await lines(path)).slice(1) as Array<{ key: string }>;
    expect(written.map((r) => r.key)).toEqual(Array.from({ length: 300 }, (_, i) => `k${i}`));
    await journal.close();
  });

  it("refuses a path that cannot hold a journal with an InvalidArgumentError", async () => {
    const path = await journalPath();
    await (await openJournal(path, ID)).close();
    await expect(openJournal(join(path, "inside-a-file.journal"), ID)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(openJournal("", ID)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it("refuses records once closed", async () => {
    const path = await journalPath();
    const journal = await openJournal(path, ID);
    await journal.close();
    await expect(journal.record({ event: "done", key: "a" })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
