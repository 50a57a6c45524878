/**
 * rf.images against the emulator on loopback: every row of the reference's "Upload and annotation
 * failures" table, and each place the Python tools fall short (flat error bodies, a duplicate after a
 * retry, annotation retries, fresh ids, overwrite, 200 vs 204 deletes).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import {
  AbortedError,
  AccessDeniedError,
  ApiError,
  AuthFailedError,
  BadRequestError,
  ConflictError,
  CredentialsError,
  InvalidArgumentError,
  LockedError,
  NotFoundError,
  ServerError,
} from "../../src/core/errors.js";
import type { RetryInfo } from "../../src/core/retry.js";
import { Roboflow } from "../../src/roboflow/client.js";
import { ROBOFLOW_MAX_IMAGE_BYTES } from "../../src/roboflow/image-input.js";
import { ROBOFLOW_HTML_502, ROBOFLOW_SCOPELESS_KEY } from "../../src/testing/roboflow/app.js";
import { png, sha256 } from "../helpers/images.js";
import { startReplyServer } from "../helpers/server.js";
import { KEY, expectMasked, failure, setup } from "./support.js";

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "faultline-images-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  vi.unstubAllEnvs();
});

const IMAGE = png(64, 48, 1);
const YOLO = "0 0.5 0.5 0.25 0.5\n1 0.25 0.25 0.1 0.1\n";

describe("rf.images.upload", () => {
  it("uploads a file from a path as multipart, and the project holds exactly those bytes", async () => {
    const { emu, rf } = await setup();
    const path = join(dir, "widget-001.png");
    await writeFile(path, IMAGE);
    const uploaded = await rf.images.upload("widgets", { file: path, split: "valid", batch: "line-3", tags: ["night", "cam-2"] });

    expect(uploaded.duplicate).toBe(false);
    const record = emu.app.images.get(uploaded.id as string);
    expect(record).toMatchObject({ name: "widget-001.png", split: "valid", batch: "line-3", tags: ["night", "cam-2"], width: 64, height: 48, uploads: 1 });
    expect(record?.hash).toBe(sha256(IMAGE));
    expect(emu.requests).toHaveLength(1);
    expect(emu.requests[0]).toMatchObject({ method: "POST", path: "/dataset/widgets/upload", status: 200 });
    expect(emu.requests[0]?.query).toBe("batch=line-3&tag=night&tag=cam-2&api_key=***");
    expect(emu.requests[0]?.headers["content-type"]).toMatch(/^multipart\/form-data; boundary=/);
  });

  it("sends the call's tags in place of a client's default tag, keeping its other defaults", async () => {
    const { emu, rf } = await setup({ defaultQuery: { tag: "from-client", source: "etl" } });
    await rf.images.upload("widgets", { file: IMAGE, name: "a.png", tags: ["a", "b"] });
    await rf.images.upload("widgets", { file: png(4, 4, 8), name: "b.png" });
    expect(emu.requests.map((r) => r.query)).toEqual(["source=etl&tag=a&tag=b&api_key=***", "tag=from-client&source=etl&api_key=***"]);
  });

  it("uploads bytes under the given name with metadata, and a one-shot stream too", async () => {
    const { emu, rf } = await setup();
    const first = await rf.images.upload("acme/widgets", { file: IMAGE, name: "from-bytes.png", metadata: { camera: "cam-2", shift: 3 } });
    const second = await rf.images.upload("widgets", { file: Readable.from([png(8, 8, 2)]), name: "from-stream.png" });
    expect(emu.app.images.get(first.id as string)).toMatchObject({ name: "from-bytes.png", metadata: { camera: "cam-2", shift: 3 } });
    expect(emu.app.images.get(second.id as string)?.name).toBe("from-stream.png");
  });

  it("needs no default workspace: the key names it", async () => {
    const { rf } = await setup({ workspace: undefined });
    expect((await rf.images.upload("widgets", { file: IMAGE, name: "a.png" })).duplicate).toBe(false);
  });

  it("uploads by URL with image= in the query and no body, for Roboflow to fetch", async () => {
    const { emu, rf } = await setup();
    const url = "https://images.example.com/widget 7.png";
    emu.app.remoteImages.set(url, { bytes: IMAGE });
    const uploaded = await rf.images.upload("widgets", { url, name: "widget-7.png", split: "test" });
    expect(emu.app.images.get(uploaded.id as string)).toMatchObject({ name: "widget-7.png", split: "test", hash: sha256(IMAGE) });
    expect(emu.requests[0]?.query).toContain(`image=${encodeURIComponent(url).replaceAll("%20", "+")}`);
    expect(emu.requests[0]?.headers["content-type"]).toBeUndefined();
  });

  it("accepts a duplicate answered 200 {duplicate: true, id} as a success that keeps the id", async () => {
    const { emu, rf } = await setup();
    const first = await rf.images.upload("widgets", { file: IMAGE, name: "a.png" });
    const again = await rf.images.upload("widgets", { file: IMAGE, name: "a-copy.png" });
    expect(again).toEqual({ id: first.id, duplicate: true });
    expect(emu.app.images.size).toBe(1);
    expect(emu.app.images.get(first.id as string)?.uploads).toBe(2);
  });

  it("accepts a duplicate answered 409 as the same success, sending it once", async () => {
    const { emu, rf } = await setup({}, { answerForms: { duplicate: 409 } });
    const first = await rf.images.upload("widgets", { file: IMAGE, name: "a.png" });
    const again = await rf.images.upload("widgets", { file: IMAGE, name: "a.png" }).withResponse();
    expect(again.data).toEqual({ id: first.id, duplicate: true });
    expect(again.status).toBe(409);
    expect(emu.requests.map((r) => r.status)).toEqual([200, 409]);
  });

  it("keeps a 409 that does not say duplicate a ConflictError", async () => {
    const server = await startReplyServer({
      "/dataset/widgets/upload": { status: 409, headers: { "content-type": "application/json" }, body: '{"error": "Project is being migrated", "id": "img-1"}' },
    });
    const rf = new Roboflow({ apiKey: KEY, baseUrl: server.url, maxRetries: 0 });
    try {
      const error = await failure(rf.images.upload("widgets", { file: IMAGE, name: "a.png" }));
      expect(error).toBeInstanceOf(ConflictError);
      expect((error as ConflictError).message).toBe("Project is being migrated");
    } finally {
      await rf.close();
      await server.close();
    }
  });

  it("takes the id of a 409 duplicate from inside its error object, or none when it names none", async () => {
    const bodies = {
      "/dataset/a/upload": '{"error": {"message": "Duplicate image", "id": "img-9"}}',
      "/dataset/b/upload": '{"error": "duplicate"}',
    };
    const server = await startReplyServer(
      Object.fromEntries(Object.entries(bodies).map(([path, body]) => [path, { status: 409, headers: { "content-type": "application/json" }, body }])),
    );
    const rf = new Roboflow({ apiKey: KEY, baseUrl: server.url, maxRetries: 0 });
    try {
      expect(await rf.images.upload("a", { file: IMAGE, name: "a.png" })).toEqual({ id: "img-9", duplicate: true });
      expect(await rf.images.upload("b", { file: IMAGE, name: "a.png" })).toEqual({ id: undefined, duplicate: true });
    } finally {
      await rf.close();
      await server.close();
    }
  });

  it("takes a duplicate after a 5xx that came once the image was stored as the expected outcome: stored once", async () => {
    const { emu, rf } = await setup();
    emu.inject("badGatewayAfterWrite", { path: "/dataset/widgets/upload" });
    const retries: RetryInfo[] = [];
    const result = await rf.images.upload("widgets", { file: IMAGE, name: "a.png" }, { onRetry: (info) => retries.push(info) }).withResponse();

    expect(result.data.duplicate).toBe(true);
    expect(result.data.id).toBeDefined();
    expect(result.attempts).toBe(2);
    expect(retries).toHaveLength(1);
    expect(retries[0]?.error).toBeInstanceOf(ServerError);
    expect(emu.requests.map((r) => r.status)).toEqual([502, 200]);
    expect([...emu.app.images.values()].map((i) => i.hash)).toEqual([sha256(IMAGE)]);
  });

  it("does not repeat an upload whose connection was lost after sending, and calling again is safe: a duplicate with the id", async () => {
    const { emu, rf } = await setup();
    emu.inject("reset", { path: "/dataset/widgets/upload" });
    const lost = await failure(rf.images.upload("widgets", { file: IMAGE, name: "a.png" }));
    expect(lost).toMatchObject({ code: "CONNECTION_ERROR", retryable: false, attempts: 1 });
    expect(emu.app.images.size).toBe(1); // Roboflow stored it; only the answer was lost

    const again = await rf.images.upload("widgets", { file: IMAGE, name: "a.png" });
    expect(again).toEqual({ id: [...emu.app.images.keys()][0], duplicate: true });
    expect(emu.app.images.size).toBe(1);
  });

  it("types the flat {\"error\": \"Unknown error\"} 500 a ServerError and retries it a bounded number of times, never crashing", async () => {
    const { emu, rf } = await setup({ maxRetries: 2 });
    emu.inject("serverError", { path: "/dataset/widgets/upload", count: 3 });
    const error = await failure(rf.images.upload("widgets", { file: IMAGE, name: "a.png" }));
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ status: 500, message: "Unknown error", body: { error: "Unknown error" }, attempts: 3, service: "api" });
    expect(emu.app.images.size).toBe(0);
    expectMasked(error);
  });

  it("recovers from one flat 500 and one HTML 502 from the edge, keeping the page as text in between", async () => {
    const { emu, rf } = await setup();
    emu.inject("serverError", { path: "/dataset/widgets/upload" });
    emu.inject("htmlBadGateway", { path: "/dataset/widgets/upload" });
    const seen: unknown[] = [];
    const uploaded = await rf.images.upload("widgets", { file: IMAGE, name: "a.png" }, { onRetry: (info) => seen.push(info.error) });
    expect(uploaded.duplicate).toBe(false);
    expect(emu.requests.map((r) => r.status)).toEqual([500, 502, 200]);
    expect((seen[1] as ServerError).body).toBe(ROBOFLOW_HTML_502);
    expect((seen[1] as ServerError).message).toBe("HTTP 502 Bad Gateway (HTML body)");
  });

  it("retries an HTML 503 from the edge (serviceUnavailable) after its Retry-After", async () => {
    const { emu, rf } = await setup({}, { faultRetryAfterSeconds: 0.05 });
    emu.inject("serviceUnavailable", { path: "/dataset/widgets/upload" });
    const delays: number[] = [];
    await rf.images.upload("widgets", { file: IMAGE, name: "a.png" }, { onRetry: (info) => delays.push(info.delayMs) });
    expect(delays).toEqual([50]);
    expect(emu.requests.map((r) => r.status)).toEqual([503, 200]);
  });

  describe("an image URL Roboflow cannot use", () => {
    it.each([
      ["a private address", "http://192.168.1.20/cam.png", /private addresses/],
      ["a remote host answering 404", "https://images.example.com/missing.png", /answered 404/],
    ])("is a BadRequestError with a hint for %s, sent once", async (_what, url, reason) => {
      const { emu, rf } = await setup();
      const error = await failure(rf.images.upload("widgets", { url }));
      expect(error).toBeInstanceOf(BadRequestError);
      const e = error as BadRequestError;
      expect(e.message).toMatch(/^Could not fetch image URL/);
      expect(e.message).toMatch(reason);
      expect(e.hint).toMatch(/public.*\{ file \}/);
      expect(e.retryable).toBe(false);
      expect(emu.requests).toHaveLength(1);
    });

    it("is a BadRequestError when the remote host answers 403", async () => {
      const { emu, rf } = await setup();
      emu.app.remoteImages.set("https://images.example.com/private.png", { bytes: IMAGE, failures: [403] });
      const error = await failure(rf.images.upload("widgets", { url: "https://images.example.com/private.png" }));
      expect(error).toBeInstanceOf(BadRequestError);
      expect((error as BadRequestError).message).toMatch(/answered 403/);
      expect(emu.requests).toHaveLength(1);
    });

    it("is refused before any request when it is malformed or not http(s)", async () => {
      const { emu, rf } = await setup();
      for (const url of ["not a url", "ftp://images.example.com/a.png", "/relative.png"]) {
        expect(await failure(rf.images.upload("widgets", { url }))).toBeInstanceOf(InvalidArgumentError);
      }
      expect(emu.requests).toHaveLength(0);
    });
  });

  it("retries the 502 retryable: true a failing image host earns, then succeeds once the host answers", async () => {
    const { emu, rf } = await setup();
    const url = "https://flaky.example.com/widget.png";
    emu.app.remoteImages.set(url, { bytes: IMAGE, failures: [503, "unreachable"] });
    const errors: ApiError[] = [];
    const uploaded = await rf.images.upload("widgets", { url }, { onRetry: (info) => errors.push(info.error as ApiError) });
    expect(uploaded.duplicate).toBe(false);
    expect(emu.requests.map((r) => r.status)).toEqual([502, 502, 200]);
    expect(errors.map((e) => [e.status, e.retryable, e.body])).toEqual([
      [502, true, { error: "Could not fetch image URL: flaky.example.com answered 503", retryable: true }],
      [502, true, { error: "Could not fetch image URL: could not connect to flaky.example.com", retryable: true }],
    ]);
    expect(errors[0]?.hint).toMatch(/may succeed later/);
  });

  it("throws the 502 retryable: true after maxRetries when the image host stays down", async () => {
    const { emu, rf } = await setup({ maxRetries: 1 });
    emu.app.remoteImages.set("https://down.example.com/a.png", { bytes: IMAGE, failures: [500, 500, 500] });
    const error = await failure(rf.images.upload("widgets", { url: "https://down.example.com/a.png" }));
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ status: 502, retryable: true, attempts: 2 });
    expect(emu.requests).toHaveLength(2);
  });

  it("refuses an image over 20 MB before sending anything, saying to shrink it", async () => {
    const { emu, rf } = await setup();
    const error = await failure(rf.images.upload("widgets", { file: new Uint8Array(ROBOFLOW_MAX_IMAGE_BYTES + 1), name: "huge.png" }));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).hint).toMatch(/20 MB.*shrink/);
    expect(emu.requests).toHaveLength(0);
  });

  it("cuts a stream off with InvalidArgumentError once it passes 20 MB, the project left without it", async () => {
    const { emu, rf } = await setup();
    const chunk = Buffer.alloc(1024 * 1024);
    const endless = Readable.from((function* () {
      yield png(8, 8, 4);
      for (let i = 0; i < 21; i++) yield chunk;
    })());
    const error = await failure(rf.images.upload("widgets", { file: endless, name: "endless.png" }));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).hint).toMatch(/20 MB/);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The body was cut mid-way: the emulator never saw a whole request to answer.
    expect(emu.requests).toHaveLength(0);
    expect(emu.app.images.size).toBe(0);
  });

  it("types the server's 413 for an image over its limit, with the same hint, and does not retry it", async () => {
    const { emu, rf } = await setup({}, { maxImageBytes: 1024 });
    // Bytes after IEND are ignored by image readers: a valid PNG made big.
    const error = await failure(rf.images.upload("widgets", { file: Buffer.concat([png(8, 8, 3), Buffer.alloc(4096)]), name: "big.png" }));
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 413, code: "HTTP_413", retryable: false, attempts: 1 });
    expect((error as ApiError).hint).toMatch(/20 MB/);
    expect(emu.requests).toHaveLength(1);
  });

  it("answers bytes that are not an image with a BadRequestError", async () => {
    const { rf } = await setup();
    const error = await failure(rf.images.upload("widgets", { file: Buffer.from("just text, no image"), name: "notes.png" }));
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).message).toMatch(/not a supported format/);
  });

  describe("a request Roboflow refuses for who is asking", () => {
    it("is AuthFailedError for a bad key, sent once, the key masked", async () => {
      const { emu, rf } = await setup({ apiKey: "rf-wrong-key-0042" });
      const error = await failure(rf.images.upload("widgets", { file: IMAGE, name: "a.png" }));
      expect(error).toBeInstanceOf(AuthFailedError);
      expect(emu.requests).toHaveLength(1);
      expectMasked(error, "rf-wrong-key-0042");
    });

    it("is NotFoundError (GraphMethodException) for a key without scopes", async () => {
      const { rf } = await setup({ apiKey: ROBOFLOW_SCOPELESS_KEY });
      const error = await failure(rf.images.upload("widgets", { file: IMAGE, name: "a.png" }));
      expect(error).toBeInstanceOf(NotFoundError);
      expect((error as NotFoundError).type).toBe("GraphMethodException");
    });

    it("is AccessDeniedError for another workspace's images", async () => {
      const { emu, rf } = await setup();
      const error = await failure(rf.images.get("other/widgets", "abc"));
      expect(error).toBeInstanceOf(AccessDeniedError);
      expect(emu.requests).toHaveLength(1);
    });

    it("is NotFoundError for a project that does not exist", async () => {
      const { emu, rf } = await setup();
      expect(await failure(rf.images.upload("gizmos", { file: IMAGE, name: "a.png" }))).toBeInstanceOf(NotFoundError);
      expect(emu.requests).toHaveLength(1);
    });

    it("is LockedError, never retried, while the workspace is paused", async () => {
      const { emu, rf } = await setup({ maxRetries: 4 });
      emu.app.lock();
      const error = await failure(rf.images.upload("widgets", { file: IMAGE, name: "a.png" }));
      expect(error).toBeInstanceOf(LockedError);
      expect(emu.requests).toHaveLength(1);
    });

    it("is CredentialsError without a key, before any request", async () => {
      vi.stubEnv("ROBOFLOW_API_KEY", "");
      const { emu, rf } = await setup({ apiKey: "" });
      expect(await failure(rf.images.upload("widgets", { file: IMAGE }))).toBeInstanceOf(CredentialsError);
      expect(emu.requests).toHaveLength(0);
    });
  });

  it.each([
    ["neither file nor url", {}],
    ["both file and url", { file: IMAGE, url: "https://a.example.com/a.png" }],
    ["a split Roboflow does not have", { file: IMAGE, split: "holdout" }],
    ["an empty tag", { file: IMAGE, tags: [""] }],
    ["metadata with a URL upload", { url: "https://a.example.com/a.png", metadata: { a: 1 } }],
    ["a path that does not exist", { file: "/nonexistent/widget.png" }],
    ["a URL passed as a path", { file: "https://a.example.com/a.png" }],
    ["metadata that is a list", { file: IMAGE, metadata: [1, 2] }],
  ])("refuses %s before any request", async (_what, params) => {
    const { emu, rf } = await setup();
    expect(await failure(rf.images.upload("widgets", params as never))).toBeInstanceOf(InvalidArgumentError);
    expect(await failure(rf.images.upload("a/b/c", { file: IMAGE }))).toBeInstanceOf(InvalidArgumentError);
    expect(emu.requests).toHaveLength(0);
  });
});

describe("rf.images.annotate", () => {
  it("annotates an image; get shows its boxes, labelled by the labelmap", async () => {
    const { emu, rf } = await setup();
    const { id } = await rf.images.upload("widgets", { file: IMAGE, name: "a.png" });
    await rf.images.annotate("widgets", id as string, { annotation: YOLO, name: "a.txt", labelmap: ["widget", "defect"] });
    const image = await rf.images.get("widgets", id as string);

    expect(image.annotation?.boxes).toEqual([
      { label: "widget", x: 32, y: 24, width: 16, height: 24 },
      { label: "defect", x: 16, y: 12, width: 6.4, height: 4.8 },
    ]);
    expect(image.labels).toEqual(["widget", "defect"]);
    const call = emu.requests.find((r) => r.path.includes("/annotate/"));
    expect(call).toMatchObject({ method: "POST", path: `/dataset/widgets/annotate/${id}`, status: 200 });
    expect(call?.query).toBe("name=a.txt&api_key=***");
  });

  it("sends an annotation object as its JSON text (COCO)", async () => {
    const { emu, rf } = await setup();
    const { id } = await rf.images.upload("widgets", { file: IMAGE, name: "a.png" });
    const coco = { images: [{ id: 1, file_name: "a.png" }], annotations: [] };
    await rf.images.annotate("widgets", id as string, { annotation: coco, name: "a.coco.json" });
    expect(emu.app.images.get(id as string)?.annotation?.text).toBe(JSON.stringify(coco));
  });

  for (const status of [409, 400] as const) {
    it(`makes "already annotated" (${status}) a ConflictError whose hint says overwrite: true, and overwrite replaces it`, async () => {
      const { emu, rf } = await setup({}, { answerForms: { alreadyAnnotated: status } });
      const { id } = await rf.images.upload("widgets", { file: IMAGE, name: "a.png" });
      await rf.images.annotate("widgets", id as string, { annotation: YOLO, name: "a.txt" });
      const error = await failure(rf.images.annotate("widgets", id as string, { annotation: "0 0.5 0.5 0.5 0.5", name: "a.txt" }));

      expect(error).toBeInstanceOf(ConflictError);
      const e = error as ConflictError;
      expect(e).toMatchObject({ status, code: "CONFLICT", message: "Image was already annotated.", type: "InvalidImageException", retryable: false });
      expect(e.hint).toMatch(/`overwrite: true`/);
      expect(emu.requests.filter((r) => r.path.includes("/annotate/")).map((r) => r.status)).toEqual([200, status]);

      await rf.images.annotate("widgets", id as string, { annotation: "0 0.5 0.5 0.5 0.5", name: "a.txt", overwrite: true });
      expect(emu.requests.at(-1)?.query).toContain("overwrite=true");
      expect(emu.app.images.get(id as string)?.annotation?.boxes).toEqual([{ label: "0", x: 32, y: 24, width: 32, height: 24 }]);
    });
  }

  it("retries a 5xx on an annotation (the Python SDK builds the retry and never uses it)", async () => {
    const { emu, rf } = await setup();
    const { id } = await rf.images.upload("widgets", { file: IMAGE, name: "a.png" });
    emu.inject("serverError", { path: "/dataset/widgets/annotate/" });
    emu.inject("htmlBadGateway", { path: "/dataset/widgets/annotate/" });
    const response = await rf.images.annotate("widgets", id as string, { annotation: YOLO, name: "a.txt" }).withResponse();
    expect(response.attempts).toBe(3);
    expect(emu.requests.filter((r) => r.path.includes("/annotate/")).map((r) => r.status)).toEqual([500, 502, 200]);
  });

  it("waits out the 404 of an id uploaded a moment ago, polling until it appears", async () => {
    const { emu, rf } = await setup({}, { imageVisibleAfterMs: 700 });
    const { id } = await rf.images.upload("widgets", { file: IMAGE, name: "a.png" });
    const started = Date.now();
    const response = await rf.images.annotate("widgets", id as string, { annotation: YOLO, name: "a.txt" }).withResponse();

    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    const statuses = emu.requests.filter((r) => r.path.includes("/annotate/")).map((r) => r.status);
    expect(statuses.at(-1)).toBe(200);
    expect(statuses.slice(0, -1).every((s) => s === 404)).toBe(true);
    expect(statuses.length).toBeGreaterThanOrEqual(3);
    expect(response.attempts).toBe(statuses.length);
  });

  it("throws the 404 once waitTimeout is spent, with a hint and every attempt counted", async () => {
    const { emu, rf } = await setup({}, { imageVisibleAfterMs: 60_000 });
    const { id } = await rf.images.upload("widgets", { file: IMAGE, name: "a.png" });
    const error = await failure(rf.images.annotate("widgets", id as string, { annotation: YOLO, name: "a.txt", waitTimeout: 600 }));
    expect(error).toBeInstanceOf(NotFoundError);
    const polls = emu.requests.filter((r) => r.path.includes("/annotate/")).length;
    expect(polls).toBeGreaterThanOrEqual(2);
    expect((error as NotFoundError).attempts).toBe(polls);
    expect((error as NotFoundError).hint).toMatch(/waitTimeout/);
  });

  it("sends once and throws the 404 at once with waitTimeout: 0", async () => {
    const { emu, rf } = await setup({}, { imageVisibleAfterMs: 60_000 });
    const { id } = await rf.images.upload("widgets", { file: IMAGE, name: "a.png" });
    const error = await failure(rf.images.annotate("widgets", id as string, { annotation: YOLO, name: "a.txt", waitTimeout: 0 }));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(emu.requests.filter((r) => r.path.includes("/annotate/"))).toHaveLength(1);
  });

  it("stops waiting for a fresh id when the call's signal aborts, and within its deadline", async () => {
    const { rf } = await setup({}, { imageVisibleAfterMs: 60_000 });
    const { id } = await rf.images.upload("widgets", { file: IMAGE, name: "a.png" });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const started = Date.now();
    const aborted = await failure(rf.images.annotate("widgets", id as string, { annotation: YOLO, name: "a.txt" }, { signal: controller.signal }));
    expect(aborted).toBeInstanceOf(AbortedError);
    expect(Date.now() - started).toBeLessThan(4_000);

    const bounded = await failure(rf.images.annotate("widgets", id as string, { annotation: YOLO, name: "a.txt" }, { deadline: 400 }));
    expect(bounded).toBeInstanceOf(NotFoundError);
  });

  it("accepts a file Roboflow cannot read and stores no boxes, as the real API does", async () => {
    const { rf } = await setup();
    const { id } = await rf.images.upload("widgets", { file: IMAGE, name: "a.png" });
    await rf.images.annotate("widgets", id as string, { annotation: "this is not YOLO", name: "a.txt" });
    expect((await rf.images.get("widgets", id as string)).annotation?.boxes).toEqual([]);
  });

  it.each([
    ["no name", { annotation: YOLO }],
    ["an empty annotation", { annotation: " ", name: "a.txt" }],
    ["a negative waitTimeout", { annotation: YOLO, name: "a.txt", waitTimeout: -1 }],
    ["an annotation that cannot be JSON", { annotation: { big: 10n }, name: "a.json" }],
  ])("refuses %s before any request", async (_what, params) => {
    const { emu, rf } = await setup();
    expect(await failure(rf.images.annotate("widgets", "abc", params as never))).toBeInstanceOf(InvalidArgumentError);
    expect(emu.requests).toHaveLength(0);
  });
});

describe("rf.images.get, delete and setMetadata", () => {
  it("gets an image with its split, tags, metadata and URLs", async () => {
    const { rf } = await setup();
    const { id } = await rf.images.upload("widgets", { file: IMAGE, name: "a.png", split: "test", tags: ["x"], metadata: { lot: 7 } });
    const image = await rf.images.get("widgets", id as string);
    expect(image).toMatchObject({ id, name: "a.png", split: "test", tags: ["x"], annotation: null });
    expect(image["metadata"]).toEqual({ lot: 7 });
    expect(image.urls?.original).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/images\//);
  });

  it("throws NotFoundError for an id the project does not have", async () => {
    const { rf } = await setup();
    expect(await failure(rf.images.get("widgets", "nope"))).toBeInstanceOf(NotFoundError);
  });

  for (const status of [204, 200] as const) {
    it(`deletes images when Roboflow answers ${status}, as a success either way`, async () => {
      const { emu, rf } = await setup({}, { answerForms: { imageDelete: status } });
      const a = await rf.images.upload("widgets", { file: png(4, 4, 1), name: "a.png" });
      const b = await rf.images.upload("widgets", { file: png(4, 4, 2), name: "b.png" });
      const response = await rf.images.delete("widgets", [a.id as string, b.id as string]).withResponse();
      expect(response.status).toBe(status);
      expect(response.data).toEqual(status === 204 ? {} : { deleted: 2, skipped: 0 });
      expect(emu.app.images.size).toBe(0);
      expect(emu.requests.at(-1)).toMatchObject({ method: "DELETE", path: "/acme/widgets/images" });
    });
  }

  it("refuses to delete nothing, before any request", async () => {
    const { emu, rf } = await setup();
    expect(await failure(rf.images.delete("widgets", []))).toBeInstanceOf(InvalidArgumentError);
    expect(await failure(rf.images.delete("widgets", [""]))).toBeInstanceOf(InvalidArgumentError);
    expect(emu.requests).toHaveLength(0);
  });

  it("sets and removes metadata and tags of one image", async () => {
    const { emu, rf } = await setup();
    const { id } = await rf.images.upload("widgets", { file: IMAGE, name: "a.png", tags: ["old"], metadata: { a: 1, b: 2 } });
    await rf.images.setMetadata(id as string, { metadata: { c: "three" }, removeMetadata: ["a"], addTags: ["new"], removeTags: ["old"] });
    expect(emu.app.images.get(id as string)).toMatchObject({ metadata: { b: 2, c: "three" }, tags: ["new"] });
    expect(emu.requests.at(-1)).toMatchObject({ method: "POST", path: `/acme/images/${id}/metadata` });
  });

  it("types the server's 422 for metadata values it will not store, without retrying", async () => {
    const { emu, rf } = await setup({ maxRetries: 3 });
    const { id } = await rf.images.upload("widgets", { file: IMAGE, name: "a.png" });
    const error = await failure(rf.images.setMetadata(id as string, { metadata: { deep: { er: { still: [1] } } } }));
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 422, code: "HTTP_422", retryable: false, type: "ValidationException" });
    expect(emu.requests.filter((r) => r.path.endsWith("/metadata"))).toHaveLength(1);
  });

  it.each([
    ["no change at all", {}],
    ["a key both set and removed", { metadata: { a: 1 }, removeMetadata: ["a"] }],
    ["a tag both added and removed", { addTags: ["t"], removeTags: ["t"] }],
  ])("refuses %s before any request", async (_what, params) => {
    const { emu, rf } = await setup();
    expect(await failure(rf.images.setMetadata("abc", params))).toBeInstanceOf(InvalidArgumentError);
    expect(emu.requests).toHaveLength(0);
  });
});

describe("many uploads through faults", () => {
  it("stores every image exactly once, as the emulator's content hashes tell, through 5xx after writes", async () => {
    const { emu, rf } = await setup({ maxRetries: 4, maxRetryAfter: 100 }, { faults: { badGatewayAfterWrite: 0.2, serverError: 0.1 }, seed: 11 });
    const images = Array.from({ length: 16 }, (_, i) => png(16, 16, i + 10));
    const results = [];
    for (const [i, bytes] of images.entries()) results.push(await rf.images.upload("widgets", { file: bytes, name: `w-${i}.png` }));

    const stored = [...emu.app.images.values()];
    expect(stored).toHaveLength(16);
    expect(new Set(stored.map((s) => s.hash))).toEqual(new Set(images.map(sha256)));
    expect(results.every((r) => r.id !== undefined)).toBe(true);
    // A duplicate answer is exactly the upload whose first answer was lost after the write.
    const lost = emu.requests.filter((r) => r.fault === "badGatewayAfterWrite").length;
    expect(lost).toBeGreaterThan(0);
    expect(results.filter((r) => r.duplicate)).toHaveLength(stored.filter((s) => s.uploads > 1).length);
    expect(stored.reduce((n, s) => n + s.uploads - 1, 0)).toBe(lost);
  });

  it("never shows the key in an upload error, whatever the fault", async () => {
    const { emu, rf } = await setup({ maxRetries: 0 });
    for (const fault of ["serverError", "htmlBadGateway", "rateLimit", "locked", "serviceUnavailable", "badGatewayAfterWrite"] as const) {
      emu.inject(fault, { path: "/dataset/" });
      const error = await failure(rf.images.upload("widgets", { file: png(4, 4, 99), name: "k.png" }));
      expect(error).toBeInstanceOf(ApiError);
      expectMasked(error, KEY);
    }
  });
});
