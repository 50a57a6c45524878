import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { Readable, Writable } from "node:stream";
import { inspect } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AbortedError,
  AccessDeniedError,
  Anyformat,
  ApiError,
  AuthFailedError,
  BadRequestError,
  ConflictError,
  ConnectionError,
  CredentialsError,
  ExtractionFailedError,
  FaultlineError,
  GatewayTimeoutError,
  InvalidArgumentError,
  InvalidJsonError,
  LockedError,
  NotFoundError,
  PreconditionFailedError,
  RateLimitedError,
  ResponseValidationError,
  Roboflow,
  ServerError,
  TimeoutError,
  ValidationError,
  type Logger,
  type RetryInfo,
} from "../../src/index.js";
import { runCli } from "../../src/cli/cli.js";
import { ERROR_BODY_CAP } from "../../src/core/transport.js";
import { FAULT_NAMES, startEmulator, type FaultName } from "../../src/testing/index.js";
import { runPool, SOAK } from "./support.js";

/**
 * A canary key goes through every fault of the emulators and every error class, against a server that
 * echoes the key back everywhere it can (bodies, headers, HTML pages, request ids, the URL). It must
 * never come out: not in a message, stack, `toJSON()`, `String(err)`, what `console.log(err)` prints,
 * a log line, an `onRetry` error, or anything the CLI prints.
 */

const CANARY = "sk-c4n4ry-9f8e7d6c5b4a3921";
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CLI = `${ROOT}dist/cli.js`;

/** Every stretch of 12 characters of the canary: a key cut in half at a buffer edge still counts. */
const FRAGMENTS = Array.from({ length: CANARY.length - 11 }, (_, i) => CANARY.slice(i, i + 12));

function findCanary(text: string): string | undefined {
  return FRAGMENTS.find((f) => text.includes(f));
}

/** Everything a person or a log pipeline could see of an error. */
function surfaces(error: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (error instanceof Error) {
    out["message"] = error.message;
    out["stack"] = error.stack ?? "";
  }
  out["String"] = String(error);
  out["inspect"] = inspect(error, { depth: 8 });
  if (error instanceof FaultlineError) {
    out["toJSON"] = JSON.stringify(error.toJSON());
    out["JSON.stringify"] = JSON.stringify(error);
    out["url"] = error.url ?? "";
  }
  if (error instanceof ApiError) {
    out["headers"] = JSON.stringify(error.headers);
    out["body"] = typeof error.body === "string" ? error.body : JSON.stringify(error.body) ?? "";
    out["fields"] = JSON.stringify([error.requestId, error.referenceId, error.type, error.hint, error.detail]);
  }
  return out;
}

function expectNoCanary(label: string, error: unknown): void {
  for (const [where, text] of Object.entries(surfaces(error))) {
    const found = findCanary(text);
    expect(found, `${label}: the key shows in ${where}: …${text.slice(Math.max(0, text.indexOf(found ?? "") - 60), text.indexOf(found ?? "") + 40)}…`).toBeUndefined();
  }
}

/** A logger that keeps every line and field it is given. */
function recordingLogger(): Logger & { readonly lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    debug(message, fields) {
      lines.push(`${message} ${JSON.stringify(fields ?? {})}`);
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// The echo server: one route per error class, each answer stuffed with the key the request carried.

interface EchoCase {
  /** The class the call must end in. */
  readonly expected: abstract new (...args: never[]) => FaultlineError;
  readonly status?: number;
}

const ECHO_CASES: Record<string, EchoCase> = {
  "bad-request": { expected: BadRequestError, status: 400 },
  validation: { expected: ValidationError, status: 400 },
  "invalid-json": { expected: InvalidJsonError, status: 400 },
  "auth-failed": { expected: AuthFailedError, status: 401 },
  "access-denied": { expected: AccessDeniedError, status: 403 },
  "not-found": { expected: NotFoundError, status: 404 },
  conflict: { expected: ConflictError, status: 409 },
  "precondition-failed": { expected: PreconditionFailedError, status: 412 },
  "extraction-failed": { expected: ExtractionFailedError, status: 422 },
  locked: { expected: LockedError, status: 423 },
  "rate-limited": { expected: RateLimitedError, status: 429 },
  "server-error": { expected: ServerError, status: 500 },
  "html-bad-gateway": { expected: ServerError, status: 502 },
  "gateway-timeout": { expected: GatewayTimeoutError, status: 504 },
  teapot: { expected: ApiError, status: 418 },
  "key-at-the-cap": { expected: ServerError, status: 500 },
  "bad-schema": { expected: ResponseValidationError, status: 200 },
  "not-json": { expected: ResponseValidationError, status: 200 },
  reset: { expected: ConnectionError },
  "cut-body": { expected: ConnectionError },
  stall: { expected: TimeoutError },
};

const CODES: Record<string, string> = {
  "bad-request": "BAD_REQUEST",
  validation: "VALIDATION_ERROR",
  "invalid-json": "INVALID_JSON",
  "auth-failed": "AUTH_FAILED",
  "access-denied": "ACCESS_DENIED",
  "not-found": "NOT_FOUND",
  conflict: "CONFLICT",
  "precondition-failed": "PRECONDITION_FAILED",
  "extraction-failed": "EXTRACTION_FAILED",
  locked: "LOCKED",
  "rate-limited": "RATE_LIMITED",
  "server-error": "INTERNAL_ERROR",
  "gateway-timeout": "GATEWAY_TIMEOUT",
  teapot: "I_AM_A_TEAPOT",
  "key-at-the-cap": "INTERNAL_ERROR",
};

let echo: Server;
let echoUrl: string;
const echoSockets = new Set<Socket>();

/** The key as the request carried it: the bearer token (anyformat) or the `api_key` parameter (Roboflow). */
function keyOf(req: IncomingMessage): string {
  const url = new URL(req.url ?? "/", "http://echo");
  return url.searchParams.get("api_key") ?? (req.headers.authorization ?? "").replace(/^Bearer /, "");
}

function echoAnswer(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  const key = keyOf(req);
  const url = req.url ?? "/";
  const name = Object.keys(ECHO_CASES).find((n) => url.includes(`/${n}`));
  const roboflow = !url.startsWith("/v2/");
  const c = name === undefined ? undefined : ECHO_CASES[name];
  if (name === undefined || c === undefined) {
    res.writeHead(404).end();
    return;
  }
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-request-id": `req-${key}`,
    "x-echo-key": key,
    "x-echo-url": `http://api.invalid${url}`,
    location: `https://api.invalid/login?api_key=${key}`,
    "www-authenticate": `Bearer realm="api", error="invalid_token", token="${key}"`,
    "set-cookie": `session=${key}; HttpOnly`,
    "retry-after": "3600",
  };
  if (name === "reset") {
    req.socket.destroy();
    return;
  }
  if (name === "stall") return;
  if (name === "cut-body") {
    res.writeHead(200, { ...headers, "content-length": "5000" });
    res.write(`{"id": "${key}", "name": "`);
    setImmediate(() => req.socket.destroy());
    return;
  }
  if (name === "html-bad-gateway") {
    res.writeHead(502, { ...headers, "content-type": "text/html" });
    res.end(`<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1><p>upstream GET ${url} (token ${key}) failed</p></body></html>`);
    return;
  }
  if (name === "not-json") {
    res.writeHead(200, { ...headers, "content-type": "text/plain" });
    res.end(`ok ${key} ${url}`);
    return;
  }
  if (name === "bad-schema") {
    res.writeHead(200, headers);
    res.end(JSON.stringify(roboflow ? { workspace: key, project: 42, versions: key } : { id: 42, name: { key }, fields: key, note: key }));
    return;
  }
  if (name === "key-at-the-cap") {
    // The key straddles the 64 KiB read cap: only its first half is read.
    const text = `${"x".repeat(ERROR_BODY_CAP - Math.floor(key.length / 2))}${key} and more after it`;
    res.writeHead(500, { ...headers, "content-type": "text/plain" });
    res.end(text);
    return;
  }
  const code = CODES[name]!;
  const words = `the key ${key} was used on ${url}`;
  const body = roboflow
    ? { error: { message: words, type: `Exception${key}`, hint: `Check ${key} at ${url}`, status: c.status }, hint: key, error_code: code }
    : {
        error: words,
        detail:
          name === "validation"
            ? [{ type: "value_error", loc: ["body", key], msg: `bad value ${key}`, input: key, ctx: { url } }]
            : `Detail: ${words}`,
        error_code: code,
        retryable: false,
        request_id: key,
        reference_id: `ref-${key}`,
        api_key: key,
        echo: { headers: req.headers, url },
      };
  res.writeHead(c.status ?? 500, headers);
  res.end(JSON.stringify(body));
}

beforeAll(async () => {
  echo = createServer(echoAnswer);
  echo.on("connection", (socket) => {
    echoSockets.add(socket);
    socket.on("close", () => echoSockets.delete(socket));
  });
  await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve));
  echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const socket of echoSockets) socket.destroy();
  await new Promise<void>((resolve) => echo.close(() => resolve()));
});

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => ({ resolved: value }),
    (error: unknown) => error,
  );
}

const CALL = { maxRetries: 1, timeout: 1_500, maxRetryAfter: 10 } as const;

describe.concurrent("a canary key", () => {
  it("never shows in any error class, log line or onRetry error from the anyformat client", async () => {
    const logger = recordingLogger();
    const retried: RetryInfo[] = [];
    // The cases run at once through one client: with the governor on, one case's 429 would hold the others.
    const af = new Anyformat({ apiKey: CANARY, baseUrl: echoUrl, logger, onRetry: (info) => retried.push(info), rateLimit: false });
    try {
      // All at once: the echo server tells the cases apart by path.
      const cases = Object.entries(ECHO_CASES);
      const errors = await Promise.all(cases.map(([name]) => failure(af.workflows.get(name, CALL))));
      for (const [i, [name, c]] of cases.entries()) {
        expect(errors[i], `GET ${name}`).toBeInstanceOf(c.expected);
        expectNoCanary(`anyformat ${name}`, errors[i]);
      }
      const aborted = new AbortController();
      const pending = failure(af.workflows.get("stall", { ...CALL, signal: aborted.signal }));
      setTimeout(() => aborted.abort(), 50);
      const abortError = await pending;
      expect(abortError).toBeInstanceOf(AbortedError);
      expectNoCanary("anyformat aborted", abortError);
      const deadlineError = await failure(af.workflows.get("stall", { ...CALL, deadline: 100 }));
      expect(deadlineError).toBeInstanceOf(TimeoutError);
      expectNoCanary("anyformat deadline", deadlineError);
      const refused = new Anyformat({ apiKey: CANARY, baseUrl: "http://127.0.0.1:1", logger, maxRetries: 0 });
      const refusedError = await failure(refused.workflows.get("x"));
      expect(refusedError).toBeInstanceOf(ConnectionError);
      expectNoCanary("anyformat refused", refusedError);
      await refused.close();
      const badArgument = await failure(af.workflows.run("wf", {} as never));
      expect(badArgument).toBeInstanceOf(InvalidArgumentError);
      expectNoCanary("anyformat bad argument", badArgument);
    } finally {
      await af.close();
    }
    expect(retried.length, "some calls were retried").toBeGreaterThan(0);
    for (const info of retried) expectNoCanary(`onRetry before attempt ${info.attempt}`, info.error);
    expect(logger.lines.length).toBeGreaterThan(0);
    expect(findCanary(logger.lines.join("\n")), "the key shows in a log line").toBeUndefined();
  });

  it("never shows in any error class or log line from the Roboflow client, where it travels in the URL", async () => {
    const logger = recordingLogger();
    const retried: RetryInfo[] = [];
    const rf = new Roboflow({ apiKey: CANARY, workspace: "canary-ws", baseUrl: echoUrl, logger, onRetry: (info) => retried.push(info), rateLimit: false });
    try {
      const cases = Object.entries(ECHO_CASES);
      const errors = await Promise.all(cases.map(([name]) => failure(rf.projects.get(name, CALL))));
      for (const [i, [name, c]] of cases.entries()) {
        expect(errors[i], `GET ${name}`).toBeInstanceOf(c.expected);
        expectNoCanary(`roboflow ${name}`, errors[i]);
      }
      const badFormat = await failure(rf.versions.export("proj", 1, "no-such-format" as never));
      expect(badFormat).toBeInstanceOf(InvalidArgumentError);
      expectNoCanary("roboflow bad format", badFormat);
      const noWorkspace = new Roboflow({ apiKey: CANARY, workspace: undefined, baseUrl: echoUrl, logger });
      const credentials = await failure(noWorkspace.projects.list());
      expect(credentials).toBeInstanceOf(CredentialsError);
      expectNoCanary("roboflow no workspace", credentials);
      await noWorkspace.close();
    } finally {
      await rf.close();
    }
    for (const info of retried) expectNoCanary(`onRetry before attempt ${info.attempt}`, info.error);
    expect(findCanary(logger.lines.join("\n")), "the key shows in a log line").toBeUndefined();
  });

  /**
   * What each emulator fault ends in. Every fault is queued for its own resource only, so a call that
   * stops early (a 423, or a 429 whose Retry-After is too long to wait) cannot leave a queued fault for
   * the next call to meet: the emulator's queue is first-in, first-out across all requests it matches.
   */
  const EXPECTED_BY_FAULT: Record<FaultName, abstract new (...args: never[]) => FaultlineError> = {
    rateLimit: RateLimitedError,
    serverError: ServerError,
    gatewayTimeout: GatewayTimeoutError,
    htmlBadGateway: ServerError,
    reset: ConnectionError,
    slowHeaders: TimeoutError,
    truncatedBody: ConnectionError,
    locked: LockedError,
    serviceUnavailable: ServerError,
    badGatewayAfterWrite: ServerError,
  };

  for (const api of ["anyformat", "roboflow"] as const) {
    it(`never shows through any fault of the ${api} emulator`, async () => {
      // The emulator takes the canary as its valid key, so the requests that reach its app are real ones.
      const emu = await startEmulator({ api, apiKey: CANARY, seed: 5, slowHeadersMs: 5_000, faultRetryAfterSeconds: 0.05 });
      const logger = recordingLogger();
      const retried: RetryInfo[] = [];
      const options = { apiKey: CANARY, baseUrl: emu.url, logger, maxRetries: 1, timeout: 1_500, maxRetryAfter: 100, onRetry: (info: RetryInfo) => retried.push(info) };
      const client = api === "anyformat" ? new Anyformat(options) : new Roboflow({ ...options, workspace: "canary-ws" });
      const outcomes: string[] = [];
      try {
        // One call per fault, all at once: each fault is queued for its own resource, so they cannot mix.
        const errors = await Promise.all(
          FAULT_NAMES.map((fault) => {
            const id = `canary-${fault}`;
            emu.inject(fault, { count: 2, path: api === "anyformat" ? `/v2/workflows/${id}/` : `/canary-ws/${id}` });
            return failure(client instanceof Anyformat ? client.workflows.get(id) : client.projects.get(id));
          }),
        );
        for (const [i, fault] of FAULT_NAMES.entries()) {
          const error = errors[i];
          outcomes.push(`${fault}: ${error instanceof FaultlineError ? error.name : "resolved"}`);
          expect(error, fault).toBeInstanceOf(EXPECTED_BY_FAULT[fault]);
          expectNoCanary(`${api} emulator ${fault}`, error);
        }
      } finally {
        await client.close();
        await emu.close();
      }
      console.log(`canary through the ${api} emulator's faults: ${outcomes.join(", ")}`);
      for (const fault of FAULT_NAMES) {
        const id = `canary-${fault}`;
        const hits = emu.requests.filter((e) => e.path.includes(id));
        expect(hits.length, `requests for ${id}`).toBeGreaterThan(0);
        expect(hits.every((e) => e.fault === fault), `${fault} reached every request for ${id}`).toBe(true);
      }
      for (const entry of emu.requests) expect(findCanary(JSON.stringify(entry)), "the emulator's request log").toBeUndefined();
      expect(retried.length, "some faults were retried").toBeGreaterThan(0);
      for (const info of retried) expectNoCanary(`${api} onRetry`, info.error);
      expect(findCanary(logger.lines.join("\n")), "the key shows in a log line").toBeUndefined();
    });
  }
});

// ---------------------------------------------------------------------------------------------------
// The CLI, spawned on the built dist/cli.js.

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const CLI_CASES = Object.keys(ECHO_CASES);

/**
 * Each spawned CLI run is a node process (~0.15 s of CPU). At full size every echo case runs through
 * both APIs in both output modes as a process; at CI size each case runs as a process once, the
 * (API, output mode) pairs taking turns, and the whole matrix runs in-process through `runCli` below.
 */
function cliCaseRuns(json: boolean, index: number, api: "anyformat" | "roboflow"): boolean {
  if (SOAK) return true;
  return (index % 2 === 0 ? "anyformat" : "roboflow") === api && (index >> 1) % 2 === (json ? 1 : 0);
}

/** Runs the CLI in this process, as `main.ts` does, with its streams captured. */
async function cliInProcess(args: string[], env: Record<string, string> = {}): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const sink = (write: (text: string) => void): Writable =>
    new Writable({
      write(chunk: Buffer | string, _encoding, done) {
        write(chunk.toString());
        done();
      },
    });
  const code = await runCli(args, {
    stdout: sink((t) => (stdout += t)),
    stderr: sink((t) => (stderr += t)),
    stdin: Readable.from([]),
    env,
  });
  return { code, stdout, stderr };
}

describe.concurrent("a canary key given to the CLI", () => {
  beforeAll(() => {
    expect(existsSync(CLI), "dist/cli.js is built by `npm test` (pretest)").toBe(true);
  });

  for (const json of [false, true]) {
    it(`never shows in its ${json ? "--json" : "text"} output, whatever the server answers, debug logging on`, async () => {
      const jobs = CLI_CASES.flatMap((name, i) => [
        ...(cliCaseRuns(json, i, "anyformat") ? [{ name, api: "anyformat", args: ["anyformat", "workflows", "get", name], env: {} }] : []),
        ...(cliCaseRuns(json, i, "roboflow")
          ? [{ name, api: "roboflow", args: ["roboflow", "project", "get", name], env: { ROBOFLOW_WORKSPACE: "canary-ws" } }]
          : []),
      ]);
      const runs: (Run & { name: string; api: string })[] = [];
      await runPool(jobs.length, 4, async (i) => {
        const job = jobs[i]!;
        const flags = [...(json ? ["--json"] : []), "--api-key", CANARY, "--base-url", echoUrl, "--max-retries", "1", "--timeout", "1000"];
        runs.push({ name: job.name, api: job.api, ...(await cli([...flags, ...job.args], { FAULTLINE_DEBUG: "1", ...job.env })) });
      });
      const exits: Record<string, number> = {};
      for (const run of runs) {
        const label = `faultline ${json ? "--json " : ""}${run.api} … get ${run.name} (exit ${run.code})`;
        exits[String(run.code)] = (exits[String(run.code)] ?? 0) + 1;
        expect(run.code, `${label}: the CLI failed as a failure should, not killed\n${run.stderr}`).not.toBeNull();
        expect(findCanary(run.stdout), `${label}: stdout\n${run.stdout}`).toBeUndefined();
        expect(findCanary(run.stderr), `${label}: stderr\n${run.stderr}`).toBeUndefined();
        expect(run.stderr.length, `${label}: says something on stderr`).toBeGreaterThan(0);
        if (json && run.code !== 0) {
          expect(run.stdout, `${label}: stdout stays empty on failure`).toBe("");
          const line = run.stderr.trim().split("\n").at(-1) ?? "";
          expect(() => JSON.parse(line) as unknown, `${label}: last stderr line is JSON`).not.toThrow();
        }
      }
      console.log(`canary through the CLI (${json ? "--json" : "text"}): ${runs.length} runs, exit codes ${JSON.stringify(exits)}`);
      expect(runs).toHaveLength(jobs.length);
      expect(exits["0"] ?? 0).toBe(0);
    }, 60_000);
  }

  it("never shows in its output run in-process, for every echo case, both APIs and both output modes", async () => {
    const jobs = CLI_CASES.flatMap((name) =>
      [false, true].flatMap((json) => [
        { name, json, api: "anyformat", args: ["anyformat", "workflows", "get", name], env: {} },
        { name, json, api: "roboflow", args: ["roboflow", "project", "get", name], env: { ROBOFLOW_WORKSPACE: "canary-ws" } },
      ]),
    );
    const runs: (Run & { label: string })[] = [];
    await runPool(jobs.length, 12, async (i) => {
      const job = jobs[i]!;
      const flags = [...(job.json ? ["--json"] : []), "--api-key", CANARY, "--base-url", echoUrl, "--max-retries", "1", "--timeout", "1000"];
      const run = await cliInProcess([...flags, ...job.args], job.env);
      runs.push({ label: `runCli ${job.json ? "--json " : ""}${job.api} … get ${job.name} (exit ${run.code})`, ...run });
    });
    expect(runs).toHaveLength(CLI_CASES.length * 4);
    for (const run of runs) {
      expect(run.code, run.label).not.toBe(0);
      expect(findCanary(run.stdout), `${run.label}: stdout\n${run.stdout}`).toBeUndefined();
      expect(findCanary(run.stderr), `${run.label}: stderr\n${run.stderr}`).toBeUndefined();
      expect(run.stderr.length, `${run.label}: says something on stderr`).toBeGreaterThan(0);
    }
  });

  it("never shows when the key comes from the environment, through every emulator fault", async () => {
    // One emulator per fault, so the faults run side by side without meeting each other's queue.
    const runs: Run[] = [];
    let faulted = 0;
    await runPool(FAULT_NAMES.length, 4, async (i) => {
      const fault = FAULT_NAMES[i]!;
      const emu = await startEmulator({ api: "anyformat", seed: 3, slowHeadersMs: 500, faultRetryAfterSeconds: 0.05 });
      try {
        emu.inject(fault, { count: 10 });
        const env = { ANYFORMAT_API_KEY: CANARY, FAULTLINE_DEBUG: "1" };
        // At CI size each fault meets one of the two commands (and output modes), alternating.
        if (SOAK || i % 2 === 0) runs.push(await cli(["--base-url", emu.url, "anyformat", "workflows", "get", "wf-1"], env));
        if (SOAK || i % 2 === 1) runs.push(await cli(["--json", "--base-url", emu.url, "anyformat", "workflows", "list"], env));
        if (emu.requests.some((e) => e.fault === fault)) faulted++;
      } finally {
        await emu.close();
      }
    });
    expect(runs).toHaveLength(FAULT_NAMES.length * (SOAK ? 2 : 1));
    for (const run of runs) {
      expect(findCanary(run.stdout + run.stderr), run.stdout + run.stderr).toBeUndefined();
      expect(run.code).not.toBeNull();
    }
    expect(faulted, "every fault reached a request").toBe(FAULT_NAMES.length);
  }, 60_000);
});
