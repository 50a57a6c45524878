import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { ExtractionFailedError, InvalidArgumentError, NotFoundError, ServerError, ValidationError } from "../../src/core/errors.js";
import { expectMasked, failure, invoiceWorkflow, setup, statuses, tempFile } from "./support.js";

describe("af.files.create", () => {
  it("stores several files as one collection, not run", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const path = await tempFile("invoice-1.txt", "invoice_number: F-1\n");
    const { data: collection, status } = await af.files
      .create(wf.id, [{ file: path }, { file: Buffer.from("%PDF-1.7 binary\u0000"), filename: "scan.pdf" }])
      .withResponse();
    expect(status).toBe(201);
    expect(collection).toMatchObject({
      name: "2 files",
      workflow_id: wf.id,
      files: [
        { filename: "invoice-1.txt", status: "uploaded" },
        { filename: "scan.pdf", status: "uploaded" },
      ],
    });
    const stored = emu.app.collections.get(collection.id);
    expect(stored?.status).toBe("uploaded");
    expect(stored?.files.map((f) => [f.filename, f.size, f.text])).toEqual([
      ["invoice-1.txt", 20, "invoice_number: F-1\n"],
      ["scan.pdf", 16, undefined],
    ]);
    expect(emu.requests.at(-1)).toMatchObject({ method: "POST", path: `/v2/workflows/${wf.id}/files/` });
  });

  it("takes one file without an array, naming the collection after it", async () => {
    const { af } = await setup();
    const wf = await invoiceWorkflow(af);
    const collection = await af.files.create(wf.id, { file: new Blob(["hello"]), filename: "hello.txt" });
    expect(collection.name).toBe("hello.txt");
    expect(collection.files).toEqual([{ filename: "hello.txt", status: "uploaded" }]);
  });

  it("throws InvalidArgumentError for no files, or a path that does not exist, before any request", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const empty = await failure(af.files.create(wf.id, []));
    expect(empty).toBeInstanceOf(InvalidArgumentError);
    expect((empty as InvalidArgumentError).message).toMatch(/At least one file/);
    const missing = await failure(af.files.create(wf.id, [{ file: "/no/such/file.pdf" }]));
    expect(missing).toBeInstanceOf(InvalidArgumentError);
    expect((missing as InvalidArgumentError).message).toMatch(/ENOENT/);
    expect(await failure(af.files.create(wf.id, [{ file: 42 as never }]))).toBeInstanceOf(InvalidArgumentError);
    expect(emu.requests).toHaveLength(1);
  });

  it("throws InvalidArgumentError for any file over 20 MB, before any request", async () => {
    const { emu, af } = await setup();
    const big = new Uint8Array(20 * 1024 * 1024 + 1);
    const error = await failure(af.files.create("wf", [{ file: Buffer.from("ok"), filename: "a.txt" }, { file: big, filename: "b.pdf" }]));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).message).toBe("The file is 20,971,521 bytes, over the limit of 20 MB (20,971,520 bytes)");
    expect(emu.requests).toHaveLength(0);
  });

  it("throws NotFoundError for a workflow that does not exist", async () => {
    const { emu, af } = await setup();
    const error = await failure(af.files.create("nope", [{ file: Buffer.from("x"), filename: "x.txt" }]));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(emu.requests).toHaveLength(1);
    expectMasked(error);
  });

  it("retries a collection of paths and bytes after a 500", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const path = await tempFile("a.txt", "alpha");
    emu.inject("serverError", { path: `/v2/workflows/${wf.id}/files/` });
    const collection = await af.files.create(wf.id, [{ file: path }, { file: new Uint8Array([1, 2, 3]), filename: "b.bin" }]);
    expect(statuses(emu).slice(1)).toEqual([500, 201]);
    expect(emu.app.collections.get(collection.id)?.files.map((f) => f.size)).toEqual([5, 3]);
  });

  it("sends a collection holding a stream once: a 500 is not retried", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    emu.inject("serverError", { path: `/v2/workflows/${wf.id}/files/` });
    const error = await failure(
      af.files.create(wf.id, [{ file: Buffer.from("a"), filename: "a.txt" }, { file: Readable.from([Buffer.from("b")]), filename: "b.txt" }]),
    );
    expect(error).toBeInstanceOf(ServerError);
    expect((error as ServerError).attempts).toBe(1);
    expect(statuses(emu).slice(1)).toEqual([500]);
  });
});

describe("af.files.list, run and delete", () => {
  it("lists a workflow's collections as a page", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const a = await af.files.create(wf.id, [{ file: Buffer.from("a"), filename: "a.txt" }]);
    const run = await af.workflows.run(wf.id, { text: "b" });
    const page = await af.files.list(wf.id, { page_size: 1 });
    expect(page).toMatchObject({ count: 2, page: 1, page_size: 1 });
    expect(page.results).toHaveLength(1);
    const all: string[] = [];
    for await (const c of af.files.list(wf.id, { page_size: 1 })) all.push(c.id);
    expect(all.sort()).toEqual([a.id, run.id].sort());
    expect(emu.requests.filter((r) => r.method === "GET" && r.path === `/v2/workflows/${wf.id}/files/`)).toHaveLength(3);
  });

  it("throws NotFoundError listing the files of a workflow that does not exist", async () => {
    const { af } = await setup();
    expect(await failure(af.files.list("nope"))).toBeInstanceOf(NotFoundError);
  });

  it("runs a stored file by its file id, and its results come", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const collection = await af.files.create(wf.id, [{ file: Buffer.from("invoice_number: S-9\n"), filename: "stored.txt" }]);
    const fileId = emu.app.collections.get(collection.id)?.files[0]?.id ?? "";
    const { data: run, status } = await af.files.run(wf.id, fileId).withResponse();
    expect(status).toBe(202);
    expect(run).toMatchObject({ id: collection.id, status: "pending", workflow_id: wf.id });
    expect(emu.requests.at(-1)?.path).toBe(`/v2/workflows/${wf.id}/files/${fileId}/run/`);
    const results = await af.results.waitFor(wf.id, run.id, { pollInterval: 10 });
    expect(results.extraction?.["invoice_number"]).toMatchObject({ value: "S-9" });
    expect(results.parse?.markdown).toContain("# stored.txt");
  });

  it("runs the file an upload stored, and a failing one ends in ExtractionFailedError", async () => {
    const { af } = await setup();
    const wf = await invoiceWorkflow(af);
    const uploaded = await af.workflows.upload(wf.id, { file: Buffer.from("x"), filename: "FAIL.pdf" });
    const run = await af.files.run(wf.id, uploaded.file_id);
    expect(run.id).toBe(uploaded.file_collection_id);
    const error = await failure(af.results.waitFor(wf.id, run.id, { pollInterval: 10 }));
    expect((error as ExtractionFailedError).code).toBe("EXTRACTION_FAILED");
  });

  it("throws NotFoundError running a collection id, or any id that is not a stored file", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const collection = await af.files.create(wf.id, [{ file: Buffer.from("a"), filename: "a.txt" }]);
    const error = await failure(af.files.run(wf.id, collection.id));
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).detail).toBe(`File '${collection.id}' not found.`);
    expect(await failure(af.files.run("nope", "nope"))).toBeInstanceOf(NotFoundError);
    expect(statuses(emu).slice(2)).toEqual([404, 404]);
  });

  it("deletes a collection, after which its results and a second delete are 404s", async () => {
    const { emu, af } = await setup({}, { stepMs: 0 });
    const wf = await invoiceWorkflow(af);
    const run = await af.workflows.run(wf.id, { text: "x" });
    expect(await af.files.delete(run.id)).toBeUndefined();
    expect(emu.requests.at(-1)).toMatchObject({ method: "DELETE", path: `/v2/files/${run.id}/`, status: 204 });
    expect(await failure(af.results.get(wf.id, run.id))).toBeInstanceOf(NotFoundError);
    expect(await failure(af.files.delete(run.id))).toBeInstanceOf(NotFoundError);
  });

  it("throws ValidationError for a page below 1", async () => {
    const { af } = await setup();
    const wf = await invoiceWorkflow(af);
    const error = await failure(af.files.list(wf.id, { page: 0 }));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues[0]?.loc).toEqual(["query", "page"]);
  });
});
