/**
 * `faultline emulator`: both emulators on loopback, for trying the CLI or an app without real keys.
 * Runs until SIGINT or SIGTERM, then closes both servers (cutting open connections) and exits 0.
 */
import type { Output } from "./output.js";

export interface EmulatorCommandOptions {
  /** anyformat listens on `port`, Roboflow on `port + 1`; absent or 0 picks free ports. */
  readonly port: number | undefined;
  readonly output: Output;
  /** Resolves when the emulators should stop; defaults to the first SIGINT or SIGTERM. */
  readonly stopped?: Promise<unknown> | undefined;
}

export async function runEmulator(options: EmulatorCommandOptions): Promise<number> {
  // Loaded here, not at the top: ordinary API commands should not pay for the emulators.
  const { startEmulator } = await import("../testing/server.js");
  const { ANYFORMAT_EMULATOR_KEY } = await import("../testing/anyformat/app.js");
  const { ROBOFLOW_EMULATOR_KEY, ROBOFLOW_EMULATOR_WORKSPACE } = await import("../testing/roboflow/app.js");

  // Listen for the stop signal before anything is printed: a script that reads the URLs and at once
  // sends SIGTERM can do so before the line after the print runs, and would kill the process outright.
  const stopped = options.stopped ?? nextSignal();
  const port = options.port === undefined || options.port === 0 ? undefined : options.port;
  const anyformat = await startEmulator({ api: "anyformat", port });
  let roboflow;
  try {
    roboflow = await startEmulator({ api: "roboflow", port: port === undefined ? undefined : port + 1 });
  } catch (error) {
    await anyformat.close();
    throw error;
  }

  const data = {
    anyformat: { url: anyformat.url, api_key: ANYFORMAT_EMULATOR_KEY },
    roboflow: {
      url: roboflow.url,
      deployments_url: roboflow.deploymentsUrl,
      api_key: ROBOFLOW_EMULATOR_KEY,
      workspace: ROBOFLOW_EMULATOR_WORKSPACE,
    },
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
        `           deployments ${roboflow.deploymentsUrl}`,
        "",
        "Point the CLI (or the clients) at them:",
        `  export ANYFORMAT_BASE_URL=${anyformat.url} ANYFORMAT_API_KEY=${ANYFORMAT_EMULATOR_KEY}`,
        `  export ROBOFLOW_BASE_URL=${roboflow.url} ROBOFLOW_DEPLOYMENTS_URL=${roboflow.deploymentsUrl} ROBOFLOW_API_KEY=${ROBOFLOW_EMULATOR_KEY} ROBOFLOW_WORKSPACE=${ROBOFLOW_EMULATOR_WORKSPACE}`,
      ].join("\n"),
    );
  }

  await stopped;
  await Promise.all([anyformat.close(), roboflow.close()]);
  if (!options.output.json) options.output.note("Emulators stopped.");
  return 0;
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
