import type { ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROBOFLOW_EMULATOR_KEY } from "../../src/testing/roboflow/app.js";
import { mulberry32 } from "../../src/testing/random.js";
import { startEmulator } from "../../src/testing/server.js";
import { png, sha256 } from "../helpers/images.js";
import { startProxy } from "../helpers/proxy.js";
import { type Finished, finished, releasedAfterAll, startCli } from "./support.js";

/**
 * `roboflow upload` killed with SIGKILL again and again, and resumed each time until it ends, against an
 * emulator that throws 429s, flat 500s, resets after the upload was stored and 502s after it was stored.
 * The first run dies between an upload reaching the emulator and its answer reaching the CLI (a proxy
 * carries the request, the emulator stores the image, and the answer is withheld while the CLI is killed);
 * the second dies the same way on an annotation.
 *
 * Then: every image is in the emulator exactly once as its content hashes tell; every file has one line in
 * --out, the refused ones with their error, and the summary counts them; every annotation was stored once;
 * and the uploads sent again are no more than the answers lost (in flight at a kill, or cut by a fault
 * after the emulator acted), while the journal never sent an upload it knew to be answered.
 */

const IMAGES = 120;
const { open, dirs } = releasedAfterAll();


interface JournalState {
  /** Records in the journal. */
  readonly records: number;
  /** Images whose upload was journalled as about to be sent (from record `since` on), with no answer recorded. */
  readonly uploading: number;
  /** Images whose annotation was journalled as begun, with no end recorded. */
  readonly annotating: number;
  /** Keys with an intent after their upload's answer: an upload sent although known to be done. */
  readonly resentAfterAnswer: readonly string[];
}

/** Folds the journal as the runner does, enough to tell what a kill left in flight. */
async function journalState(path: string, since = 0): Promise<JournalState> {
  const text = await readFile(path, "utf8").catch(() => "");
  const state = new Map<string, string>();
  const intentAt = new Map<string, number>();
  const answered = new Set<string>();
  const resentAfterAnswer: string[] = [];
  let records = 0;
  for (const line of text.split("\n").slice(1)) {
    let record: { event?: string; key?: string };
    try {
      record = JSON.parse(line) as { event?: string; key?: string };
    } catch {
      continue; // the line a kill cut short
    }
    const { event, key } = record;
    records += 1;
    if (key === undefined || event === undefined || event === "delivered") continue;
    if (event === "intent") {
      if (answered.has(key)) resentAfterAnswer.push(key);
      intentAt.set(key, records);
    }
    if (event === "submitted") answered.add(key);
    state.set(key, event);
  }
  // An upload counts as in flight at a kill when its latest intent was written by the run that was killed:
  // each sending writes an intent first, so one left from an earlier run was not sent again.
  const uploading = [...state].filter(([key, event]) => event === "intent" && (intentAt.get(key) ?? 0) > since).length;
  // A resumed annotation writes no new record: one begun and not ended may have been in flight at any kill.
  const annotating = [...state.values()].filter((event) => event === "collecting").length;
  return { records, uploading, annotating, resentAfterAnswer };
}

describe("roboflow upload killed with SIGKILL at random moments and resumed", () => {
  it(`ends with every image stored once, every failure reported, and no upload resent but those whose answer was lost (${IMAGES} images)`, async () => {
    const random = mulberry32(20_261_201);
    const emu = await startEmulator({
      api: "roboflow",
      seed: 23,
      faultRetryAfterSeconds: 0.05,
      faults: { rateLimit: 0.02, serverError: 0.03, reset: 0.03, badGatewayAfterWrite: 0.03 },
    });
    open.push(emu);

    // Images in three folders that reuse the same names; a few files that are no image; every third
    // image annotated, in a labels tree parallel to the images.
    const dir = await mkdtemp(join(tmpdir(), "faultline-upload-crash-"));
    dirs.push(dir);
    const hashes = new Map<string, string>();
    const refused = new Set<string>();
    const annotated = new Set<string>();
    for (let i = 0; i < IMAGES; i++) {
      const box = `box-${Math.floor(i / 40)}`;
      await mkdir(join(dir, "shots", box), { recursive: true });
      await mkdir(join(dir, "labels", box), { recursive: true });
      if (i % 30 === 17) {
        const path = join(dir, "shots", box, `shot-${i % 40}.jpg`);
        await writeFile(path, `not a JPEG, file ${i}`);
        refused.add(path);
        continue;
      }
      const path = join(dir, "shots", box, `shot-${i % 40}.png`);
      const bytes = png(8 + (i % 40), 6 + Math.floor(i / 40), i);
      await writeFile(path, bytes);
      hashes.set(path, sha256(bytes));
      if (i % 3 === 0) {
        await writeFile(join(dir, "labels", box, `shot-${i % 40}.txt`), `0 0.5 0.5 0.${1 + (i % 8)} 0.3\n`);
        annotated.add(path);
      }
    }
    expect(hashes.size + refused.size).toBe(IMAGES);

    let current: ChildProcess | undefined;
    let runs = 0;
    // Run 0 dies on a withheld upload answer after some uploads went through; run 1 on its first annotation's.
    const withholdUploadAfter = 10 + Math.floor(random() * 30);
    let uploadsInRun0 = 0;
    const withheld = { upload: false, annotation: false };
    const proxy = await startProxy(
      emu.url,
      (req) => {
        const pace = 30 + Math.floor(random() * 40);
        if (req.method === "POST" && req.path.startsWith("/dataset/widgets/upload") && runs === 0 && ++uploadsInRun0 > withholdUploadAfter) {
          return { forwardAfterMs: pace, withholdIf: (status) => status === 200 && !withheld.upload && (withheld.upload = true) };
        }
        if (req.method === "POST" && req.path.startsWith("/dataset/widgets/annotate/") && runs === 1) {
          return { forwardAfterMs: pace, withholdIf: (status) => status === 200 && !withheld.annotation && (withheld.annotation = true) };
        }
        return { forwardAfterMs: pace };
      },
      () => current?.kill("SIGKILL"),
    );
    open.push(proxy);

    const out = join(dir, "upload.jsonl");
    const journal = `${out}.journal`;
    const args = [
      "--json", "--timeout", "3000", "--max-retries", "4",
      "roboflow", "upload", "widgets", join(dir, "shots"), "--annotations", join(dir, "labels"), "--out", out, "--concurrency", "6",
    ];
    const env = { ROBOFLOW_API_KEY: ROBOFLOW_EMULATOR_KEY, ROBOFLOW_WORKSPACE: "acme", ROBOFLOW_BASE_URL: proxy.url };
    const started = Date.now();
    const kills: string[] = [];
    const lostToKills = { uploads: 0, annotations: 0 };
    let recordsBefore = 0;
    let last: Finished | undefined;
    for (; runs < 14; runs++) {
      current = startCli(runs === 0 ? args : [...args, "--resume"], { env });
      const ended = finished(current);
      let timer: NodeJS.Timeout | undefined;
      if (runs >= 2 && runs < 6) {
        const child = current;
        timer = setTimeout(() => child.kill("SIGKILL"), 350 + Math.floor(random() * 900));
      }
      last = await ended;
      clearTimeout(timer);
      if (last.signal !== "SIGKILL") break;
      kills.push(runs === 0 ? "withheld upload" : runs === 1 ? "withheld annotation" : "timer");
      const left = await journalState(journal, recordsBefore);
      lostToKills.uploads += left.uploading;
      lostToKills.annotations += left.annotating;
      recordsBefore = left.records;
    }
    const seconds = (Date.now() - started) / 1000;

    // The run that ended did so by itself: exit 1, for the files Roboflow refused, every one counted.
    expect(last?.signal, last?.stderr).toBeNull();
    expect(last?.code, last?.stderr).toBe(1);
    expect(JSON.parse(last?.stdout ?? ""), last?.stdout).toMatchObject({
      total: IMAGES,
      processed: hashes.size,
      failed: refused.size,
      failedByCode: { BAD_REQUEST: refused.size },
      remaining: 0,
    });
    expect(kills.slice(0, 2)).toEqual(["withheld upload", "withheld annotation"]);
    expect(kills.length).toBeGreaterThanOrEqual(4);
    expect(proxy.withheld.map((w) => w.status)).toEqual([200, 200]);

    // One line per file: the refused ones with their error, the others with the image's id.
    const lines = (await readFile(out, "utf8"))
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as { input: string; status: string; id?: string; annotation?: string; error?: { code?: string } });
    expect(lines).toHaveLength(IMAGES);
    expect(new Set(lines.map((l) => l.input)).size).toBe(IMAGES);
    const ids = new Map<string, string>();
    for (const line of lines) {
      if (refused.has(line.input)) {
        expect(line).toMatchObject({ status: "failed", error: { code: "BAD_REQUEST" } });
        continue;
      }
      expect(line.status, JSON.stringify(line.error)).toBe("processed");
      expect(emu.app.images.get(line.id ?? "")?.hash).toBe(hashes.get(line.input));
      expect(line.annotation !== undefined).toBe(annotated.has(line.input));
      ids.set(line.input, line.id ?? "");
    }

    // Every image exactly once, as the emulator's content hashes tell.
    const byHash = new Map<string, number>();
    for (const image of emu.app.images.values()) byHash.set(image.hash, (byHash.get(image.hash) ?? 0) + 1);
    expect(new Set(byHash.keys())).toEqual(new Set(hashes.values()));
    expect([...byHash.values()].every((n) => n === 1)).toBe(true);

    // Uploads sent again: only those whose answer was lost, in flight at a kill or cut after the emulator acted.
    const onPath = (prefix: string): typeof emu.requests => emu.requests.filter((q) => q.method === "POST" && q.path.startsWith(prefix));
    const cutAfterActing = (prefix: string): number => onPath(prefix).filter((q) => q.fault === "reset" || q.fault === "badGatewayAfterWrite").length;
    const resent = [...emu.app.images.values()].reduce((n, image) => n + image.uploads - 1, 0);
    const lostUploads = lostToKills.uploads + cutAfterActing("/dataset/widgets/upload");
    expect(resent).toBeGreaterThanOrEqual(1); // the withheld one, at least
    expect(resent).toBeLessThanOrEqual(lostUploads);
    expect((await journalState(journal)).resentAfterAnswer).toEqual([]);

    // Every annotation on its own image, never overwritten; sent again only where an answer was lost.
    const reachedApp = (q: (typeof emu.requests)[number]): boolean => q.fault === undefined || q.fault === "reset" || q.fault === "badGatewayAfterWrite";
    let again = 0;
    for (const path of annotated) {
      const id = ids.get(path) ?? "";
      const requests = onPath(`/dataset/widgets/annotate/${id}`);
      expect(requests.every((q) => !q.query.includes("overwrite")), path).toBe(true);
      again += requests.filter(reachedApp).length - 1;
      const stored = emu.app.images.get(id)?.annotation;
      expect(stored?.name, path).toBe(path.split("/").at(-1)?.replace(".png", ".txt"));
      expect(stored?.boxes).toHaveLength(1);
    }
    const conflicts = onPath("/dataset/widgets/annotate/").filter((q) => q.status === 409).length;
    const lostAnnotations = lostToKills.annotations + cutAfterActing("/dataset/widgets/annotate/");
    expect(conflicts).toBeGreaterThanOrEqual(1); // the withheld one, met again on resume
    expect(again).toBeLessThanOrEqual(lostAnnotations);

    // The faults were met on the way.
    const faults = new Set(emu.requests.map((r) => r.fault).filter((f) => f !== undefined));
    for (const fault of ["serverError", "reset", "badGatewayAfterWrite"]) expect(faults).toContain(fault);
    console.info(
      `upload crash test: ${IMAGES} files, ${runs + 1} runs, ${kills.length} SIGKILLs (${kills.join(", ")}), ${seconds.toFixed(1)} s; ` +
        `${onPath("/dataset/widgets/upload").length} upload requests, ${resent} uploads resent of ${lostUploads} answers lost ` +
        `(${lostToKills.uploads} in flight at kills, ${cutAfterActing("/dataset/widgets/upload")} cut after storing); ` +
        `${annotated.size} annotations, ${again} sent again (${conflicts} answered "already annotated") of ${lostAnnotations} answers lost`,
    );
  }, 90_000);
});
