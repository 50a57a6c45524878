import { performance } from "node:perf_hooks";
import { describe, expect, it } from "vitest";
import type { PollInfo } from "../../src/anyformat/resources/results.js";
import {
  AbortedError,
  ExtractionFailedError,
  InvalidArgumentError,
  NotFoundError,
  PreconditionFailedError,
  RateLimitedError,
  ResponseValidationError,
  TimeoutError,
  ValidationError,
} from "../../src/core/errors.js";
import { Anyformat } from "../../src/anyformat/client.js";
import { send, startServer } from "../helpers/server.js";
import { INVOICE_FIELDS, KEY, closeAfterTest, expectMasked, failure, invoiceWorkflow, setup, statuses } from "./support.js";

const INVOICE_TEXT = "Total Amount: 99.50\ninvoice_number: INV-7\nÜnïcode: Ça va\n";

describe("af.workflows: create, get, list, delete", () => {
  it("creates a workflow and gets it back with the user's field names unchanged", async () => {
    const { emu, af } = await setup();
    const { data: created, status } = await af.workflows
      .create({ name: "Invoices", description: "Totals", fields: INVOICE_FIELDS })
      .withResponse();
    expect(status).toBe(201);
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created).toMatchObject({ name: "Invoices", description: "Totals" });
    expect(created.created_at).toEqual(expect.any(String));
    const fetched = await af.workflows.get(created.id);
    expect(fetched.fields?.map((f) => f.name)).toEqual(["Total Amount", "invoice_number", "Ünïcode"]);
    expect(emu.requests.map((r) => `${r.method} ${r.path}`)).toEqual(["POST /v2/workflows/", `GET /v2/workflows/${created.id}/`]);
    expect(emu.requests[0]?.headers["content-type"]).toBe("application/json");
  });

  it("creates a workflow with enum, multi_select and nested object fields", async () => {
    const { af } = await setup();
    const fields = [
      { name: "currency", description: "ISO code", data_type: "enum", enum_options: ["EUR", "USD"] },
      { name: "tags", description: "Labels", data_type: "multi_select", enum_options: ["paid", "late"] },
      {
        name: "Vendor",
        description: "Who sent it",
        data_type: "object",
        nested_fields: [{ name: "Vendor Name", description: "Name", data_type: "string" }],
      },
    ];
    const wf = await af.workflows.create({ name: "Typed", fields });
    expect(wf.fields).toEqual(fields);
  });

  it("throws ValidationError listing every issue of a bad workflow, without retrying", async () => {
    const { emu, af } = await setup();
    const error = await failure(
      af.workflows.create({
        name: "",
        fields: [
          { name: "a", description: "a", data_type: "currency" },
          { name: "b", description: "b", data_type: "enum" },
          { name: "c", description: "c", data_type: "object" },
        ],
      }),
    );
    expect(error).toBeInstanceOf(ValidationError);
    const e = error as ValidationError;
    expect(e.status).toBe(400);
    expect(e.code).toBe("VALIDATION_ERROR");
    expect(e.message).toBe(
      "Validation failed: body.name: String should have at least 1 character; body.fields.0.data_type: Input should be " +
        "'string', 'integer', 'float', 'date', 'datetime', 'boolean', 'list', 'object', 'enum' or 'multi_select'; " +
        "body.fields.1.enum_options: Value error, enum_options is required for data_type 'enum' (and 1 more)",
    );
    expect(e.retryable).toBe(false);
    expect(e.issues.map((i) => i.loc.join("."))).toEqual([
      "body.name",
      "body.fields.0.data_type",
      "body.fields.1.enum_options",
      "body.fields.2.nested_fields",
    ]);
    expect(e.issues[0]).toEqual({ type: "string_too_short", loc: ["body", "name"], msg: "String should have at least 1 character" });
    expect(e.detail).toEqual(e.issues);
    expect(emu.requests).toHaveLength(1);
    expectMasked(error);
  });

  it("throws ValidationError for a workflow without fields", async () => {
    const { af } = await setup();
    const error = await failure(af.workflows.create({ name: "Empty", fields: [] }));
    expect((error as ValidationError).issues).toEqual([
      { type: "too_short", loc: ["body", "fields"], msg: "List should have at least 1 item after validation, not 0" },
    ]);
  });

  it("throws NotFoundError getting a workflow that does not exist, without retrying", async () => {
    const { emu, af } = await setup();
    const error = await failure(af.workflows.get("00000000-0000-4000-8000-000000000000"));
    expect(error).toBeInstanceOf(NotFoundError);
    const e = error as NotFoundError;
    expect(e.code).toBe("NOT_FOUND");
    expect(e.detail).toBe("Workflow '00000000-0000-4000-8000-000000000000' not found.");
    expect(e.retryable).toBe(false);
    expect(e.attempts).toBe(1);
    expect(emu.requests).toHaveLength(1);
  });

  it("deletes a workflow, after which it is a 404, and deleting it again is a 404", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const { data, status } = await af.workflows.delete(wf.id).withResponse();
    expect(data).toBeUndefined();
    expect(status).toBe(204);
    expect(await failure(af.workflows.get(wf.id))).toBeInstanceOf(NotFoundError);
    expect(await failure(af.workflows.delete(wf.id))).toBeInstanceOf(NotFoundError);
    expect(emu.requests.map((r) => `${r.method} ${r.status}`)).toEqual(["POST 201", "DELETE 204", "GET 404", "DELETE 404"]);
  });

  it("deletes a workflow's runs with it", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const run = await af.workflows.run(wf.id, { text: INVOICE_TEXT });
    await af.workflows.delete(wf.id);
    expect(emu.app.collections.has(run.id)).toBe(false);
    expect(await failure(af.results.get(wf.id, run.id))).toBeInstanceOf(NotFoundError);
  });

  it("lists workflows as a page: count, page, page_size and results", async () => {
    const { emu, af } = await setup();
    const a = await invoiceWorkflow(af, "A");
    const b = await invoiceWorkflow(af, "B");
    const page = await af.workflows.list();
    expect(page.count).toBe(2);
    expect(page.page).toBe(1);
    expect(page.page_size).toBe(20);
    expect(page.results.map((w) => w.id).sort()).toEqual([a.id, b.id].sort());
    expect(page.hasNextPage()).toBe(false);
    expect(JSON.parse(JSON.stringify(page))).toEqual({ count: 2, page: 1, page_size: 20, results: page.results });
    expect(emu.requests.at(-1)).toMatchObject({ method: "GET", path: "/v2/workflows/", query: "" });
  });

  it("pages through 45 workflows: the first page holds 20, and for await yields all 45 in exactly 3 requests", async () => {
    const { emu, af } = await setup();
    const ids: string[] = [];
    for (let i = 0; i < 45; i++) {
      ids.push((await af.workflows.create({ name: `wf ${i}`, fields: [{ name: "n", description: "n", data_type: "string" }] })).id);
    }
    const before = emu.requests.length;

    const first = await af.workflows.list({ page_size: 20 });
    expect(first.count).toBe(45);
    expect(first.page).toBe(1);
    expect(first.page_size).toBe(20);
    expect(first.results).toHaveLength(20);
    expect(first.hasNextPage()).toBe(true);
    expect(emu.requests.length - before).toBe(1);

    const seen: string[] = [];
    const start = emu.requests.length;
    for await (const wf of af.workflows.list({ page_size: 20 })) seen.push(wf.id);
    const lists = emu.requests.slice(start);
    expect(seen).toHaveLength(45);
    expect(new Set(seen)).toEqual(new Set(ids));
    expect(lists).toHaveLength(3);
    expect(lists.map((r) => r.query)).toEqual(["page_size=20", "page_size=20&page=2", "page_size=20&page=3"]);
  });

  it("iterates from an awaited page onwards, fetching only the pages after it", async () => {
    const { emu, af } = await setup();
    for (let i = 0; i < 5; i++) await af.workflows.create({ name: `wf ${i}`, fields: [{ name: "n", description: "n", data_type: "string" }] });
    const second = await af.workflows.list({ page: 2, page_size: 2 });
    expect(second.page).toBe(2);
    const start = emu.requests.length;
    const names: string[] = [];
    for await (const wf of second) names.push(wf.name);
    expect(names).toHaveLength(3);
    expect(emu.requests.slice(start).map((r) => r.query)).toEqual(["page=3&page_size=2"]);
  });

  describe("against a server whose pages do not move", () => {
    /** A loopback server claiming a trillion workflows, answering each page from `pageOf(n)`. */
    async function endless(pageOf: (asked: number) => { page: number; id: string }): Promise<Anyformat> {
      const server = await startServer((req, res) => {
        const asked = Number(new URL(req.url ?? "/", "http://x").searchParams.get("page") ?? "1");
        const { page, id } = pageOf(asked);
        const body = { count: 1e12, page, page_size: 1, results: [{ id, name: `workflow ${id}` }] };
        send(res, { status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      });
      const af = new Anyformat({ apiKey: KEY, baseUrl: server.url });
      closeAfterTest(async () => {
        await af.close();
        await server.close();
      });
      return af;
    }

    async function walk(af: Anyformat): Promise<{ seen: string[]; error: unknown }> {
      const seen: string[] = [];
      const error = await failure((async () => {
        for await (const wf of af.workflows.list()) seen.push(wf.id);
      })());
      return { seen, error };
    }

    it("stops with a ResponseValidationError when the server answers the same page number again", async () => {
      const af = await endless(() => ({ page: 1, id: "wf-1" }));
      const { seen, error } = await walk(af);
      expect(error).toBeInstanceOf(ResponseValidationError);
      expect((error as ResponseValidationError).message).toMatch(/^Asked for page 2, the server answered page 1/);
      expect(seen).toEqual(["wf-1"]);
    });

    it("stops with a ResponseValidationError when each new page number brings the same workflow again", async () => {
      const af = await endless((asked) => ({ page: asked, id: "wf-1" }));
      const { seen, error } = await walk(af);
      expect(error).toBeInstanceOf(ResponseValidationError);
      expect((error as ResponseValidationError).message).toMatch(/^Page 2 holds only items of page 1 again/);
      expect(seen).toEqual(["wf-1"]);
    });

    it("keeps walking a huge honest list, one new workflow a page, until the caller stops", async () => {
      const af = await endless((asked) => ({ page: asked, id: `wf-${asked}` }));
      const seen: string[] = [];
      for await (const wf of af.workflows.list()) if (seen.push(wf.id) === 30) break;
      expect(seen.at(-1)).toBe("wf-30");
    });
  });

  it("passes sort_by, order and status through as query parameters", async () => {
    const { emu, af } = await setup();
    await af.workflows.list({ sort_by: "created_at", order: "asc", status: "active", page_size: 5 });
    expect(new URLSearchParams(emu.requests[0]?.query)).toEqual(
      new URLSearchParams({ sort_by: "created_at", order: "asc", status: "active", page_size: "5" }),
    );
  });

  it("throws ValidationError for a page_size below 1 and NotFoundError past the last page", async () => {
    const { emu, af } = await setup();
    const bad = await failure(af.workflows.list({ page_size: 0 }));
    expect(bad).toBeInstanceOf(ValidationError);
    expect((bad as ValidationError).issues[0]?.loc).toEqual(["query", "page_size"]);
    await invoiceWorkflow(af);
    const past = await failure(af.workflows.list({ page: 3 }));
    expect(past).toBeInstanceOf(NotFoundError);
    expect((past as NotFoundError).detail).toBe("Invalid page.");
    expect(statuses(emu)).toEqual([400, 201, 404]);
  });
});

describe("af.workflows: run, upload, runs", () => {
  it("runs text and answers with the collection to ask results of", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const { data: run, status } = await af.workflows.run(wf.id, { text: INVOICE_TEXT }).withResponse();
    expect(status).toBe(202);
    expect(run).toMatchObject({ status: "pending", workflow_id: wf.id, version_id: expect.any(String) });
    expect(emu.app.collections.get(run.id)?.files[0]?.text).toBe(INVOICE_TEXT);
    expect(emu.requests[1]?.headers["content-type"]).toMatch(/^multipart\/form-data; boundary=/);
  });

  it("throws NotFoundError running a document through a workflow that does not exist", async () => {
    const { emu, af } = await setup();
    const error = await failure(af.workflows.run("nope", { text: "hello" }));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(emu.requests).toHaveLength(1);
  });

  it("throws ValidationError for empty text, as the API does", async () => {
    const { af } = await setup();
    const wf = await invoiceWorkflow(af);
    const error = await failure(af.workflows.run(wf.id, { text: "" }));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues[0]?.loc).toEqual(["body", "text"]);
  });

  it("throws InvalidArgumentError for both file and text, or neither, before any request", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const both = await failure(af.workflows.run(wf.id, { text: "a", file: Buffer.from("b") } as never));
    expect(both).toBeInstanceOf(InvalidArgumentError);
    expect((both as InvalidArgumentError).message).toMatch(/not both/);
    const neither = await failure(af.workflows.upload(wf.id, {} as never));
    expect(neither).toBeInstanceOf(InvalidArgumentError);
    expect((neither as InvalidArgumentError).message).toMatch(/file.*text/);
    expect(await failure(af.workflows.extract(wf.id, undefined as never))).toBeInstanceOf(InvalidArgumentError);
    expect(await failure(af.workflows.run(wf.id, { text: 42 } as never))).toBeInstanceOf(InvalidArgumentError);
    expect(emu.requests).toHaveLength(1);
  });

  it("uploads text without running it", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const { data: uploaded, status } = await af.workflows.upload(wf.id, { text: INVOICE_TEXT }).withResponse();
    expect(status).toBe(201);
    expect(uploaded).toMatchObject({ status: "uploaded", filename: "text.txt" });
    expect(emu.app.collections.get(uploaded.file_collection_id)?.status).toBe("uploaded");
    const error = await failure(af.results.get(wf.id, uploaded.file_collection_id));
    expect(error).toBeInstanceOf(PreconditionFailedError);
    expect((error as PreconditionFailedError).detail).toMatch(/not been run/);
  });

  it("lists a workflow's runs, newest first, and not its uploads", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const first = await af.workflows.run(wf.id, { text: "one" });
    await new Promise((r) => setTimeout(r, 5));
    const second = await af.workflows.run(wf.id, { text: "two" });
    await af.workflows.upload(wf.id, { text: "three" });
    const runs = await af.workflows.runs(wf.id, { page_size: 10 });
    expect(runs.count).toBe(2);
    expect(runs.results.map((r) => r.id)).toEqual([second.id, first.id]);
    expect(runs.results[0]?.status).toEqual(expect.any(String));
    expect(emu.requests.at(-1)).toMatchObject({ path: `/v2/workflows/${wf.id}/runs/`, query: "page_size=10" });
  });

  it("throws NotFoundError listing the runs of a workflow that does not exist", async () => {
    const { af } = await setup();
    expect(await failure(af.workflows.runs("nope"))).toBeInstanceOf(NotFoundError);
  });
});

describe("af.workflows.extract", () => {
  it("runs a document and resolves to its results, the user's field names unchanged", async () => {
    const { af } = await setup();
    const wf = await invoiceWorkflow(af);
    const results = await af.workflows.extract(wf.id, { text: INVOICE_TEXT }, { pollInterval: 10 });
    expect(Object.keys(results.extraction ?? {})).toEqual(["Total Amount", "invoice_number", "Ünïcode"]);
    expect(results.extraction?.["Total Amount"]).toMatchObject({ value: 99.5, confidence: 96 });
    expect(results.extraction?.["invoice_number"]).toMatchObject({ value: "INV-7" });
    expect(results.extraction?.["Ünïcode"]).toMatchObject({ value: "Ça va", evidence: [{ text: "Ünïcode: Ça va", page_number: 1 }] });
    expect(results.parse?.markdown).toBe(INVOICE_TEXT);
  });

  it("gets through a 429 on the run and several 412 polls with one call", async () => {
    const { emu, af } = await setup({}, { stepMs: 40 });
    const wf = await invoiceWorkflow(af);
    emu.inject("rateLimit", { path: `/v2/workflows/${wf.id}/run/`, method: "POST" });
    const polls: PollInfo[] = [];
    const started = Date.now();
    const results = await af.workflows.extract(wf.id, { text: INVOICE_TEXT }, { pollInterval: 20, onPoll: (info) => polls.push(info) });
    const ms = Date.now() - started;

    expect(results.extraction?.["invoice_number"]).toMatchObject({ value: "INV-7" });
    const calls = emu.requests.slice(1);
    const runs = calls.filter((r) => r.path.endsWith("/run/"));
    const resultPolls = calls.filter((r) => r.path.endsWith("/results/"));
    const count = (status: number): number => calls.filter((r) => r.status === status).length;
    expect(runs.map((r) => r.status)).toEqual([429, 202]);
    expect(count(429)).toBe(1);
    expect(count(412)).toBeGreaterThanOrEqual(2);
    expect(resultPolls.map((r) => r.status)).toEqual([...Array(count(412)).fill(412), 200]);
    expect(polls.map((p) => p.attempt)).toEqual(Array.from({ length: resultPolls.length }, (_, i) => i + 1));
    expect(polls.at(-1)?.status).toBe("processed");
    expect(polls.slice(0, -1).every((p) => p.error instanceof PreconditionFailedError)).toBe(true);
    expect(polls.slice(0, -1).map((p) => p.status)).toEqual(expect.arrayContaining(["queued"]));
    console.log(
      `[extract through faults] requests=${calls.length} (run=${runs.length}, polls=${resultPolls.length}) 429s=${count(429)} 412s=${count(
        412,
      )} onPoll=${polls.map((p) => `${p.attempt}:${p.status}`).join(",")} in ${ms} ms`,
    );
  });

  it("sends its idempotencyKey with the run only, not with the polls, and resolves", async () => {
    const { emu, af } = await setup({}, { stepMs: 20 });
    const wf = await invoiceWorkflow(af);
    emu.inject("serverError", { path: `/v2/workflows/${wf.id}/run/` });
    const results = await af.workflows.extract(wf.id, { text: INVOICE_TEXT }, { pollInterval: 10, idempotencyKey: "extract-1", waitTimeout: 3_000 });
    expect(results.extraction?.["invoice_number"]).toMatchObject({ value: "INV-7" });
    const runs = emu.requests.filter((r) => r.path.endsWith("/run/"));
    const polls = emu.requests.filter((r) => r.path.endsWith("/results/"));
    expect(runs.map((r) => [r.status, r.headers["idempotency-key"]])).toEqual([
      [500, "extract-1"],
      [202, "extract-1"],
    ]);
    expect(polls.length).toBeGreaterThanOrEqual(2);
    for (const poll of polls) expect(poll.headers["idempotency-key"]).toBeUndefined();
  });

  it("retries a 500 met while polling inside extract", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    emu.inject("serverError", { path: /\/results\/$/ });
    const results = await af.workflows.extract(wf.id, { text: INVOICE_TEXT }, { pollInterval: 40 });
    expect(results.collection_id).toEqual(expect.any(String));
    expect(statuses(emu)).toContain(500);
  });

  it("throws ExtractionFailedError EXTRACTION_FAILED for a run that ended in error (422 form)", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const error = await failure(af.workflows.extract(wf.id, { text: "please FAIL" }, { pollInterval: 10 }));
    expect(error).toBeInstanceOf(ExtractionFailedError);
    const e = error as ExtractionFailedError;
    expect(e.code).toBe("EXTRACTION_FAILED");
    expect(e.status).toBe(422);
    expect(e.retryable).toBe(false);
    expect(emu.requests.at(-1)?.status).toBe(422);
    expect(emu.requests.filter((r) => r.status === 422)).toHaveLength(1);
    expectMasked(error);
  });

  it("throws ExtractionFailedError EXTRACTION_CANCELLED for a cancelled run (422 form)", async () => {
    const { af } = await setup();
    const wf = await invoiceWorkflow(af);
    const error = await failure(af.workflows.extract(wf.id, { file: Buffer.from("x"), filename: "CANCEL.pdf" }, { pollInterval: 10 }));
    expect(error).toBeInstanceOf(ExtractionFailedError);
    expect((error as ExtractionFailedError).code).toBe("EXTRACTION_CANCELLED");
  });

  it("throws ExtractionFailedError for both outcomes of the terminal 412 form, and stops polling", async () => {
    const { emu, af } = await setup({}, { terminalForm: "412" });
    const wf = await invoiceWorkflow(af);
    emu.app.setOutcome("error");
    const failed = await failure(af.workflows.extract(wf.id, { text: "fine" }, { pollInterval: 10 }));
    expect(failed).toBeInstanceOf(ExtractionFailedError);
    expect((failed as ExtractionFailedError).code).toBe("EXTRACTION_FAILED");
    expect((failed as ExtractionFailedError).status).toBe(412);
    emu.app.setOutcome("cancelled");
    const cancelled = await failure(af.workflows.extract(wf.id, { text: "fine" }, { pollInterval: 10 }));
    expect((cancelled as ExtractionFailedError).code).toBe("EXTRACTION_CANCELLED");
    await new Promise((r) => setTimeout(r, 60));
    const after = emu.requests.length;
    await new Promise((r) => setTimeout(r, 60));
    expect(emu.requests.length).toBe(after);
  });

  it("throws RateLimitedError when the run's 429s outlast the retries", async () => {
    const { emu, af } = await setup({ maxRetries: 1 });
    const wf = await invoiceWorkflow(af);
    emu.inject("rateLimit", { path: `/v2/workflows/${wf.id}/run/`, count: 2 });
    const error = await failure(af.workflows.extract(wf.id, { text: "x" }, { pollInterval: 10 }));
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).attempts).toBe(2);
    expect(emu.requests.filter((r) => r.path.endsWith("/results/"))).toHaveLength(0);
  });

  it("throws TimeoutError past its waitTimeout", async () => {
    const { af } = await setup({}, { stepMs: 10_000 });
    const wf = await invoiceWorkflow(af);
    const started = Date.now();
    const error = await failure(af.workflows.extract(wf.id, { text: "x" }, { pollInterval: 20, waitTimeout: 150 }));
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).message).toMatch(/; waitTimeout 150 ms\)$/);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it("waits out its whole waitTimeout with the default poll interval, polling at the end of it", async () => {
    // Issue 11.12: `extract(id, { text }, { timeout: 800 })` gave up after 54 ms, having polled once.
    const { emu, af } = await setup({}, { stepMs: 60_000 });
    const wf = await invoiceWorkflow(af);
    const started = performance.now();
    const error = await failure(af.workflows.extract(wf.id, { text: "x" }, { waitTimeout: 800 }));
    const waited = performance.now() - started;
    expect(error).toBeInstanceOf(TimeoutError);
    const e = error as TimeoutError;
    expect(e.message).toMatch(/^The results of collection \S+ were not ready after \d+ ms \(2 polls; waitTimeout 800 ms\)$/);
    expect(Number(/after (\d+) ms/.exec(e.message)?.[1])).toBeGreaterThanOrEqual(800);
    expect(waited).toBeGreaterThanOrEqual(800);
    const polls = emu.requests.filter((r) => r.path.endsWith("/results/"));
    expect(polls.map((r) => r.status)).toEqual([412, 412]);
    // The first poll after half the wait (a run just sent is never done), the last when it is spent.
    expect((polls[1]?.at ?? 0) - (polls[0]?.at ?? 0)).toBeGreaterThanOrEqual(350);
  });

  it("refuses a bad waitTimeout before sending the run", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const before = emu.requests.length;
    const error = await failure(af.workflows.extract(wf.id, { text: "x" }, { waitTimeout: -1 }));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).message).toBe("Invalid option waitTimeout: expected a positive, finite number of milliseconds, got -1");
    expect(emu.requests).toHaveLength(before);
  });

  it("takes `timeout` as each request's own limit, the run's included", async () => {
    const { emu, af } = await setup({ maxRetries: 0 }, { slowHeadersMs: 2_000 });
    const wf = await invoiceWorkflow(af);
    emu.inject("slowHeaders", { path: `/v2/workflows/${wf.id}/run/` });
    const error = await failure(af.workflows.extract(wf.id, { text: "x" }, { timeout: 100, waitTimeout: 60_000 }));
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).message).toMatch(/got no complete response within 100 ms$/);
    expect(emu.requests.filter((r) => r.path.endsWith("/results/"))).toHaveLength(0);
  });

  it("refuses `timeout` and its deprecated name `requestTimeout` together, sending nothing", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const before = emu.requests.length;
    const error = await failure(af.workflows.extract(wf.id, { text: "x" }, { timeout: 1_000, requestTimeout: 1_000 }));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(emu.requests).toHaveLength(before);
  });

  it("bounds the run and the wait together by the client's deadline", async () => {
    // The run spends ~1.2 s on a 429; the wait must get only what is left of the 2 s deadline, not a
    // fresh 2 s of its own (which would end near 3.2 s).
    const { emu, af } = await setup({ deadline: 2_000 }, { stepMs: 10_000, faultRetryAfterSeconds: 1.2 });
    const wf = await invoiceWorkflow(af);
    emu.inject("rateLimit", { path: `/v2/workflows/${wf.id}/run/` });
    const started = Date.now();
    const error = await failure(af.workflows.extract(wf.id, { text: "x" }, { pollInterval: 20 }));
    const ms = Date.now() - started;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(ms).toBeGreaterThanOrEqual(1_200);
    expect(ms).toBeLessThan(2_800);
  });

  it("bounds the run and the wait together by a per-call deadline", async () => {
    // A 1 s 429 on the run, then the wait: 1.5 s in all, where a fresh deadline for the wait would end near 2.5 s.
    const { emu, af } = await setup({}, { stepMs: 10_000, faultRetryAfterSeconds: 1 });
    const wf = await invoiceWorkflow(af);
    emu.inject("rateLimit", { path: `/v2/workflows/${wf.id}/run/` });
    const started = Date.now();
    const error = await failure(af.workflows.extract(wf.id, { text: "x" }, { pollInterval: 20, deadline: 1_500 }));
    expect(error).toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeLessThan(2_200);
  });

  it("throws AbortedError promptly when its signal aborts during the wait", async () => {
    const { emu, af } = await setup({}, { stepMs: 10_000 });
    const wf = await invoiceWorkflow(af);
    const controller = new AbortController();
    const polls: number[] = [];
    const pending = failure(
      af.workflows.extract(wf.id, { text: "x" }, {
        pollInterval: 5_000,
        signal: controller.signal,
        onPoll: (i) => {
          polls.push(i.attempt);
        },
      }),
    );
    await new Promise((r) => setTimeout(r, 100));
    const aborted = Date.now();
    controller.abort();
    const error = await pending;
    expect(error).toBeInstanceOf(AbortedError);
    expect(Date.now() - aborted).toBeLessThan(2_500);
    // Aborted during the pause before the first poll (a run just submitted is never done): no poll went out.
    expect(polls).toEqual([]);
    expect(emu.requests.filter((r) => r.path.endsWith("/results/"))).toHaveLength(0);
  });
});
