import type { ErrorBodyFields } from "../core/dialect.js";

/**
 * Failures Roboflow words in a known way, and what to do about them: the hints (and, where the status
 * alone would pick a less useful class, the code) faultline adds to what a body says.
 */
export interface Remedy {
  readonly statuses: readonly number[];
  /** What the body's message must say; any message (or none) when absent. */
  readonly match?: RegExp | undefined;
  /** The class it earns instead of the status's. */
  readonly errorCode?: string | undefined;
  readonly hint: string;
  /** Our hint replaces the body's (whose advice names a raw wire parameter rather than faultline's option). */
  readonly overridesHint?: boolean | undefined;
}

/** Both hosts take at most 20 MB per image. */
export const IMAGE_LIMIT_HINT = "Roboflow takes images up to 20 MB: shrink or recompress the image.";

/** The main API's (api.roboflow.com) known failures. */
export const API_REMEDIES: readonly Remedy[] = [
  {
    statuses: [400],
    match: /^Could not fetch image URL/i,
    hint: "Roboflow could not download the image: check that the URL is well formed, public (no private address) and answers 200, or upload the bytes with { file } instead.",
  },
  {
    statuses: [502],
    match: /^Could not fetch image URL/i,
    hint: "The image's own host failed or could not be reached: the same request may succeed later, or upload the bytes with { file } instead.",
  },
  {
    // Older answers say it with a 400, today's with a 409: either way it is the image's state, not the request.
    statuses: [400, 409],
    match: /already annotated/i,
    errorCode: "CONFLICT",
    hint: "The image already has an annotation: pass `overwrite: true` to rf.images.annotate to replace it.",
    overridesHint: true,
  },
  { statuses: [413], hint: IMAGE_LIMIT_HINT },
];

/** The inference host's (serverless.roboflow.com) known failures. */
export const INFERENCE_REMEDIES: readonly Remedy[] = [
  {
    statuses: [402],
    hint: "The workspace is out of inference credits or past its usage cap: add credits or raise the cap in Roboflow's billing settings. Retrying will not help.",
  },
  {
    statuses: [503],
    match: /not ready/i,
    hint: "The model is still loading on the serverless host: faultline waits the Retry-After and tries again; for a cold model allow more retries (`maxRetries`) or a longer `deadline`.",
  },
  {
    statuses: [507],
    hint: "The model is too big for the serverless host: run it on a dedicated deployment (rf.deployments) or choose a smaller model. Retrying will not help.",
  },
  { statuses: [413], hint: IMAGE_LIMIT_HINT },
];

/** Adds what `remedies` know to what the body said; the body's own code and hint win unless a remedy says otherwise. */
export function withRemedy(remedies: readonly Remedy[], status: number, fields: ErrorBodyFields): ErrorBodyFields {
  const message = fields.message;
  const remedy = remedies.find(
    (r) => r.statuses.includes(status) && (r.match === undefined || (message !== undefined && r.match.test(message))),
  );
  if (remedy === undefined) return fields;
  return {
    ...fields,
    errorCode: fields.errorCode ?? remedy.errorCode,
    hint: remedy.overridesHint === true ? remedy.hint : (fields.hint ?? remedy.hint),
  };
}
