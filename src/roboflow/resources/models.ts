import * as z from "zod/mini";
import type { APIPromise } from "../../core/api-promise.js";
import { InvalidArgumentError } from "../../core/errors.js";
import type { NamedSpec } from "../../core/client.js";
import type { RequestOptions } from "../../core/transport.js";
import { multipartBody } from "../../core/upload.js";
import type { Roboflow } from "../client.js";
import { prepareImage, threshold, type ImageInput } from "../image-input.js";
import { pathOf } from "../paths.js";
import { PredictResponse, type PredictResult } from "../predictions.js";

/**
 * How `models.predict` asks. Thresholds are fractions from 0 to 1, whatever scale the host reads.
 *
 * @example
 * ```ts
 * await rf.models.predict("widgets/2", "./w.jpg", { confidence: 0.6, overlap: 0.3, classes: ["widget"], maxDetections: 10 });
 * ```
 */
export interface PredictOptions {
  /** Predictions below this confidence are left out [the host's default, 0.4]. */
  readonly confidence?: number | undefined;
  /** Boxes overlapping more than this are merged (non-maximum suppression) [the host's default, 0.3]. */
  readonly overlap?: number | undefined;
  /**
   * Only these classes. Sent to the host and applied here as well, since the serverless host may
   * ignore it.
   */
  readonly classes?: readonly string[] | undefined;
  /** At most this many detections [the host's default, 300]. */
  readonly maxDetections?: number | undefined;
  /** How segmentation masks come back [`polygon`]. */
  readonly maskFormat?: "polygon" | "rle" | undefined;
}

/** Hosts of the first hosted API, which read thresholds as percentages (0 to 100). */
const PERCENT_HOSTS = new Set(["detect.roboflow.com", "outline.roboflow.com", "classify.roboflow.com", "segment.roboflow.com"]);

/**
 * Hosted models on the inference host (`inferenceUrl`, serverless by default). A model is
 * `"project/version"`. Errors carry `service: "inference"`: a model still loading (503 with
 * `Retry-After`) is retried after the wait it asks for; 402 (credits spent) and 507 (model too big)
 * are never retried and come with hints.
 *
 * @example
 * ```ts
 * const result = await rf.models.predict("widgets/2", "./widget.jpg", { confidence: 0.5 });
 * if (result.kind === "detection") console.log(result.predictions.map((p) => `${p.class} ${p.confidence}`));
 * ```
 */
export class ModelsResource {
  constructor(private readonly client: Roboflow) {}

  /**
   * `POST /{project}/{version}` on the inference host: the image as multipart (at most 20 MB, checked
   * before sending) or `{ url }` for the host to fetch. Resolves to the validated predictions, with a
   * `kind` of `detection` (also segmentation and keypoints), `classification` or `multi-label`.
   */
  predict(model: string, image: ImageInput, predictOptions: PredictOptions = {}, options?: RequestOptions): APIPromise<PredictResult> {
    return this.client.inferenceCall(() => this.#spec(model, image, predictOptions), options);
  }

  async #spec(model: string, input: ImageInput, opts: PredictOptions): Promise<NamedSpec<PredictResult>> {
    const [project, version] = modelRef(model);
    const percent = PERCENT_HOSTS.has(hostOf(this.client.inferenceUrl));
    const classes = checkedClasses(opts.classes);
    const query = {
      confidence: wireThreshold(threshold("confidence", opts.confidence), percent),
      overlap: wireThreshold(threshold("overlap", opts.overlap), percent),
      classes: classes?.join(","),
      max_detections: checkedCount("maxDetections", opts.maxDetections),
      response_mask_format: checkedMaskFormat(opts.maskFormat),
      format: "json",
    };
    const schema = classes === undefined ? PredictResponse : z.pipe(PredictResponse, z.transform((r) => onlyClasses(r, classes)));
    const common = { operation: "models.predict", method: "POST", path: pathOf(project, version), schema } as const;
    const image = await prepareImage(input);
    if (image.kind === "url") return { ...common, query: { ...query, image: image.url } };
    const { file } = image;
    return { ...common, query, body: () => multipartBody([{ name: "file", file }]), replayable: file.replayable };
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return "";
  }
}

/** `"project/version"`, as the model's page names it. */
function modelRef(model: string): [string, string] {
  const parts = typeof model === "string" ? model.split("/") : [];
  const [project, version] = parts;
  if (parts.length !== 2 || project === undefined || project.trim() === "" || version === undefined || version.trim() === "") {
    throw new InvalidArgumentError(`A model is "project/version", got ${JSON.stringify(model)}`, {
      hint: 'Name the project and the version whose model you trained, e.g. "widgets/2".',
    });
  }
  return [project, version];
}

/**
 * The serverless host reads any value of 1 or more as a percentage, so the fraction 1 is sent as 100;
 * the first hosted API reads percentages only.
 */
function wireThreshold(value: number | undefined, percent: boolean): number | undefined {
  if (value === undefined) return undefined;
  if (percent || value >= 1) return Math.round(value * 100 * 1e6) / 1e6;
  return value;
}

function checkedClasses(classes: readonly string[] | undefined): readonly string[] | undefined {
  if (classes === undefined) return undefined;
  if (!Array.isArray(classes) || classes.length === 0 || classes.some((c) => typeof c !== "string" || c.trim() === "" || c.includes(","))) {
    throw new InvalidArgumentError("`classes` is a non-empty list of class names (without commas)");
  }
  return classes;
}

function checkedCount(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 1) throw new InvalidArgumentError(`\`${name}\` is a whole number, 1 or more; got ${String(value)}`);
  return value;
}

function checkedMaskFormat(value: string | undefined): string | undefined {
  if (value === undefined || value === "polygon" || value === "rle") return value;
  throw new InvalidArgumentError(`\`maskFormat\` is "polygon" or "rle"; got ${JSON.stringify(value)}`);
}

/** Applies `classes` here too: detections of other classes are dropped, whatever the host did. */
function onlyClasses(result: PredictResult, classes: readonly string[]): PredictResult {
  if (result.kind !== "detection") return result;
  return { ...result, predictions: result.predictions.filter((p) => classes.includes(p.class)) };
}
