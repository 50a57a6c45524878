/**
 * The CLI as a function: argv and streams in, exit code out. `main.ts` wires it to the process;
 * keeping it separate lets the same code run in-process when that is ever wanted.
 */
import { Writable, type Readable } from "node:stream";
import { AbortedError } from "../core/errors.js";
import { parseInvocation, wantsJson, type Invocation } from "./args.js";
import type { CommandContext, Handler } from "./context.js";
import { Output, type ErrorContext, type Streams } from "./output.js";

export interface CliIo extends Streams {
  readonly stdin: Readable;
  readonly env: Readonly<Record<string, string | undefined>>;
  /**
   * Aborts when the user interrupts (Ctrl-C): calls and waits stop with `AbortedError` (exit 130, and with
   * `--json` one error line), the emulator and the demo stop cleanly.
   */
  readonly signal?: AbortSignal | undefined;
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  // Every key this process could know, masked from the start: even a usage error may echo argv.
  const secrets = [io.env["ANYFORMAT_API_KEY"], io.env["ROBOFLOW_API_KEY"], ...apiKeysIn(argv)];
  const output = new Output(wantsJson(argv), secrets, io);

  let invocation: Invocation;
  try {
    invocation = parseInvocation(argv);
  } catch (error) {
    return output.error(error);
  }

  switch (invocation.kind) {
    case "help":
      output.stdout(invocation.text);
      return 0;
    case "version": {
      // Loaded only here: the client (and undici with it) costs help and usage errors a tenth of a second.
      const { VERSION } = await import("../core/client.js");
      if (invocation.json) output.result({ data: { version: VERSION }, text: VERSION });
      else output.stdout(VERSION);
      return 0;
    }
    case "demo":
      try {
        const { runDemo } = await import("./demo.js");
        // The demo prints as it goes; its lines pass through the same masking as everything else.
        const stdout = new Writable({
          write(chunk: Buffer | string, _encoding, done) {
            output.stdout(chunk.toString().replace(/\n$/, ""));
            done();
          },
        });
        const summary = await runDemo({ stdout: invocation.json ? undefined : stdout, signal: io.signal });
        if (invocation.json) output.result({ data: summary, text: undefined });
        return 0;
      } catch (error) {
        return output.error(error);
      }
    case "emulator": {
      // The emulators' keys are public fixtures and the point of the listing: nothing to mask here.
      const plain = new Output(invocation.json, [], io);
      try {
        const { runEmulator } = await import("./emulator.js");
        return await runEmulator({
          port: invocation.port,
          faults: invocation.faults,
          seed: invocation.seed,
          rateLimits: invocation.rateLimits,
          output: plain,
          stopped: io.signal,
        });
      } catch (error) {
        return plain.error(error);
      }
    }
    case "api":
      return runApiCommand(invocation, io, output);
  }
}

async function runApiCommand(
  invocation: Extract<Invocation, { kind: "api" }>,
  io: CliIo,
  output: Output,
): Promise<number> {
  const { command } = invocation;
  const key = command.action === undefined ? command.resource : `${command.resource} ${command.action}`;
  // Each API's commands load only when used: a Roboflow call need not parse the anyformat client.
  let handlers: Readonly<Record<string, Handler>>;
  let notFoundHint: string;
  if (command.api === "anyformat") {
    const anyformat = await import("./anyformat.js");
    handlers = anyformat.ANYFORMAT_HANDLERS;
    notFoundHint = anyformat.anyformatNotFoundHint(command.resource);
  } else {
    const roboflow = await import("./roboflow.js");
    handlers = roboflow.ROBOFLOW_HANDLERS;
    notFoundHint = roboflow.roboflowNotFoundHint(command.resource, command.action, invocation.args);
  }
  const handler = handlers[key];
  const workspace = invocation.options.workspace ?? io.env["ROBOFLOW_WORKSPACE"];
  const context: ErrorContext = { api: command.api, notFoundHint, workspace: workspace === "" ? undefined : workspace };
  // The key in use came from --api-key or the environment, both already among the output's secrets.
  const ctx: CommandContext = {
    command,
    args: invocation.args,
    rest: invocation.rest,
    flags: invocation.flags,
    options: invocation.options,
    env: io.env,
    output,
    stdin: io.stdin,
    signal: io.signal,
  };
  try {
    if (handler === undefined) throw new Error(`No handler for '${command.api} ${key}'`);
    const rendered = await handler(ctx);
    output.result(rendered);
    return rendered.exitCode ?? 0;
  } catch (error) {
    return interrupted(error, io.signal) ?? output.error(error, context);
  }

  /** A call cut short by Ctrl-C or SIGTERM: said so in plain words, with the shell's exit code for it. */
  function interrupted(error: unknown, signal: AbortSignal | undefined): number | undefined {
    if (!(error instanceof AbortedError) || signal?.aborted !== true) return undefined;
    const reason = signal.reason === "SIGTERM" ? "SIGTERM" : "Ctrl-C";
    const shown = error.hint === undefined ? new AbortedError(`Interrupted (${reason})`, { cause: error }) : error;
    output.error(shown, context);
    return reason === "SIGTERM" ? 143 : 130;
  }
}

/** `--api-key KEY` and `--api-key=KEY` values, read raw so they are masked even when argv does not parse. */
function apiKeysIn(argv: readonly string[]): string[] {
  const keys: string[] = [];
  argv.forEach((arg, i) => {
    if (arg === "--api-key" && argv[i + 1] !== undefined) keys.push(argv[i + 1] as string);
    else if (arg.startsWith("--api-key=")) keys.push(arg.slice("--api-key=".length));
  });
  return keys;
}
