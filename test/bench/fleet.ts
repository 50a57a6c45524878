/**
 * `npm run bench:fleet`: N worker processes (FLEET_WORKERS, default 8), each with its own anyformat client,
 * submit runs on one API key against the emulator (in this process) with a scaled submission tier of 20 per
 * 2 s, for FLEET_WINDOWS windows (default 6), in three modes side by side: pacing off (`rateLimit: false`),
 * local pacing (each process's own store), and the shared Redis store. Then one process: 200 concurrent
 * `run` calls on one client against the same tier.
 *
 * Per mode: the 429s the emulator answered, the submissions it accepted while the run lasted, what its
 * fixed windows allowed in that time (limit x windows that could open), utilisation (accepted / allowed),
 * and the mean period between the emulator's window openings (2,000 ms is perfect pacing). Figures are
 * reported, never asserted: a missed target prints "target missed" and the process still exits 0.
 */
import { Anyformat } from "../../src/anyformat/client.js";
import { ANYFORMAT_EMULATOR_KEY, type AnyformatApp } from "../../src/testing/anyformat/app.js";
import { startEmulator, type Emulator } from "../../src/testing/server.js";
import { startFleet } from "../helpers/fleet.js";
import type { FleetMode, FleetWorkerReport } from "../helpers/fleet-worker.js";
import { REDIS_INSTALLED, startRedis } from "../helpers/redis-server.js";

const LIMIT = 20;
const WINDOW_MS = 2_000;
const WORKERS = positiveInt(process.env["FLEET_WORKERS"], 8);
const WINDOWS = Math.max(5, positiveInt(process.env["FLEET_WINDOWS"], 6));
/** Calls each worker keeps in flight: the fleet always wants more than the tier gives. */
const CONCURRENCY = 4;
const SINGLE_CALLS = 200;

interface Row {
  readonly mode: string;
  readonly processes: number;
  readonly refused: number;
  readonly accepted: number;
  readonly allowed: number;
  readonly periodMs: number | undefined;
  readonly failed: number;
  readonly note?: string;
}

function positiveInt(raw: string | undefined, fallback: number): number {
  const value = Number(raw);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

async function emulator(): Promise<{ emu: Emulator<AnyformatApp>; workflowId: string }> {
  const emu = await startEmulator({ api: "anyformat", stepMs: 0, rateLimits: { submission: LIMIT, general: 100_000, windowMs: WINDOW_MS } });
  const setup = new Anyformat({ apiKey: ANYFORMAT_EMULATOR_KEY, baseUrl: emu.url });
  const wf = await setup.workflows.create({ name: "bench", fields: [{ name: "total", description: "t", data_type: "float" }] });
  await setup.close();
  return { emu, workflowId: wf.id };
}

/** The emulator's submissions between `from` and `to`, and the mean period of its windows' openings. */
function tally(emu: Emulator<AnyformatApp>, from: number, to: number) {
  const runs = emu.requests.filter((r) => r.method === "POST" && r.path.endsWith("/run/") && r.at >= from && r.at <= to);
  const accepted = runs.filter((r) => r.status === 202).map((r) => r.at);
  // The emulator's windows open at the first request after the last one closed, as its limiter does.
  const openings: number[] = [];
  for (const at of accepted) if (openings.length === 0 || at >= (openings.at(-1) as number) + WINDOW_MS) openings.push(at);
  const periodMs = openings.length < 2 ? undefined : ((openings.at(-1) as number) - (openings[0] as number)) / (openings.length - 1);
  return { accepted: accepted.length, refused: runs.filter((r) => r.status === 429).length, periodMs };
}

async function fleetRow(mode: FleetMode, label: string, redisUrl?: string): Promise<Row> {
  const { emu, workflowId } = await emulator();
  const fleet = await startFleet(WORKERS, { baseUrl: emu.url, apiKey: ANYFORMAT_EMULATOR_KEY, workflowId, mode, concurrency: CONCURRENCY, redisUrl, prefix: `bench-${Date.now()}:` });
  const durationMs = WINDOWS * WINDOW_MS;
  let reports: FleetWorkerReport[];
  const started = Date.now();
  try {
    fleet.go();
    await new Promise((resolve) => setTimeout(resolve, durationMs));
    reports = await fleet.stop();
  } finally {
    fleet.kill();
  }
  const { accepted, refused, periodMs } = tally(emu, started, started + durationMs);
  await emu.close();
  const lines = reports.flatMap((r) => r.lines);
  return {
    mode: label,
    processes: WORKERS,
    refused,
    accepted,
    allowed: LIMIT * Math.ceil(durationMs / WINDOW_MS),
    periodMs,
    failed: reports.reduce((n, r) => n + r.failures.length, 0),
    ...(lines.length > 0 ? { note: `store said: ${lines.map(([, line]) => line).join(" / ")}` } : {}),
  };
}

async function singleProcessRow(): Promise<Row> {
  const { emu, workflowId } = await emulator();
  const af = new Anyformat({ apiKey: ANYFORMAT_EMULATOR_KEY, baseUrl: emu.url, logLevel: "off" });
  const started = Date.now();
  const outcomes = await Promise.allSettled(Array.from({ length: SINGLE_CALLS }, (_, i) => af.workflows.run(workflowId, { text: `document ${i}` })));
  const elapsed = Date.now() - started;
  await af.close();
  const { accepted, refused, periodMs } = tally(emu, started, started + elapsed);
  await emu.close();
  return {
    mode: `one client, ${SINGLE_CALLS} concurrent runs`,
    processes: 1,
    refused,
    accepted,
    // The windows the run spanned: it ends inside the last one.
    allowed: LIMIT * Math.ceil(elapsed / WINDOW_MS),
    periodMs,
    failed: outcomes.filter((o) => o.status === "rejected").length,
  };
}

const percent = (row: Row) => (row.allowed === 0 ? 0 : (100 * row.accepted) / row.allowed);

function table(rows: readonly Row[]): string {
  const head = "| mode | processes | 429s received | submissions completed | allowed by the tier | utilisation | window period | failed calls |";
  const lines = rows.map((row) =>
    row.note?.startsWith("skipped") === true
      ? `| ${row.mode} | ${row.processes} | ${row.note} | | | | | |`
      : `| ${row.mode} | ${row.processes} | ${row.refused} | ${row.accepted} | ${row.allowed} | ${percent(row).toFixed(1)} % | ${row.periodMs === undefined ? "-" : `${Math.round(row.periodMs)} ms`} | ${row.failed} |`,
  );
  return [head, "|---|---:|---:|---:|---:|---:|---:|---:|", ...lines].join("\n");
}

async function main(): Promise<void> {
  console.log(`fleet bench: ${WORKERS} processes x ${CONCURRENCY} calls in flight, submission tier ${LIMIT} per ${WINDOW_MS / 1000} s, ${WINDOWS} windows per mode\n`);
  const rows: Row[] = [];
  rows.push(await fleetRow("off", "pacing off (`rateLimit: false`)"));
  rows.push(await fleetRow("local", "local pacing (each process alone)"));
  if (REDIS_INSTALLED) {
    const redis = await startRedis();
    try {
      rows.push(await fleetRow("redis", "shared Redis store", redis.url));
    } finally {
      await redis.stop();
    }
  } else {
    rows.push({ mode: "shared Redis store", processes: WORKERS, refused: 0, accepted: 0, allowed: 0, periodMs: undefined, failed: 0, note: "skipped: redis-server is not installed" });
  }
  rows.push(await singleProcessRow());
  console.log(table(rows));
  for (const row of rows) if (row.note !== undefined && !row.note.startsWith("skipped")) console.log(`\n${row.mode}: ${row.note}`);

  const [off, local, shared, single] = rows as [Row, Row, Row, Row];
  console.log("\ntargets:");
  if (shared.note?.startsWith("skipped") !== true) {
    console.log(verdict(shared.refused === 0 && percent(shared) >= 95, `shared store: 0 429s at >= 95 % utilisation (${shared.refused} 429s, ${percent(shared).toFixed(1)} %)`));
  }
  console.log(verdict(local.refused * 4 <= off.refused, `local pacing: far fewer 429s than off (${local.refused} vs ${off.refused}, ${off.refused === 0 ? "-" : `${((100 * local.refused) / off.refused).toFixed(0)} %`})`));
  console.log(verdict(single.refused === 0 && percent(single) >= 95, `one process, ${SINGLE_CALLS} concurrent runs: 0 429s at >= 95 % utilisation (${single.refused} 429s, ${percent(single).toFixed(1)} %)`));
}

function verdict(met: boolean, text: string): string {
  return `  ${met ? "met" : "target missed"}: ${text}`;
}

await main();
