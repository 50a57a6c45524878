/**
 * `faultline emulator`: both emulators on loopback, for trying the CLI or an app without real keys, with
 * the testing kit's fault injection (`--faults`, `--seed`). Runs until SIGINT or SIGTERM (or `stopped`
 * aborts), then closes both servers (cutting open connections) and exits 0.
 */
import type { FaultRates } from "../testing/faults.js";
import type { EmulatorRateLimits } from "./args.js";
import type { Output } from "./output.js";

export interface EmulatorCommandOptions {
  /** anyformat listens on `port`, Roboflow on `port + 1`; absent or 0 picks free ports. */
  readonly port: number | undefined;
  /** Fault rates for both emulators, as `startEmulator`'s `faults` [none]. */
  readonly faults?: FaultRates | undefined;
  /** Seeds both emulators' fault draws and ids [1]. */
  readonly seed?: number | undefined;
  /** anyformat's rate-limit tiers [the documented ones]; `false` for none. */
  readonly rateLimits?: EmulatorRateLimits | false | undefined;
  readonly output: Output;
  /** Stops the emulators when it aborts; without it, the first SIGINT or SIGTERM does. */
  readonly stopped?: AbortSignal | undefined;
}

export async function runEmulator(options: EmulatorCommandOptions): Promise<number> {
  // Loaded here, not at the top: ordinary API commands should not pay for the emulators.
  const { startEmulator } = await import("../testing/server.js");
  const { ANYFORMAT_EMULATOR_KEY } = await import("../testing/anyformat/app.js");
  const { ROBOFLOW_EMULATOR_KEY, ROBOFLOW_EMULATOR_WORKSPACE } = await import("../testing/roboflow/app.js");

  // Listen for the stop signal before anything is printed: a script that reads the URLs and at once
  // sends SIGTERM can do so before the line after the print runs, and would kill the process outright.
  const stopped = options.stopped === undefined ? nextSignal() : aborted(options.stopped);
  const port = options.port === undefined || options.port === 0 ? undefined : options.port;
  const faults = options.faults ?? {};
  const common = { faults, seed: options.seed };
  const anyformat = await startEmulator({ api: "anyformat", port, ...common, ...(options.rateLimits === undefined ? {} : { rateLimits: options.rateLimits }) });
  let roboflow;
  try {
    roboflow = await startEmulator({ api: "roboflow", port: port === undefined ? undefined : port + 1, ...common });
  } catch (error) {
    await anyformat.close();
    throw error;
  }
  const faultList = Object.entries(faults).filter(([, rate]) => rate !== undefined && rate > 0);

  const data = {
    anyformat: { url: anyformat.url, api_key: ANYFORMAT_EMULATOR_KEY },
    roboflow: {
      url: roboflow.url,
      deployments_url: roboflow.deploymentsUrl,
      inference_url: roboflow.inferenceUrl,
      api_key: ROBOFLOW_EMULATOR_KEY,
      workspace: ROBOFLOW_EMULATOR_WORKSPACE,
    },
    faults: Object.fromEntries(faultList),
    seed: options.seed ?? 1,
    rate_limits: options.rateLimits ?? { submission: 60, general: 600, windowMs: 60_000 },
  };
  if (options.output.json) {
    // One line, so a script can read the URLs as soon as they are printed.
    options.output.stdout(JSON.stringify(data));
  } else {
    options.output.stdout(
      [
        "faultline emulators are running (Ctrl-C to stop)",
        "",
        `anyformat  ${anyformat.url}  key ${ANYFORMAT_EMULATOR_KEY}`,
        `roboflow   ${roboflow.url}  key ${ROBOFLOW_EMULATOR_KEY}  workspace ${ROBOFLOW_EMULATOR_WORKSPACE}`,
        `           deployments ${roboflow.deploymentsUrl}  inference ${roboflow.inferenceUrl}`,
        faultList.length === 0
          ? "no faults injected (--faults NAME=RATE,... injects them)"
          : `faults     ${faultList.map(([name, rate]) => `${name} ${rate}`).join(", ")} (seed ${options.seed ?? 1})`,
        `limits     anyformat ${describeLimits(options.rateLimits)}`,
        "",
        // The deployments and inference URLs follow a base URL other than Roboflow's: no export of their own.
        "Point the CLI (or the clients) at them:",
        `  export ANYFORMAT_BASE_URL=${anyformat.url} ANYFORMAT_API_KEY=${ANYFORMAT_EMULATOR_KEY}`,
        `  export ROBOFLOW_BASE_URL=${roboflow.url} ROBOFLOW_API_KEY=${ROBOFLOW_EMULATOR_KEY} ROBOFLOW_WORKSPACE=${ROBOFLOW_EMULATOR_WORKSPACE}`,
      ].join("\n"),
    );
  }

  await stopped;
  await Promise.all([anyformat.close(), roboflow.close()]);
  if (!options.output.json) options.output.note("Emulators stopped.");
  return 0;
}

function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
}

function nextSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve(signal);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

function describeLimits(limits: EmulatorRateLimits | false | undefined): string {
  if (limits === false) return "none";
  const windowMs = limits?.windowMs ?? 60_000;
  const window = windowMs % 60_000 === 0 ? `${windowMs / 60_000} min` : windowMs % 1_000 === 0 ? `${windowMs / 1_000} s` : `${windowMs} ms`;
  return `submission ${limits?.submission ?? 60} and general ${limits?.general ?? 600} per ${window}`;
}
