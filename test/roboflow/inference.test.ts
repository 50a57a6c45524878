/**
 * rf.models.predict and rf.workflows.run against the emulator's inference host on loopback: typed
 * predictions of every kind, one threshold scale, and every row of the reference's "Inference errors"
 * list, each as its typed class with `service: "inference"`.
 */
import { Readable } from "node:stream";
import { request } from "undici";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  AccessDeniedError,
  ApiError,
  AuthFailedError,
  BadRequestError,
  CredentialsError,
  GatewayTimeoutError,
  InvalidArgumentError,
  LockedError,
  NotFoundError,
  PaymentRequiredError,
  RateLimitedError,
  ServerError,
} from "../../src/core/errors.js";
import type { RetryInfo } from "../../src/core/retry.js";
import { Roboflow } from "../../src/roboflow/client.js";
import { ROBOFLOW_MAX_IMAGE_BYTES } from "../../src/roboflow/image-input.js";
import { ROBOFLOW_SCOPELESS_KEY } from "../../src/testing/roboflow/app.js";
import { jpegHeader, png } from "../helpers/images.js";
import { startServer } from "../helpers/server.js";
import { KEY, expectMasked, failure, setup, type Setup } from "./support.js";

afterEach(() => {
  vi.unstubAllEnvs();
});

const IMAGE = png(320, 240, 5);

/** A project of `type` with one version, so its model `slug/1` exists. */
async function projectOfType({ rf }: Setup, name: string, type: string): Promise<string> {
  const created = await rf.projects.create({ name, type });
  const slug = created.id.split("/").at(-1) as string;
  await rf.versions.generate(slug, { augmentation: {}, preprocessing: {} });
  return slug;
}

describe("rf.models.predict", () => {
  it("sends the image as multipart to the inference host and returns typed detections", async () => {
    const { emu, rf } = await setup();
    const result = await rf.models.predict("widgets/2", IMAGE);

    expect(result.kind).toBe("detection");
    if (result.kind !== "detection") return;
    expect(result.image).toEqual({ width: 320, height: 240 });
    for (const p of result.predictions) {
      expect(["widget", "widget-defect"]).toContain(p.class);
      expect(p.confidence).toBeGreaterThanOrEqual(0.4);
      expect(p.confidence).toBeLessThanOrEqual(1);
      expect(p.x - p.width / 2).toBeGreaterThanOrEqual(0);
      expect(p.x + p.width / 2).toBeLessThanOrEqual(320);
    }
    expect(emu.requests[0]).toMatchObject({ method: "POST", path: "/inference/widgets/2", status: 200 });
    expect(emu.requests[0]?.query).toBe("format=json&api_key=***");
    expect(emu.requests[0]?.headers["content-type"]).toMatch(/^multipart\/form-data/);
  });

  it("gives the same predictions for the same image, and others for another image", async () => {
    const { rf } = await setup();
    const first = await rf.models.predict("widgets/2", IMAGE, { confidence: 0 });
    const again = await rf.models.predict("widgets/2", IMAGE, { confidence: 0 });
    const other = await rf.models.predict("widgets/2", png(320, 240, 6), { confidence: 0 });
    expect(again).toEqual(first);
    expect(other).not.toEqual(first);
  });

  it("takes thresholds as fractions and sends them so, sending 1 as 100 since the host reads 1 or more as a percentage", async () => {
    const { emu, rf } = await setup();
    const all = await rf.models.predict("widgets/2", IMAGE, { confidence: 0, overlap: 1 });
    const none = await rf.models.predict("widgets/2", IMAGE, { confidence: 1 });
    const half = await rf.models.predict("widgets/2", IMAGE, { confidence: 0.5, overlap: 0.25, maxDetections: 2 });
    expect(emu.requests.map((r) => r.query)).toEqual([
      "confidence=0&overlap=100&format=json&api_key=***",
      "confidence=100&format=json&api_key=***",
      "confidence=0.5&overlap=0.25&max_detections=2&format=json&api_key=***",
    ]);
    if (all.kind !== "detection" || none.kind !== "detection" || half.kind !== "detection") throw new Error("detections expected");
    expect(all.predictions.length).toBeGreaterThan(0);
    expect(none.predictions.filter((p) => p.confidence < 1)).toEqual([]);
    expect(half.predictions.length).toBeLessThanOrEqual(2);
    expect(half.predictions.every((p) => p.confidence >= 0.5)).toBe(true);
  });

  it.each([
    ["a percentage", { confidence: 40 }, /For 40%, pass 0.4/],
    ["a negative overlap", { overlap: -0.1 }, /fraction from 0 to 1/],
    ["NaN", { confidence: Number.NaN }, /fraction from 0 to 1/],
    ["a fractional maxDetections", { maxDetections: 2.5 }, /whole number/],
    ["an unknown mask format", { maskFormat: "bitmap" }, /polygon/],
    ["an empty class list", { classes: [] }, /classes/],
  ])("refuses %s before any request", async (_what, options, message) => {
    const { emu, rf } = await setup();
    const error = await failure(rf.models.predict("widgets/2", IMAGE, options as never));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(`${(error as InvalidArgumentError).message} ${(error as InvalidArgumentError).hint ?? ""}`).toMatch(message);
    expect(emu.requests).toHaveLength(0);
  });

  it("keeps only the asked classes, even where the host ignores `classes`", async () => {
    const { emu, rf } = await setup();
    const everything = await rf.models.predict("widgets/2", IMAGE, { confidence: 0 });
    const only = await rf.models.predict("widgets/2", IMAGE, { confidence: 0, classes: ["widget"] });
    if (everything.kind !== "detection" || only.kind !== "detection") throw new Error("detections expected");
    expect(only.predictions).toEqual(everything.predictions.filter((p) => p.class === "widget"));
    expect(emu.requests[1]?.query).toContain("classes=widget");
  });

  it("sends the image's own bytes, not a re-encoding, from a path, bytes or a Blob", async () => {
    const { emu, rf } = await setup();
    const a = await rf.models.predict("widgets/2", { file: IMAGE, filename: "a.png" }, { confidence: 0 });
    const b = await rf.models.predict("widgets/2", new Blob([IMAGE], { type: "image/png" }), { confidence: 0 });
    expect(b).toEqual(a);
    expect(emu.requests.map((r) => r.status)).toEqual([200, 200]);
  });

  it("runs a model on an image URL the host fetches", async () => {
    const { emu, rf } = await setup();
    emu.app.remoteImages.set("https://cdn.example.com/w.png", { bytes: IMAGE });
    const byUrl = await rf.models.predict("widgets/2", { url: "https://cdn.example.com/w.png" }, { confidence: 0 });
    expect(byUrl).toEqual(await rf.models.predict("widgets/2", IMAGE, { confidence: 0 }));
    expect(emu.requests[0]?.query).toContain("image=https%3A%2F%2Fcdn.example.com%2Fw.png");
  });

  it("returns segmentation points and keypoints on detections of such models", async () => {
    const s = await setup();
    const seg = await projectOfType(s, "Outlines", "instance-segmentation");
    const kp = await projectOfType(s, "Poses", "keypoint-detection");
    const segmented = await s.rf.models.predict(`${seg}/1`, IMAGE, { confidence: 0 });
    const posed = await s.rf.models.predict(`${kp}/1`, IMAGE, { confidence: 0 });
    if (segmented.kind !== "detection" || posed.kind !== "detection") throw new Error("detections expected");
    expect(segmented.predictions[0]?.points?.length).toBe(8);
    expect(posed.predictions[0]?.keypoints?.map((k) => k.class)).toEqual(["top", "right", "bottom", "left"]);
  });

  it("returns single-label classification with its top class", async () => {
    const { rf } = await setup();
    const result = await rf.models.predict("gadgets/1", jpegHeader(224, 224));
    expect(result.kind).toBe("classification");
    if (result.kind !== "classification") return;
    expect(["gizmo", "doohickey"]).toContain(result.top);
    expect(result.confidence).toBe(result.predictions[0]?.confidence);
    expect(result.predictions.reduce((sum, p) => sum + p.confidence, 0)).toBeCloseTo(1, 3);
  });

  it("returns multi-label classification with the classes over the threshold", async () => {
    const s = await setup();
    const slug = await projectOfType(s, "Tags", "multi-label-classification");
    (s.emu.app.projects.get(slug) as { classes: Record<string, number> }).classes = { red: 1, round: 1, shiny: 1 };
    const result = await s.rf.models.predict(`${slug}/1`, IMAGE, { confidence: 0.3 });
    expect(result.kind).toBe("multi-label");
    if (result.kind !== "multi-label") return;
    expect(Object.keys(result.predictions).sort()).toEqual(["red", "round", "shiny"]);
    expect(result.predicted_classes).toEqual(Object.entries(result.predictions).filter(([, p]) => p.confidence >= 0.3).map(([c]) => c));
  });

  it("throws ResponseValidationError for a 200 that is no prediction", async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"predictions": "none"}');
    });
    const rf = new Roboflow({ apiKey: KEY, inferenceUrl: server.url, maxRetries: 0 });
    try {
      const error = await failure(rf.models.predict("widgets/2", IMAGE));
      expect((error as Error).name).toBe("ResponseValidationError");
      expectMasked(error);
    } finally {
      await rf.close();
      await server.close();
    }
  });
});

describe("rf.models.predict: every inference error of the reference", () => {
  it("400 Could not load input image: BadRequestError with service inference, not retried", async () => {
    const { emu, rf } = await setup();
    const error = await failure(rf.models.predict("widgets/2", Buffer.from("not an image at all")));
    expect(error).toBeInstanceOf(BadRequestError);
    expect(error).toMatchObject({ status: 400, service: "inference", message: "Could not load input image. Cause: Could not decode bytes as image.", attempts: 1 });
    expect(emu.requests).toHaveLength(1);
  });

  it("400 Could not load input image, for a URL the host cannot fetch", async () => {
    const { rf } = await setup();
    const error = await failure(rf.models.predict("widgets/2", { url: "https://cdn.example.com/missing.png" }));
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).message).toMatch(/^Could not load input image\. Cause: .*answered 404/);
  });

  it("400 Invalid Model ID: BadRequestError", async () => {
    const { rf } = await setup();
    const error = await failure(rf.models.predict("widgets/latest", IMAGE));
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).message).toBe("Invalid Model ID sent in request.");
  });

  it("400 Content-Type missing or invalid, Image not found, multipart without file: what the host answers a bare request", async () => {
    const { emu } = await setup();
    const post = async (headers: Record<string, string>, body: string): Promise<{ status: number; json: unknown }> => {
      const response = await request(`${emu.inferenceUrl}/widgets/2?api_key=${KEY}`, { method: "POST", headers, body });
      return { status: response.statusCode, json: await response.body.json() };
    };
    expect(await post({ "content-type": "" }, "x")).toEqual({ status: 400, json: { message: "Content-Type header not provided with request." } });
    expect(await post({ "content-type": "image/png" }, "x")).toEqual({ status: 400, json: { message: "Invalid Content-Type header provided with request." } });
    expect(await post({ "content-type": "application/x-www-form-urlencoded" }, "")).toEqual({ status: 400, json: { message: "Image not found in request body." } });
    const multipart = "--b\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--b--\r\n";
    expect(await post({ "content-type": "multipart/form-data; boundary=b" }, multipart)).toEqual({ status: 400, json: { message: "Image not found in request body." } });
    const base64 = await post({ "content-type": "application/x-www-form-urlencoded" }, IMAGE.toString("base64"));
    expect(base64.status).toBe(200);
  });

  it("400 API key missing: the host's answer to a bare request; the client refuses before sending", async () => {
    const { emu } = await setup();
    const response = await request(`${emu.inferenceUrl}/widgets/2`, { method: "POST" });
    expect(response.statusCode).toBe(400);
    expect(((await response.body.json()) as { message: string }).message).toMatch(/^Required Roboflow API key is missing/);

    vi.stubEnv("ROBOFLOW_API_KEY", "");
    const { emu: other, rf } = await setup({ apiKey: undefined });
    expect(await failure(rf.models.predict("widgets/2", IMAGE))).toBeInstanceOf(CredentialsError);
    expect(await failure(rf.workflows.run("detect-widgets", {}))).toBeInstanceOf(CredentialsError);
    expect(other.requests).toHaveLength(0);
  });

  it("the key rides as Bearer when neither query nor body carries one", async () => {
    const { emu } = await setup();
    const response = await request(`${emu.inferenceUrl}/widgets/2`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/x-www-form-urlencoded" },
      body: IMAGE.toString("base64"),
    });
    expect(response.statusCode).toBe(200);
    await response.body.dump();
  });

  it("401 Unauthorized: AuthFailedError, sent once, the key masked", async () => {
    const { emu, rf } = await setup({ apiKey: "rf-not-a-key-7777" });
    const error = await failure(rf.models.predict("widgets/2", IMAGE));
    expect(error).toBeInstanceOf(AuthFailedError);
    expect((error as AuthFailedError).service).toBe("inference");
    expect(emu.requests).toHaveLength(1);
    expectMasked(error, "rf-not-a-key-7777");
  });

  it("403 Forbidden: AccessDeniedError for a key without the scope", async () => {
    const { rf } = await setup({ apiKey: ROBOFLOW_SCOPELESS_KEY });
    const error = await failure(rf.models.predict("widgets/2", IMAGE));
    expect(error).toBeInstanceOf(AccessDeniedError);
    expectMasked(error, ROBOFLOW_SCOPELESS_KEY);
  });

  it("402 credits spent: PaymentRequiredError, never retried, with a hint", async () => {
    const { emu, rf } = await setup({ maxRetries: 5 }, { inferenceCredits: 1 });
    await rf.models.predict("widgets/2", IMAGE);
    expect(emu.app.credits).toBe(0);
    const error = await failure(rf.models.predict("widgets/2", IMAGE));
    expect(error).toBeInstanceOf(PaymentRequiredError);
    expect(error).toMatchObject({ status: 402, code: "PAYMENT_REQUIRED", retryable: false, attempts: 1, type: "CreditsExceededError" });
    expect((error as PaymentRequiredError).hint).toMatch(/credits/);
    expect(emu.requests).toHaveLength(2);
  });

  it("404: NotFoundError for a model, a version or a workspace that does not exist", async () => {
    const { emu, rf } = await setup();
    for (const model of ["gizmos/1", "widgets/9"]) {
      const error = await failure(rf.models.predict(model, IMAGE));
      expect(error).toBeInstanceOf(NotFoundError);
      expect((error as NotFoundError).message).toMatch(/^Requested Roboflow resource not found/);
    }
    expect(await failure(rf.workflows.run("elsewhere/detect-widgets", { image: { file: IMAGE } }))).toBeInstanceOf(NotFoundError);
    expect(await failure(rf.workflows.run("no-such-workflow", { image: { file: IMAGE } }))).toBeInstanceOf(NotFoundError);
    expect(emu.requests).toHaveLength(4);
  });

  it("423 usage paused: LockedError in the serverless auth layer's {status, message} form, never retried", async () => {
    const { emu, rf } = await setup({ maxRetries: 3 });
    emu.app.lock();
    const error = await failure(rf.models.predict("widgets/2", IMAGE));
    expect(error).toBeInstanceOf(LockedError);
    expect((error as LockedError).body).toMatchObject({ status: 423 });
    expect(emu.requests).toHaveLength(1);
  });

  it("429: RateLimitedError, retried after its Retry-After", async () => {
    const { emu, rf } = await setup({}, { faultRetryAfterSeconds: 0.05 });
    emu.inject("rateLimit", { path: "/inference/" });
    const retries: RetryInfo[] = [];
    await rf.models.predict("widgets/2", IMAGE, {}, { onRetry: (info) => retries.push(info) });
    expect(retries.map((r) => [r.error.constructor, r.delayMs])).toEqual([[RateLimitedError, 50]]);
    expect((retries[0]?.error as RateLimitedError).message).toMatch(/quota/);
  });

  it("500 model load failure: ServerError with the help_url as hint, retried, then thrown", async () => {
    const { emu, rf } = await setup({ maxRetries: 1 });
    emu.app.modelFaults.set("widgets/2", "loadFailed");
    const error = await failure(rf.models.predict("widgets/2", IMAGE));
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ status: 500, attempts: 2, retryable: true });
    expect((error as ServerError).message).toMatch(/^Model loading failed/);
    expect((error as ServerError).hint).toMatch(/^See https:\/\/inference\.roboflow\.com\//);
  });

  it("500 Internal error from the host (serverError fault), recovered by a retry", async () => {
    const { emu, rf } = await setup();
    emu.inject("serverError", { path: "/inference/" });
    await rf.models.predict("widgets/2", IMAGE);
    expect(emu.requests.map((r) => r.status)).toEqual([500, 200]);
  });

  it("502 Request to Roboflow API failed: ServerError, retried until maxRetries, persistent as reported", async () => {
    const { emu, rf } = await setup({ maxRetries: 2 });
    emu.app.modelFaults.set("widgets/2", "apiFailed");
    const error = await failure(rf.models.predict("widgets/2", IMAGE));
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ status: 502, message: "Internal error. Request to Roboflow API failed.", attempts: 3 });
    expect(emu.requests).toHaveLength(3);
  });

  it("502 HTML from the edge, recovered by a retry", async () => {
    const { emu, rf } = await setup();
    emu.inject("htmlBadGateway", { path: "/inference/" });
    await rf.models.predict("widgets/2", IMAGE);
    expect(emu.requests.map((r) => r.status)).toEqual([502, 200]);
  });

  it("503 model not ready with Retry-After: 1: retried after a second, then the predictions", async () => {
    const { emu, rf } = await setup({}, { modelLoadMs: 500 });
    const delays: number[] = [];
    const started = Date.now();
    const result = await rf.models.predict("widgets/2", IMAGE, {}, { onRetry: (info) => delays.push(info.delayMs) });
    expect(result.kind).toBe("detection");
    expect(delays).toEqual([1000]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(emu.requests.map((r) => r.status)).toEqual([503, 200]);
  });

  it("503 model not ready, past maxRetries: ServerError with retryAfterMs and the hint to allow more", async () => {
    const { rf } = await setup({ maxRetries: 0 }, { modelLoadMs: 60_000 });
    const error = await failure(rf.models.predict("widgets/2", IMAGE));
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ status: 503, retryAfterMs: 1000, message: "Model is temporarily not ready - retry request." });
    expect((error as ServerError).hint).toMatch(/maxRetries/);
  });

  it("503 model not ready as an injected fault (serviceUnavailable), retried after its Retry-After", async () => {
    const { emu, rf } = await setup({}, { faultRetryAfterSeconds: 0.05 });
    emu.inject("serviceUnavailable", { path: "/inference/" });
    const delays: number[] = [];
    await rf.models.predict("widgets/2", IMAGE, {}, { onRetry: (info) => delays.push(info.delayMs) });
    expect(delays).toEqual([50]);
  });

  it("503 cannot reach the Roboflow API (no Retry-After): retried with backoff", async () => {
    const { emu, rf } = await setup({ maxRetries: 1 });
    emu.app.modelFaults.set("widgets/2", "apiUnreachable");
    const delays: number[] = [];
    const error = await failure(rf.models.predict("widgets/2", IMAGE, {}, { onRetry: (info) => delays.push(info.delayMs) }));
    expect(error).toMatchObject({ status: 503, retryAfterMs: undefined, message: "Internal error. Could not connect to Roboflow API." });
    expect(delays).toHaveLength(1);
    expect(delays[0]).toBeGreaterThanOrEqual(250);
  });

  it("504 Roboflow API timeout: GatewayTimeoutError, recovered by a retry", async () => {
    const { emu, rf } = await setup();
    emu.inject("gatewayTimeout", { path: "/inference/" });
    const seen: unknown[] = [];
    await rf.models.predict("widgets/2", IMAGE, {}, { onRetry: (info) => seen.push(info.error) });
    expect(seen[0]).toBeInstanceOf(GatewayTimeoutError);
    expect((seen[0] as GatewayTimeoutError).message).toBe("Timeout when attempting to connect to Roboflow API.");
  });

  it("507 model too big: ServerError, never retried, with a hint", async () => {
    const { emu, rf } = await setup({ maxRetries: 5 });
    emu.app.modelFaults.set("widgets/2", "tooBig");
    const error = await failure(rf.models.predict("widgets/2", IMAGE));
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ status: 507, retryable: false, attempts: 1 });
    expect((error as ServerError).hint).toMatch(/dedicated deployment/);
    expect(emu.requests).toHaveLength(1);
  });

  it("413 over the limit: refused before sending at 20 MB; the edge's HTML 413 typed with a hint when the host's limit is lower", async () => {
    const { emu, rf } = await setup({}, { maxImageBytes: 1024 });
    const refused = await failure(rf.models.predict("widgets/2", new Uint8Array(ROBOFLOW_MAX_IMAGE_BYTES + 1)));
    expect(refused).toBeInstanceOf(InvalidArgumentError);
    expect(emu.requests).toHaveLength(0);

    const error = await failure(rf.models.predict("widgets/2", Buffer.concat([IMAGE, Buffer.alloc(2048)])));
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 413, code: "HTTP_413", retryable: false, message: "HTTP 413 (HTML body)" });
    expect((error as ApiError).hint).toMatch(/20 MB/);
    expect(emu.requests).toHaveLength(1);
  });

  it("422 from the framework for a malformed parameter: typed, with the issues as detail", async () => {
    const { emu } = await setup();
    const response = await request(`${emu.inferenceUrl}/widgets/2?api_key=${KEY}&confidence=high`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: IMAGE.toString("base64"),
    });
    expect(response.statusCode).toBe(422);
    expect(await response.body.json()).toMatchObject({ detail: [{ loc: ["query", "confidence"], type: "float_parsing" }] });
  });

  it("refuses a model that is not project/version before any request", async () => {
    const { emu, rf } = await setup();
    for (const model of ["widgets", "widgets/", "/2", "a/b/c", ""]) {
      expect(await failure(rf.models.predict(model, IMAGE))).toBeInstanceOf(InvalidArgumentError);
    }
    expect(emu.requests).toHaveLength(0);
  });
});

describe("rf.workflows.run", () => {
  it("runs a saved Workflow with the key in the JSON body, never in the URL, and returns its outputs", async () => {
    const { emu, rf } = await setup();
    const { outputs } = await rf.workflows.run("detect-widgets", { image: { file: IMAGE } });

    expect(outputs).toHaveLength(1);
    const predictions = outputs[0]?.["predictions"] as { image: unknown; predictions: unknown[] };
    expect(predictions.image).toEqual({ width: 320, height: 240 });
    expect(emu.requests[0]).toMatchObject({ method: "POST", path: "/inference/acme/workflows/detect-widgets", status: 200, query: "" });
  });

  it("sends the image as base64 and other inputs as they are; a list of images is a batch", async () => {
    const server = await startServer((req, res) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (chunk: string) => (body += chunk));
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ outputs: [{ echo: JSON.parse(body) }] }));
      });
    });
    const rf = new Roboflow({ apiKey: KEY, workspace: "acme", inferenceUrl: server.url });
    try {
      const { outputs } = await rf.workflows.run(
        "detect-widgets",
        { image: [{ file: IMAGE }, { url: "https://cdn.example.com/b.png" }], threshold: 0.6, params: { url: "kept", x: 1 } },
        { disableSinks: true, excludedFields: ["debug"] },
      );
      expect(outputs[0]?.["echo"]).toEqual({
        inputs: {
          image: [
            { type: "base64", value: IMAGE.toString("base64") },
            { type: "url", value: "https://cdn.example.com/b.png" },
          ],
          threshold: 0.6,
          params: { url: "kept", x: 1 },
        },
        excluded_fields: ["debug"],
        disable_sinks: true,
        api_key: KEY,
      });
      expect(server.requests[0]?.url).toBe("/acme/workflows/detect-widgets");
    } finally {
      await rf.close();
      await server.close();
    }
  });

  it("runs a batch: one output per image", async () => {
    const { rf } = await setup();
    const { outputs } = await rf.workflows.run("acme/detect-widgets", { image: [{ file: IMAGE }, { file: png(100, 50, 9) }] });
    expect(outputs.map((o) => (o["predictions"] as { image: unknown }).image)).toEqual([
      { width: 320, height: 240 },
      { width: 100, height: 50 },
    ]);
  });

  it("400 Workflow input error: BadRequestError of type RuntimeInputError", async () => {
    const { emu, rf } = await setup();
    const error = await failure(rf.workflows.run("detect-widgets", {}));
    expect(error).toBeInstanceOf(BadRequestError);
    expect(error).toMatchObject({ type: "RuntimeInputError", service: "inference", attempts: 1 });
    expect((error as BadRequestError).message).toMatch(/`image` declared in Workflow definition but not provided/);
    expect(emu.requests).toHaveLength(1);
  });

  it("400 Workflow definition error: BadRequestError of type WorkflowDefinitionError", async () => {
    const { rf } = await setup();
    await rf.workflows.create({ name: "Broken", config: { version: "1.0", inputs: [] } });
    const error = await failure(rf.workflows.run("broken", {}));
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).type).toBe("WorkflowDefinitionError");
  });

  it("500 Workflow step error: ServerError of type StepExecutionError with the inner error as detail", async () => {
    const { emu, rf } = await setup({ maxRetries: 0 });
    emu.app.modelFaults.set("widgets/2", "loadFailed");
    const error = await failure(rf.workflows.run("detect-widgets", { image: { file: IMAGE } }));
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ status: 500, type: "StepExecutionError" });
    expect((error as ServerError).detail).toMatch(/^Model loading failed/);
  });

  it("402, 401 and 423 on a Workflow are the same typed errors as on a model", async () => {
    const credits = await setup({}, { inferenceCredits: 0 });
    expect(await failure(credits.rf.workflows.run("detect-widgets", { image: { file: IMAGE } }))).toBeInstanceOf(PaymentRequiredError);
    const badKey = await setup({ apiKey: "rf-bad-workflow-key" });
    const unauthorised = await failure(badKey.rf.workflows.run("detect-widgets", { image: { file: IMAGE } }));
    expect(unauthorised).toBeInstanceOf(AuthFailedError);
    expectMasked(unauthorised, "rf-bad-workflow-key");
    const paused = await setup();
    paused.emu.app.lock();
    expect(await failure(paused.rf.workflows.run("detect-widgets", { image: { file: IMAGE } }))).toBeInstanceOf(LockedError);
  });

  it("masks the key when a server echoes the request body in its error", async () => {
    const server = await startServer((req, res) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (chunk: string) => (body += chunk));
      req.on("end", () => {
        res.writeHead(400, { "content-type": "application/json" });
        res.end(JSON.stringify({ message: `Bad request: ${body}`, error_type: body }));
      });
    });
    const rf = new Roboflow({ apiKey: KEY, workspace: "acme", inferenceUrl: server.url });
    try {
      const error = await failure(rf.workflows.run("detect-widgets", { image: { url: "https://cdn.example.com/a.png" } }));
      expect(error).toBeInstanceOf(BadRequestError);
      expectMasked(error);
      expect(JSON.stringify((error as BadRequestError).body)).not.toContain(KEY);
      expect((error as BadRequestError).message).toContain('"api_key":"***"');
    } finally {
      await rf.close();
      await server.close();
    }
  });

  it("refuses a stream that passes 15 MB while it is read, before any request", async () => {
    const { emu, rf } = await setup();
    const chunk = Buffer.alloc(1024 * 1024);
    const endless = Readable.from((function* () {
      for (;;) yield chunk;
    })());
    const error = await failure(rf.workflows.run("detect-widgets", { image: { file: endless } }));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).message).toMatch(/^The stream is over 15 MB/);
    expect((error as InvalidArgumentError).hint).toMatch(/15 MB of image at most.*\{ url \}/);
    expect(emu.requests).toHaveLength(0);
  });

  it.each([
    ["inputs that are not an object", "detect-widgets", [] as unknown],
    ["an image over 15 MB, the most a 20 MB JSON body holds as base64", "detect-widgets", { image: { file: new Uint8Array(15 * 1024 * 1024 + 1) } }],
    ["a workflow name with too many parts", "a/b/c", {}],
  ])("refuses %s before any request", async (_what, workflow, inputs) => {
    const { emu, rf } = await setup();
    expect(await failure(rf.workflows.run(workflow, inputs as never))).toBeInstanceOf(InvalidArgumentError);
    expect(emu.requests).toHaveLength(0);
  });
});
