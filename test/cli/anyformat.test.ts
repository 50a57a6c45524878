import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Anyformat } from "../../src/anyformat/client.js";
import { ANYFORMAT_EMULATOR_KEY, type AnyformatApp } from "../../src/testing/anyformat/app.js";
import { startEmulator, type Emulator, type StartAnyformatOptions } from "../../src/testing/server.js";
import {
  closedPort,
  expectFailure,
  expectSuccess,
  MODES,
  runCli,
  stubServer,
  TestClock,
  until,
  type StubServer,
} from "./support.js";

const KEY = ANYFORMAT_EMULATOR_KEY;
const WRONG_KEY = "af-wrong-key-3d8e1b";
const SECRETS = [KEY, WRONG_KEY];
const FIELDS = [{ name: "total", description: "Invoice total", data_type: "float" }];

const open: Array<{ close(): Promise<void> }> = [];
let dir = "";
let invoice = "";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "faultline-af-"));
  invoice = join(dir, "invoice.txt");
  await writeFile(invoice, "Invoice 42\nTotal: 99.50 EUR\n");
});

// Each test has its own emulator (tests run concurrently and some inject faults): all close at the end.
afterAll(async () => {
  await Promise.all(open.splice(0).map((server) => server.close()));
});

/** An emulator whose runs end at once and whose injected 429s ask for no wait, with one workflow. */
async function emulator(
  options: Omit<StartAnyformatOptions, "api"> = {},
): Promise<{ emu: Emulator<AnyformatApp>; workflow: string }> {
  const emu = await startEmulator({ api: "anyformat", stepMs: 0, faultRetryAfterSeconds: 0, ...options });
  open.push(emu);
  const af = new Anyformat({ apiKey: KEY, baseUrl: emu.url });
  try {
    const workflow = await af.workflows.create({ name: "Invoices", fields: FIELDS });
    return { emu, workflow: workflow.id };
  } finally {
    await af.close();
  }
}

async function stub(status: number, body: unknown): Promise<StubServer> {
  const server = await stubServer(status, body, { "x-request-id": "req-stub-1" });
  open.push(server);
  return server;
}

/** The environment a configured user has. */
function envFor(url: string, overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return { ANYFORMAT_API_KEY: KEY, ANYFORMAT_BASE_URL: url, ...overrides };
}

/** A run submitted through the SDK, for the `results` command to ask about. */
async function submitted(emu: Emulator, workflow: string, text: string): Promise<string> {
  const af = new Anyformat({ apiKey: KEY, baseUrl: emu.url });
  try {
    return (await af.workflows.run(workflow, { text })).id;
  } finally {
    await af.close();
  }
}

for (const mode of MODES) {
  const json = mode.name === "JSON";

  describe.concurrent(`faultline anyformat, in ${mode.name} mode`, () => {
    it("lists every workflow and exits 0", async () => {
      const { emu, workflow } = await emulator();
      const result = await runCli([...mode.flags, "anyformat", "workflows", "list"], { env: envFor(emu.url) });
      const data = expectSuccess(result, mode, SECRETS);
      if (json) expect(data).toEqual([expect.objectContaining({ id: workflow, name: "Invoices" })]);
      else expect(result.stdout).toMatch(new RegExp(`^ID\\s+NAME[^\\n]*\\n${workflow}\\s+Invoices`));
    });

    it("lists workflows past the first page", async () => {
      const { emu } = await emulator();
      const af = new Anyformat({ apiKey: KEY, baseUrl: emu.url });
      for (let i = 0; i < 21; i++) await af.workflows.create({ name: `W${i}`, fields: FIELDS });
      await af.close();
      const result = await runCli([...mode.flags, "anyformat", "workflows", "list"], { env: envFor(emu.url) });
      const data = expectSuccess(result, mode, SECRETS);
      if (json) expect(data).toHaveLength(22);
      else expect(result.stdout.trim().split("\n")).toHaveLength(23);
    });

    it("shows one workflow with its fields", async () => {
      const { emu, workflow } = await emulator();
      const result = await runCli([...mode.flags, "anyformat", "workflows", "get", workflow], { env: envFor(emu.url) });
      const data = expectSuccess(result, mode, SECRETS);
      if (json) expect(data).toMatchObject({ id: workflow, name: "Invoices", fields: FIELDS });
      else expect(result.stdout).toContain(`id: ${workflow}\nname: Invoices`);
    });

    it("creates a workflow from --fields given inline", async () => {
      const { emu } = await emulator();
      const args = ["anyformat", "workflows", "create", "--name", "Receipts", "--fields", JSON.stringify(FIELDS)];
      const result = await runCli([...mode.flags, ...args, "--description", "Till receipts"], { env: envFor(emu.url) });
      const data = expectSuccess(result, mode, SECRETS);
      const created = [...emu.app.workflows.values()].find((w) => w.name === "Receipts");
      expect(created?.description).toBe("Till receipts");
      if (json) expect(data).toMatchObject({ id: created?.id, name: "Receipts", fields: FIELDS });
      else expect(result.stdout).toMatch(/^Created workflow [0-9a-f-]{36}\n/);
    });

    it("creates a workflow from --fields @file", async () => {
      const { emu } = await emulator();
      const file = join(dir, `fields-${mode.name}.json`);
      await writeFile(file, JSON.stringify({ fields: FIELDS }));
      const result = await runCli([...mode.flags, "anyformat", "workflows", "create", "--name", "FromFile", "--fields", `@${file}`], {
        env: envFor(emu.url),
      });
      expectSuccess(result, mode, SECRETS);
      expect([...emu.app.workflows.values()].map((w) => w.name)).toContain("FromFile");
    });

    it("deletes a workflow", async () => {
      const { emu, workflow } = await emulator();
      const result = await runCli([...mode.flags, "anyformat", "workflows", "delete", workflow], { env: envFor(emu.url) });
      const data = expectSuccess(result, mode, SECRETS);
      expect(emu.app.workflows.has(workflow)).toBe(false);
      // The same shape as Roboflow's deletes (test/cli/roboflow.test.ts), saying it cannot come back.
      if (json) expect(data).toEqual({ type: "workflow", id: workflow, deleted: true, restorable: false });
      else expect(result.stdout).toBe(`Deleted workflow ${workflow}\n`);
    });

    it("runs a file and prints the collection to ask results of", async () => {
      const { emu, workflow } = await emulator();
      const result = await runCli([...mode.flags, "anyformat", "run", workflow, invoice], { env: envFor(emu.url) });
      const data = expectSuccess(result, mode, SECRETS);
      const [collection] = [...emu.app.collections.values()];
      expect(collection?.files[0]?.filename).toBe("invoice.txt");
      if (json) expect(data).toMatchObject({ id: collection?.id, status: "pending", workflow_id: workflow });
      else expect(result.stdout).toContain(`faultline anyformat results ${workflow} ${collection?.id ?? "?"} --wait`);
    });

    it("runs a file with --wait and prints its results", async () => {
      const { emu, workflow } = await emulator();
      const result = await runCli([...mode.flags, "anyformat", "run", workflow, invoice, "--wait"], { env: envFor(emu.url) });
      const data = expectSuccess(result, mode, SECRETS);
      if (json) expect(data).toMatchObject({ collection_id: expect.any(String), extraction: { total: { value: expect.anything() } } });
      else expect(result.stdout).toMatch(/\nextraction:\n {2}total: \S+/);
    });

    it("streams a document from stdin with '-', naming it with --filename", async () => {
      const { emu, workflow } = await emulator();
      const result = await runCli([...mode.flags, "anyformat", "run", workflow, "-", "--wait", "--filename", "piped.txt"], {
        env: envFor(emu.url),
        stdin: "Total: 12.00 EUR\n",
      });
      const data = expectSuccess(result, mode, SECRETS);
      const [collection] = [...emu.app.collections.values()];
      expect(collection?.files[0]).toMatchObject({ filename: "piped.txt", text: "Total: 12.00 EUR\n" });
      if (json) expect(data).toMatchObject({ collection_id: collection?.id });
    });

    it("shows the results of a finished run", async () => {
      const { emu, workflow } = await emulator();
      const collection = await submitted(emu, workflow, "Total: 5 EUR");
      const result = await runCli([...mode.flags, "anyformat", "results", workflow, collection], { env: envFor(emu.url) });
      const data = expectSuccess(result, mode, SECRETS);
      if (json) expect(data).toMatchObject({ collection_id: collection, extraction: { total: expect.any(Object) } });
      else expect(result.stdout).toContain(`collection_id: ${collection}`);
    });

    it("waits for results with --wait, quietly when stderr is not a terminal", async () => {
      // The emulator's clock stands still until the CLI has met a 412: only then does the run finish.
      const clock = new TestClock();
      const { emu, workflow } = await emulator({ stepMs: 1_000, clock });
      const collection = await submitted(emu, workflow, "Total: 5 EUR");
      const running = runCli([...mode.flags, "anyformat", "results", workflow, collection, "--wait"], { env: envFor(emu.url) });
      const polls = (): string[] => emu.requests.filter((r) => r.path.endsWith("/results/")).map((r) => String(r.status));
      await until(() => polls().includes("412"));
      clock.advance(10_000);
      const data = expectSuccess(await running, mode, SECRETS);
      expect(polls().join(" ")).toMatch(/^(412 )+200$/);
      if (json) expect(data).toMatchObject({ collection_id: collection });
    });

    it("exits 2 when the key is wrong, with the key masked", async () => {
      const { emu } = await emulator();
      const result = await runCli([...mode.flags, "--api-key", WRONG_KEY, "anyformat", "workflows", "list"], {
        env: envFor(emu.url, { ANYFORMAT_API_KEY: undefined }),
      });
      const error = expectFailure(result, mode, {
        exit: 2,
        code: "AUTH_FAILED",
        status: 401,
        message: /^Authentication failed/,
        hint: "Check your API key (--api-key or ANYFORMAT_API_KEY)",
        secrets: SECRETS,
      });
      if (json) expect(error.request_id).toMatch(/^[0-9a-f]+$/);
      else expect(result.stderr).toMatch(/\nRequest ID: [0-9a-f]+\n$/);
    });

    it("exits 2 when the API denies access (403)", async () => {
      const server = await stub(403, {
        error: "Access denied",
        detail: "This key may not use workflows.",
        error_code: "ACCESS_DENIED",
        retryable: false,
      });
      const result = await runCli([...mode.flags, "anyformat", "workflows", "list"], { env: envFor(server.url) });
      const error = expectFailure(result, mode, {
        exit: 2,
        code: "ACCESS_DENIED",
        status: 403,
        message: "Access denied: This key may not use workflows.",
        hint: /--api-key/,
        secrets: SECRETS,
      });
      if (json) expect(error.request_id).toBe("req-stub-1");
    });

    it("exits 2 without sending anything when no key is set", async () => {
      const { emu } = await emulator();
      const before = emu.requests.length;
      const result = await runCli([...mode.flags, "anyformat", "run", "wf", invoice], {
        env: envFor(emu.url, { ANYFORMAT_API_KEY: "" }),
      });
      expectFailure(result, mode, {
        exit: 2,
        code: "MISSING_CREDENTIALS",
        hint: "Pass --api-key or set ANYFORMAT_API_KEY",
        secrets: SECRETS,
      });
      expect(emu.requests).toHaveLength(before);
    });

    it("exits 3 when the workflow does not exist, saying which", async () => {
      const { emu } = await emulator();
      const result = await runCli([...mode.flags, "anyformat", "workflows", "get", "nope"], { env: envFor(emu.url) });
      expectFailure(result, mode, {
        exit: 3,
        code: "NOT_FOUND",
        status: 404,
        // Whole, and once: the SDK's message carries the detail, and the CLI must not add it again.
        message: /^Resource not found: Workflow 'nope' not found\.$/,
        hint: "Run 'faultline anyformat workflows list' to see your workflows",
        secrets: SECRETS,
      });
    });

    it("exits 3 when the collection does not exist", async () => {
      const { emu, workflow } = await emulator();
      const result = await runCli([...mode.flags, "anyformat", "results", workflow, "nope", "--wait"], { env: envFor(emu.url) });
      expectFailure(result, mode, { exit: 3, code: "NOT_FOUND", status: 404, message: /'nope'/, hint: /collection id/, secrets: SECRETS });
    });

    it("exits 1 on a 409", async () => {
      const server = await stub(409, {
        error: "Conflict",
        detail: "A workflow with this name already exists.",
        error_code: "CONFLICT",
        retryable: false,
      });
      const result = await runCli([...mode.flags, "anyformat", "workflows", "create", "--name", "Dup", "--fields", "[]"], {
        env: envFor(server.url),
      });
      expectFailure(result, mode, { exit: 1, code: "CONFLICT", status: 409, message: /already exists/, secrets: SECRETS });
      expect(server.requests).toHaveLength(1);
    });

    it("exits 1 on a 423 while the organisation is locked, without retrying", async () => {
      const { emu } = await emulator();
      emu.inject("locked", { count: 10 });
      const result = await runCli([...mode.flags, "anyformat", "workflows", "list"], { env: envFor(emu.url) });
      expectFailure(result, mode, { exit: 1, code: "LOCKED", status: 423, message: /locked/, hint: /support/, secrets: SECRETS });
      expect(emu.requests.filter((r) => r.fault === "locked")).toHaveLength(1);
    });

    it("exits 1 on a 429 once the default retries are spent", async () => {
      const { emu, workflow } = await emulator();
      emu.inject("rateLimit", { count: 10 });
      const result = await runCli([...mode.flags, "anyformat", "workflows", "get", workflow], { env: envFor(emu.url) });
      const error = expectFailure(result, mode, {
        exit: 1,
        code: "RATE_LIMITED",
        status: 429,
        message: /^Rate limited: .*\(after 3 attempts\)$/,
        hint: /--max-retries/,
        secrets: SECRETS,
      });
      if (json) expect(error.retryable).toBe(true);
      expect(emu.requests.filter((r) => r.fault === "rateLimit")).toHaveLength(3);
    });

    it("exits 1 on a 500, with the request id", async () => {
      const { emu } = await emulator();
      emu.inject("serverError", { count: 10 });
      const result = await runCli([...mode.flags, "--max-retries", "0", "anyformat", "workflows", "list"], { env: envFor(emu.url) });
      const error = expectFailure(result, mode, { exit: 1, code: "INTERNAL_ERROR", status: 500, hint: /try again/, secrets: SECRETS });
      if (json) expect(error).toMatchObject({ retryable: true, request_id: expect.any(String) });
    });

    it("exits 1 on an HTML 502 from a proxy, without printing the page", async () => {
      const { emu } = await emulator();
      emu.inject("htmlBadGateway", { count: 10 });
      const result = await runCli([...mode.flags, "--max-retries", "0", "anyformat", "workflows", "list"], { env: envFor(emu.url) });
      expectFailure(result, mode, { exit: 1, code: "INTERNAL_ERROR", status: 502, secrets: SECRETS });
      expect(result.stderr).not.toMatch(/<html|nginx/i);
    });

    it("exits 1 when the connection is refused", async () => {
      const url = `http://127.0.0.1:${await closedPort()}`;
      const result = await runCli([...mode.flags, "--max-retries", "0", "anyformat", "workflows", "list"], { env: envFor(url) });
      expectFailure(result, mode, { exit: 1, code: "CONNECTION_ERROR", message: /ECONNREFUSED/, hint: /ANYFORMAT_BASE_URL/, secrets: SECRETS });
    });

    it("exits 1 on a 2xx answer it cannot read", async () => {
      const server = await stub(200, { unexpected: true });
      const result = await runCli([...mode.flags, "anyformat", "workflows", "get", "wf"], { env: envFor(server.url) });
      expectFailure(result, mode, {
        exit: 1,
        code: "RESPONSE_VALIDATION",
        status: 200,
        message: /does not match its schema/,
        hint: "Check that --base-url (or ANYFORMAT_BASE_URL) points at the anyformat API",
        secrets: SECRETS,
      });
    });

    it("exits 1 on a 400, listing what the API rejected", async () => {
      const { emu } = await emulator();
      const result = await runCli([...mode.flags, "anyformat", "workflows", "create", "--name", "Bad", "--fields", '[{"name":"total"}]'], {
        env: envFor(emu.url),
      });
      expectFailure(result, mode, {
        exit: 1,
        code: "VALIDATION_ERROR",
        status: 400,
        message: /^Validation failed: body\.fields\.0\.data_type: Field required$/,
        secrets: SECRETS,
      });
    });

    it("exits 1 when --fields is not JSON, before any request", async () => {
      const { emu } = await emulator();
      const before = emu.requests.length;
      const result = await runCli([...mode.flags, "anyformat", "workflows", "create", "--name", "Bad", "--fields", "[{"], {
        env: envFor(emu.url),
      });
      expectFailure(result, mode, { exit: 1, code: "INVALID_ARGUMENT", message: /--fields/, hint: /JSON array/, secrets: SECRETS });
      expect(emu.requests).toHaveLength(before);
    });

    it("exits 1 when the file to run does not exist, before any request", async () => {
      const { emu, workflow } = await emulator();
      const before = emu.requests.length;
      const result = await runCli([...mode.flags, "anyformat", "run", workflow, join(dir, "missing.pdf")], { env: envFor(emu.url) });
      expectFailure(result, mode, { exit: 1, code: "INVALID_ARGUMENT", message: /missing\.pdf.*ENOENT/, secrets: SECRETS });
      expect(emu.requests).toHaveLength(before);
    });

    it("exits 1 when the extraction fails, suggesting a new run", async () => {
      const { emu, workflow } = await emulator();
      const result = await runCli([...mode.flags, "anyformat", "run", workflow, "-", "--wait"], {
        env: envFor(emu.url),
        stdin: "this document will FAIL",
      });
      expectFailure(result, mode, {
        exit: 1,
        code: "EXTRACTION_FAILED",
        status: 422,
        message: /^Extraction failed: Extraction status is 'error'/,
        hint: /faultline anyformat run/,
        secrets: SECRETS,
      });
    });

    it("exits 1 while the results are not ready, suggesting --wait", async () => {
      const { emu, workflow } = await emulator({ stepMs: 60_000 });
      const collection = await submitted(emu, workflow, "Total: 5 EUR");
      const result = await runCli([...mode.flags, "anyformat", "results", workflow, collection], { env: envFor(emu.url) });
      const error = expectFailure(result, mode, {
        exit: 1,
        code: "PRECONDITION_FAILED",
        status: 412,
        message: /^Results not ready: Extraction status is 'pending'/,
        hint: /--wait/,
        secrets: SECRETS,
      });
      if (json) expect(error.retryable).toBe(true);
      expect(emu.requests.filter((r) => r.path.endsWith("/results/"))).toHaveLength(1);
    });
  });
}
