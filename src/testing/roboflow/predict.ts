import { mulberry32 } from "../random.js";
import { stableHash } from "./responses.js";

/** A model as the emulator runs it: its id (`project/version`), its project's type and classes. */
export interface EmulatedModel {
  readonly id: string;
  readonly type: string;
  readonly classes: readonly string[];
}

/** The image a prediction is made for: its content hash and size. */
export interface PredictedImage {
  readonly hash: string;
  readonly width: number;
  readonly height: number;
}

/** Thresholds as fractions, as the server holds them once parsed. */
export interface PredictSettings {
  readonly confidence: number;
  readonly overlap: number;
  readonly maxDetections: number;
}

export const DEFAULT_SETTINGS: PredictSettings = { confidence: 0.4, overlap: 0.3, maxDetections: 300 };

/** The project types the serverless host runs; semantic segmentation is not among them. */
export const DETECTION_TYPES = ["object-detection", "instance-segmentation", "keypoint-detection"];
export const CLASSIFICATION_TYPES = ["classification", "single-label-classification"];
export const MULTI_LABEL_TYPE = "multi-label-classification";

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
  confidence: number;
  class: string;
  class_id: number;
  detection_id: string;
}

/**
 * A model's answer for an image, in the inference server's wire form. Deterministic: the same model and
 * the same bytes always give the same predictions (drawn from a generator seeded by both), so tests can
 * assert on them; thresholds then filter them as the server would.
 */
export function predictFor(model: EmulatedModel, image: PredictedImage, settings: PredictSettings): Record<string, unknown> {
  const seed = Number.parseInt(stableHash(`${model.id}:${image.hash}`, 8), 16);
  const random = mulberry32(seed);
  const classes = model.classes.length > 0 ? model.classes : ["object"];
  const common = {
    inference_id: stableHash(`inference:${model.id}:${image.hash}`, 32),
    time: Math.round((0.02 + random() * 0.08) * 10_000) / 10_000,
    image: { width: image.width, height: image.height },
  };
  if (CLASSIFICATION_TYPES.includes(model.type)) return { ...common, ...classify(classes, random) };
  if (model.type === MULTI_LABEL_TYPE) return { ...common, ...multiLabel(classes, random, settings.confidence) };
  const boxes = detect(classes, image, random, seed, settings);
  return { ...common, predictions: boxes.map((box) => withShape(box, model.type)) };
}

function detect(classes: readonly string[], image: PredictedImage, random: () => number, seed: number, s: PredictSettings): Box[] {
  const candidates: Box[] = [];
  const count = 1 + Math.floor(random() * 4);
  for (let i = 0; i < count; i++) {
    const classId = Math.floor(random() * classes.length);
    const width = round((0.1 + random() * 0.3) * image.width);
    const height = round((0.1 + random() * 0.3) * image.height);
    candidates.push({
      x: round(width / 2 + random() * (image.width - width)),
      y: round(height / 2 + random() * (image.height - height)),
      width,
      height,
      confidence: round4(0.25 + random() * 0.74),
      class: classes[classId] as string,
      class_id: classId,
      detection_id: stableHash(`detection:${seed}:${i}`, 32),
    });
  }
  // What the server does: drop the unconfident, then suppress overlaps within a class, most confident first.
  const kept: Box[] = [];
  for (const box of candidates.filter((b) => b.confidence >= s.confidence).sort((a, b) => b.confidence - a.confidence)) {
    if (kept.some((k) => k.class === box.class && iou(k, box) > s.overlap)) continue;
    kept.push(box);
  }
  return kept.slice(0, s.maxDetections);
}

/** Segmentation adds an outline (an octagon inside the box); keypoints add the box's four edge midpoints. */
function withShape(box: Box, type: string): Record<string, unknown> {
  if (type === "instance-segmentation") {
    const points = Array.from({ length: 8 }, (_, k) => ({
      x: round(box.x + (box.width / 2) * Math.cos((k * Math.PI) / 4)),
      y: round(box.y + (box.height / 2) * Math.sin((k * Math.PI) / 4)),
    }));
    return { ...box, points };
  }
  if (type === "keypoint-detection") {
    const names = ["top", "right", "bottom", "left"];
    const at = [
      [box.x, box.y - box.height / 2],
      [box.x + box.width / 2, box.y],
      [box.x, box.y + box.height / 2],
      [box.x - box.width / 2, box.y],
    ];
    const keypoints = names.map((name, k) => ({
      x: round(at[k]?.[0] ?? box.x),
      y: round(at[k]?.[1] ?? box.y),
      confidence: round4(Math.max(0, box.confidence - k * 0.05)),
      class_id: k,
      class: name,
    }));
    return { ...box, keypoints };
  }
  return { ...box };
}

function classify(classes: readonly string[], random: () => number): Record<string, unknown> {
  const scores = classes.map(() => 0.05 + random());
  const total = scores.reduce((sum, n) => sum + n, 0);
  const predictions = classes
    .map((name, i) => ({ class: name, class_id: i, confidence: round4((scores[i] ?? 0) / total) }))
    .sort((a, b) => b.confidence - a.confidence);
  const top = predictions[0] as { class: string; confidence: number };
  return { predictions, top: top.class, confidence: top.confidence };
}

function multiLabel(classes: readonly string[], random: () => number, threshold: number): Record<string, unknown> {
  const predictions: Record<string, { confidence: number; class_id: number }> = {};
  classes.forEach((name, i) => {
    predictions[name] = { confidence: round4(random()), class_id: i };
  });
  const predicted_classes = classes.filter((name) => (predictions[name]?.confidence ?? 0) >= threshold);
  return { predictions, predicted_classes };
}

function iou(a: Box, b: Box): number {
  const w = Math.min(a.x + a.width / 2, b.x + b.width / 2) - Math.max(a.x - a.width / 2, b.x - b.width / 2);
  const h = Math.min(a.y + a.height / 2, b.y + b.height / 2) - Math.max(a.y - a.height / 2, b.y - b.height / 2);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / (a.width * a.height + b.width * b.height - inter);
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

function round4(n: number): number {
  return Math.round(n * 10_000) / 10_000;
}
