/**
 * One chaos batch: idempotent calls through the anyformat emulator with 30 % injected faults. Shared by
 * chaos.test.ts and the process-exit fixture, which runs it in a process of its own.
 */
import { Anyformat, type Logger } from "../../src/index.js";
import { ANYFORMAT_EMULATOR_KEY, startEmulator, type FaultRates } from "../../src/testing/index.js";
import { runPool, Tally } from "./support.js";

/** 30 % in all, spread over every fault an idempotent read can meet. */
export const CHAOS_FAULTS: FaultRates = {
  rateLimit: 0.06,
  serverError: 0.06,
  gatewayTimeout: 0.03,
  htmlBadGateway: 0.05,
  reset: 0.04,
  slowHeaders: 0.02,
  truncatedBody: 0.04,
};

export interface ChaosOptions {
  readonly calls: number;
  readonly concurrency: number;
  readonly seed: number;
  /** Total ms a call may take, attempts and waits included. */
  readonly deadline: number;
  readonly logger?: Logger | undefined;
}

export interface ChaosReport {
  readonly tally: Tally;
  /** Requests the emulator saw during the batch. */
  readonly requests: number;
  /** Requests by injected fault. */
  readonly faults: Record<string, number>;
  /** The longest a call took, in ms. */
  readonly slowestMs: number;
  /** Calls that took longer than the deadline plus the allowed slack. */
  readonly overDeadline: number;
  readonly retries: number;
  /** How many times the circuit breaker opened: faults that retries absorb must never open it. */
  readonly circuitOpenings: number;
}

/** How far past its deadline a call may settle on a busy machine (event-loop lag, socket teardown). */
export const DEADLINE_SLACK_MS = 1_000;

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const emu = await startEmulator({
    api: "anyformat",
    seed: options.seed,
    slowHeadersMs: 2_000,
    faultRetryAfterSeconds: 0.05,
    // Tiers the batch never fills: the governor learns them from the headers, as against the real API.
    rateLimits: { general: 1_000_000, submission: 1_000_000, windowMs: 60_000 },
  });
  let circuitOpenings = 0;
  const af = new Anyformat({
    apiKey: ANYFORMAT_EMULATOR_KEY,
    baseUrl: emu.url,
    maxRetries: 3,
    timeout: 300,
    deadline: options.deadline,
    maxRetryAfter: 1_000,
    logger: {
      ...options.logger,
      warn: (message, fields) => {
        if (/circuit .* open/.test(message)) circuitOpenings++;
        options.logger?.warn?.(message, fields);
      },
    },
    logLevel: options.logger === undefined ? "warn" : "debug",
  });
  try {
    // A few workflows to read, made before any fault is switched on.
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const wf = await af.workflows.create({
        name: `chaos ${i}`,
        fields: [{ name: "total", description: "Grand total", data_type: "float" }],
      });
      ids.push(wf.id);
    }
    const first = emu.requests.length;
    emu.setFaults(CHAOS_FAULTS);

    const tally = new Tally();
    let slowestMs = 0;
    let overDeadline = 0;
    let retries = 0;
    await runPool(options.calls, options.concurrency, async (index) => {
      const started = Date.now();
      const onRetry = (): void => {
        retries++;
      };
      try {
        if (index % 10 === 9) {
          await af.workflows.list({ page_size: 5 }, { onRetry });
        } else {
          const wf = await af.workflows.get(ids[index % ids.length]!, { onRetry });
          if (wf.id !== ids[index % ids.length]) throw new Error(`read ${wf.id}, not the workflow asked for`);
        }
        tally.success();
      } catch (error) {
        tally.failure(error);
      }
      const ms = Date.now() - started;
      slowestMs = Math.max(slowestMs, ms);
      if (ms > options.deadline + DEADLINE_SLACK_MS) overDeadline++;
    });
    emu.setFaults({});

    const seen = emu.requests.slice(first);
    const faults: Record<string, number> = {};
    for (const entry of seen) if (entry.fault !== undefined) faults[entry.fault] = (faults[entry.fault] ?? 0) + 1;
    return { tally, requests: seen.length, faults, slowestMs, overDeadline, retries, circuitOpenings };
  } finally {
    await af.close();
    await emu.close();
  }
}

export function describeReport(report: ChaosReport): string {
  return (
    `${report.tally.summary()}; ${report.requests} requests sent, ${report.retries} retries; ` +
    `faults injected ${JSON.stringify(report.faults)}; slowest call ${report.slowestMs} ms; circuit opened ${report.circuitOpenings} times`
  );
}
