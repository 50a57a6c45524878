import { mkdir, mkdtemp, open as openFile, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Roboflow } from "../../src/roboflow/client.js";
import { ROBOFLOW_EMULATOR_KEY, type RoboflowApp, type RoboflowEmulatorOptions } from "../../src/testing/roboflow/app.js";
import { startEmulator, type Emulator } from "../../src/testing/server.js";
import { png, sha256 } from "../helpers/images.js";
import { startProxy } from "../helpers/proxy.js";
import { type CliResult, expectFailure, MODES, releasedAfterAll, runCli, runCliInTerminal, startCli, until } from "./support.js";

const KEY = ROBOFLOW_EMULATOR_KEY;
const WRONG_KEY = "rf-wrong-key-8d1e4b";
const { open, dirs } = releasedAfterAll();

interface Rig {
  readonly emu: Emulator<RoboflowApp>;
  readonly dir: string;
  /** The folder of images. */
  readonly images: string;
  readonly out: string;
  readonly env: Record<string, string>;
  /** Each image's bytes by its path. */
  readonly bytes: Map<string, Buffer>;
}

/** An emulator, a folder of `n` distinct PNGs (`image-000.png`...), and the environment of a configured user. */
async function rig(n: number, options: Omit<RoboflowEmulatorOptions, "clock" | "baseUrl"> = {}): Promise<Rig> {
  const emu = await startEmulator({ api: "roboflow", faultRetryAfterSeconds: 0, ...options });
  open.push(emu);
  const dir = await mkdtemp(join(tmpdir(), "faultline-cli-upload-"));
  dirs.push(dir);
  const images = join(dir, "images");
  await mkdir(images);
  const bytes = new Map<string, Buffer>();
  for (let i = 0; i < n; i++) {
    const path = join(images, `image-${String(i).padStart(3, "0")}.png`);
    const image = png(16 + i, 12, i);
    await writeFile(path, image);
    bytes.set(path, image);
  }
  return { emu, dir, images, bytes, out: join(dir, "upload.jsonl"), env: { ROBOFLOW_API_KEY: KEY, ROBOFLOW_WORKSPACE: "acme", ROBOFLOW_BASE_URL: emu.url } };
}

interface Line {
  readonly input: string;
  readonly status: "processed" | "failed";
  readonly id?: string | null;
  readonly duplicate?: boolean;
  readonly annotation?: string;
  readonly error?: { readonly name: string; readonly code: string; readonly message: string; readonly hint?: string; readonly status?: number };
}

async function lines(path: string): Promise<Line[]> {
  const text = await readFile(path, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Line);
}

const upload = (r: Rig, ...extra: string[]): string[] => ["roboflow", "upload", "widgets", r.images, "--out", r.out, ...extra];
const uploadsTo = (emu: Emulator): number => emu.requests.filter((q) => q.method === "POST" && q.path === "/dataset/widgets/upload").length;
const annotatesOf = (emu: Emulator, id: string): Array<number | undefined> =>
  emu.requests.filter((q) => q.method === "POST" && q.path === `/dataset/widgets/annotate/${id}`).map((q) => q.status);

/** The images the emulator holds, by their content hash: each must be there once. */
function storedByHash(emu: Emulator<RoboflowApp>): Map<string, number> {
  const byHash = new Map<string, number>();
  for (const image of emu.app.images.values()) byHash.set(image.hash, (byHash.get(image.hash) ?? 0) + 1);
  return byHash;
}

for (const mode of MODES) {
  const json = mode.name === "JSON";

  describe.concurrent(`faultline roboflow upload, in ${mode.name} mode`, () => {
    it("uploads every image of a folder once, with its split, batch and every --tag; one line each, exit 0", async () => {
      const r = await rig(5);
      const result = await runCli([...mode.flags, ...upload(r, "--split", "valid", "--batch", "line-3", "--tag", "night", "--tag", "cam-2")], { env: r.env });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toBe("");
      if (json) {
        expect(JSON.parse(result.stdout)).toMatchObject({ out: r.out, total: 5, processed: 5, failed: 0, failedByCode: {}, remaining: 0, submitted: 5 });
      } else {
        expect(result.stdout).toMatch(/^Finished in [\d.]+ s: 5 uploaded, 0 failed of 5 images\n/);
        expect(result.stdout).not.toContain("Failed:");
      }
      const written = await lines(r.out);
      expect(written.map((l) => l.input).sort()).toEqual([...r.bytes.keys()].sort());
      for (const line of written) {
        expect(line).toMatchObject({ status: "processed", duplicate: false });
        const stored = r.emu.app.images.get(line.id ?? "");
        expect(stored).toMatchObject({ split: "valid", batch: "line-3", tags: ["night", "cam-2"], uploads: 1 });
        expect(stored?.hash).toBe(sha256(r.bytes.get(line.input) ?? Buffer.alloc(0)));
      }
      expect(r.emu.app.images.size).toBe(5);
    });

    it("exits 2 on a refused key (401) before uploading anything, the key masked everywhere", async () => {
      const r = await rig(3);
      const result = await runCli([...mode.flags, "--api-key", WRONG_KEY, ...upload(r)], { env: { ...r.env, ROBOFLOW_API_KEY: "" } });
      expectFailure(result, mode, { exit: 2, code: "AUTH_FAILED", status: 401, secrets: [WRONG_KEY] });
      expect(uploadsTo(r.emu)).toBe(0);
    });

    it("exits 3 when the project does not exist (404), before uploading anything", async () => {
      const r = await rig(3);
      const result = await runCli([...mode.flags, "roboflow", "upload", "no-such-project", r.images, "--out", r.out], { env: r.env });
      expectFailure(result, mode, { exit: 3, code: "NOT_FOUND", status: 404, hint: /faultline roboflow project list/ });
      expect(r.emu.requests.filter((q) => q.path.includes("/upload"))).toHaveLength(0);
    });

    it("without a workspace, stops at the first refusal of a missing project with exit 3, and says how to resume", async () => {
      const r = await rig(3);
      const result = await runCli([...mode.flags, "roboflow", "upload", "no-such-project", r.images, "--out", r.out], { env: { ...r.env, ROBOFLOW_WORKSPACE: "" } });
      expect(result.code, result.stderr).toBe(3);
      expect(result.stdout).toBe("");
      if (json) {
        expect(JSON.parse(result.stderr)).toMatchObject({ error: { code: "NOT_FOUND", status: 404, hint: expect.stringMatching(/project list/) } });
      } else {
        expect(result.stderr).toMatch(/^Stopped after [\d.]+ s: 0 uploaded, 0 failed\. Once that is fixed, resume with:\n {2}faultline roboflow upload no-such-project /);
        expect(result.stderr).toContain("Error: ");
      }
    });

    it("exits 1 naming every image refused on its merits (not an image, over the server's limit, over 20 MB), the rest uploaded", async () => {
      const r = await rig(4, { maxImageBytes: 500 });
      await writeFile(join(r.images, "broken.jpg"), "these bytes are not a JPEG");
      await writeFile(join(r.images, "large.png"), png(400, 300, 200));
      // Over Roboflow's 20 MB, made without writing 20 MB: refused before anything is sent.
      const huge = await openFile(join(r.images, "huge.png"), "w");
      await huge.truncate(21 * 1024 * 1024);
      await huge.close();

      const result = await runCli([...mode.flags, ...upload(r)], { env: r.env });
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toBe("");
      const counts = { BAD_REQUEST: 1, HTTP_413: 1, INVALID_ARGUMENT: 1 };
      if (json) {
        expect(JSON.parse(result.stdout)).toMatchObject({ total: 7, processed: 4, failed: 3, failedByCode: counts, remaining: 0 });
      } else {
        expect(result.stdout).toMatch(/^Finished in [\d.]+ s: 4 uploaded, 3 failed \(BAD_REQUEST 1, HTTP_413 1, INVALID_ARGUMENT 1\) of 7 images\n/);
        expect(result.stdout).toMatch(/Failed:\n(  .*(broken\.jpg|large\.png|huge\.png): [A-Z_0-9]+ .*\n){3}/);
        expect(result.stdout).toContain("broken.jpg: BAD_REQUEST Invalid image");
      }
      const failed = Object.fromEntries((await lines(r.out)).filter((l) => l.status === "failed").map((l) => [l.input.slice(r.images.length + 1), l.error]));
      expect(failed).toEqual({
        "broken.jpg": expect.objectContaining({ code: "BAD_REQUEST", status: 400, message: expect.stringMatching(/Invalid image/) }),
        "large.png": expect.objectContaining({ code: "HTTP_413", status: 413, hint: expect.stringMatching(/20 MB/) }),
        "huge.png": expect.objectContaining({ code: "INVALID_ARGUMENT", hint: expect.stringMatching(/20 MB/) }),
      });
      expect(r.emu.app.images.size).toBe(4);
      // The one over 20 MB never left the machine; the others were each sent once, none retried.
      expect(uploadsTo(r.emu)).toBe(6);
    });

    it("recovers from Roboflow's flat {\"error\": \"Unknown error\"} 500s by retrying them: exit 0, each image stored once", async () => {
      const r = await rig(4);
      r.emu.inject("serverError", { path: "/dataset/widgets/upload", count: 3 });
      const result = await runCli([...mode.flags, ...upload(r, "--concurrency", "1")], { env: r.env });
      expect(result.code, result.stderr).toBe(0);
      expect(r.emu.requests.filter((q) => q.fault === "serverError").map((q) => q.status)).toEqual([500, 500, 500]);
      expect((await lines(r.out)).every((l) => l.status === "processed")).toBe(true);
      expect([...storedByHash(r.emu).values()]).toEqual([1, 1, 1, 1]);
    });

    it("counts an image the project already holds as uploaded (duplicate: true, with its id), whether Roboflow says so with 200 or 409", async () => {
      const r = await rig(4);
      const rf = new Roboflow({ apiKey: KEY, baseUrl: r.emu.url });
      const [first, second] = [...r.bytes.keys()];
      const before = await rf.images.upload("widgets", { file: first ?? "" });
      r.emu.app.answerForms.duplicate = 409;
      await rf.close();
      const result = await runCli([...mode.flags, ...upload(r)], { env: r.env });
      expect(result.code, result.stderr).toBe(0);
      if (json) expect(JSON.parse(result.stdout)).toMatchObject({ processed: 4, failed: 0 });
      else expect(result.stdout).toContain("4 uploaded, 0 failed of 4 images");
      const written = new Map((await lines(r.out)).map((l) => [l.input, l]));
      expect(written.get(first ?? "")).toMatchObject({ status: "processed", id: before.id, duplicate: true });
      expect(written.get(second ?? "")).toMatchObject({ status: "processed", duplicate: false });
      expect(r.emu.app.images.size).toBe(4);
    });

    it("takes a 502 after the image was stored as the lost answer it is: the retry's duplicate is the image, stored once", async () => {
      const r = await rig(3);
      r.emu.inject("badGatewayAfterWrite", { path: "/dataset/widgets/upload", count: 1 });
      const result = await runCli([...mode.flags, ...upload(r, "--concurrency", "1")], { env: r.env });
      expect(result.code, result.stderr).toBe(0);
      const hit = (await lines(r.out)).find((l) => l.duplicate === true);
      expect(hit?.status).toBe("processed");
      expect(r.emu.app.images.get(hit?.id ?? "")?.uploads).toBe(2);
      expect([...storedByHash(r.emu).values()]).toEqual([1, 1, 1]);
    });

    it("refuses an --annotations that is not a folder with exit 1, before sending anything", async () => {
      const r = await rig(2);
      const result = await runCli([...mode.flags, ...upload(r, "--annotations", join(r.dir, "nowhere"))], { env: r.env });
      expectFailure(result, mode, { exit: 1, code: "INVALID_ARGUMENT", message: /--annotations .*nowhere: ENOENT/ });
      expect(r.emu.requests).toHaveLength(0);
    });
  });
}

describe("faultline roboflow upload --annotations", () => {
  /** Images in `images/` and `images/night/`; YOLO and VOC annotations for some of them in a parallel `labels/` tree. */
  async function annotated(): Promise<Rig & { readonly labels: string }> {
    const r = await rig(3);
    await mkdir(join(r.images, "night"));
    const nightImage = png(20, 10, 77);
    await writeFile(join(r.images, "night", "image-000.png"), nightImage);
    r.bytes.set(join(r.images, "night", "image-000.png"), nightImage);
    const labels = join(r.dir, "labels");
    await mkdir(join(labels, "night"), { recursive: true });
    await writeFile(join(labels, "image-000.txt"), "0 0.5 0.5 0.25 0.5\n");
    await writeFile(join(labels, "image-001.xml"), "<annotation><object><name>widget</name><bndbox><xmin>2</xmin><ymin>2</ymin><xmax>10</xmax><ymax>8</ymax></bndbox></object></annotation>");
    await writeFile(join(labels, "night", "image-000.txt"), "0 0.5 0.5 0.5 0.5\n0 0.2 0.2 0.1 0.1\n");
    // Not an annotation of image-000: a file of another image's name that merely starts alike.
    await writeFile(join(labels, "image-000.1.txt"), "0 0.1 0.1 0.1 0.1\n");
    return { ...r, labels };
  }

  it("attaches each image's annotation of the same base name at the same place in DIR, once, after its upload", async () => {
    const r = await annotated();
    const result = await runCli(upload(r, "--annotations", r.labels), { env: r.env });
    expect(result.code, result.stderr).toBe(0);
    const written = new Map((await lines(r.out)).map((l) => [l.input.slice(r.images.length + 1), l]));
    expect(written.size).toBe(4);
    const boxes = (name: string): number | undefined => r.emu.app.images.get(written.get(name)?.id ?? "")?.annotation?.boxes.length;
    expect(written.get("image-000.png")?.annotation).toBe(join(r.labels, "image-000.txt"));
    expect(boxes("image-000.png")).toBe(1);
    expect(boxes("image-001.png")).toBe(1);
    expect(r.emu.app.images.get(written.get("image-001.png")?.id ?? "")?.annotation?.boxes[0]?.label).toBe("widget");
    expect(boxes("night/image-000.png")).toBe(2);
    expect(written.get("image-002.png")?.annotation).toBeUndefined();
    expect(r.emu.app.images.get(written.get("image-002.png")?.id ?? "")?.annotation).toBeUndefined();
    for (const line of written.values()) expect(annotatesOf(r.emu, line.id ?? "").length).toBe(line.annotation === undefined ? 0 : 1);
  });

  it("fails an image already annotated by someone else, naming --overwrite; with --overwrite the annotation is replaced", async () => {
    const r = await annotated();
    const rf = new Roboflow({ apiKey: KEY, baseUrl: r.emu.url });
    const first = join(r.images, "image-000.png");
    const { id } = await rf.images.upload("widgets", { file: first });
    await rf.images.annotate("widgets", id ?? "", { annotation: "0 0.1 0.1 0.1 0.1\n0 0.3 0.3 0.1 0.1\n0 0.6 0.6 0.1 0.1", name: "theirs.txt" });
    await rf.close();

    const refused = await runCli(upload(r, "--annotations", r.labels), { env: r.env });
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stdout).toContain(`Failed:\n  ${first}: CONFLICT Image was already annotated.`);
    const line = (await lines(r.out)).find((l) => l.input === first);
    expect(line).toMatchObject({ status: "failed", id, error: { code: "CONFLICT", hint: expect.stringMatching(/--overwrite/) } });
    expect(r.emu.app.images.get(id ?? "")?.annotation?.name).toBe("theirs.txt");

    const replaced = await runCli(["roboflow", "upload", "widgets", first, "--annotations", r.labels, "--out", join(r.dir, "again.jsonl"), "--overwrite"], { env: r.env });
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(r.emu.app.images.get(id ?? "")?.annotation).toMatchObject({ name: "image-000.txt", boxes: [expect.anything()] });
  });

  it("fails an image two annotation files could belong to, without uploading it", async () => {
    const r = await annotated();
    await writeFile(join(r.labels, "image-002.txt"), "0 0.5 0.5 0.2 0.2\n");
    await writeFile(join(r.labels, "image-002.coco.json"), "{}");
    const result = await runCli(upload(r, "--annotations", r.labels), { env: r.env });
    expect(result.code, result.stderr).toBe(1);
    const line = (await lines(r.out)).find((l) => l.input.endsWith("image-002.png"));
    expect(line).toMatchObject({ status: "failed", error: { code: "INVALID_ARGUMENT", message: expect.stringMatching(/2 annotation files .*image-002\.coco\.json, image-002\.txt/) } });
    expect([...r.emu.app.images.values()].some((i) => i.hash === sha256(r.bytes.get(join(r.images, "image-002.png")) ?? Buffer.alloc(0)))).toBe(false);
  });

  it("does not annotate again on resume after the answer to an annotation was lost: the journal says the annotation found is its own", async () => {
    const r = await annotated();
    let current: ReturnType<typeof startCli> | undefined;
    let annotations = 0;
    const proxy = await startProxy(
      r.emu.url,
      (req) => (req.method === "POST" && req.path.startsWith("/dataset/widgets/annotate/") && ++annotations === 1 ? "withhold" : "forward"),
      () => current?.kill("SIGKILL"),
    );
    open.push(proxy);
    const env = { ...r.env, ROBOFLOW_BASE_URL: proxy.url };
    const args = upload(r, "--annotations", r.labels, "--concurrency", "1");
    current = startCli(args, { env });
    const killed = await new Promise<NodeJS.Signals | null>((resolve) => current?.on("close", (_code, signal) => resolve(signal)));
    expect(killed).toBe("SIGKILL");
    expect(proxy.withheld).toEqual([{ path: expect.stringMatching(/^\/dataset\/widgets\/annotate\//), status: 200 }]);

    const resumed: CliResult = await runCli([...args, "--resume"], { env });
    expect(resumed.code, resumed.stderr).toBe(0);
    const written = await lines(r.out);
    expect(written).toHaveLength(4);
    expect(written.every((l) => l.status === "processed")).toBe(true);
    const withheldId = /annotate\/([^?]+)/.exec(proxy.withheld[0]?.path ?? "")?.[1] ?? "";
    // Its annotation was stored once; the resumed run's try met it and took it as its own.
    expect(annotatesOf(r.emu, withheldId)).toEqual([200, 409]);
    expect(written.find((l) => l.id === withheldId)?.annotation).toBeDefined();
    // Nothing uploaded twice: the upload's answer had been journalled before the crash.
    expect([...r.emu.app.images.values()].map((i) => i.uploads)).toEqual([1, 1, 1, 1]);
  }, 30_000);
});

describe("faultline roboflow upload, the batch around it", () => {
  it("leaves the files of a folder that are not images and says which; a file named on the command line is sent as given", async () => {
    const r = await rig(2);
    await writeFile(join(r.images, "notes.txt"), "not an image");
    await writeFile(join(r.images, ".DS_Store"), "hidden");
    const named = join(r.dir, "named.dat");
    await writeFile(named, png(9, 9, 99));
    const result = await runCli(["roboflow", "upload", "widgets", r.images, named, "--out", r.out], { env: r.env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("3 uploaded, 0 failed of 3 images");
    expect(result.stdout).toContain(`Left 1 file that is not an image by its extension: ${join(r.images, "notes.txt")}`);
    expect((await lines(r.out)).map((l) => l.input).sort()).toEqual([...r.bytes.keys(), named].sort());
    const json = await runCli(["--json", "roboflow", "upload", "widgets", r.images, "--out", join(r.dir, "second.jsonl")], { env: r.env });
    expect(JSON.parse(json.stdout)).toMatchObject({ total: 2, processed: 2, skipped: 1 });
  });

  it("writes to roboflow-upload-<project>.jsonl in the current folder when --out is not given, and --resume finds it", async () => {
    const r = await rig(2);
    const args = ["roboflow", "upload", "acme/widgets", r.images];
    const result = await runCli(args, { env: r.env, cwd: r.dir });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("Results: roboflow-upload-acme-widgets.jsonl");
    expect(await lines(join(r.dir, "roboflow-upload-acme-widgets.jsonl"))).toHaveLength(2);
    const again = await runCli([...args, "--resume"], { env: r.env, cwd: r.dir });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain("2 uploaded, 0 failed of 2 images");
    expect(again.stdout).toContain("Submitted 0 in this run");
  });

  it("on Ctrl-C stops uploading, says how to resume (exit 130); resumed, every image is uploaded once", async () => {
    const r = await rig(40);
    const slow = await startProxy(r.emu.url, () => ({ forwardAfterMs: 40 }));
    open.push(slow);
    const env = { ...r.env, ROBOFLOW_BASE_URL: slow.url };
    const child = startCli(upload(r, "--concurrency", "2", "--tag", "two words"), { env });
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr?.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    await until(() => r.emu.app.images.size >= 4, 15_000);
    child.kill("SIGINT");
    expect(await exited, stderr).toBe(130);
    expect(stderr).toContain("Stopping: no more submissions");
    expect(stdout).toMatch(/^Interrupted in [\d.]+ s: \d+ uploaded, 0 failed of 40 images, \d+ to go/);
    const resume = /\n {2}(faultline .*--resume)\n/.exec(stdout)?.[1] ?? "";
    expect(resume).toContain("--tag 'two words'");
    // The resume line is a shell command: read it as the shell would, quotes and all.
    const words = [...resume.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? "").slice(1);
    const resumed = await runCli(words, { env, timeoutMs: 30_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await lines(r.out)).toHaveLength(40);
    expect([...storedByHash(r.emu).values()].every((n) => n === 1)).toBe(true);
    expect(r.emu.app.images.size).toBe(40);
    expect([...r.emu.app.images.values()].every((i) => i.tags.includes("two words"))).toBe(true);
  }, 60_000);

  it("draws a progress bar on a terminal, and keeps stdout for the summary", async () => {
    const r = await rig(8);
    const slow = await startProxy(r.emu.url, () => ({ forwardAfterMs: 100 }));
    open.push(slow);
    const result = await runCliInTerminal(upload(r, "--concurrency", "2"), { env: { ...r.env, ROBOFLOW_BASE_URL: slow.url }, timeoutMs: 30_000 });
    expect(result.code, result.terminal).toBe(0);
    expect(result.terminal).toMatch(/[█░]+ \d+\/8 \| \d+ uploaded, 0 failed, \d+ submitted/);
    expect(result.stdout).toMatch(/^Finished in [\d.]+ s: 8 uploaded, 0 failed of 8 images\n/);
  }, 40_000);

  it.each([
    [["--split", "training"], /--split takes train, valid, test, not 'training'/],
    [["--tag", " "], /--tag needs a value that is not blank/],
    [["--concurrency", "0"], /--concurrency takes a whole number from 1 to 1000/],
    [["--wait"], /Option --wait does not apply/],
  ])("refuses %j as a usage error", async (extra, message) => {
    const result = await runCli(["roboflow", "upload", "widgets", ".", ...extra], { env: { ROBOFLOW_API_KEY: KEY } });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
  });

  it("is a usage error when the paths hold no image", async () => {
    const r = await rig(0);
    await writeFile(join(r.images, "notes.txt"), "not an image");
    const result = await runCli(upload(r), { env: r.env });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/No images in .*images/);
  });
});
