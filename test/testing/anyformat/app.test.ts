import { describe, expect, it } from "vitest";
import {
  ANYFORMAT_EMULATOR_KEY,
  MAX_FILE_BYTES,
  createAnyformatApp,
  type AnyformatApp,
  type AnyformatEmulatorOptions,
} from "../../../src/testing/anyformat/app.js";
import { ManualClock } from "../../../src/testing/clock.js";
import { startEmulator } from "../../../src/testing/server.js";
import type { EmulatorRequest, EmulatorResponse } from "../../../src/testing/types.js";

const KEY = ANYFORMAT_EMULATOR_KEY;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const REQUEST_ID = /^[0-9a-f]{32}$/;

interface FilePart {
  readonly name: string;
  readonly value: string | Uint8Array;
  readonly filename?: string;
}

interface RequestParts {
  /** The bearer key [the emulator key]; `null` sends no Authorization header. */
  readonly key?: string | null;
  /** A whole Authorization header, sent as is. */
  readonly authorization?: string;
  readonly query?: Readonly<Record<string, string>>;
  readonly json?: unknown;
  readonly raw?: string;
  readonly form?: readonly FilePart[];
  readonly contentType?: string;
}

const BOUNDARY = "----faultline-test-boundary";

/** A multipart/form-data body written by hand, so each test knows its exact bytes. */
function multipart(parts: readonly FilePart[], boundary = BOUNDARY): Uint8Array {
  const encoder = new TextEncoder();
  const chunks: Uint8Array[] = [];
  for (const part of parts) {
    const filename = part.filename === undefined ? "" : `; filename="${part.filename}"`;
    const type = part.filename === undefined ? "" : "\r\nContent-Type: application/octet-stream";
    chunks.push(encoder.encode(`--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"${filename}${type}\r\n\r\n`));
    chunks.push(typeof part.value === "string" ? encoder.encode(part.value) : part.value);
    chunks.push(encoder.encode("\r\n"));
  }
  chunks.push(encoder.encode(`--${boundary}--\r\n`));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

function request(method: string, path: string, parts: RequestParts = {}): EmulatorRequest {
  const headers: Record<string, string> = {};
  const key = parts.key === undefined ? KEY : parts.key;
  if (parts.authorization !== undefined) headers["authorization"] = parts.authorization;
  else if (key !== null) headers["authorization"] = `Bearer ${key}`;
  let body: Uint8Array = new Uint8Array();
  if (parts.form !== undefined) {
    body = multipart(parts.form);
    headers["content-type"] = `multipart/form-data; boundary=${BOUNDARY}`;
  } else if (parts.json !== undefined || parts.raw !== undefined) {
    body = new TextEncoder().encode(parts.raw ?? JSON.stringify(parts.json));
    headers["content-type"] = "application/json";
  }
  if (parts.contentType !== undefined) headers["content-type"] = parts.contentType;
  return { method, path, query: new URLSearchParams(parts.query), headers, body };
}

function setup(options: AnyformatEmulatorOptions = {}): { app: AnyformatApp; clock: ManualClock } {
  const clock = new ManualClock();
  return { app: createAnyformatApp({ clock, ...options }), clock };
}

async function call(app: AnyformatApp, req: EmulatorRequest): Promise<EmulatorResponse> {
  return app.handle(req);
}

/** The body as a loose record, for reading fields in assertions. */
function body(response: EmulatorResponse): Record<string, any> {
  return response.json as Record<string, any>;
}

const FIELDS = [
  { name: "Invoice Number", description: "The invoice's number", data_type: "string" },
  { name: "total_amount", description: "Grand total", data_type: "float" },
  { name: "line count", description: "Lines", data_type: "integer" },
  { name: "currency", description: "ISO code", data_type: "enum", enum_options: ["EUR", "USD"] },
  { name: "paid", description: "Paid already", data_type: "boolean" },
  { name: "issued", description: "Issue date", data_type: "date" },
  {
    name: "vendor",
    description: "Who sent it",
    data_type: "object",
    nested_fields: [{ name: "city", description: "", data_type: "string" }],
  },
];

async function workflow(app: AnyformatApp, fields: unknown = FIELDS): Promise<string> {
  const res = await call(app, request("POST", "/v2/workflows/", { json: { name: "Invoices", fields } }));
  expect(res.status).toBe(201);
  return body(res)["id"] as string;
}

async function runText(app: AnyformatApp, id: string, text: string): Promise<string> {
  const res = await call(app, request("POST", `/v2/workflows/${id}/run/`, { form: [{ name: "text", value: text }] }));
  expect(res.status).toBe(202);
  return body(res)["id"] as string;
}

function expectError(res: EmulatorResponse, status: number, code: string, retryable: boolean): void {
  expect(res.status).toBe(status);
  expect(Object.keys(body(res)).sort()).toEqual(
    expect.arrayContaining(["detail", "error", "error_code", "request_id", "retryable"]),
  );
  expect(body(res)).toMatchObject({ error_code: code, retryable });
  expect(body(res)["request_id"]).toMatch(REQUEST_ID);
  expect(res.headers?.["x-request-id"]).toBe(body(res)["request_id"]);
}

describe("anyformat emulator: paths", () => {
  it("answers GET /health/ with {message: 'ok'} without a key or rate-limit headers", async () => {
    const { app } = setup();
    const res = await call(app, request("GET", "/health/", { key: null }));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ message: "ok" });
    expect(res.headers?.["x-ratelimit-limit"]).toBeUndefined();
    expect(res.headers?.["x-request-id"]).toMatch(REQUEST_ID);
  });

  it("redirects a known path without its trailing slash with 301 to the path with it, query kept", async () => {
    const { app } = setup();
    const res = await call(app, request("GET", "/v2/workflows", { key: null, query: { page: "2" } }));
    expect(res.status).toBe(301);
    expect(res.headers?.["location"]).toBe("/v2/workflows/?page=2");
    const deep = await call(app, request("POST", "/v2/workflows/abc/files/def/run"));
    expect(deep).toMatchObject({ status: 301, headers: { location: "/v2/workflows/abc/files/def/run/" } });
  });

  it("answers 404 {detail: 'Not found.'} for an unknown path, before looking at the key", async () => {
    const { app } = setup();
    for (const path of ["/", "/v1/workflows/", "/v2/workflows/a/b/", "/v2/workflows//run/", "/v2/nothing"]) {
      const res = await call(app, request("GET", path, { key: null }));
      expect(res.status).toBe(404);
      expect(res.json).toEqual({ detail: "Not found." });
    }
  });

  it("answers 405 with the framework's detail for a method a known path does not take", async () => {
    const { app } = setup();
    const res = await call(app, request("PUT", "/v2/workflows/"));
    expect(res.status).toBe(405);
    expect(res.json).toEqual({ detail: 'Method "PUT" not allowed.' });
    expect(res.headers?.["allow"]).toBe("GET, POST");
    expect(res.headers?.["x-ratelimit-limit"]).toBe("600");
    expect((await call(app, request("GET", "/v2/webhooks/x/"))).status).toBe(405);
    expect((await call(app, request("POST", "/health/", { key: null }))).status).toBe(405);
  });

  it("sends a fresh 32-hex x-request-id on every response, the same as the error body's request_id", async () => {
    const { app } = setup();
    const seen = new Set<string>();
    for (const req of [
      request("GET", "/health/"),
      request("GET", "/v2/workflows"),
      request("GET", "/nowhere/"),
      request("GET", "/v2/workflows/"),
      request("GET", "/v2/workflows/missing/"),
      request("GET", "/v2/workflows/missing/"),
    ]) {
      const res = await call(app, req);
      const id = res.headers?.["x-request-id"] ?? "";
      expect(id).toMatch(REQUEST_ID);
      seen.add(id);
      if (res.status === 404 && body(res)["error_code"] !== undefined) expect(body(res)["request_id"]).toBe(id);
    }
    expect(seen.size).toBe(6);
  });
});

describe("anyformat emulator: authentication", () => {
  it("answers 403 ACCESS_DENIED without an Authorization header, with an empty bearer, or another scheme", async () => {
    const { app } = setup();
    for (const parts of [{ key: null }, { authorization: "Bearer " }, { authorization: "Bearer" }, { authorization: `Token ${KEY}` }]) {
      const res = await call(app, request("GET", "/v2/workflows/", parts));
      expectError(res, 403, "ACCESS_DENIED", false);
      expect(body(res)).toMatchObject({ error: "Access denied", detail: "API key is required. Use 'Authorization: Bearer <key>'." });
    }
  });

  it("answers 401 AUTH_FAILED for a key it does not know", async () => {
    const { app } = setup();
    const res = await call(app, request("GET", "/v2/workflows/", { key: "af-wrong" }));
    expectError(res, 401, "AUTH_FAILED", false);
    expect(body(res)).toMatchObject({ error: "Authentication failed", detail: "Invalid or missing authentication credentials." });
    expect(res.headers?.["x-ratelimit-limit"]).toBeUndefined();
  });

  it("accepts the apiKey it is given, and the scheme in any case", async () => {
    const { app } = setup({ apiKey: "my-key" });
    expect((await call(app, request("GET", "/v2/workflows/", { key: "my-key" }))).status).toBe(200);
    expect((await call(app, request("GET", "/v2/workflows/", { authorization: "bearer my-key" }))).status).toBe(200);
    expect((await call(app, request("GET", "/v2/workflows/"))).status).toBe(401);
  });
});

describe("anyformat emulator: rate limits", () => {
  it("reports the general tier on successes and on errors after authentication, reset in whole seconds", async () => {
    const { app, clock } = setup();
    const first = await call(app, request("GET", "/v2/workflows/"));
    expect(first.headers).toMatchObject({ "x-ratelimit-limit": "600", "x-ratelimit-remaining": "599", "x-ratelimit-reset": "60" });
    clock.advance(20_500);
    const missing = await call(app, request("GET", "/v2/workflows/nope/"));
    expect(missing.status).toBe(404);
    expect(missing.headers).toMatchObject({ "x-ratelimit-limit": "600", "x-ratelimit-remaining": "598", "x-ratelimit-reset": "40" });
    expect(missing.headers?.["retry-after"]).toBeUndefined();
  });

  it("counts submissions and other requests in two independent tiers", async () => {
    const { app } = setup({ rateLimits: { submission: 2, general: 5 } });
    const id = await workflow(app);
    const run = await call(app, request("POST", `/v2/workflows/${id}/run/`, { form: [{ name: "text", value: "x" }] }));
    expect(run.headers).toMatchObject({ "x-ratelimit-limit": "2", "x-ratelimit-remaining": "1" });
    const upload = await call(app, request("POST", `/v2/workflows/${id}/upload/`, { form: [{ name: "text", value: "x" }] }));
    expect(upload.headers).toMatchObject({ "x-ratelimit-limit": "2", "x-ratelimit-remaining": "0" });
    const files = await call(app, request("POST", `/v2/workflows/${id}/files/`, { form: [{ name: "files", value: "x", filename: "a.txt" }] }));
    expect(files.status).toBe(429);
    const list = await call(app, request("GET", `/v2/workflows/${id}/files/`));
    expect(list.status).toBe(200);
    expect(list.headers).toMatchObject({ "x-ratelimit-limit": "5", "x-ratelimit-remaining": "3" });
  });

  it("answers 429 RATE_LIMITED with Retry-After once a tier is spent, and serves again in the next window", async () => {
    const { app, clock } = setup({ rateLimits: { general: 2, windowMs: 10_000 } });
    await call(app, request("GET", "/v2/workflows/"));
    clock.advance(2_500);
    await call(app, request("GET", "/v2/webhooks/"));
    const res = await call(app, request("GET", "/v2/workflows/"));
    expectError(res, 429, "RATE_LIMITED", true);
    expect(res.headers).toMatchObject({ "retry-after": "8", "x-ratelimit-limit": "2", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "8" });
    expect(body(res)["detail"]).toBe("Rate limit exceeded. Try again in 8s.");
    clock.advance(7_499);
    expect((await call(app, request("GET", "/v2/workflows/"))).headers?.["retry-after"]).toBe("1");
    clock.advance(1);
    const next = await call(app, request("GET", "/v2/workflows/"));
    expect(next.status).toBe(200);
    expect(next.headers).toMatchObject({ "x-ratelimit-remaining": "1", "x-ratelimit-reset": "10" });
  });

  it("checks the key before counting, and does not count /health/", async () => {
    const { app } = setup({ rateLimits: { general: 1 } });
    for (let i = 0; i < 3; i++) {
      await call(app, request("GET", "/health/"));
      await call(app, request("GET", "/v2/workflows/", { key: "wrong" }));
    }
    expect((await call(app, request("GET", "/v2/workflows/"))).status).toBe(200);
    expect((await call(app, request("GET", "/v2/workflows/"))).status).toBe(429);
  });

  it("sends no rate-limit headers and never answers 429 when rateLimits is false", async () => {
    const { app } = setup({ rateLimits: false });
    for (let i = 0; i < 700; i++) {
      const res = await call(app, request("GET", "/v2/webhooks/"));
      expect(res.status).toBe(200);
      if (i === 0) expect(res.headers?.["x-ratelimit-limit"]).toBeUndefined();
    }
  });
});

describe("anyformat emulator: workflows", () => {
  it("creates a workflow with 201: a uuid, null description, timestamps and the fields as named", async () => {
    const { app, clock } = setup();
    const res = await call(app, request("POST", "/v2/workflows/", { json: { name: "Invoices", fields: FIELDS } }));
    expect(res.status).toBe(201);
    expect(body(res)).toEqual({
      id: expect.stringMatching(UUID),
      name: "Invoices",
      description: null,
      created_at: new Date(clock.now()).toISOString(),
      updated_at: new Date(clock.now()).toISOString(),
      fields: FIELDS,
    });
    expect(app.workflows.get(body(res)["id"])?.name).toBe("Invoices");
  });

  it("keeps a description and fills a field's missing description with an empty string", async () => {
    const { app } = setup();
    const fields = [{ name: "total", data_type: "float" }];
    const res = await call(app, request("POST", "/v2/workflows/", { json: { name: "a", description: "b", fields } }));
    expect(body(res)).toMatchObject({ description: "b", fields: [{ name: "total", description: "", data_type: "float" }] });
  });

  it("answers 400 INVALID_JSON for a body that is not JSON", async () => {
    const { app } = setup();
    const res = await call(app, request("POST", "/v2/workflows/", { raw: "{name: oops" }));
    expectError(res, 400, "INVALID_JSON", false);
    expect(body(res)["error"]).toBe("Invalid JSON format");
  });

  it("answers 400 VALIDATION_ERROR listing a missing name and missing fields as {type, loc, msg}", async () => {
    const { app } = setup();
    const res = await call(app, request("POST", "/v2/workflows/", { json: {} }));
    expectError(res, 400, "VALIDATION_ERROR", false);
    expect(body(res)["error"]).toBe("Validation failed");
    expect(body(res)["detail"]).toEqual([
      { type: "missing", loc: ["body", "name"], msg: "Field required" },
      { type: "missing", loc: ["body", "fields"], msg: "Field required" },
    ]);
    const empty = await call(app, request("POST", "/v2/workflows/", {}));
    expect(body(empty)["detail"]).toEqual([{ type: "missing", loc: ["body"], msg: "Field required" }]);
    const array = await call(app, request("POST", "/v2/workflows/", { json: [] }));
    expect(body(array)["detail"][0]).toMatchObject({ type: "model_attributes_type", loc: ["body"] });
    const none = await call(app, request("POST", "/v2/workflows/", { json: { name: "x", fields: [] } }));
    expect(body(none)["detail"]).toEqual([{ type: "too_short", loc: ["body", "fields"], msg: expect.any(String) }]);
  });

  it("rejects a bad data_type, an enum or multi_select without options, and an object without nested fields, nested ones too", async () => {
    const { app } = setup();
    const fields = [
      { name: "a", description: "", data_type: "money" },
      { name: "b", description: "", data_type: "enum" },
      { name: "c", description: "", data_type: "multi_select", enum_options: [] },
      { name: "d", description: "", data_type: "object" },
      {
        name: "e",
        description: "",
        data_type: "object",
        nested_fields: [{ name: "f", data_type: "enum" }, { description: "no name", data_type: "string" }],
      },
      { name: "a", description: "", data_type: "string" },
    ];
    const res = await call(app, request("POST", "/v2/workflows/", { json: { name: "bad", fields } }));
    expectError(res, 400, "VALIDATION_ERROR", false);
    const detail = body(res)["detail"] as Array<{ type: string; loc: unknown[]; msg: string }>;
    expect(detail.map((d) => d.loc)).toEqual([
      ["body", "fields", 0, "data_type"],
      ["body", "fields", 1, "enum_options"],
      ["body", "fields", 2, "enum_options"],
      ["body", "fields", 3, "nested_fields"],
      ["body", "fields", 4, "nested_fields", 0, "enum_options"],
      ["body", "fields", 4, "nested_fields", 1, "name"],
    ]);
    expect(detail[0]).toMatchObject({ type: "enum", msg: expect.stringContaining("'multi_select'") });
    expect(detail[5]).toEqual({ type: "missing", loc: ["body", "fields", 4, "nested_fields", 1, "name"], msg: "Field required" });
    expect(app.workflows.size).toBe(0);
  });

  it("rejects two fields of one name, since results are keyed by name", async () => {
    const { app } = setup();
    const fields = [
      { name: "total", data_type: "float" },
      { name: "total", data_type: "string" },
    ];
    const res = await call(app, request("POST", "/v2/workflows/", { json: { name: "dup", fields } }));
    expect(body(res)["detail"]).toEqual([{ type: "value_error", loc: ["body", "fields", 1, "name"], msg: expect.stringMatching(/duplicate/) }]);
  });

  it("gets a workflow by id, and answers 404 NOT_FOUND in the structured form for an unknown or malformed id", async () => {
    const { app } = setup();
    const id = await workflow(app);
    const res = await call(app, request("GET", `/v2/workflows/${id}/`));
    expect(res.status).toBe(200);
    expect(body(res)).toMatchObject({ id, name: "Invoices", fields: FIELDS });
    for (const other of ["00000000-0000-4000-8000-000000000000", "wf-1", "%E0%A4%A"]) {
      const miss = await call(app, request("GET", `/v2/workflows/${other}/`));
      expectError(miss, 404, "NOT_FOUND", false);
      expect(body(miss)["error"]).toBe("Resource not found");
    }
  });

  it("lists workflows newest first in pages of {count, page, page_size, results}", async () => {
    const { app, clock } = setup();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(await workflow(app));
      if (i % 2 === 0) clock.advance(1000);
    }
    const first = await call(app, request("GET", "/v2/workflows/", { query: { page_size: "2" } }));
    expect(body(first)).toMatchObject({ count: 5, page: 1, page_size: 2 });
    expect(body(first)["results"].map((w: { id: string }) => w.id)).toEqual([ids[4], ids[3]]);
    const last = await call(app, request("GET", "/v2/workflows/", { query: { page: "3", page_size: "2" } }));
    expect(body(last)["results"].map((w: { id: string }) => w.id)).toEqual([ids[0]]);
    const all = await call(app, request("GET", "/v2/workflows/"));
    expect(body(all)).toMatchObject({ count: 5, page: 1, page_size: 20 });
    expect(body(all)["results"]).toHaveLength(5);
  });

  it("caps page_size at 100", async () => {
    const { app } = setup();
    const res = await call(app, request("GET", "/v2/workflows/", { query: { page_size: "500" } }));
    expect(body(res)).toEqual({ count: 0, page: 1, page_size: 100, results: [] });
  });

  it("answers 400 VALIDATION_ERROR for a page or page_size that is not a positive integer", async () => {
    const { app } = setup();
    for (const query of [{ page: "0" }, { page: "x" }, { page_size: "0" }, { page_size: "1.5" }, { page: "-1" }]) {
      const res = await call(app, request("GET", "/v2/workflows/", { query }));
      expectError(res, 400, "VALIDATION_ERROR", false);
      expect(body(res)["detail"][0]["loc"]).toEqual(["query", Object.keys(query)[0]]);
    }
  });

  it("answers 404 'Invalid page.' past the last page, but an empty first page for an empty list", async () => {
    const { app } = setup();
    expect(body(await call(app, request("GET", "/v2/workflows/")))).toEqual({ count: 0, page: 1, page_size: 20, results: [] });
    const past = await call(app, request("GET", "/v2/workflows/", { query: { page: "2" } }));
    expectError(past, 404, "NOT_FOUND", false);
    expect(body(past)["detail"]).toBe("Invalid page.");
  });

  it("deletes a workflow with 204 and no body, its collections with it, and then answers 404", async () => {
    const { app } = setup();
    const id = await workflow(app);
    const collection = await runText(app, id, "hello");
    const res = await call(app, request("DELETE", `/v2/workflows/${id}/`));
    expect(res.status).toBe(204);
    expect(res.json).toBeUndefined();
    expect(res.text).toBeUndefined();
    expect(app.collections.has(collection)).toBe(false);
    expect((await call(app, request("GET", `/v2/workflows/${id}/`))).status).toBe(404);
    expectError(await call(app, request("DELETE", `/v2/workflows/${id}/`)), 404, "NOT_FOUND", false);
  });
});

describe("anyformat emulator: runs and results", () => {
  it("answers a run of text with 202 {id, status: 'pending', workflow_id, version_id}", async () => {
    const { app } = setup();
    const id = await workflow(app);
    const res = await call(app, request("POST", `/v2/workflows/${id}/run/`, { form: [{ name: "text", value: "Total: 10" }] }));
    expect(res.status).toBe(202);
    expect(body(res)).toEqual({ id: expect.stringMatching(UUID), status: "pending", workflow_id: id, version_id: expect.stringMatching(UUID) });
    expect(app.collections.get(body(res)["id"])?.status).toBe("pending");
  });

  it("moves a run from pending to queued to in_progress to processed, one step per stepMs", async () => {
    const { app, clock } = setup({ stepMs: 1000 });
    const id = await workflow(app);
    const collection = await runText(app, id, "hello");
    const statuses: string[] = [];
    for (let i = 0; i < 5; i++) {
      const page = await call(app, request("GET", `/v2/workflows/${id}/runs/`));
      statuses.push(body(page)["results"][0]["status"]);
      clock.advance(999);
      statuses.push(app.collections.get(collection)?.status ?? "");
      clock.advance(1);
    }
    expect(statuses).toEqual([
      "pending", "pending", "queued", "queued", "in_progress", "in_progress", "processed", "processed", "processed", "processed",
    ]);
  });

  it("answers results with 412 PRECONDITION_FAILED, retryable, naming the status, until the run is processed", async () => {
    const { app, clock } = setup({ stepMs: 100 });
    const id = await workflow(app);
    const collection = await runText(app, id, "hello");
    for (const status of ["pending", "queued", "in_progress"]) {
      const res = await call(app, request("GET", `/v2/workflows/${id}/files/${collection}/results/`));
      expectError(res, 412, "PRECONDITION_FAILED", true);
      expect(body(res)["error"]).toBe("Results not ready");
      expect(body(res)["detail"]).toContain(`'${status}'`);
      clock.advance(100);
    }
    expect((await call(app, request("GET", `/v2/workflows/${id}/files/${collection}/results/`))).status).toBe(200);
  });

  it("gives results keyed by the user's own field names, read from 'name: value' lines of the text", async () => {
    const { app, clock } = setup({ stepMs: 0 });
    const id = await workflow(app);
    const text = "ACME Corp\ninvoice number: INV-7\nTotal Amount = 118.50 EUR\ncurrency: usd\nPaid: no\nIssued: 2025-03-04\ncity: Lyon";
    const collection = await runText(app, id, text);
    const res = await call(app, request("GET", `/v2/workflows/${id}/files/${collection}/results/`));
    expect(res.status).toBe(200);
    expect(body(res)).toMatchObject({
      collection_id: collection,
      verification_url: expect.stringContaining(collection),
      parse: { markdown: text },
    });
    const extraction = body(res)["extraction"];
    expect(Object.keys(extraction)).toEqual(["Invoice Number", "total_amount", "line count", "currency", "paid", "issued", "vendor"]);
    expect(extraction["Invoice Number"]).toEqual({ value: "INV-7", confidence: 96, evidence: [{ text: "invoice number: INV-7", page_number: 1 }] });
    expect(extraction["total_amount"].value).toBe(118.5);
    expect(extraction["line count"]).toMatchObject({ value: 42, confidence: 62, evidence: [{ text: "ACME Corp", page_number: 1 }] });
    expect(extraction["currency"].value).toBe("USD");
    expect(extraction["paid"].value).toBe(false);
    expect(extraction["issued"].value).toBe("2025-03-04");
    expect(extraction["vendor"].value).toEqual({ city: "Lyon" });
    expect(clock.now()).toBeGreaterThan(0);
  });

  it("makes up a value of the right type for a field the text does not mention", async () => {
    const { app } = setup({ stepMs: 0 });
    const id = await workflow(app, [
      { name: "kind", data_type: "enum", enum_options: ["receipt", "invoice"] },
      { name: "tags", data_type: "multi_select", enum_options: ["a", "b"] },
      { name: "items", data_type: "list" },
      { name: "at", data_type: "datetime" },
      { name: "ok", data_type: "boolean" },
      { name: "rate", data_type: "float" },
    ]);
    const collection = await runText(app, id, "nothing useful");
    const extraction = body(await call(app, request("GET", `/v2/workflows/${id}/files/${collection}/results/`)))["extraction"];
    expect(extraction["kind"].value).toBe("receipt");
    expect(extraction["tags"].value).toEqual(["a"]);
    expect(extraction["items"].value).toEqual(expect.any(Array));
    expect(extraction["at"].value).toBe("2026-01-01T00:00:00.000Z");
    expect(extraction["ok"].value).toBe(true);
    expect(typeof extraction["rate"].value).toBe("number");
  });

  it("runs a file sent as multipart by undici's FormData, file name and all", async () => {
    const { app } = setup({ stepMs: 0 });
    const id = await workflow(app);
    const form = new FormData();
    form.append("file", new Blob(["currency: EUR\n"]), 'in "voice".txt');
    const encoded = new Response(form);
    const headers = { authorization: `Bearer ${KEY}`, "content-type": encoded.headers.get("content-type") ?? "" };
    const bytes = new Uint8Array(await encoded.arrayBuffer());
    const res = await call(app, { method: "POST", path: `/v2/workflows/${id}/run/`, query: new URLSearchParams(), headers, body: bytes });
    expect(res.status).toBe(202);
    const collection = app.collections.get(body(res)["id"]);
    expect(collection?.files[0]).toMatchObject({ filename: 'in "voice".txt', text: "currency: EUR\n", size: 14 });
    const results = await call(app, request("GET", `/v2/workflows/${id}/files/${body(res)["id"]}/results/`));
    expect(body(results)["parse"]["markdown"]).toContain('# in "voice".txt');
    expect(body(results)["extraction"]["currency"].value).toBe("EUR");
  });

  it("keeps a binary file's bytes out of the text and still answers results", async () => {
    const { app } = setup({ stepMs: 0 });
    const id = await workflow(app);
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0xfe]);
    const res = await call(app, request("POST", `/v2/workflows/${id}/run/`, { form: [{ name: "file", value: png, filename: "scan.png" }] }));
    const collection = body(res)["id"] as string;
    expect(app.collections.get(collection)?.files[0]).toMatchObject({ text: undefined, size: 11 });
    const results = await call(app, request("GET", `/v2/workflows/${id}/files/${collection}/results/`));
    expect(results.status).toBe(200);
    expect(body(results)["extraction"]["line count"]).toMatchObject({ value: 42, evidence: [] });
  });

  it("answers 400 VALIDATION_ERROR for both file and text, for neither, for an empty text or a file without a name", async () => {
    const { app } = setup();
    const id = await workflow(app);
    const cases: Array<[FilePart[], unknown[]]> = [
      [[{ name: "file", value: "a", filename: "a.txt" }, { name: "text", value: "b" }], ["body"]],
      [[{ name: "other", value: "b" }], ["body", "file"]],
      [[], ["body", "file"]],
      [[{ name: "text", value: "" }], ["body", "text"]],
      [[{ name: "file", value: "no name" }], ["body", "file"]],
      [[{ name: "text", value: "a" }, { name: "text", value: "b" }], ["body"]],
    ];
    for (const [form, loc] of cases) {
      for (const endpoint of ["run", "upload"]) {
        const res = await call(app, request("POST", `/v2/workflows/${id}/${endpoint}/`, { form }));
        expectError(res, 400, "VALIDATION_ERROR", false);
        expect(body(res)["detail"][0]["loc"]).toEqual(loc);
      }
    }
    expect(app.collections.size).toBe(0);
  });

  it("answers 400 VALIDATION_ERROR for a body that is not multipart/form-data, or is cut short", async () => {
    const { app } = setup();
    const id = await workflow(app);
    const json = await call(app, request("POST", `/v2/workflows/${id}/run/`, { json: { text: "hi" } }));
    expectError(json, 400, "VALIDATION_ERROR", false);
    expect(body(json)["detail"][0]["msg"]).toMatch(/multipart\/form-data/);
    const noBoundary = request("POST", `/v2/workflows/${id}/run/`, { form: [{ name: "text", value: "hi" }], contentType: "multipart/form-data" });
    expect((await call(app, noBoundary)).status).toBe(400);
    const whole = multipart([{ name: "text", value: "hi" }]);
    const cut = { ...request("POST", `/v2/workflows/${id}/run/`, { form: [] }), body: whole.subarray(0, whole.byteLength - 12) };
    const res = await call(app, cut);
    expectError(res, 400, "VALIDATION_ERROR", false);
    expect(body(res)["detail"][0]["msg"]).toMatch(/malformed/);
  });

  it("answers 413 with error_code VALIDATION_ERROR, not retryable, for a file over 20 MB", async () => {
    const { app } = setup();
    const id = await workflow(app);
    const big = new Uint8Array(MAX_FILE_BYTES + 1).fill(0x61);
    const res = await call(app, request("POST", `/v2/workflows/${id}/run/`, { form: [{ name: "file", value: big, filename: "big.txt" }] }));
    expectError(res, 413, "VALIDATION_ERROR", false);
    expect(body(res)["detail"]).toMatch(/20 MB/);
    const exact = await call(app, request("POST", `/v2/workflows/${id}/upload/`, { form: [{ name: "file", value: big.subarray(1), filename: "ok.txt" }] }));
    expect(exact.status).toBe(201);
  });

  it("answers 404 NOT_FOUND for a run on a workflow it does not know", async () => {
    const { app } = setup();
    const res = await call(app, request("POST", "/v2/workflows/nope/run/", { form: [{ name: "text", value: "x" }] }));
    expectError(res, 404, "NOT_FOUND", false);
  });

  it("answers 422 EXTRACTION_FAILED or EXTRACTION_CANCELLED once a run ended badly, by the FAIL and CANCEL rule", async () => {
    const { app, clock } = setup({ stepMs: 10 });
    const id = await workflow(app);
    const failed = await runText(app, id, "please FAIL");
    const cancelled = await runText(app, id, "please CANCEL");
    const form = [{ name: "file", value: "fine", filename: "FAIL.pdf" }];
    const byName = body(await call(app, request("POST", `/v2/workflows/${id}/run/`, { form })))["id"];
    clock.advance(30);
    const one = await call(app, request("GET", `/v2/workflows/${id}/files/${failed}/results/`));
    expectError(one, 422, "EXTRACTION_FAILED", false);
    const two = await call(app, request("GET", `/v2/workflows/${id}/files/${cancelled}/results/`));
    expectError(two, 422, "EXTRACTION_CANCELLED", false);
    expect(app.collections.get(byName)?.status).toBe("error");
    const runs = body(await call(app, request("GET", `/v2/workflows/${id}/runs/`)))["results"];
    expect(runs.map((r: { status: string }) => r.status)).toEqual(["error", "cancelled", "error"]);
  });

  it("answers 412 PRECONDITION_FAILED, not retryable, for a run that ended badly when terminalForm is '412'", async () => {
    const { app, clock } = setup({ stepMs: 10, terminalForm: "412" });
    const id = await workflow(app);
    const failed = await runText(app, id, "FAIL");
    const cancelled = await runText(app, id, "CANCEL");
    clock.advance(30);
    for (const [collection, status] of [[failed, "error"], [cancelled, "cancelled"]] as const) {
      const res = await call(app, request("GET", `/v2/workflows/${id}/files/${collection}/results/`));
      expectError(res, 412, "PRECONDITION_FAILED", false);
      expect(body(res)["detail"]).toContain(`'${status}'`);
    }
  });

  it("decides outcomes by the outcome option, and by setOutcome for runs submitted after it", async () => {
    const { app, clock } = setup({ stepMs: 0, outcome: () => "cancelled" });
    const id = await workflow(app);
    const before = await runText(app, id, "anything");
    app.setOutcome("error");
    const during = await runText(app, id, "anything");
    app.setOutcome((input) => (input.text === "good" ? "processed" : "cancelled"));
    const good = await runText(app, id, "good");
    app.setOutcome(undefined);
    const after = await runText(app, id, "FAIL");
    clock.advance(1);
    expect([before, during, good, after].map((c) => app.collections.get(c)?.status)).toEqual(["cancelled", "error", "processed", "cancelled"]);
  });

  it("answers 404 for results of a collection it does not know or that belongs to another workflow", async () => {
    const { app } = setup();
    const one = await workflow(app);
    const two = await workflow(app);
    const collection = await runText(app, one, "x");
    expectError(await call(app, request("GET", `/v2/workflows/${two}/files/${collection}/results/`)), 404, "NOT_FOUND", false);
    expectError(await call(app, request("GET", `/v2/workflows/${one}/files/nope/results/`)), 404, "NOT_FOUND", false);
    expectError(await call(app, request("GET", `/v2/workflows/nope/files/${collection}/results/`)), 404, "NOT_FOUND", false);
  });
});

describe("anyformat emulator: uploads and file collections", () => {
  it("stores an upload without running it, listed as uploaded, its results 412 until it is run", async () => {
    const { app } = setup({ stepMs: 0 });
    const id = await workflow(app);
    const res = await call(app, request("POST", `/v2/workflows/${id}/upload/`, { form: [{ name: "file", value: "Paid: yes", filename: "a.txt" }] }));
    expect(res.status).toBe(201);
    expect(body(res)).toEqual({ status: "uploaded", filename: "a.txt", file_collection_id: expect.stringMatching(UUID), file_id: expect.stringMatching(UUID) });
    const { file_collection_id: collection, file_id: fileId } = body(res);
    const files = body(await call(app, request("GET", `/v2/workflows/${id}/files/`)));
    expect(files["results"]).toEqual([{ id: collection, status: "uploaded", name: "a.txt", created_at: expect.any(String), updated_at: expect.any(String) }]);
    expect(body(await call(app, request("GET", `/v2/workflows/${id}/runs/`)))["count"]).toBe(0);
    const early = await call(app, request("GET", `/v2/workflows/${id}/files/${collection}/results/`));
    expectError(early, 412, "PRECONDITION_FAILED", true);
    expect(body(early)["detail"]).toContain("'uploaded'");

    const run = await call(app, request("POST", `/v2/workflows/${id}/files/${fileId}/run/`));
    expect(run.status).toBe(202);
    expect(body(run)).toEqual({ id: collection, status: "pending", workflow_id: id, version_id: expect.stringMatching(UUID) });
    const results = await call(app, request("GET", `/v2/workflows/${id}/files/${collection}/results/`));
    expect(body(results)["extraction"]["paid"].value).toBe(true);
    expect(body(await call(app, request("GET", `/v2/workflows/${id}/runs/`)))["count"]).toBe(1);
  });

  it("answers 404 running a stored file it does not know, or one of another workflow", async () => {
    const { app } = setup();
    const one = await workflow(app);
    const two = await workflow(app);
    const res = await call(app, request("POST", `/v2/workflows/${one}/upload/`, { form: [{ name: "text", value: "x" }] }));
    expectError(await call(app, request("POST", `/v2/workflows/${one}/files/nope/run/`)), 404, "NOT_FOUND", false);
    expectError(await call(app, request("POST", `/v2/workflows/${two}/files/${body(res)["file_id"]}/run/`)), 404, "NOT_FOUND", false);
  });

  it("creates a collection of several files with 201, none of them run", async () => {
    const { app } = setup();
    const id = await workflow(app);
    const form = [
      { name: "files", value: "one", filename: "a.pdf" },
      { name: "files", value: "two", filename: "b.pdf" },
    ];
    const res = await call(app, request("POST", `/v2/workflows/${id}/files/`, { form }));
    expect(res.status).toBe(201);
    expect(body(res)).toEqual({
      id: expect.stringMatching(UUID),
      name: "2 files",
      files: [
        { filename: "a.pdf", status: "uploaded" },
        { filename: "b.pdf", status: "uploaded" },
      ],
      workflow_id: id,
    });
    const collection = app.collections.get(body(res)["id"]);
    expect(collection?.files.map((f) => f.filename)).toEqual(["a.pdf", "b.pdf"]);
    expect(collection?.run).toBeUndefined();
    const named = await call(app, request("POST", `/v2/workflows/${id}/files/`, { form: [...form, { name: "name", value: "March" }] }));
    expect(body(named)["name"]).toBe("March");
  });

  it("answers 400 VALIDATION_ERROR for a collection without files, and 413 for a file over 20 MB in it", async () => {
    const { app } = setup();
    const id = await workflow(app);
    const none = await call(app, request("POST", `/v2/workflows/${id}/files/`, { form: [{ name: "file", value: "x", filename: "a.pdf" }] }));
    expectError(none, 400, "VALIDATION_ERROR", false);
    expect(body(none)["detail"]).toEqual([{ type: "missing", loc: ["body", "files"], msg: "Field required" }]);
    const big = new Uint8Array(MAX_FILE_BYTES + 1);
    const form = [{ name: "files", value: "x", filename: "a.pdf" }, { name: "files", value: big, filename: "b.pdf" }];
    expectError(await call(app, request("POST", `/v2/workflows/${id}/files/`, { form })), 413, "VALIDATION_ERROR", false);
    expect(app.collections.size).toBe(0);
  });

  it("lists files and runs newest first with their live status, paged", async () => {
    const { app, clock } = setup({ stepMs: 100 });
    const id = await workflow(app);
    const first = await runText(app, id, "one");
    clock.advance(150);
    const second = await runText(app, id, "two");
    const page = body(await call(app, request("GET", `/v2/workflows/${id}/runs/`, { query: { page_size: "1", page: "2" } })));
    expect(page).toMatchObject({ count: 2, page: 2, page_size: 1 });
    expect(page["results"]).toEqual([
      { id: first, status: "queued", created_at: "2026-01-01T00:00:00.000Z", updated_at: "2026-01-01T00:00:00.100Z" },
    ]);
    const files = body(await call(app, request("GET", `/v2/workflows/${id}/files/`)));
    expect(files["results"].map((c: { id: string; status: string }) => [c.id, c.status])).toEqual([[second, "pending"], [first, "queued"]]);
    expectError(await call(app, request("GET", `/v2/workflows/${id}/files/`, { query: { page: "2" } })), 404, "NOT_FOUND", false);
    expectError(await call(app, request("GET", "/v2/workflows/nope/runs/")), 404, "NOT_FOUND", false);
    expectError(await call(app, request("GET", "/v2/workflows/nope/files/")), 404, "NOT_FOUND", false);
  });

  it("deletes a collection with 204, and answers 404 for one it does not know", async () => {
    const { app } = setup();
    const id = await workflow(app);
    const collection = await runText(app, id, "x");
    const res = await call(app, request("DELETE", `/v2/files/${collection}/`));
    expect(res.status).toBe(204);
    expect(res.json).toBeUndefined();
    expect(app.collections.size).toBe(0);
    expectError(await call(app, request("DELETE", `/v2/files/${collection}/`)), 404, "NOT_FOUND", false);
    expectError(await call(app, request("GET", `/v2/workflows/${id}/files/${collection}/results/`)), 404, "NOT_FOUND", false);
  });
});

describe("anyformat emulator: webhooks", () => {
  it("creates a webhook with 201 and shows its secret only then", async () => {
    const { app } = setup();
    const res = await call(app, request("POST", "/v2/webhooks/", { json: { url: "https://example.com/hook" } }));
    expect(res.status).toBe(201);
    expect(body(res)).toEqual({
      id: expect.stringMatching(UUID),
      url: "https://example.com/hook",
      events: ["extraction.completed", "extraction.failed"],
      is_active: true,
      secret: expect.stringMatching(/^whsec_[0-9a-f]{32}$/),
      created_at: "2026-01-01T00:00:00.000Z",
    });
    const list = await call(app, request("GET", "/v2/webhooks/"));
    expect(list.status).toBe(200);
    expect(list.json).toEqual([{ id: body(res)["id"], url: "https://example.com/hook", events: ["extraction.completed", "extraction.failed"], is_active: true, created_at: "2026-01-01T00:00:00.000Z" }]);
    expect(app.webhooks.get(body(res)["id"])?.secret).toBe(body(res)["secret"]);
  });

  it("keeps the events it is given", async () => {
    const { app } = setup();
    const res = await call(app, request("POST", "/v2/webhooks/", { json: { url: "https://example.com/", events: ["extraction.failed"] } }));
    expect(body(res)["events"]).toEqual(["extraction.failed"]);
  });

  it("answers 400 VALIDATION_ERROR with a detail array for a url that is not https, too long, missing or not a url, or an unknown event", async () => {
    const { app } = setup();
    const cases: Array<[unknown, string, unknown[]]> = [
      [{ url: "http://example.com/hook" }, "url_scheme", ["body", "url"]],
      [{ url: `https://example.com/${"a".repeat(2064)}` }, "url_too_long", ["body", "url"]],
      [{}, "missing", ["body", "url"]],
      [{ url: "" }, "url_parsing", ["body", "url"]],
      [{ url: "not a url" }, "url_parsing", ["body", "url"]],
      [{ url: "https://example.com/", events: ["extraction.started"] }, "literal_error", ["body", "events", 0]],
    ];
    for (const [json, type, loc] of cases) {
      const res = await call(app, request("POST", "/v2/webhooks/", { json }));
      expectError(res, 400, "VALIDATION_ERROR", false);
      expect(body(res)["detail"]).toEqual([{ type, loc, msg: expect.any(String) }]);
    }
    expect(`https://example.com/${"a".repeat(2063)}`).toHaveLength(2083);
    const longest = await call(app, request("POST", "/v2/webhooks/", { json: { url: `https://example.com/${"a".repeat(2063)}` } }));
    expect(longest.status).toBe(201);
    expectError(await call(app, request("POST", "/v2/webhooks/", { raw: "url=https://x" })), 400, "INVALID_JSON", false);
  });

  it("answers 400 VALIDATION_ERROR for a 51st active webhook", async () => {
    const { app } = setup();
    for (let i = 0; i < 50; i++) {
      expect((await call(app, request("POST", "/v2/webhooks/", { json: { url: `https://example.com/${i}` } }))).status).toBe(201);
    }
    const res = await call(app, request("POST", "/v2/webhooks/", { json: { url: "https://example.com/51" } }));
    expectError(res, 400, "VALIDATION_ERROR", false);
    expect(body(res)["detail"][0]["msg"]).toMatch(/50/);
  });

  it("deletes a webhook with 204, and answers 404 for one it does not know", async () => {
    const { app } = setup();
    const id = body(await call(app, request("POST", "/v2/webhooks/", { json: { url: "https://example.com/" } })))["id"];
    const res = await call(app, request("DELETE", `/v2/webhooks/${id}/`));
    expect(res.status).toBe(204);
    expect(res.json).toBeUndefined();
    expect((await call(app, request("GET", "/v2/webhooks/"))).json).toEqual([]);
    expectError(await call(app, request("DELETE", `/v2/webhooks/${id}/`)), 404, "NOT_FOUND", false);
  });
});

describe("anyformat emulator: injected faults", () => {
  const get = request("GET", "/v2/workflows/");

  it("phrases a rate limit as 429 RATE_LIMITED, retryable, with Retry-After: faultRetryAfterSeconds", () => {
    const { app } = setup();
    const res = app.fault("rateLimit", get);
    expectError(res, 429, "RATE_LIMITED", true);
    expect(res.headers?.["retry-after"]).toBe("1");
    expect(setup({ faultRetryAfterSeconds: 0.05 }).app.fault("rateLimit", get).headers?.["retry-after"]).toBe("0.05");
  });

  it("phrases a server error as 500 INTERNAL_ERROR with a reference_id, and a gateway timeout as 504 GATEWAY_TIMEOUT, both retryable", () => {
    const { app } = setup();
    const server = app.fault("serverError", get);
    expectError(server, 500, "INTERNAL_ERROR", true);
    expect(body(server)["reference_id"]).toMatch(/^err_[0-9a-f]{8}$/);
    expectError(app.fault("gatewayTimeout", get), 504, "GATEWAY_TIMEOUT", true);
  });

  it("phrases a locked fault as 423 LOCKED, not retryable", () => {
    const { app } = setup();
    expectError(app.fault("locked", get), 423, "LOCKED", false);
  });

  it("leaves state and rate-limit windows untouched when a fault is phrased", async () => {
    const { app } = setup({ rateLimits: { general: 1 } });
    app.fault("serverError", request("POST", "/v2/workflows/", { json: { name: "x", fields: FIELDS } }));
    expect(app.workflows.size).toBe(0);
    expect((await call(app, get)).status).toBe(200);
  });
});

describe("anyformat emulator: options and state", () => {
  it("gives the same ids for the same seed and requests, and other ids for another seed", async () => {
    const ids = async (seed: number): Promise<string[]> => {
      const { app } = setup({ seed });
      const id = await workflow(app);
      const miss = await call(app, request("GET", "/v2/workflows/nope/"));
      return [id, await runText(app, id, "x"), body(miss)["request_id"]];
    };
    expect(await ids(7)).toEqual(await ids(7));
    expect((await ids(7))[0]).not.toBe((await ids(8))[0]);
  });

  it("does not shift resource ids with the number of errors answered before", async () => {
    const a = setup({ seed: 3 }).app;
    const b = setup({ seed: 3 }).app;
    await call(b, request("GET", "/v2/workflows/nope/"));
    expect(await workflow(a)).toBe(await workflow(b));
  });

  it("reads Date.now() when no clock is given", async () => {
    const app = createAnyformatApp();
    const before = Date.now();
    const id = await workflow(app);
    const created = app.workflows.get(id)?.createdAt ?? 0;
    expect(created).toBeGreaterThanOrEqual(before);
    expect(created).toBeLessThanOrEqual(Date.now());
  });

  it("empties everything and restarts ids and rate-limit windows on reset()", async () => {
    const { app } = setup({ seed: 5, rateLimits: { general: 3 } });
    const id = await workflow(app);
    await runText(app, id, "x");
    await call(app, request("POST", "/v2/webhooks/", { json: { url: "https://example.com/" } }));
    await call(app, request("GET", "/v2/workflows/"));
    app.setOutcome("error");
    app.reset();
    expect([app.workflows.size, app.collections.size, app.webhooks.size]).toEqual([0, 0, 0]);
    expect(await workflow(app)).toBe(id);
    expect((await call(app, request("GET", "/v2/workflows/"))).headers?.["x-ratelimit-remaining"]).toBe("1");
  });

  it("has the api name anyformat and the documented key", () => {
    expect(setup().app.api).toBe("anyformat");
    expect(ANYFORMAT_EMULATOR_KEY).toBe("af-emulator-key");
    expect(setup().app.apiKey).toBe(KEY);
  });
});

describe("anyformat emulator: over real HTTP", () => {
  it("serves health, redirects, errors and a whole run through startEmulator", async () => {
    const clock = new ManualClock();
    const emu = await startEmulator({ api: "anyformat", clock, stepMs: 1000, seed: 9 });
    try {
      const auth = { authorization: `Bearer ${KEY}` };
      const health = await fetch(`${emu.url}/health/`);
      expect([health.status, await health.json()]).toEqual([200, { message: "ok" }]);
      const moved = await fetch(`${emu.url}/v2/workflows?page=1`, { redirect: "manual", headers: auth });
      expect(moved.status).toBe(301);
      expect(moved.headers.get("location")).toBe("/v2/workflows/?page=1");
      const denied = await fetch(`${emu.url}/v2/workflows/`);
      const deniedBody = (await denied.json()) as Record<string, unknown>;
      expect(denied.status).toBe(403);
      expect(denied.headers.get("x-request-id")).toBe(deniedBody["request_id"]);

      const created = await fetch(`${emu.url}/v2/workflows/`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ name: "Invoices", fields: FIELDS }),
      });
      expect(created.status).toBe(201);
      expect(created.headers.get("x-ratelimit-limit")).toBe("600");
      const { id } = (await created.json()) as { id: string };

      const form = new FormData();
      form.append("file", new Blob(["Invoice number: 77\n"], { type: "text/plain" }), "invoice.txt");
      const run = await fetch(`${emu.url}/v2/workflows/${id}/run/`, { method: "POST", headers: auth, body: form });
      expect(run.status).toBe(202);
      expect(run.headers.get("x-ratelimit-limit")).toBe("60");
      const { id: collection } = (await run.json()) as { id: string };

      const early = await fetch(`${emu.url}/v2/workflows/${id}/files/${collection}/results/`, { headers: auth });
      expect(early.status).toBe(412);
      expect(((await early.json()) as Record<string, unknown>)["retryable"]).toBe(true);
      clock.advance(3000);
      const done = await fetch(`${emu.url}/v2/workflows/${id}/files/${collection}/results/`, { headers: auth });
      expect(done.status).toBe(200);
      const results = (await done.json()) as { extraction: Record<string, { value: unknown }> };
      expect(results.extraction["Invoice Number"]?.value).toBe("77");

      const deleted = await fetch(`${emu.url}/v2/files/${collection}/`, { method: "DELETE", headers: auth });
      expect(deleted.status).toBe(204);
      expect(await deleted.text()).toBe("");
      const unknown = await fetch(`${emu.url}/v3/`, { headers: auth });
      expect([unknown.status, await unknown.json()]).toEqual([404, { detail: "Not found." }]);
    } finally {
      await emu.close();
    }
  });

  it("points verification_url at its own review page, which a browser opens without a key", async () => {
    const emu = await startEmulator({ api: "anyformat", stepMs: 0 });
    try {
      const auth = { authorization: `Bearer ${KEY}`, "content-type": "application/json" };
      const created = await fetch(`${emu.url}/v2/workflows/`, {
        method: "POST",
        headers: auth,
        body: JSON.stringify({ name: "Invoices <Q3>", fields: FIELDS }),
      });
      const { id } = (await created.json()) as { id: string };
      const form = new FormData();
      form.append("text", "Invoice number: <b>INV-9</b>\n");
      const run = await fetch(`${emu.url}/v2/workflows/${id}/run/`, { method: "POST", headers: { authorization: auth.authorization }, body: form });
      const { id: collection } = (await run.json()) as { id: string };
      const done = await fetch(`${emu.url}/v2/workflows/${id}/files/${collection}/results/`, { headers: auth });
      const { verification_url } = (await done.json()) as { verification_url: string };
      expect(verification_url).toBe(`${emu.url}/verify/${collection}`);

      const before = emu.requests.length;
      const page = await fetch(verification_url);
      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toMatch(/^text\/html/);
      const html = await page.text();
      expect(html).toContain(`Collection ${collection}: processed`);
      expect(html).toContain("Invoices &#60;Q3&#62;");
      expect(html).toContain("&#60;b&#62;INV-9&#60;/b&#62;");
      expect(html).not.toContain("<b>");
      expect(emu.requests.slice(before).map((r) => r.status)).toEqual([200]);

      for (const missing of ["/verify/nope", "/verify/%E0%A4%A"]) {
        expect((await fetch(`${emu.url}${missing}`)).status).toBe(404);
      }
    } finally {
      await emu.close();
    }
  });

  it("answers injected faults in anyformat's body form over HTTP", async () => {
    const emu = await startEmulator({ api: "anyformat", faultRetryAfterSeconds: 2 });
    try {
      emu.inject("rateLimit", { path: "/v2/workflows/" });
      emu.inject("locked", { path: "/v2/webhooks/" });
      const headers = { authorization: `Bearer ${KEY}` };
      const limited = await fetch(`${emu.url}/v2/workflows/`, { headers });
      expect(limited.status).toBe(429);
      expect(limited.headers.get("retry-after")).toBe("2");
      expect(await limited.json()).toMatchObject({ error_code: "RATE_LIMITED", retryable: true });
      const locked = await fetch(`${emu.url}/v2/webhooks/`, { headers });
      expect(locked.status).toBe(423);
      expect(await locked.json()).toMatchObject({ error_code: "LOCKED", retryable: false });
      expect((await fetch(`${emu.url}/v2/workflows/`, { headers })).status).toBe(200);
      expect(emu.requests.map((r) => r.fault)).toEqual(["rateLimit", "locked", undefined]);
    } finally {
      await emu.close();
    }
  });
});
