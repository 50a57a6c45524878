/**
 * How `roboflow infer` and `roboflow workflow run` show what a model saw: a table of predictions (class,
 * confidence and box), the classes of a classification, and a Workflow's other outputs as they are.
 */
import { PredictResponse, type DetectionPrediction, type PredictResult } from "../roboflow/predictions.js";
import type { WorkflowRunResult } from "../roboflow/predictions.js";
import { keyValues, table, type Column } from "./output.js";

/** An image argument: an http(s) URL for the host to fetch, anything else a file path. */
export function imageOf(value: string): { readonly file: string } | { readonly url: string } {
  return /^https?:\/\//i.test(value) ? { url: value } : { file: value };
}

/** A model's answer as a person reads it: a line that sums it up, then one row per prediction. */
export function predictionsText(source: string, result: PredictResult): string {
  switch (result.kind) {
    case "detection": {
      const size = `a ${result.image.width}x${result.image.height} image`;
      if (result.predictions.length === 0) return `${source}: no predictions above the confidence threshold on ${size}`;
      const count = `${result.predictions.length} prediction${result.predictions.length === 1 ? "" : "s"}`;
      return `${source}: ${count} on ${size} (x, y: the box's centre, in pixels)\n${table(result.predictions, detectionColumns(result.predictions), "")}`;
    }
    case "classification": {
      const rows = [...result.predictions].sort((a, b) => b.confidence - a.confidence);
      const columns: Column<(typeof rows)[number]>[] = [
        ["CLASS", (p) => p.class],
        ["CONFIDENCE", (p) => fixed(p.confidence, 3)],
      ];
      return `${source}: ${result.top} (${fixed(result.confidence, 3)})\n${table(rows, columns, "")}`;
    }
    case "multi-label": {
      const rows = Object.entries(result.predictions)
        .map(([name, p]) => ({ name, confidence: p.confidence, predicted: result.predicted_classes.includes(name) }))
        .sort((a, b) => b.confidence - a.confidence);
      const columns: Column<(typeof rows)[number]>[] = [
        ["CLASS", (p) => p.name],
        ["CONFIDENCE", (p) => fixed(p.confidence, 3)],
        ["PREDICTED", (p) => (p.predicted ? "yes" : "no")],
      ];
      const predicted = result.predicted_classes.length === 0 ? "no class over the threshold" : result.predicted_classes.join(", ");
      return `${source}: ${predicted}\n${table(rows, columns, "")}`;
    }
  }
}

/**
 * A Workflow's outputs: each one a model answers (a detection or classification) as `predictionsText`
 * shows it, the rest as `name: value`; one block per image when it ran on several.
 */
export function workflowOutputsText(result: WorkflowRunResult): string {
  if (result.outputs.length === 0) return "No outputs.";
  const blocks = result.outputs.map((entry) => {
    const names = Object.keys(entry);
    if (names.length === 0) return "(no outputs)";
    return names
      .map((name) => {
        const value = entry[name];
        const parsed = PredictResponse.safeParse(value);
        return parsed.success ? predictionsText(name, parsed.data) : keyValues({ [name]: value });
      })
      .join("\n\n");
  });
  if (blocks.length === 1) return blocks[0] ?? "";
  return blocks.map((block, i) => `Image ${i + 1}:\n${block}`).join("\n\n");
}

/** Class, confidence, box; segmentation points and keypoints counted when the model makes them. */
function detectionColumns(predictions: readonly DetectionPrediction[]): Column<DetectionPrediction>[] {
  const columns: Column<DetectionPrediction>[] = [
    ["CLASS", (p) => p.class],
    ["CONFIDENCE", (p) => fixed(p.confidence, 3)],
    ["X", (p) => fixed(p.x, 1)],
    ["Y", (p) => fixed(p.y, 1)],
    ["WIDTH", (p) => fixed(p.width, 1)],
    ["HEIGHT", (p) => fixed(p.height, 1)],
  ];
  if (predictions.some((p) => p.points !== undefined)) columns.push(["POINTS", (p) => p.points?.length ?? ""]);
  if (predictions.some((p) => p.keypoints !== undefined)) columns.push(["KEYPOINTS", (p) => p.keypoints?.length ?? ""]);
  return columns;
}

/** A number with at most `digits` decimals, trailing zeros kept so a column lines up. */
function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : String(value);
}
