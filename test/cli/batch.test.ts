import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Anyformat } from "../../src/anyformat/client.js";
import { ANYFORMAT_EMULATOR_KEY, type AnyformatApp } from "../../src/testing/anyformat/app.js";
import { startEmulator, type Emulator, type StartAnyformatOptions } from "../../src/testing/server.js";
import { startProxy } from "../helpers/proxy.js";
import { type CliResult, expectFailure, releasedAfterAll, runCli, runCliInTerminal, startCli, until } from "./support.js";

const KEY = ANYFORMAT_EMULATOR_KEY;
const { open, dirs } = releasedAfterAll();

interface Rig {
  readonly emu: Emulator<AnyformatApp>;
  readonly workflow: string;
  readonly dir: string;
  readonly out: string;
  readonly env: Record<string, string>;
}

/** An emulator with a workflow, a folder of `n` invoices (every `failEvery`th one fails), and the CLI's environment. */
async function rig(n: number, options: Omit<StartAnyformatOptions, "api"> = {}, failEvery = 0): Promise<Rig> {
  const emu = await startEmulator({ api: "anyformat", stepMs: 20, faultRetryAfterSeconds: 0.05, ...options });
  open.push(emu);
  const af = new Anyformat({ apiKey: KEY, baseUrl: emu.url });
  const workflow = (await af.workflows.create({ name: "Invoices", fields: [{ name: "total", description: "Total", data_type: "float" }] })).id;
  await af.close();
  const dir = await mkdtemp(join(tmpdir(), "faultline-cli-batch-"));
  dirs.push(dir);
  await mkdir(join(dir, "invoices"));
  for (let i = 0; i < n; i++) {
    const fail = failEvery > 0 && i % failEvery === failEvery - 1 ? "\nthis one will FAIL" : "";
    await writeFile(join(dir, "invoices", `invoice-${String(i).padStart(3, "0")}.txt`), `Invoice ${i}\ntotal: ${i}${fail}\n`);
  }
  return { emu, workflow, dir, out: join(dir, "results.jsonl"), env: { ANYFORMAT_API_KEY: KEY, ANYFORMAT_BASE_URL: emu.url } };
}

interface Line {
  readonly input: string;
  readonly status: "processed" | "failed";
  readonly results?: { extraction?: { total?: { value?: unknown } } };
  readonly error?: { code: string; name: string; message: string };
}

async function lines(path: string): Promise<Line[]> {
  const text = await readFile(path, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Line);
}

const batch = (r: Rig, ...extra: string[]): string[] => ["anyformat", "batch", r.workflow, join(r.dir, "invoices"), "--out", r.out, ...extra];

describe("faultline anyformat batch", () => {
  it("writes one JSON line per document, prints a summary and exits 0 when every document was processed", async () => {
    const r = await rig(6);
    // Hidden files, and the batch's own files inside the folder it walks, are not documents.
    await writeFile(join(r.dir, "invoices", ".DS_Store"), "junk");
    const out = join(r.dir, "invoices", "results.jsonl");
    const result = await runCli(["anyformat", "batch", r.workflow, join(r.dir, "invoices"), "--out", out, "--concurrency", "3"], { env: r.env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe("");
    expect(result.stdout).toMatch(/^Finished in [\d.]+ s: 6 processed, 0 failed of 6 documents\n/);
    expect(result.stdout).toMatch(/Submitted 6 in this run at \d+\/min against a tier of 60\/min/);
    const written = await lines(out);
    expect(written.map((l) => l.input).sort()).toEqual(
      Array.from({ length: 6 }, (_, i) => join(r.dir, "invoices", `invoice-00${i}.txt`)),
    );
    for (const line of written) expect(line.results?.extraction?.total?.value).toBe(Number(/invoice-(\d+)/.exec(line.input)?.[1]));
    expect(r.emu.app.collections.size).toBe(6);
  });

  it("exits 1 when some documents failed, each failure's line carrying the typed error", async () => {
    const r = await rig(6, {}, 3);
    const result = await runCli([...batch(r), "--json"], { env: r.env });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toBe("");
    expect(JSON.parse(result.stdout)).toMatchObject({ total: 6, processed: 4, failed: 2, failedByCode: { EXTRACTION_FAILED: 2 }, remaining: 0 });
    const failed = (await lines(r.out)).filter((l) => l.status === "failed");
    expect(failed).toHaveLength(2);
    for (const line of failed) expect(line.error).toMatchObject({ name: "ExtractionFailedError", code: "EXTRACTION_FAILED" });
  });

  it("stops at once with exit 2 on a rejected key, and says how to resume", async () => {
    const r = await rig(4);
    const result = await runCli(batch(r), { env: { ...r.env, ANYFORMAT_API_KEY: "af-wrong-key-123" } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("Error: ");
    expect(result.stderr).toContain(`--resume`);
    expect(result.stderr).not.toContain("af-wrong-key-123");
    expect(r.emu.requests.filter((q) => q.method === "POST" && q.path.endsWith("/run/"))).toHaveLength(0);
  });

  it("with --json, a stopped batch leaves one JSON error line on stderr and nothing on stdout", async () => {
    const r = await rig(4);
    const result = await runCli([...batch(r), "--json"], { env: { ...r.env, ANYFORMAT_API_KEY: "af-wrong-key-123" } });
    expectFailure(result, { name: "JSON", flags: ["--json"] }, { exit: 2, code: "AUTH_FAILED", status: 401, secrets: ["af-wrong-key-123"] });
  });

  it("exits 3 for a workflow that does not exist, before submitting anything", async () => {
    const r = await rig(2);
    const result = await runCli(["anyformat", "batch", "00000000-0000-4000-8000-000000000000", join(r.dir, "invoices"), "--out", r.out], { env: r.env });
    expect(result.code).toBe(3);
    expect(r.emu.requests.filter((q) => q.method === "POST" && q.path.endsWith("/run/"))).toHaveLength(0);
  });

  it("refuses to start over another batch's --out or journal unless told to --resume", async () => {
    const r = await rig(2);
    expect((await runCli(batch(r), { env: r.env })).code).toBe(0);
    const again = await runCli(batch(r), { env: r.env });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists[\s\S]*Hint: Pass --resume/);
    const resumed = await runCli([...batch(r), "--resume"], { env: r.env });
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain("2 processed, 0 failed of 2 documents");
    expect(resumed.stdout).toContain("Submitted 0 in this run");
    expect(await lines(r.out)).toHaveLength(2);
    expect(r.emu.app.collections.size).toBe(2);
  });

  it.each([
    [["anyformat", "batch", "wf", "docs"], /Missing option --out/],
    [["anyformat", "batch", "wf", "--out", "x.jsonl"], /Missing argument <paths>/],
    [["anyformat", "batch", "wf", "docs", "--out", "x.jsonl", "--concurrency", "0"], /--concurrency takes a whole number from 1 to 1000/],
    [["anyformat", "workflows", "list", "--resume"], /Option --resume does not apply/],
  ])("refuses %j as a usage error", async (args, message) => {
    const result = await runCli(args, { env: { ANYFORMAT_API_KEY: KEY } });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
  });

  it("on Ctrl-C stops submitting, lets the journal settle, says how to resume (exit 130); resumed, it finishes every document once", async () => {
    const r = await rig(30, { rateLimits: { submission: 4, windowMs: 1_000 } });
    const child = startCli([...batch(r), "--concurrency", "4"], { env: r.env });
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr?.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    await until(() => r.emu.app.collections.size >= 6, 15_000);
    child.kill("SIGINT");
    const code = await exited;
    expect(code, stderr).toBe(130);
    expect(stderr).toContain("Stopping: no more submissions");
    expect(stdout).toMatch(/^Interrupted in [\d.]+ s: \d+ processed, 0 failed of 30 documents, \d+ to go/);
    expect(stdout).toContain("Nothing is lost. Resume with:");
    const resume = /\n {2}(faultline .*--resume)\n/.exec(stdout)?.[1];
    expect(resume).toContain(`anyformat batch ${r.workflow} `);
    const madeBefore = r.emu.app.collections.size;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(r.emu.app.collections.size).toBe(madeBefore);

    const args = (resume ?? "").split(" ").slice(1);
    const resumed = await runCli(args, { env: r.env, timeoutMs: 30_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect((await lines(r.out)).map((l) => l.input).sort()).toEqual(
      Array.from({ length: 30 }, (_, i) => join(r.dir, "invoices", `invoice-${String(i).padStart(3, "0")}.txt`)),
    );
    expect(r.emu.app.collections.size).toBe(30);
  }, 60_000);

  it("draws a progress bar on a terminal, and keeps stdout for the summary", async () => {
    const r = await rig(8, { rateLimits: { submission: 4, windowMs: 1_000 } });
    const result = await runCliInTerminal(batch(r), { env: r.env, timeoutMs: 30_000 });
    expect(result.code, result.terminal).toBe(0);
    expect(result.terminal).toMatch(/[█░]+ \d+\/8 \| \d+ processed, 0 failed, \d+ submitted/);
    expect(result.stdout).toMatch(/^Finished in [\d.]+ s: 8 processed, 0 failed of 8 documents\n/);
  }, 40_000);

  it("never writes the key to --out, the journal or the terminal", async () => {
    const r = await rig(2);
    const secret = "af-secret-key-0123456789";
    const proxy = await startProxy(r.emu.url, (req) => {
      req.headers.authorization = `Bearer ${KEY}`;
      return req.method === "POST" ? { status: 400, json: { error: `Bad key ${secret}`, detail: `echo ${secret}`, error_code: "VALIDATION_ERROR", retryable: false } } : "forward";
    });
    open.push(proxy);
    const result: CliResult = await runCli(batch(r, "--api-key", secret, "--base-url", proxy.url), { env: { ANYFORMAT_API_KEY: "" } });
    expect(result.code, result.stderr).toBe(1);
    const everything = [result.stdout, result.stderr, await readFile(r.out, "utf8"), await readFile(`${r.out}.journal`, "utf8")].join("\n");
    expect(everything).toContain("VALIDATION_ERROR");
    expect(everything).not.toContain(secret);
  });
});
