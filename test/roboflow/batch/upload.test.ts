/**
 * The upload batch task against the emulator: what is sent once, what is resent and why, and when an
 * annotation an image already has is the batch's own.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { judgeUpload, uploadImages, type UploadInput, type UploadOutcome } from "../../../src/roboflow/batch/upload.js";
import {
  AbortedError,
  AuthFailedError,
  BadRequestError,
  ConflictError,
  ConnectionError,
  CredentialsError,
  LockedError,
  NotFoundError,
  RateLimitedError,
  ServerError,
  TimeoutError,
  codeFor,
  createApiError,
  type FaultlineError,
} from "../../../src/core/errors.js";
import { openJournal } from "../../../src/core/batch/journal.js";
import { MAY_HAVE_REACHED_SERVER } from "../../../src/core/retry.js";
import { png } from "../../helpers/images.js";
import { setup } from "../support.js";

let dir = "";
const files: string[] = [];
const labels: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "faultline-upload-batch-"));
  for (let i = 0; i < 4; i++) {
    files.push(join(dir, `w-${i}.png`));
    labels.push(join(dir, `w-${i}.txt`));
    await writeFile(files[i] ?? "", png(20 + i, 10, i));
    await writeFile(labels[i] ?? "", `0 0.5 0.5 0.${i + 1} 0.2\n`);
  }
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function all(batch: AsyncIterable<UploadOutcome>): Promise<UploadOutcome[]> {
  const out: UploadOutcome[] = [];
  for await (const outcome of batch) out.push(outcome);
  return out;
}

const annotateCalls = (emu: { requests: ReadonlyArray<{ method: string; path: string; status: number | undefined }> }): Array<number | undefined> =>
  emu.requests.filter((q) => q.method === "POST" && q.path.startsWith("/dataset/widgets/annotate/")).map((q) => q.status);

describe("uploadImages", () => {
  it("uploads each image once and annotates it after, yielding its id and whether Roboflow already had it", async () => {
    const { emu, rf } = await setup();
    const before = await rf.images.upload("widgets", { file: files[0] ?? "" });
    const inputs: UploadInput[] = files.map((file, i) => ({ file, ...(i < 2 ? { annotation: labels[i] } : {}) }));
    const outcomes = await all(uploadImages(rf, "widgets", inputs, { split: "test", tags: ["a", "b"] }));
    const byFile = new Map(outcomes.map((o) => [o.input.file, o]));
    expect(byFile.get(files[0] ?? "")).toMatchObject({ status: "uploaded", id: before.id, duplicate: true, annotated: true });
    expect(byFile.get(files[1] ?? "")).toMatchObject({ status: "uploaded", duplicate: false, annotated: true });
    expect(byFile.get(files[2] ?? "")).toMatchObject({ status: "uploaded", duplicate: false, annotated: false });
    expect(emu.app.images.size).toBe(4);
    for (const image of emu.app.images.values()) expect(image.tags).toEqual(image.id === before.id ? [] : ["a", "b"]);
    expect(annotateCalls(emu)).toEqual([200, 200]);
  });

  it("takes the 409 a retried annotation meets on an image it uploaded new as its own: annotated once", async () => {
    const { emu, rf } = await setup();
    emu.inject("badGatewayAfterWrite", { path: "/dataset/widgets/annotate/" });
    const [outcome] = await all(uploadImages(rf, "widgets", [{ file: files[1] ?? "", annotation: labels[1] }]));
    expect(outcome).toMatchObject({ status: "uploaded", duplicate: false, annotated: true });
    expect(annotateCalls(emu)).toEqual([502, 409]);
    expect(emu.app.images.get(outcome?.id ?? "")?.annotation?.name).toBe("w-1.txt");
  });

  it("on an image Roboflow already had, takes the 409 after a lost answer as its own only when the annotation stored bears its name", async () => {
    const { emu, rf } = await setup();
    const ours = await rf.images.upload("widgets", { file: files[2] ?? "" });
    emu.inject("badGatewayAfterWrite", { path: "/dataset/widgets/annotate/" });
    const [outcome] = await all(uploadImages(rf, "widgets", [{ file: files[2] ?? "", annotation: labels[2] }]));
    expect(outcome).toMatchObject({ status: "uploaded", id: ours.id, duplicate: true, annotated: true });
    expect(annotateCalls(emu)).toEqual([502, 409]);

    // Someone else's annotation, met after a first attempt that never reached Roboflow: not ours.
    const theirs = await rf.images.upload("widgets", { file: files[3] ?? "" });
    await rf.images.annotate("widgets", theirs.id ?? "", { annotation: "0 0.1 0.1 0.1 0.1", name: "theirs.txt" });
    emu.inject("serverError", { path: "/dataset/widgets/annotate/" });
    const [refused] = await all(uploadImages(rf, "widgets", [{ file: files[3] ?? "", annotation: labels[3] }]));
    expect(refused).toMatchObject({ status: "failed", id: theirs.id });
    expect(refused?.status === "failed" ? refused.error : undefined).toBeInstanceOf(ConflictError);
    expect(emu.app.images.get(theirs.id ?? "")?.annotation?.name).toBe("theirs.txt");
  });

  it("knows from the journal that an image an earlier run uploaded was new: a 409 after a lost annotation answer is then its own", async () => {
    // No workspace, as uploads need none: nothing to look the image up with, the journal alone tells.
    const { emu, rf } = await setup({ workspace: undefined });
    const journal = join(dir, "earlier.journal");
    // An earlier run uploaded the image (new) and died before annotating it.
    const { id } = await rf.images.upload("widgets", { file: files[3] ?? "" });
    const earlier = await openJournal(journal, { kind: "roboflow.upload", target: "widgets" });
    await earlier.record({ event: "intent", key: files[3] ?? "", label: files[3] ?? "", at: Date.now() });
    await earlier.record({ event: "submitted", key: files[3] ?? "", ref: id ?? "" });
    await earlier.close();
    emu.inject("badGatewayAfterWrite", { path: "/dataset/widgets/annotate/" });
    const [outcome] = await all(uploadImages(rf, "widgets", [{ file: files[3] ?? "", annotation: labels[3] }], { journal }));
    expect(outcome).toMatchObject({ status: "uploaded", id, duplicate: false, annotated: true });
    expect(annotateCalls(emu)).toEqual([502, 409]);
    expect(emu.app.images.get(id ?? "")?.uploads).toBe(1);
    await rm(journal, { force: true });
  });

  it("resends an upload whose connection was lost after sending, and takes the duplicate's id: the image is stored once", async () => {
    const { emu, rf } = await setup();
    emu.inject("reset", { path: "/dataset/widgets/upload" });
    const journal = join(dir, "reset.journal");
    const [outcome] = await all(uploadImages(rf, "widgets", [{ file: files[0] ?? "" }], { journal }));
    expect(outcome).toMatchObject({ status: "uploaded", duplicate: true });
    expect(emu.app.images.get(outcome?.id ?? "")?.uploads).toBe(2);
    // Two intents, each sent: the first answer was lost, the second named the image.
    const events = (await readFile(journal, "utf8")).trim().split("\n").slice(1).map((l) => (JSON.parse(l) as { event: string }).event);
    expect(events).toEqual(["intent", "intent", "submitted", "done", "delivered"]);
    await rm(journal, { force: true });
  });

  it("reports an input two annotation files claim without uploading it, and goes on", async () => {
    const { emu, rf } = await setup();
    const outcomes = await all(uploadImages(rf, "widgets", [{ file: files[0] ?? "", problem: "2 annotation files could be it" }, { file: files[1] ?? "" }]));
    expect(outcomes.map((o) => o.status).sort()).toEqual(["failed", "uploaded"]);
    expect(emu.app.images.size).toBe(1);
  });

  it("fails an annotation it cannot read, keeping the image's id", async () => {
    const { rf } = await setup();
    const [outcome] = await all(uploadImages(rf, "widgets", [{ file: files[0] ?? "", annotation: join(dir, "missing.txt") }]));
    expect(outcome).toMatchObject({ status: "failed", id: expect.any(String), error: { code: "INVALID_ARGUMENT", message: expect.stringMatching(/ENOENT/) } });
  });
});

describe("judgeUpload", () => {
  const api = (status: number, retryable = false): FaultlineError =>
    createApiError({ status, code: codeFor(status, undefined), message: `HTTP ${status}`, retryable, headers: {}, body: undefined });
  const sent = (): ConnectionError => Object.assign(new ConnectionError("socket hang up"), { [MAY_HAVE_REACHED_SERVER]: true });

  it.each([
    ["a refused key", new AuthFailedError({ status: 401, code: "AUTH_FAILED", message: "no", retryable: false, headers: {}, body: undefined }), "submit", "fatal"],
    ["no key at all", new CredentialsError("No key"), "submit", "fatal"],
    ["a locked workspace", new LockedError({ status: 423, code: "LOCKED", message: "paused", retryable: false, headers: {}, body: undefined }), "collect", "fatal"],
    ["a stop", new AbortedError(), "collect", "fatal"],
    ["a missing project, on upload", new NotFoundError({ status: 404, code: "NOT_FOUND", message: "no", retryable: false, headers: {}, body: undefined }), "submit", "fatal"],
    ["a missing image, on annotate", new NotFoundError({ status: 404, code: "NOT_FOUND", message: "no", retryable: false, headers: {}, body: undefined }), "collect", "failed"],
    ["a connection lost after sending", sent(), "submit", "again"],
    ["a timeout", new TimeoutError("slow"), "collect", "again"],
    ["a 500 that outlived the retries", api(500, true), "submit", "again"],
    ["a 429 that outlived the retries", new RateLimitedError({ status: 429, code: "RATE_LIMITED", message: "slow down", retryable: true, headers: {}, body: undefined }), "submit", "again"],
    ["an image Roboflow refuses", new BadRequestError({ status: 400, code: "BAD_REQUEST", message: "Invalid image", retryable: false, headers: {}, body: undefined }), "submit", "failed"],
    ["an annotation someone else made", new ConflictError({ status: 409, code: "CONFLICT", message: "already annotated", retryable: false, headers: {}, body: undefined }), "collect", "failed"],
    ["a 413", api(413), "submit", "failed"],
    ["a 507", new ServerError({ status: 507, code: "INTERNAL_ERROR", message: "too big", retryable: false, headers: {}, body: undefined }), "collect", "failed"],
  ] as const)("judges %s on %s as %s", (_what, error, step, verdict) => {
    expect(judgeUpload(error, step)).toBe(verdict);
  });
});
