/**
 * Cold start, in fresh node processes: the time from process start to a first completed call, for
 * faultline and for a zero-dependency client on the global `fetch` doing the same call (what a generated
 * SDK such as the official anyformat one does: fetch, a timeout signal, JSON, a status-to-class mapping);
 * and `faultline --help`, the CLI's lightest command.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

export interface ColdStart {
  /** Median ms from process start to the first call's data, by client. */
  readonly firstResponseMs: Readonly<Record<string, number>>;
  readonly spreadMs: Readonly<Record<string, readonly [number, number]>>;
  /** Median ms of `import()` of the client's module, by client. */
  readonly importMs: Readonly<Record<string, number>>;
  /** Median wall ms of `faultline --help`, and of an empty node process, spawned from here. */
  readonly helpMs: number;
  readonly helpSpreadMs: readonly [number, number];
  readonly emptyMs: number;
  readonly runs: number;
}

/** The stand-in for a generated, fetch-based SDK: no dependency, no validation library. */
const FETCH_SDK = `
class APIError extends Error { constructor(status, body) { super(\`\${status}\`); this.status = status; this.body = body; } }
class RateLimitError extends APIError {}
class NotFoundError extends APIError {}
class InternalServerError extends APIError {}
export class FetchSdk {
  constructor(baseURL, apiKey) { this.baseURL = baseURL; this.apiKey = apiKey; }
  async get(id) {
    const response = await fetch(\`\${this.baseURL}/v2/workflows/\${encodeURIComponent(id)}/\`, {
      headers: { authorization: \`Bearer \${this.apiKey}\`, accept: "application/json" },
      signal: AbortSignal.timeout(60_000),
    });
    const text = await response.text();
    const body = text === "" ? undefined : JSON.parse(text);
    if (response.ok) return body;
    const Class = response.status === 429 ? RateLimitError : response.status === 404 ? NotFoundError : response.status >= 500 ? InternalServerError : APIError;
    throw new Class(response.status, body);
  }
}
`;

export function measureColdStart(options: { root: string; serverUrl: string; apiKey: string; workflowId: string; runs?: number }): ColdStart {
  const runs = options.runs ?? 11;
  const dir = mkdtempSync(join(tmpdir(), "faultline-cold-"));
  try {
    const sdk = join(dir, "fetch-sdk.mjs");
    writeFileSync(sdk, FETCH_SDK);
    const faultline = pathToFileURL(join(options.root, "dist/index.js")).href;
    const scripts: Record<string, string> = {
      faultline: `const t = performance.now(); const { Anyformat } = await import(${JSON.stringify(faultline)}); const imported = performance.now() - t;
        const af = new Anyformat({ apiKey: ${JSON.stringify(options.apiKey)}, baseUrl: ${JSON.stringify(options.serverUrl)} });
        const wf = await af.workflows.get(${JSON.stringify(options.workflowId)});
        if (wf.id !== ${JSON.stringify(options.workflowId)}) throw new Error("wrong workflow");
        process.stdout.write(JSON.stringify({ first: performance.now(), imported })); process.exit(0);`,
      "fetch SDK (zero dependencies)": `const t = performance.now(); const { FetchSdk } = await import(${JSON.stringify(pathToFileURL(sdk).href)}); const imported = performance.now() - t;
        const client = new FetchSdk(${JSON.stringify(options.serverUrl)}, ${JSON.stringify(options.apiKey)});
        const wf = await client.get(${JSON.stringify(options.workflowId)});
        if (wf.id !== ${JSON.stringify(options.workflowId)}) throw new Error("wrong workflow");
        process.stdout.write(JSON.stringify({ first: performance.now(), imported })); process.exit(0);`,
    };
    const first: Record<string, number[]> = {};
    const imported: Record<string, number[]> = {};
    for (let run = 0; run < runs; run++) {
      // Alternated, so that both meet the same state of the machine.
      for (const [name, script] of Object.entries(scripts)) {
        const out = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", cwd: dir });
        if (out.status !== 0) throw new Error(`${name}: ${out.stderr.split("\n").slice(0, 3).join(" ")}`);
        const result = JSON.parse(out.stdout) as { first: number; imported: number };
        (first[name] ??= []).push(result.first);
        (imported[name] ??= []).push(result.imported);
      }
    }
    const help: number[] = [];
    const empty: number[] = [];
    for (let run = 0; run < runs; run++) {
      let t = performance.now();
      const out = spawnSync(process.execPath, [join(options.root, "dist/cli.js"), "--help"], { encoding: "utf8" });
      help.push(performance.now() - t);
      if (out.status !== 0) throw new Error(`faultline --help exited ${out.status}`);
      t = performance.now();
      spawnSync(process.execPath, ["-e", ""], { encoding: "utf8" });
      empty.push(performance.now() - t);
    }
    const medians = (samples: Record<string, number[]>): Record<string, number> =>
      Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]));
    return {
      firstResponseMs: medians(first),
      spreadMs: Object.fromEntries(Object.entries(first).map(([name, values]) => [name, [Math.min(...values), Math.max(...values)] as const])),
      importMs: medians(imported),
      helpMs: median(help),
      helpSpreadMs: [Math.min(...help), Math.max(...help)],
      emptyMs: median(empty),
      runs,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
