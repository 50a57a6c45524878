import { performance } from "node:perf_hooks";
import { describe, expect, it } from "vitest";
import {
  AbortedError,
  ConflictError,
  InvalidArgumentError,
  NotFoundError,
  TimeoutError,
} from "../../src/core/errors.js";
import { EXPORT_FORMATS } from "../../src/roboflow/formats.js";
import { expectMasked, failure, setup } from "./support.js";

describe("rf.versions", () => {
  it("gets a version", async () => {
    const { emu, rf } = await setup();
    const detail = await rf.versions.get("widgets", 1);
    expect(detail.version.id).toBe("acme/widgets/1");
    expect(emu.requests[0]?.path).toBe("/acme/widgets/1");
  });

  it("takes a version as a numeric string", async () => {
    const { rf } = await setup();
    expect((await rf.versions.get("acme/widgets", "2")).version.id).toBe("acme/widgets/2");
  });

  it("throws InvalidArgumentError for a version that is not a positive whole number, before any request", async () => {
    const { emu, rf } = await setup();
    for (const bad of [0, -1, 1.5, "two", ""]) {
      expect(await failure(rf.versions.get("widgets", bad))).toBeInstanceOf(InvalidArgumentError);
    }
    expect(emu.requests.length).toBe(0);
  });

  it("throws NotFoundError for a version that does not exist", async () => {
    const { emu, rf } = await setup();
    const error = await failure(rf.versions.get("widgets", 99));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(emu.requests).toHaveLength(1);
    expectMasked(error);
  });

  it("generates a new version", async () => {
    const { emu, rf } = await setup();
    const generated = await rf.versions.generate("widgets", { augmentation: {}, preprocessing: { resize: { width: 640, height: 640 } } });
    expect(generated.version).toBeDefined();
    expect(emu.requests[0]).toMatchObject({ method: "POST", path: "/acme/widgets/generate" });
    const { versions } = await rf.projects.get("widgets");
    expect(versions.length).toBe(3);
  });

  it("deletes a version to Trash and restores it", async () => {
    const { emu, rf } = await setup();
    await rf.versions.delete("widgets", 2);
    expect(emu.requests.at(-1)).toMatchObject({ method: "DELETE", path: "/acme/widgets/2" });
    expect(await failure(rf.versions.get("widgets", 2))).toBeInstanceOf(NotFoundError);
    await rf.versions.restore("widgets", 2);
    expect(emu.requests.at(-1)).toMatchObject({ method: "POST", path: "/acme/trash/restore" });
    expect((await rf.versions.get("widgets", 2)).version.id).toBe("acme/widgets/2");
  });

  it("throws ConflictError restoring a version whose project is in Trash, without retrying", async () => {
    const { emu, rf } = await setup();
    await rf.versions.delete("widgets", 1);
    await rf.projects.delete("widgets");
    const before = emu.requests.length;
    const error = await failure(rf.versions.restore("widgets", 1));
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as ConflictError).status).toBe(409);
    expect((error as ConflictError).code).toBe("CONFLICT");
    expect(emu.requests.length - before).toBe(1);
    expectMasked(error);
  });
});

describe("rf.versions.export", () => {
  it("throws InvalidArgumentError for an unknown format, before any request", async () => {
    const { emu, rf } = await setup();
    const error = await failure(rf.versions.export("widgets", 1, "yolov99"));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).hint).toContain("coco");
    expect(emu.requests.length).toBe(0);
  });

  it("knows every documented format", () => {
    expect(EXPORT_FORMATS).toEqual(
      expect.arrayContaining(["coco", "yolov5", "yolov7", "yolov8", "yolov9", "yolov11", "voc", "createml", "tfrecord", "darknet", "multiclass", "clip", "png-mask-semantic"]),
    );
  });

  it("returns the first answer without wait: preparing with its progress", async () => {
    const { emu, rf } = await setup({}, { exportMs: 5_000 });
    const first = await rf.versions.export("widgets", 1, "coco");
    expect(first.status).toBe("preparing");
    if (first.status === "preparing") expect(first.progress).toBeGreaterThanOrEqual(0);
    expect(emu.requests.map((r) => [r.path, r.status])).toEqual([["/acme/widgets/1/coco", 202]]);
  });

  it("polls the 202 answers until the link when asked to wait, calling onProgress", async () => {
    const { emu, rf } = await setup();
    const progress: number[] = [];
    const ready = await rf.versions.export("widgets", 1, "yolov8", {
      wait: true,
      pollInterval: 10,
      onProgress: (p) => progress.push(p),
    });
    expect(ready.status).toBe("ready");
    expect(ready.link).toMatch(/^https?:\/\//);
    expect(progress.length).toBeGreaterThan(0);
    const statuses = emu.requests.map((r) => r.status);
    expect(statuses.at(-1)).toBe(200);
    expect(statuses.slice(0, -1).every((s) => s === 202)).toBe(true);
    expect(statuses.length).toBe(progress.length + 1);
  });

  it("gives the final 200 response through withResponse() when waiting", async () => {
    const { rf } = await setup();
    const { data, status } = await rf.versions
      .export("widgets", 1, "clip", { wait: true, pollInterval: 10 })
      .withResponse();
    expect(status).toBe(200);
    expect(data.link).toContain("/downloads/acme/widgets/1/clip.zip");
  });

  it("returns the link at once when the export is already prepared", async () => {
    const { rf } = await setup();
    await rf.versions.export("widgets", 2, "voc", { wait: true, pollInterval: 10 });
    const again = await rf.versions.export("widgets", 2, "voc");
    expect(again.status).toBe("ready");
  });

  it("rides out a 500 during polling through the retry policy", async () => {
    const { emu, rf } = await setup();
    emu.inject("serverError", { count: 1, path: "/acme/widgets/1/coco" });
    const ready = await rf.versions.export("widgets", 1, "coco", { wait: true, pollInterval: 10 });
    expect(ready.link).toBeTypeOf("string");
    expect(emu.requests[0]?.status).toBe(500);
  });

  it("throws TimeoutError when the export is not ready within its waitTimeout", async () => {
    const { rf } = await setup({}, { exportMs: 60_000 });
    const error = await failure(rf.versions.export("widgets", 1, "coco", { wait: true, pollInterval: 20, waitTimeout: 100 }));
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).attempts).toBeGreaterThan(1);
    expect((error as TimeoutError).message).toMatch(/; waitTimeout 100 ms, progress [\d.]+\)$/);
    expect((error as TimeoutError).hint).toMatch(/`waitTimeout`/);
  });

  it("polls until its waitTimeout is really spent, its last sleep shortened to fit one more poll", async () => {
    // Issue 11.12: `export(..., { wait: true, timeout: 700 })` gave up after 15 ms, having polled once.
    const { emu, rf } = await setup({}, { exportMs: 60_000 });
    const started = performance.now();
    const error = await failure(rf.versions.export("widgets", 1, "coco", { wait: true, waitTimeout: 700 }));
    const waited = performance.now() - started;
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).message).toMatch(/^The export was not ready after \d+ ms \(2 polls; waitTimeout 700 ms, progress [\d.]+\)$/);
    expect(waited).toBeGreaterThanOrEqual(700);
    expect(emu.requests.map((r) => r.status)).toEqual([202, 202]);
    expect((emu.requests[1]?.at ?? 0) - (emu.requests[0]?.at ?? 0)).toBeGreaterThanOrEqual(650);
  });

  it("still takes `timeout`, the deprecated name of waitTimeout, as the wait", async () => {
    const { emu, rf } = await setup({}, { exportMs: 60_000 });
    const started = performance.now();
    const error = await failure(rf.versions.export("widgets", 1, "coco", { wait: true, timeout: 700 }));
    expect((error as TimeoutError).message).toMatch(/\(2 polls; waitTimeout 700 ms, progress [\d.]+\)$/);
    expect(performance.now() - started).toBeGreaterThanOrEqual(700);
    expect(emu.requests).toHaveLength(2);
  });

  it("refuses waitTimeout and timeout together, and a bad waitTimeout, before any request", async () => {
    const { emu, rf } = await setup({}, { exportMs: 60_000 });
    const both = await failure(rf.versions.export("widgets", 1, "coco", { wait: true, waitTimeout: 700, timeout: 700 }));
    expect(both).toBeInstanceOf(InvalidArgumentError);
    expect((both as InvalidArgumentError).message).toBe("Pass `waitTimeout` only: `timeout` is its deprecated name");
    const negative = await failure(rf.versions.export("widgets", 1, "coco", { wait: true, waitTimeout: -5 }));
    expect((negative as InvalidArgumentError).message).toBe("Invalid option waitTimeout: expected a positive, finite number of milliseconds, got -5");
    expect(emu.requests).toHaveLength(0);
  });

  it("bounds the whole wait by the call's deadline", async () => {
    const { rf } = await setup({}, { exportMs: 60_000 });
    const started = Date.now();
    const error = await failure(
      rf.versions.export("widgets", 1, "coco", { wait: true, pollInterval: 20 }, { deadline: 150 }),
    );
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).message).toMatch(/deadline/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("stops polling with AbortedError when the caller's signal aborts", async () => {
    const { rf } = await setup({}, { exportMs: 60_000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 80);
    const error = await failure(
      rf.versions.export("widgets", 1, "coco", { wait: true, pollInterval: 20 }, { signal: controller.signal }),
    );
    expect(error).toBeInstanceOf(AbortedError);
  });

  it("throws NotFoundError exporting a version that does not exist", async () => {
    const { rf } = await setup();
    expect(await failure(rf.versions.export("widgets", 42, "coco", { wait: true, pollInterval: 10 }))).toBeInstanceOf(
      NotFoundError,
    );
  });
});
