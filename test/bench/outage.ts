/**
 * `npm run bench:outage`: 200 callers in a loop against the anyformat emulator, which fails every request
 * (503) for 5 s and then recovers. Run twice side by side, with the retry budget and circuit breaker on
 * (the defaults) and off, and reports for each:
 *
 * - requests sent per call made during the outage (target <= 1.2 with them on; about 3 with them off),
 * - the time from recovery to the first success (target <= the breaker's probe interval + 1 s),
 * - calls that succeeded in the 5 s after recovery.
 *
 * Each caller waits 100 ms between calls, whatever the outcome: a simple, equal load in both runs.
 */
import { performance } from "node:perf_hooks";
import { Anyformat } from "../../src/anyformat/client.js";
import { CircuitOpenError } from "../../src/core/errors.js";
import { ANYFORMAT_EMULATOR_KEY } from "../../src/testing/anyformat/app.js";
import { startEmulator } from "../../src/testing/server.js";

const CALLERS = Number(process.env["OUTAGE_CALLERS"] ?? 200);
const HEALTHY_MS = 2_000;
const OUTAGE_MS = 5_000;
const AFTER_MS = 5_000;
const THINK_MS = 100;

interface CallRecord {
  readonly startedAt: number;
  readonly endedAt: number;
  readonly ok: boolean;
  readonly refused: boolean;
}

interface RunReport {
  readonly mode: string;
  readonly callsInOutage: number;
  readonly requestsInOutage: number;
  readonly refusedInOutage: number;
  readonly firstSuccessAfterRecoveryMs: number | undefined;
  readonly probeIntervalAtRecoveryMs: number | undefined;
  readonly successesAfterRecovery: number;
  readonly circuitOpenedAfterMs: number | undefined;
}

async function run(mode: "on" | "off"): Promise<RunReport> {
  // Tiers the run never fills: the governor learns them from the headers and stays out of the way.
  const emu = await startEmulator({ api: "anyformat", rateLimits: { general: 10_000_000, submission: 10_000_000, windowMs: 60_000 } });
  const openings: number[] = [];
  const af = new Anyformat({
    apiKey: ANYFORMAT_EMULATOR_KEY,
    baseUrl: emu.url,
    ...(mode === "off" ? { retryBudget: false, circuitBreaker: false } : {}),
    logger: { warn: (message) => void (/circuit .* open/.test(message) && openings.push(Date.now())) },
    logLevel: "warn",
  });
  const wf = await af.workflows.create({ name: "outage", fields: [{ name: "total", description: "t", data_type: "float" }] });
  const calls: CallRecord[] = [];
  const started = Date.now();
  const outageStart = started + HEALTHY_MS;
  const recovery = outageStart + OUTAGE_MS;
  const end = recovery + AFTER_MS;
  let probeIntervalAtRecovery: number | undefined;
  const outageTimer = setTimeout(() => emu.outage({ status: 503, forMs: OUTAGE_MS }), HEALTHY_MS);
  const recoveryTimer = setTimeout(() => {
    const state = af.circuitState();
    if (state.state !== "closed" && state.openedAt !== undefined && state.probeAt !== undefined) probeIntervalAtRecovery = state.probeAt - state.openedAt;
  }, HEALTHY_MS + OUTAGE_MS);

  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (Date.now() < end) {
        const startedAt = Date.now();
        let ok = false;
        let refused = false;
        try {
          await af.workflows.get(wf.id);
          ok = true;
        } catch (error) {
          refused = error instanceof CircuitOpenError;
        }
        calls.push({ startedAt, endedAt: Date.now(), ok, refused });
        await new Promise((resolve) => setTimeout(resolve, THINK_MS));
      }
    }),
  );
  clearTimeout(outageTimer);
  clearTimeout(recoveryTimer);
  const inOutage = calls.filter((c) => c.startedAt >= outageStart && c.startedAt < recovery);
  const requestsInOutage = emu.requests.filter((r) => r.at >= outageStart && r.at < recovery).length;
  const firstSuccess = calls.filter((c) => c.ok && c.endedAt >= recovery).reduce((min, c) => Math.min(min, c.endedAt), Infinity);
  await af.close();
  await emu.close();
  return {
    mode: mode === "on" ? "budget + breaker on (defaults)" : "budget + breaker off",
    callsInOutage: inOutage.length,
    requestsInOutage,
    refusedInOutage: inOutage.filter((c) => c.refused).length,
    firstSuccessAfterRecoveryMs: Number.isFinite(firstSuccess) ? firstSuccess - recovery : undefined,
    probeIntervalAtRecoveryMs: probeIntervalAtRecovery,
    successesAfterRecovery: calls.filter((c) => c.ok && c.startedAt >= recovery).length,
    circuitOpenedAfterMs: openings.find((t) => t >= outageStart) === undefined ? undefined : (openings.find((t) => t >= outageStart) as number) - outageStart,
  };
}

function row(r: RunReport): string {
  const perCall = r.callsInOutage === 0 ? NaN : r.requestsInOutage / r.callsInOutage;
  const ms = (v: number | undefined): string => (v === undefined ? "-" : `${(v / 1000).toFixed(2)} s`);
  return `| ${r.mode} | ${r.callsInOutage} | ${r.requestsInOutage} | **${perCall.toFixed(2)}** | ${r.refusedInOutage} | ${ms(r.circuitOpenedAfterMs)} | ${ms(r.firstSuccessAfterRecoveryMs)} | ${ms(r.probeIntervalAtRecoveryMs)} | ${r.successesAfterRecovery} |`;
}

const t0 = performance.now();
console.log(`bench:outage: ${CALLERS} callers, healthy ${HEALTHY_MS / 1000} s, then every request 503 for ${OUTAGE_MS / 1000} s, then ${AFTER_MS / 1000} s healthy; each caller waits ${THINK_MS} ms between calls\n`);
const on = await run("on");
const off = await run("off");
console.log("| mode | calls in the outage | requests in the outage | requests per call | calls refused by the open circuit | circuit opened after | recovery to first success | probe interval then | calls ok in the 5 s after |");
console.log("|---|---|---|---|---|---|---|---|---|");
console.log(row(on));
console.log(row(off));
const perCall = on.requestsInOutage / on.callsInOutage;
const offPerCall = off.requestsInOutage / off.callsInOutage;
const recoveryOk = on.firstSuccessAfterRecoveryMs !== undefined && on.firstSuccessAfterRecoveryMs <= (on.probeIntervalAtRecoveryMs ?? 0) + 1_000;
console.log();
console.log(`requests per call in the outage with budget + breaker: ${perCall.toFixed(2)} (target <= 1.2: ${perCall <= 1.2 ? "met" : "MISSED"}); off: ${offPerCall.toFixed(2)} (${(offPerCall / perCall).toFixed(1)}x as many)`);
console.log(`recovery to first success: ${on.firstSuccessAfterRecoveryMs ?? "-"} ms against a probe interval of ${on.probeIntervalAtRecoveryMs ?? "-"} ms + 1 s (target: ${recoveryOk ? "met" : "MISSED"})`);
console.log(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
