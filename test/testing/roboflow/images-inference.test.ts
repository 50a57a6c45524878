/**
 * The Roboflow emulator's dataset images and inference host as a pure app (no server, a hand-moved
 * clock): the forms a client does not send (base64 bodies, text/plain annotations, the Bearer key),
 * time-driven state (fresh ids, cold models), fault wording, and bytes that lie.
 */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/testing/clock.js";
import { ROBOFLOW_EMULATOR_KEY, ROBOFLOW_HTML_502, createRoboflowApp, type RoboflowEmulatorOptions } from "../../../src/testing/roboflow/app.js";
import { readImage } from "../../../src/testing/roboflow/image-bytes.js";
import { fetchRemote } from "../../../src/testing/roboflow/remote.js";
import type { EmulatorRequest, EmulatorResponse } from "../../../src/testing/types.js";
import { jpegHeader, png, sha256 } from "../../helpers/images.js";

const KEY = ROBOFLOW_EMULATOR_KEY;
const IMAGE = png(40, 30, 3);

function req(method: string, path: string, init: { query?: Record<string, string>; headers?: Record<string, string>; body?: string | Uint8Array } = {}): EmulatorRequest {
  const query = new URLSearchParams({ api_key: KEY, ...init.query });
  const body = typeof init.body === "string" ? new TextEncoder().encode(init.body) : (init.body ?? new Uint8Array());
  return { method, path, query, headers: init.headers ?? {}, body };
}

function multipart(fields: Record<string, string>, file?: Uint8Array): { headers: Record<string, string>; body: Uint8Array } {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) parts.push(Buffer.from(`--b\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  if (file !== undefined) {
    parts.push(Buffer.from('--b\r\nContent-Disposition: form-data; name="file"; filename="f.png"\r\nContent-Type: image/png\r\n\r\n'), Buffer.from(file), Buffer.from("\r\n"));
  }
  parts.push(Buffer.from("--b--\r\n"));
  return { headers: { "content-type": "multipart/form-data; boundary=b" }, body: Buffer.concat(parts) };
}

function setup(options: RoboflowEmulatorOptions = {}): { app: ReturnType<typeof createRoboflowApp>; clock: ManualClock; call: (r: EmulatorRequest) => EmulatorResponse } {
  const clock = new ManualClock();
  const app = createRoboflowApp({ clock, ...options });
  return { app, clock, call: (r) => app.handle(r) as EmulatorResponse };
}

const json = (r: EmulatorResponse): Record<string, any> => r.json as Record<string, any>;

describe("the emulator's dataset images", () => {
  it("takes an upload as base64 text and knows the same bytes sent as multipart for a duplicate", () => {
    const { app, call } = setup();
    const base64 = call(req("POST", "/dataset/widgets/upload", {
      query: { name: "b64.png" },
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: IMAGE.toString("base64"),
    }));
    expect(base64.status).toBe(200);
    const id = json(base64)["id"] as string;
    const again = call(req("POST", "/dataset/widgets/upload", multipart({ name: "again.png" }, IMAGE)));
    expect(json(again)).toEqual({ duplicate: true, id });
    expect(app.images.get(id)).toMatchObject({ name: "b64.png", hash: sha256(IMAGE), uploads: 2, width: 40, height: 30 });
  });

  it("keeps a project's counts in step with uploads, annotations and deletes", () => {
    const { app, call } = setup();
    const seed = app.projects.get("widgets")!;
    const before = { images: seed.images, unannotated: seed.unannotated, test: seed.splits["test"] ?? 0 };
    const id = json(call(req("POST", "/dataset/widgets/upload", multipart({ name: "a.png", split: "test" }, IMAGE))))["id"] as string;
    const project = app.projects.get("widgets")!;
    expect([project.images - before.images, project.unannotated - before.unannotated, project.splits["test"]]).toEqual([1, 1, before.test + 1]);
    call(req("POST", `/dataset/widgets/annotate/${id}`, { query: { name: "a.txt" }, headers: { "content-type": "text/plain" }, body: "0 0.5 0.5 0.5 0.5" }));
    expect(project.unannotated - before.unannotated).toBe(0);
    expect(project.classes["0"]).toBe(1);
    call(req("DELETE", "/acme/widgets/images", { headers: { "content-type": "application/json" }, body: JSON.stringify({ images: [id] }) }));
    expect(project.images).toBe(before.images);
  });

  it("answers 404 for a fresh id until imageVisibleAfterMs has passed on its clock", () => {
    const { clock, call } = setup({ imageVisibleAfterMs: 2_000 });
    const id = json(call(req("POST", "/dataset/widgets/upload", multipart({ name: "a.png" }, IMAGE))))["id"] as string;
    expect(call(req("GET", `/acme/widgets/images/${id}`)).status).toBe(404);
    clock.advance(1_999);
    expect(call(req("GET", `/acme/widgets/images/${id}`)).status).toBe(404);
    clock.advance(1);
    expect(call(req("GET", `/acme/widgets/images/${id}`)).status).toBe(200);
  });

  it("reads VOC boxes from an .xml annotation", () => {
    const { app, call } = setup();
    const id = json(call(req("POST", "/dataset/widgets/upload", multipart({ name: "a.png" }, IMAGE))))["id"] as string;
    const voc = "<annotation><object><name>widget</name><bndbox><xmin>10</xmin><ymin>5</ymin><xmax>30</xmax><ymax>25</ymax></bndbox></object></annotation>";
    call(req("POST", `/dataset/widgets/annotate/${id}`, { query: { name: "a.xml" }, headers: { "content-type": "application/json" }, body: JSON.stringify({ annotationFile: voc }) }));
    expect(app.images.get(id)?.annotation?.boxes).toEqual([{ label: "widget", x: 20, y: 15, width: 20, height: 20 }]);
  });

  it.each([
    ["a multipart body without a file part", multipart({ name: "a.png" }), 400, /send a multipart part named file/],
    ["a malformed multipart body", { headers: { "content-type": "multipart/form-data; boundary=b" }, body: Buffer.from("--b\r\nno end") }, 400, /Malformed multipart/],
    ["base64 that is not base64", { headers: { "content-type": "application/x-www-form-urlencoded" }, body: Buffer.from("%%%not base64%%%") }, 400, /not base64/],
    ["a body of no known form", { headers: { "content-type": "application/octet-stream" }, body: IMAGE }, 400, /No image in the request/],
    ["bytes that are no image", multipart({ name: "a.png" }, Buffer.from("GIF7 nope")), 400, /not a supported format/],
    ["metadata that is not JSON", multipart({ metadata: "{nope" }, IMAGE), 400, /metadata must be a JSON object/],
    ["a split that does not exist", multipart({ split: "holdout" }, IMAGE), 400, /split must be one of/],
  ])("answers %s with a flat error", (_what, init, status, message) => {
    const { call } = setup();
    const response = call(req("POST", "/dataset/widgets/upload", init));
    expect(response.status).toBe(status);
    expect(json(response)["error"]).toMatch(message);
  });

  it("answers 413 for an image over maxImageBytes", () => {
    const { call } = setup({ maxImageBytes: 100 });
    expect(call(req("POST", "/dataset/widgets/upload", multipart({}, Buffer.concat([IMAGE, Buffer.alloc(200)])))).status).toBe(413);
  });

  it("answers 423 for dataset routes while the key's workspace is locked", () => {
    const { app, call } = setup();
    app.lock();
    expect(call(req("POST", "/dataset/widgets/upload", multipart({}, IMAGE))).status).toBe(423);
  });

  it("forgets images, remote images, faults, credits and answer forms on reset", () => {
    const { app, call } = setup({ inferenceCredits: 5, answerForms: { duplicate: 409 } });
    call(req("POST", "/dataset/widgets/upload", multipart({}, IMAGE)));
    app.remoteImages.set("https://a.example.com/a.png", { bytes: IMAGE });
    app.modelFaults.set("widgets/2", "tooBig");
    app.credits = 0;
    app.answerForms.duplicate = 200;
    app.reset();
    expect([app.images.size, app.remoteImages.size, app.modelFaults.size, app.credits, app.answerForms.duplicate]).toEqual([0, 0, 0, 5, 409]);
  });
});

describe("the emulator's inference host", () => {
  const predict = (call: (r: EmulatorRequest) => EmulatorResponse, model = "widgets/2", query: Record<string, string> = {}): EmulatorResponse =>
    call(req("POST", `/inference/${model}`, { query, headers: { "content-type": "application/x-www-form-urlencoded" }, body: IMAGE.toString("base64") }));

  it("answers the same predictions for the same model and bytes, in any emulator", () => {
    const a = predict(setup().call, "widgets/2", { confidence: "0" });
    const b = predict(setup().call, "widgets/2", { confidence: "0" });
    expect(a.json).toEqual(b.json);
    expect(json(a)["predictions"].length).toBeGreaterThan(0);
  });

  it("reads a threshold of 1 or more as a percentage, and best or default as the default", () => {
    const { call } = setup();
    const fraction = json(predict(call, "widgets/2", { confidence: "0.6" }));
    const percent = json(predict(call, "widgets/2", { confidence: "60" }));
    expect(percent).toEqual(fraction);
    expect(json(predict(call, "widgets/2", { confidence: "best" }))).toEqual(json(predict(call, "widgets/2")));
  });

  it("keeps a model loading for modelLoadMs after its first call, answering 503 with Retry-After: 1", () => {
    const { clock, call } = setup({ modelLoadMs: 5_000 });
    const cold = predict(call);
    expect(cold).toMatchObject({ status: 503, headers: { "retry-after": "1" }, json: { message: "Model is temporarily not ready - retry request." } });
    clock.advance(4_999);
    expect(predict(call).status).toBe(503);
    clock.advance(1);
    expect(predict(call).status).toBe(200);
    expect(predict(call, "gadgets/1").status).toBe(503);
  });

  it("spends a credit per successful call and answers 402 once they are gone", () => {
    const { app, call } = setup({ inferenceCredits: 2 });
    expect(predict(call).status).toBe(200);
    expect(predict(call, "widgets/abc").status).toBe(400);
    expect(predict(call).status).toBe(200);
    expect(app.credits).toBe(0);
    expect(predict(call)).toMatchObject({ status: 402, json: { error_type: "CreditsExceededError" } });
  });

  it("takes the key as Bearer only when the query carries none", () => {
    const { call } = setup();
    const bearer = { authorization: `Bearer ${KEY}`, "content-type": "application/x-www-form-urlencoded" };
    const request = req("POST", "/inference/widgets/2", { headers: bearer, body: IMAGE.toString("base64") });
    request.query.delete("api_key");
    expect(call(request).status).toBe(200);
    request.query.set("api_key", "wrong");
    expect(call(request).status).toBe(401);
  });

  it("does not serve semantic segmentation models", () => {
    const { app, call } = setup();
    app.projects.get("widgets")!.type = "semantic-segmentation";
    expect(predict(call)).toMatchObject({ status: 400, json: { message: expect.stringMatching(/not served/) } });
  });

  it("words each fault as the inference host does", () => {
    const { app } = setup({ faultRetryAfterSeconds: 2 });
    const at = req("POST", "/inference/widgets/2");
    expect(app.fault("serviceUnavailable", at)).toMatchObject({ status: 503, headers: { "retry-after": "2" }, json: { message: "Model is temporarily not ready - retry request." } });
    expect(app.fault("serverError", at)).toMatchObject({ status: 500, json: { message: "Internal error." } });
    expect(app.fault("gatewayTimeout", at)).toMatchObject({ status: 504, json: { message: "Timeout when attempting to connect to Roboflow API." } });
    expect(app.fault("locked", at)).toMatchObject({ status: 423, json: { status: 423 } });
    expect(app.fault("rateLimit", at)).toMatchObject({ status: 429, headers: { "retry-after": "2" } });
    // And the main API's edge, for a 503: a page, not JSON.
    expect(app.fault("serviceUnavailable", req("GET", "/acme"))).toMatchObject({ status: 503, headers: { "content-type": "text/html" } });
    expect(app.fault("serviceUnavailable", req("GET", "/deployments/list"))).toMatchObject({ status: 503, json: { error: "Service unavailable" } });
  });

  it("answers 422 for a Workflow body that is not JSON, and 404 for routes it does not have", () => {
    const { call } = setup();
    const run = call(req("POST", "/inference/acme/workflows/detect-widgets", { headers: { "content-type": "application/json" }, body: "{nope" }));
    expect(run).toMatchObject({ status: 422, json: { detail: [{ type: "json_invalid" }] } });
    expect(call(req("GET", "/inference/a/b/c/d")).status).toBe(404);
    expect(ROBOFLOW_HTML_502).toContain("502");
  });
});

describe("reading image bytes", () => {
  it.each([
    ["PNG", png(7, 9), { type: "png", width: 7, height: 9 }],
    ["JPEG", jpegHeader(1920, 1080), { type: "jpeg", width: 1920, height: 1080 }],
    ["GIF", Buffer.from([0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 12, 0, 34, 0]), { type: "gif", width: 12, height: 34 }],
    ["TIFF", Buffer.from("II*\u0000rest", "latin1"), { type: "tiff", width: 640, height: 480 }],
    ["AVIF", Buffer.from("\u0000\u0000\u0000\u001cftypavif", "latin1"), { type: "avif", width: 640, height: 480 }],
    ["HEIC", Buffer.from("\u0000\u0000\u0000\u0018ftypheic", "latin1"), { type: "heic", width: 640, height: 480 }],
    ["a PNG cut after its signature", png(7, 9).subarray(0, 10), { type: "png", width: 640, height: 480 }],
    ["a JPEG whose segments lie about their length", Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x00, 0xff]), { type: "jpeg", width: 640, height: 480 }],
  ])("reads %s", (_what, bytes, expected) => {
    expect(readImage(bytes)).toEqual(expected);
  });

  it.each([["text", Buffer.from("hello")], ["nothing", Buffer.alloc(0)], ["a PDF", Buffer.from("%PDF-1.7")]])("finds no image in %s", (_what, bytes) => {
    expect(readImage(bytes)).toBeUndefined();
  });
});

describe("the web as the emulator sees it", () => {
  it.each(["http://localhost/a.png", "http://127.0.0.1:8080/a.png", "http://10.1.2.3/a.png", "http://172.20.0.1/a.png", "http://169.254.169.254/latest", "http://[::1]/a.png", "http://0.0.0.0/a.png"])(
    "refuses the private address %s",
    (url) => {
      expect(fetchRemote(url, new Map([[url, { bytes: IMAGE }]]))).toMatchObject({ ok: false, retryable: false, reason: expect.stringMatching(/private/) });
    },
  );

  it("answers a URL's failures in order, then its bytes", () => {
    const web = new Map([["https://a.example.com/a.png", { bytes: IMAGE, failures: [503, "unreachable" as const, 404] }]]);
    const outcomes = Array.from({ length: 4 }, () => fetchRemote("https://a.example.com/a.png", web));
    expect(outcomes.map((o) => (o.ok ? "ok" : `${o.retryable}`))).toEqual(["true", "true", "false", "ok"]);
  });
});
