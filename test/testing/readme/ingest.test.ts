// ingest.test.ts
import { afterEach, beforeEach, expect, test } from "vitest";
import { Roboflow } from "faultline";
import { ROBOFLOW_EMULATOR_KEY, ROBOFLOW_EMULATOR_WORKSPACE, startEmulator, type Emulator, type RoboflowApp } from "faultline/testing";
import { ingest } from "./ingest.js";

/** Three different PNG headers: the emulator reads a PNG's size from its first 24 bytes. */
const png = (n: number): Uint8Array =>
  Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 64 + n, 0, 0, 0, 48]);
const images = [1, 2, 3].map((n) => ({ file: `widget-${n}.png`, bytes: png(n), yolo: "0 0.5 0.5 0.2 0.2" }));

let emu: Emulator<RoboflowApp>;
let rf: Roboflow;

beforeEach(async () => {
  // Fresh ids answer 404 for 300 ms, as Roboflow's do for a moment.
  emu = await startEmulator({ api: "roboflow", imageVisibleAfterMs: 300 });
  rf = new Roboflow({ apiKey: ROBOFLOW_EMULATOR_KEY, workspace: ROBOFLOW_EMULATOR_WORKSPACE, baseUrl: emu.url });
});

afterEach(async () => {
  await rf.close();
  await emu.close();
});

test("a 502 after the image was stored is retried, answered 'duplicate', and the image is there once", async () => {
  emu.inject("badGatewayAfterWrite", { path: "/dataset/widgets/upload" }); // stored, but the answer is lost

  const outcomes = await ingest(rf, "widgets", images);

  expect(outcomes.map((o) => o.error)).toEqual([undefined, undefined, undefined]);
  expect(outcomes[0]?.duplicate).toBe(true); // the retry met the image its first attempt stored
  const stored = [...emu.app.images.values()];
  expect(stored).toHaveLength(3); // one image per file, by content hash
  expect(stored.every((image) => image.annotation?.boxes.length === 1)).toBe(true); // annotate waited out the 404s
});

test("an upload refused on its merits is reported, the others go on", async () => {
  emu.inject("locked", { path: "/dataset/widgets/upload" });

  const outcomes = await ingest(rf, "widgets", images);

  expect(outcomes.map((o) => o.error ?? "ok")).toEqual([expect.stringMatching(/^LOCKED: /), "ok", "ok"]);
  expect(emu.app.images.size).toBe(2);
});
