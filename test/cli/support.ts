/**
 * Runs the built CLI (dist/cli.js) as a real process with the Node running the tests, so exit codes,
 * stream contents and process teardown are what a user's shell would see.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect } from "vitest";

export const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' first`);

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  /** Added to a clean environment (no ANYFORMAT_* or ROBOFLOW_* from the machine running the tests). */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Written to the CLI's stdin, which is then closed. */
  readonly stdin?: string | Uint8Array | undefined;
  readonly timeoutMs?: number | undefined;
  /** The CLI's current folder [the test's]. */
  readonly cwd?: string | undefined;
}

/** The test runner's environment without anything that could point the CLI at a real API. */
export function cleanEnv(extra: Readonly<Record<string, string | undefined>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(ANYFORMAT_|ROBOFLOW_|FAULTLINE_)/.test(name)) continue;
    env[name] = value;
  }
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

const running = new Set<ChildProcess>();

// After the file, not after each test: tests run concurrently, and one test's end must not kill another's CLI.
afterAll(() => {
  for (const child of running) child.kill("SIGKILL");
  running.clear();
});

/** Starts the CLI; the caller reads and ends it (the emulator command runs until signalled). */
export function startCli(args: readonly string[], options: CliOptions = {}): ChildProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: cleanEnv(options.env),
    stdio: ["pipe", "pipe", "pipe"],
    cwd: options.cwd,
  });
  running.add(child);
  child.on("exit", () => running.delete(child));
  return child;
}

/**
 * Runs the CLI to the end. Asynchronous on purpose: the emulators live in this process, and a
 * synchronous spawn would block the event loop they answer from.
 */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const child = startCli(args, options);
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  child.stdin?.on("error", () => undefined);
  child.stdin?.end(options.stdin);
  const timeoutMs = options.timeoutMs ?? 15_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`faultline ${args.join(" ")} did not end within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** The two output modes every failure is checked in. */
export const MODES = [
  { name: "text", flags: [] as string[] },
  { name: "JSON", flags: ["--json"] },
] as const;

export type Mode = (typeof MODES)[number];

const ERROR_KEYS = new Set(["message", "hint", "code", "status", "request_id", "retryable"]);

export interface ExpectedFailure {
  readonly exit: 1 | 2 | 3;
  /** The error's `code` (checked in JSON mode). */
  readonly code: string;
  readonly status?: number | undefined;
  /** Text the hint must contain. */
  readonly hint?: string | RegExp | undefined;
  /** Text the message must contain. */
  readonly message?: string | RegExp | undefined;
  /** Keys that must not appear anywhere in the output. */
  readonly secrets?: readonly string[] | undefined;
}

export interface ParsedError {
  readonly message: string;
  readonly hint?: string;
  readonly code: string;
  readonly status?: number;
  readonly request_id?: string;
  readonly retryable: boolean;
}

/**
 * Checks a failed run as a script would: the exit code, stdout empty, and stderr either the text form
 * (`Error: ...`, `Hint: ...`) or exactly one JSON line holding only the documented keys.
 */
export function expectFailure(result: CliResult, mode: Mode, expected: ExpectedFailure): ParsedError {
  const context = `stdout: ${result.stdout}\nstderr: ${result.stderr}`;
  expect(result.code, context).toBe(expected.exit);
  expect(result.stdout, context).toBe("");
  for (const secret of expected.secrets ?? []) {
    expect(result.stderr).not.toContain(secret);
  }
  if (mode.name === "JSON") {
    const lines = result.stderr.split("\n").filter((line) => line !== "");
    expect(lines, context).toHaveLength(1);
    const parsed = JSON.parse(lines[0] ?? "") as { error: ParsedError };
    expect(Object.keys(parsed)).toEqual(["error"]);
    const error = parsed.error;
    for (const key of Object.keys(error)) expect(ERROR_KEYS, `unexpected key ${key}`).toContain(key);
    expect(typeof error.message).toBe("string");
    expect(error.message.length).toBeGreaterThan(0);
    expect(typeof error.retryable).toBe("boolean");
    expect(error.code).toBe(expected.code);
    if (expected.status !== undefined) expect(error.status).toBe(expected.status);
    else expect(error.status).toBeUndefined();
    if (expected.hint !== undefined) expect(error.hint).toMatch(expected.hint);
    if (expected.message !== undefined) expect(error.message).toMatch(expected.message);
    return error;
  }
  const lines = result.stderr.split("\n").filter((line) => line !== "");
  expect(lines[0], context).toMatch(/^Error: ./);
  const message = (lines[0] ?? "").slice("Error: ".length);
  const hintLine = lines.find((line) => line.startsWith("Hint: "));
  if (expected.hint !== undefined) expect(hintLine, context).toMatch(expected.hint);
  if (expected.message !== undefined) expect(message).toMatch(expected.message);
  const hint = hintLine?.slice("Hint: ".length);
  return { message, code: expected.code, retryable: false, ...(hint === undefined ? {} : { hint }) };
}

/** Checks a successful run: exit 0 and, with `--json`, stdout that parses. Returns the parsed JSON if any. */
export function expectSuccess(result: CliResult, mode: Mode, secrets: readonly string[] = []): unknown {
  const context = `stdout: ${result.stdout}\nstderr: ${result.stderr}`;
  expect(result.code, context).toBe(0);
  for (const secret of secrets) {
    expect(result.stdout).not.toContain(secret);
    expect(result.stderr).not.toContain(secret);
  }
  // stderr is not a terminal here, so waits and retries stay quiet.
  expect(result.stderr, context).toBe("");
  if (mode.name === "JSON") return JSON.parse(result.stdout) as unknown;
  expect(result.stdout.trim().length, context).toBeGreaterThan(0);
  return undefined;
}

/** A loopback port that nothing listens on: connecting to it is refused. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}


export interface TerminalResult {
  readonly code: number | null;
  /** What the CLI wrote on stdout, a pipe as in `faultline ... > out.json`. */
  readonly stdout: string;
  /** What it wrote on stderr, which was a terminal. */
  readonly terminal: string;
}

/**
 * Runs the CLI with stderr on a pseudo-terminal (made by `script`) and stdout to a file, the way a
 * person runs `faultline ... --wait > out.json` in a shell.
 */
export async function runCliInTerminal(args: readonly string[], options: CliOptions = {}): Promise<TerminalResult> {
  const dir = await mkdtemp(join(tmpdir(), "faultline-cli-"));
  const out = join(dir, "stdout");
  try {
    const command = `exec ${[process.execPath, CLI, ...args].map(shellQuote).join(" ")} > ${shellQuote(out)}`;
    const child = spawn("script", ["-qec", command, "/dev/null"], {
      env: cleanEnv(options.env),
      stdio: ["ignore", "pipe", "pipe"],
    });
    running.add(child);
    let terminal = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (terminal += chunk));
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (terminal += chunk));
    const timeoutMs = options.timeoutMs ?? 15_000;
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`faultline ${args.join(" ")} did not end within ${timeoutMs} ms\nterminal: ${terminal}`));
      }, timeoutMs);
      child.on("error", reject);
      child.on("close", (exit) => {
        clearTimeout(timer);
        running.delete(child);
        resolve(exit);
      });
    });
    return { code, stdout: await readFile(out, "utf8"), terminal };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** One request a stub server saw. */
export interface StubRequest {
  readonly method: string;
  readonly url: string;
}

export interface StubServer {
  readonly url: string;
  readonly requests: readonly StubRequest[];
  close(): Promise<void>;
}

/**
 * A loopback server that answers every request with one fixed response: for what the emulators never
 * send (anyformat's 403 for a key it knows, a 409, a 2xx the client cannot read).
 */
export async function stubServer(
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): Promise<StubServer> {
  const requests: StubRequest[] = [];
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const type = typeof body === "string" ? "text/html" : "application/json";
  const server = createHttpServer((req, res) => {
    requests.push({ method: req.method ?? "GET", url: req.url ?? "/" });
    req.resume();
    req.on("end", () => {
      res.writeHead(status, { "content-type": type, ...headers });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Resolves once `condition` holds, checking every 10 ms; rejects after `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A clock the test moves by hand, for emulators whose runs and exports must still be going at first. */
export class TestClock {
  #now = Date.now();
  readonly now = (): number => this.#now;
  advance(ms: number): void {
    this.#now += ms;
  }
}

/** What a process started with `startCli` ended with, once it closed. */
export interface Finished {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Collects a started process's output until it closes. */
export function finished(child: ChildProcess): Promise<Finished> {
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr?.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  return new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
}

/** Servers and folders a test file opens, closed and removed once all its tests have run. */
export function releasedAfterAll(): { readonly open: Array<{ close(): Promise<void> }>; readonly dirs: string[] } {
  const open: Array<{ close(): Promise<void> }> = [];
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(open.splice(0).map((server) => server.close()));
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });
  return { open, dirs };
}
