/**
 * Starts a fleet of worker processes (./fleet-worker.ts), each its own Node process with its own client,
 * and collects their reports: what the Redis fleet and chaos tests and `npm run bench:fleet` run.
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { FleetMessage, FleetWorkerConfig, FleetWorkerReport } from "./fleet-worker.js";

const WORKER = fileURLToPath(new URL("./fleet-worker.ts", import.meta.url));

export interface Fleet {
  /** Every worker starts submitting. */
  go(): void;
  /** Every worker stops (calls in flight are aborted) and reports. */
  stop(): Promise<FleetWorkerReport[]>;
  /** Kills whatever is still running (for `afterEach`). */
  kill(): void;
}

/** Forks `count` workers with `config` and waits until each is ready to go. */
export async function startFleet(count: number, config: FleetWorkerConfig): Promise<Fleet> {
  const children: ChildProcess[] = [];
  const reports: Array<Promise<FleetWorkerReport>> = [];
  const ready: Array<Promise<void>> = [];
  for (let i = 0; i < count; i++) {
    const child = fork(WORKER, [JSON.stringify(config)], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    children.push(child);
    const exited = new Promise<never>((_, reject) => child.once("exit", (code) => reject(new Error(`fleet worker ${i} exited (${code}) before reporting`))));
    exited.catch(() => undefined);
    ready.push(Promise.race([new Promise<void>((resolve) => child.on("message", (m: { type: string }) => m.type === "ready" && resolve())), exited]));
    reports.push(
      Promise.race([
        new Promise<FleetWorkerReport>((resolve) => child.on("message", (m: { type: string; report?: FleetWorkerReport }) => m.type === "report" && resolve(m.report as FleetWorkerReport))),
        exited,
      ]),
    );
    reports[i]?.catch(() => undefined);
  }
  await Promise.all(ready);
  const send = (message: FleetMessage) => {
    for (const child of children) if (child.connected) child.send(message);
  };
  return {
    go: () => send({ type: "go" }),
    stop: async () => {
      send({ type: "stop" });
      return Promise.all(reports);
    },
    kill: () => {
      for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}
