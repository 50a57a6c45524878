import type { ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Anyformat } from "../../src/anyformat/client.js";
import { ANYFORMAT_EMULATOR_KEY } from "../../src/testing/anyformat/app.js";
import { mulberry32 } from "../../src/testing/random.js";
import { startEmulator } from "../../src/testing/server.js";
import { startProxy } from "../helpers/proxy.js";
import { type Finished, finished, releasedAfterAll, startCli } from "./support.js";

/**
 * The batch CLI killed with SIGKILL again and again, and resumed each time until it ends, against an
 * emulator that throws 429s, 500s, resets and slow headers at it. One kill falls exactly between a
 * submission reaching the server and the CLI hearing the answer: a proxy carries the request to the
 * emulator, which makes the collection, and withholds the answer while the CLI is killed.
 *
 * Then: every document has exactly one line in --out, the emulator holds exactly one collection (one
 * successful submission) per document, and every processed line carries that document's own results.
 */

const DOCUMENTS = 200;
const { open, dirs } = releasedAfterAll();


describe("the batch CLI killed with SIGKILL at random moments and resumed", () => {
  it(`ends with one line per document, one submission per document, no result lost (${DOCUMENTS} documents)`, async () => {
    const random = mulberry32(20_261_130);
    const emu = await startEmulator({
      api: "anyformat",
      seed: 17,
      stepMs: 30,
      slowHeadersMs: 1_500,
      faultRetryAfterSeconds: 0.1,
      faults: { rateLimit: 0.03, serverError: 0.03, reset: 0.03, slowHeaders: 0.01 },
      rateLimits: { submission: 60, windowMs: 1_000 },
    });
    open.push(emu);
    const af = new Anyformat({ apiKey: ANYFORMAT_EMULATOR_KEY, baseUrl: emu.url, maxRetries: 5 });
    const workflow = (await af.workflows.create({ name: "Crash", fields: [{ name: "total", description: "Total", data_type: "float" }] })).id;
    await af.close();

    // Documents: a few fail on the server, and some share a file name across folders.
    const dir = await mkdtemp(join(tmpdir(), "faultline-crash-"));
    dirs.push(dir);
    const texts = new Map<string, string>();
    for (let i = 0; i < DOCUMENTS; i++) {
      const folder = join(dir, "docs", `box-${Math.floor(i / 50)}`);
      await mkdir(folder, { recursive: true });
      const name = i % 50 === 7 || i % 50 === 31 ? `invoice-${i % 50}.txt` : `doc-${String(i).padStart(3, "0")}.txt`;
      const text = `Document ${i}\ntotal: ${i}\n${i % 40 === 13 ? "this one will FAIL\n" : ""}`;
      await writeFile(join(folder, name), text);
      texts.set(join(folder, name), text);
    }
    expect(texts.size).toBe(DOCUMENTS);

    let current: ChildProcess | undefined;
    let runs = 0;
    // The first run dies between a submission reaching the server and its answer reaching the CLI.
    const withholdAt = 10 + Math.floor(random() * 40);
    let posts = 0;
    const proxy = await startProxy(
      emu.url,
      (req) => {
        if (req.method === "POST" && req.path.endsWith("/run/") && ++posts === withholdAt) return "withhold";
        return "forward";
      },
      (_path, status) => {
        if (status === 202) current?.kill("SIGKILL");
      },
    );
    open.push(proxy);

    const out = join(dir, "results.jsonl");
    const args = ["--timeout", "1000", "--max-retries", "4", "anyformat", "batch", workflow, join(dir, "docs"), "--out", out, "--concurrency", "24"];
    const env = { ANYFORMAT_API_KEY: ANYFORMAT_EMULATOR_KEY, ANYFORMAT_BASE_URL: proxy.url };
    const started = Date.now();
    const kills: string[] = [];
    let last: Finished | undefined;
    for (; runs < 12; runs++) {
      current = startCli(runs === 0 ? args : [...args, "--resume"], { env });
      const ended = finished(current);
      let timer: NodeJS.Timeout | undefined;
      if (runs > 0 && runs < 5) {
        const child = current;
        timer = setTimeout(() => child.kill("SIGKILL"), 300 + Math.floor(random() * 1_500));
      }
      last = await ended;
      clearTimeout(timer);
      if (last.signal === "SIGKILL") {
        kills.push(runs === 0 ? "withheld answer" : "timer");
        continue;
      }
      break;
    }

    expect(last?.signal, last?.stderr).toBeNull();
    // Some documents fail on the server: the batch ends with exit 1, every document accounted for.
    expect(last?.code, last?.stderr).toBe(1);
    expect(kills).toContain("withheld answer");
    expect(kills.length).toBeGreaterThanOrEqual(4);
    expect(proxy.withheld.map((w) => w.status)).toEqual([202]);

    const lines = (await readFile(out, "utf8"))
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as { input: string; status: string; results?: { extraction?: { total?: { value?: unknown } } }; error?: { code?: string } });
    expect(lines).toHaveLength(DOCUMENTS);
    expect(new Set(lines.map((l) => l.input)).size).toBe(DOCUMENTS);
    for (const line of lines) {
      const text = texts.get(line.input);
      expect(text, line.input).toBeDefined();
      if (text?.includes("FAIL")) {
        expect(line).toMatchObject({ status: "failed", error: { code: "EXTRACTION_FAILED" } });
      } else {
        expect(line.status, JSON.stringify(line.error)).toBe("processed");
        expect(line.results?.extraction?.total?.value).toBe(Number(/total: (\d+)/.exec(text ?? "")?.[1]));
      }
    }

    // Exactly one successful submission per document: the emulator made one collection for each text.
    const collections = new Map<string, number>();
    for (const c of emu.app.collections.values()) {
      const text = c.files[0]?.text ?? "";
      collections.set(text, (collections.get(text) ?? 0) + 1);
    }
    expect(collections.size).toBe(DOCUMENTS);
    expect([...collections.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    // The faults were met on the way.
    const faults = new Set(emu.requests.map((r) => r.fault).filter((f) => f !== undefined));
    for (const fault of ["rateLimit", "serverError", "reset"]) expect(faults).toContain(fault);
    console.info(`crash test: ${runs + 1} runs, ${kills.length} SIGKILLs (${kills.join(", ")}), ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, 90_000);
});
