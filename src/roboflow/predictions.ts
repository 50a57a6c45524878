/**
 * What the inference host answers: a model's predictions (detection, with segmentation points or
 * keypoints when the model makes them; single- and multi-label classification) and a Workflow's
 * outputs. Wire names are kept; each result gains a `kind` to switch on.
 */
import * as z from "zod/mini";

// Each schema is built on first use (`z.lazy`, which keeps what it built): building every one of them at
// import cost each process a cold start of over ten milliseconds, and a process uses a few.

/** The image as the model saw it, in pixels. @example `result.image.width` */
export const ImageSize = z.lazy(() => z.looseObject({ width: z.number(), height: z.number() }));
export type ImageSize = z.infer<typeof ImageSize>;

/** A vertex of a segmentation polygon, in pixels. @example `prediction.points?.map((p) => [p.x, p.y])` */
export const PolygonPoint = z.lazy(() => z.looseObject({ x: z.number(), y: z.number() }));
export type PolygonPoint = z.infer<typeof PolygonPoint>;

/** One keypoint of a keypoint-detection prediction. @example `prediction.keypoints?.find((k) => k.class === "nose")` */
export const Keypoint = z.lazy(() => z.looseObject({
  x: z.number(),
  y: z.number(),
  confidence: z.number(),
  class_id: z.optional(z.number()),
  class: z.optional(z.string()),
}));
export type Keypoint = z.infer<typeof Keypoint>;

/** One detected object: `x`, `y` is the box centre, sizes in pixels, `confidence` from 0 to 1. @example `const left = p.x - p.width / 2` */
export const DetectionPrediction = z.lazy(() => z.looseObject({
  x: z.number(),
  y: z.number(),
  width: z.number(),
  height: z.number(),
  confidence: z.number(),
  class: z.string(),
  class_id: z.optional(z.number()),
  detection_id: z.optional(z.string()),
  class_confidence: z.optional(z.nullable(z.number())),
  tracker_id: z.optional(z.nullable(z.number())),
  parent_id: z.optional(z.nullable(z.string())),
  /** Instance segmentation: the object's outline. */
  points: z.optional(z.array(PolygonPoint)),
  /** Keypoint detection: the object's keypoints. */
  keypoints: z.optional(z.array(Keypoint)),
}));
export type DetectionPrediction = z.infer<typeof DetectionPrediction>;

const common = {
  inference_id: z.optional(z.string()),
  /** Seconds the model took. */
  time: z.optional(z.number()),
  frame_id: z.optional(z.nullable(z.number())),
};

/** One class of a single-label classification, with its confidence. @example `result.predictions[0]?.class` */
export const ClassPrediction = z.lazy(() => z.looseObject({ class: z.string(), class_id: z.optional(z.number()), confidence: z.number() }));
export type ClassPrediction = z.infer<typeof ClassPrediction>;

const Classification = z.lazy(() => z.looseObject({
  ...common,
  predictions: z.array(ClassPrediction),
  top: z.string(),
  confidence: z.number(),
  image: z.optional(ImageSize),
}));
const MultiLabel = z.lazy(() => z.looseObject({
  ...common,
  predictions: z.record(z.string(), z.looseObject({ confidence: z.number(), class_id: z.optional(z.number()) })),
  predicted_classes: z.array(z.string()),
  image: z.optional(ImageSize),
}));
const Detection = z.lazy(() => z.looseObject({
  ...common,
  predictions: z.array(DetectionPrediction),
  image: ImageSize,
}));

/** Object detection, instance segmentation or keypoint detection. @example `if (r.kind === "detection") r.predictions.length` */
export type DetectionResult = z.infer<typeof Detection> & { readonly kind: "detection" };
/** Single-label classification: `top` is the winning class. @example `if (r.kind === "classification") r.top` */
export type ClassificationResult = z.infer<typeof Classification> & { readonly kind: "classification" };
/** Multi-label classification: `predicted_classes` are those over the threshold. @example `if (r.kind === "multi-label") r.predicted_classes` */
export type MultiLabelResult = z.infer<typeof MultiLabel> & { readonly kind: "multi-label" };

/**
 * What `rf.models.predict` resolves to, discriminated by `kind`.
 *
 * @example
 * ```ts
 * const result = await rf.models.predict("widgets/2", "./widget.jpg");
 * if (result.kind === "detection") for (const p of result.predictions) console.log(p.class, p.confidence);
 * ```
 */
export type PredictResult = DetectionResult | ClassificationResult | MultiLabelResult;

/** The model answer, validated and given its `kind`. Classification first: its `top` is what tells it apart. */
export const PredictResponse: z.ZodMiniType<PredictResult> = z.lazy(() => z.union([
  z.pipe(Classification, z.transform((r): ClassificationResult => ({ ...r, kind: "classification" }))),
  z.pipe(MultiLabel, z.transform((r): MultiLabelResult => ({ ...r, kind: "multi-label" }))),
  z.pipe(Detection, z.transform((r): DetectionResult => ({ ...r, kind: "detection" }))),
]));

/**
 * What `rf.workflows.run` resolves to: one entry of `outputs` per input image, keyed by the Workflow's
 * output names; `profiler_trace` when profiling was asked for.
 *
 * @example
 * ```ts
 * const { outputs } = await rf.workflows.run("detect-widgets", { image: { file: "./w.jpg" } });
 * console.log(outputs[0]?.["predictions"]);
 * ```
 */
export const WorkflowRunResult = z.lazy(() => z.looseObject({
  outputs: z.array(z.record(z.string(), z.unknown())),
  profiler_trace: z.optional(z.unknown()),
}));
export type WorkflowRunResult = z.infer<typeof WorkflowRunResult>;
