/**
 * The `faultline` executable (built to dist/cli.js; tsup adds the shebang). Wires `runCli` to the
 * process and makes sure a finished command ends with its exit code.
 */
import { NODE_HINT, UNSUPPORTED_NODE, unsupportedNode } from "../core/node-support.js";

// On a Node older than faultline supports, say so the CLI's way (one JSON line with --json) and stop,
// before anything that needs a newer Node is loaded: hence the dynamic import of the rest below.
const problem = unsupportedNode();
if (problem !== undefined) {
  const args = process.argv.slice(2);
  const json = args.slice(0, args.includes("--") ? args.indexOf("--") : undefined).includes("--json");
  process.stderr.write(
    json
      ? `${JSON.stringify({ error: { message: problem, hint: NODE_HINT, code: UNSUPPORTED_NODE, retryable: false } })}\n`
      : `Error: ${problem}\nHint: ${NODE_HINT}\n`,
  );
  process.exit(1);
}

// Node keeps the compiled code of what follows (in its temp directory, or NODE_COMPILE_CACHE; off with
// NODE_DISABLE_COMPILE_CACHE=1): a command's next run skips compiling the client (9 to 18 ms of a call, measured).
process.getBuiltinModule("node:module").enableCompileCache();

const { runCli } = await import("./cli.js");

// `faultline ... | head` closes stdout early: that is the reader's choice, not a failure to report.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw error;
});

// The first Ctrl-C (or SIGTERM) aborts the command, which ends as it would on any failure: an error line
// (one JSON line with --json) and exit 130, or for the emulator a clean stop. A second one does not wait.
const interrupt = new AbortController();
const onSignal = (signal: NodeJS.Signals): void => {
  if (interrupt.signal.aborted) process.exit(signal === "SIGINT" ? 130 : 143);
  interrupt.abort(signal);
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  // A getter: process.stdin builds its stream (and loads fs streams and readline) when first read, and only
  // commands that read a document from '-' need it.
  get stdin() {
    return process.stdin;
  },
  env: process.env,
  signal: interrupt.signal,
});
process.exitCode = code;
// Flush what was written, then exit: a stray handle (stdin left open, a socket lingering) must not
// keep a finished command alive.
await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
await new Promise<void>((resolve) => process.stderr.write("", () => resolve()));
process.exit(code);
