/**
 * `faultline/testing` held to its promise, written only against the package's public entry points,
 * as a user of the package would write it: every named fault gives its documented error when it
 * persists, and is recovered from when it is passing.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import {
  Anyformat,
  ConnectionError,
  FaultlineError,
  GatewayTimeoutError,
  LockedError,
  PreconditionFailedError,
  RateLimitedError,
  Roboflow,
  ServerError,
  TimeoutError,
  type RequestOptions,
} from "faultline";
import {
  ANYFORMAT_EMULATOR_KEY,
  FAULT_NAMES,
  ManualClock,
  ROBOFLOW_EMULATOR_KEY,
  ROBOFLOW_EMULATOR_WORKSPACE,
  startEmulator,
  type AnyformatApp,
  type Emulator,
  type FaultName,
  type FaultRates,
} from "faultline/testing";

/** Registers what to close once a test is over (the test context's `onTestFinished`: tests run concurrently). */
type Finally = (close: () => Promise<void>) => void;

/** How long a `slowHeaders` fault holds its answer, and the client timeout that gives up well before. */
const SLOW_HEADERS_MS = 2_000;
const SHORT_TIMEOUT = 200;

/** One API behind an emulator, seen through one cheap GET and one POST of its client. */
interface Subject {
  readonly emu: Emulator;
  read(options?: RequestOptions): Promise<unknown>;
  write(options?: RequestOptions): Promise<unknown>;
  /** How many things `write` has made on the server. */
  written(): number;
}

async function anyformat(
  onFinished: Finally,
  faults: FaultRates = {},
  seed = 1,
  slowHeadersMs = SLOW_HEADERS_MS,
): Promise<Subject> {
  const emu = await startEmulator({
    api: "anyformat",
    faults,
    seed,
    slowHeadersMs,
    faultRetryAfterSeconds: 0.05,
  });
  const af = new Anyformat({ apiKey: ANYFORMAT_EMULATOR_KEY, baseUrl: emu.url });
  onFinished(async () => {
    await af.close();
    await emu.close();
  });
  const fields = [{ name: "total", description: "The invoice total", data_type: "float" as const }];
  return {
    emu,
    read: (options) => af.workflows.list({}, options),
    write: (options) => af.workflows.create({ name: "Invoices", fields }, options),
    written: () => emu.app.workflows.size,
  };
}

async function roboflow(
  onFinished: Finally,
  faults: FaultRates = {},
  seed = 1,
  slowHeadersMs = SLOW_HEADERS_MS,
): Promise<Subject> {
  const emu = await startEmulator({
    api: "roboflow",
    faults,
    seed,
    slowHeadersMs,
    faultRetryAfterSeconds: 0.05,
  });
  const rf = new Roboflow({
    apiKey: ROBOFLOW_EMULATOR_KEY,
    workspace: ROBOFLOW_EMULATOR_WORKSPACE,
    baseUrl: emu.url,
    deploymentsUrl: emu.deploymentsUrl,
  });
  onFinished(async () => {
    await rf.close();
    await emu.close();
  });
  const before = emu.app.projects.size;
  return {
    emu,
    read: (options) => rf.projects.list(undefined, options),
    write: (options) => rf.projects.create({ name: "Bolts", type: "object-detection", annotation: "bolts" }, options),
    written: () => emu.app.projects.size - before,
  };
}

const APIS = { anyformat, roboflow } as const;

/** The error a call failed with; fails the test if the call succeeded. */
async function failure(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    () => expect.unreachable("the call should have failed"),
    (error: unknown) => error,
  );
}

/** What each fault does to a call when it persists, as the documentation promises. */
const DOCUMENTED: Record<FaultName, (error: unknown) => void> = {
  /** A RateLimitedError carrying the Retry-After. */
  rateLimit(error) {
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error).toMatchObject({ status: 429, code: "RATE_LIMITED", retryAfterMs: 50 });
  },
  /** A ServerError. */
  serverError(error) {
    expect(error).toBeInstanceOf(ServerError);
    expect(error).not.toBeInstanceOf(GatewayTimeoutError);
    expect(error).toMatchObject({ status: 500, code: "INTERNAL_ERROR", retryable: true });
  },
  /** A GatewayTimeoutError, which is a ServerError. */
  gatewayTimeout(error) {
    expect(error).toBeInstanceOf(GatewayTimeoutError);
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ status: 504 });
  },
  /** A ServerError with status 502 that keeps the HTML page as text. */
  htmlBadGateway(error) {
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ status: 502, code: "INTERNAL_ERROR" });
    const body = (error as ServerError).body;
    expect(typeof body).toBe("string");
    expect(body).toContain("<title>502 Bad Gateway</title>");
  },
  /** A ConnectionError. */
  reset(error) {
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).toMatchObject({ code: "CONNECTION_ERROR" });
  },
  /** A TimeoutError once the client's timeout runs out. */
  slowHeaders(error) {
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ code: "TIMEOUT" });
  },
  /** A ConnectionError, the body having been cut off mid-way. */
  truncatedBody(error) {
    expect(error).toBeInstanceOf(FaultlineError);
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).toMatchObject({ code: "CONNECTION_ERROR" });
  },
  /** A ServerError with status 503 carrying the Retry-After. */
  serviceUnavailable(error) {
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ status: 503, code: "INTERNAL_ERROR", retryable: true, retryAfterMs: 50 });
  },
  /** A ServerError with status 502 that keeps the HTML page, though the app acted on the request. */
  badGatewayAfterWrite(error) {
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ status: 502, code: "INTERNAL_ERROR", retryable: true });
    expect((error as ServerError).body).toContain("<title>502 Bad Gateway</title>");
  },
  /** A LockedError. */
  locked(error) {
    expect(error).toBeInstanceOf(LockedError);
    expect(error).toMatchObject({ status: 423, code: "LOCKED", retryable: false });
  },
};

/** Per-call options a fault needs: a client timeout short enough to give up on slow headers. */
function optionsFor(fault: FaultName): RequestOptions {
  return fault === "slowHeaders" ? { timeout: SHORT_TIMEOUT } : {};
}

/** The faults a retry gets past; `locked` is final. */
const PASSING = FAULT_NAMES.filter((fault) => fault !== "locked");

describe.each(Object.keys(APIS) as Array<keyof typeof APIS>)("the %s emulator", (api) => {
  const start = APIS[api];

  const persistent = "a persistent %s fault fails a call without retries with its documented error";
  test.concurrent.for(FAULT_NAMES)(persistent, async (fault, { onTestFinished }) => {
    const subject = await start(onTestFinished, { [fault]: 1 });
    const error = await failure(subject.read({ ...optionsFor(fault), maxRetries: 0 }));
    DOCUMENTED[fault](error);
    expect(error).toMatchObject({ attempts: 1 });
    // A held request is logged only once the emulator sees the client hang up, a moment after the timeout.
    await vi.waitFor(() => expect(subject.emu.requests.map((r) => r.fault)).toEqual([fault]));
  });

  test.concurrent.for(PASSING)("a call recovers from a single %s fault by retrying", async (fault, { onTestFinished }) => {
    const subject = await start(onTestFinished);
    subject.emu.inject(fault);
    const retried: unknown[] = [];
    await subject.read({ ...optionsFor(fault), onRetry: (info) => retried.push(info.error) });
    expect(subject.emu.requests.map((r) => r.fault)).toEqual([fault, undefined]);
    expect(subject.emu.requests.at(-1)?.status).toBe(200);
    // The retry was made for the documented error, which the call then got past.
    expect(retried).toHaveLength(1);
    DOCUMENTED[fault](retried[0]);
  });

  test.concurrent("a locked account is never retried, whatever maxRetries allows", async ({ onTestFinished }) => {
    const subject = await start(onTestFinished, { locked: 1 });
    const error = await failure(subject.read({ maxRetries: 5 }));
    DOCUMENTED.locked(error);
    expect(error).toMatchObject({ attempts: 1 });
    expect(subject.emu.requests).toHaveLength(1);
  });

  test.concurrent("a Retry-After longer than maxRetryAfter is thrown at once, not slept", async ({ onTestFinished }) => {
    const subject = await start(onTestFinished);
    subject.emu.inject("rateLimit");
    const error = await failure(subject.read({ maxRetryAfter: 10 }));
    DOCUMENTED.rateLimit(error);
    expect(error).toMatchObject({ attempts: 1 });
    expect(subject.emu.requests).toHaveLength(1);
  });

  test.concurrent("a server error that persists is retried maxRetries times, then thrown", async ({ onTestFinished }) => {
    const subject = await start(onTestFinished, { serverError: 1 });
    const error = await failure(subject.read({ maxRetries: 2 }));
    DOCUMENTED.serverError(error);
    expect(error).toMatchObject({ attempts: 3 });
    expect(subject.emu.requests.map((r) => r.fault)).toEqual(["serverError", "serverError", "serverError"]);
  });

  test.concurrent("a POST without an idempotencyKey is not retried after a reset: the server may have acted", async (context) => {
    const { onTestFinished } = context;
    const subject = await start(onTestFinished);
    subject.emu.inject("reset", { method: "POST" });
    const error = await failure(subject.write());
    DOCUMENTED.reset(error);
    expect(error).toMatchObject({ attempts: 1 });
    expect(subject.emu.requests.map((r) => r.fault)).toEqual(["reset"]);
    expect(subject.written()).toBe(1);
  });

  test.concurrent("a POST with an idempotencyKey is retried after a reset and made only once", async ({ onTestFinished }) => {
    const subject = await start(onTestFinished);
    subject.emu.inject("reset", { method: "POST" });
    await subject.write({ idempotencyKey: "bolts-1" });
    expect(subject.emu.requests.map((r) => [r.fault, r.replayed])).toEqual([
      ["reset", false],
      [undefined, true],
    ]);
    expect(subject.emu.requests.every((r) => r.headers["idempotency-key"] === "bolts-1")).toBe(true);
    expect(subject.written()).toBe(1);
  });

  test.concurrent("a POST without an idempotencyKey is not retried after a truncated answer", async ({ onTestFinished }) => {
    const subject = await start(onTestFinished);
    subject.emu.inject("truncatedBody", { method: "POST" });
    const error = await failure(subject.write());
    DOCUMENTED.truncatedBody(error);
    expect(error).toMatchObject({ attempts: 1 });
    expect(subject.written()).toBe(1);
  });

  test.concurrent("the same seed and rates give the same faults over 50 requests, another seed others", async (context) => {
    const { onTestFinished } = context;
    // Every fault at once; slow headers held only briefly so that 150 requests stay quick.
    const rates: FaultRates = Object.fromEntries(FAULT_NAMES.map((fault) => [fault, 0.075]));
    const run = async (seed: number): Promise<Array<FaultName | "outage" | undefined>> => {
      const subject = await start(onTestFinished, rates, seed, 10);
      for (let i = 0; i < 50; i++) await subject.read({ maxRetries: 0, timeout: 5_000 }).catch(() => undefined);
      expect(subject.emu.requests).toHaveLength(50);
      return subject.emu.requests.map((r) => r.fault);
    };
    const [first, again, other] = await Promise.all([run(42), run(42), run(43)]);
    expect(again).toEqual(first);
    expect(other).not.toEqual(first);
    // Over 50 requests at 75% in all, both faults and clean answers show up.
    expect(first.filter((f) => f !== undefined).length).toBeGreaterThan(10);
    expect(first.filter((f) => f === undefined).length).toBeGreaterThan(5);
  });
});

describe("the request log", () => {
  const SECRET = "sk-live-0123456789abcdef";

  test("masks the anyformat key in the Authorization header", async ({ onTestFinished }) => {
    const emu = await startEmulator({ api: "anyformat", apiKey: SECRET });
    const af = new Anyformat({ apiKey: SECRET, baseUrl: emu.url });
    onTestFinished(async () => {
      await af.close();
      await emu.close();
    });
    await af.workflows.list();
    expect(emu.requests).toHaveLength(1);
    expect(emu.requests[0]).toMatchObject({ method: "GET", path: "/v2/workflows/", status: 200, fault: undefined });
    expect(emu.requests[0]?.headers["authorization"]).toBe("Bearer ***");
    expect(JSON.stringify(emu.requests)).not.toContain(SECRET);
  });

  test("masks the Roboflow key in the api_key query parameter", async ({ onTestFinished }) => {
    const emu = await startEmulator({ api: "roboflow", apiKey: SECRET });
    const rf = new Roboflow({ apiKey: SECRET, workspace: ROBOFLOW_EMULATOR_WORKSPACE, baseUrl: emu.url });
    onTestFinished(async () => {
      await rf.close();
      await emu.close();
    });
    await rf.projects.list();
    expect(emu.requests).toHaveLength(1);
    expect(emu.requests[0]?.query).toBe("api_key=***");
    expect(JSON.stringify(emu.requests)).not.toContain(SECRET);
  });
});

describe("a ManualClock", () => {
  test("holds an anyformat run in progress, results answering 412, until the clock is advanced", async ({ onTestFinished }) => {
    const clock = new ManualClock();
    const emu = await startEmulator({ api: "anyformat", clock, stepMs: 1_000 });
    const af = new Anyformat({ apiKey: ANYFORMAT_EMULATOR_KEY, baseUrl: emu.url });
    onTestFinished(async () => {
      await af.close();
      await emu.close();
    });
    const workflow = await af.workflows.create({
      name: "Invoices",
      fields: [{ name: "total", description: "The invoice total", data_type: "float" }],
    });
    const run = await af.workflows.run(workflow.id, { text: "Invoice 7: total 12.50 EUR" });

    const pending = await failure(af.results.get(workflow.id, run.id));
    expect(pending).toBeInstanceOf(PreconditionFailedError);
    expect(pending).toMatchObject({ status: 412, retryable: true });
    clock.advance(2_999); // pending, queued, in progress: a step of 1 s each
    await expect(af.results.get(workflow.id, run.id)).rejects.toBeInstanceOf(PreconditionFailedError);

    clock.advance(1);
    const results = await af.results.get(workflow.id, run.id);
    expect(results.collection_id).toBe(run.id);
    expect(results.extraction).toHaveProperty("total");
    // Results were asked for three times and never retried by the client: a 412 is the caller's wait.
    expect(emu.requests.filter((r) => r.path.endsWith("/results/")).map((r) => r.status)).toEqual([412, 412, 200]);
  });
});

// The README's worked example, verbatim: testing one's own retry handling with faultline/testing.
describe("the README's worked example", () => {
  /** Yours: creates the workflow, safe to retry, and says so when anyformat is down instead of failing. */
  async function createInvoiceWorkflow(af: Anyformat, log: (line: string) => void): Promise<string | undefined> {
    try {
      const workflow = await af.workflows.create(
        { name: "Invoices", fields: [{ name: "total", description: "The invoice total", data_type: "float" }] },
        {
          idempotencyKey: "invoices-workflow-v1",
          onRetry: ({ attempt, error }) => log(`attempt ${attempt} after ${error.code}`),
        },
      );
      return workflow.id;
    } catch (error) {
      if (error instanceof ServerError || error instanceof ConnectionError) {
        log("anyformat is unavailable; try again later");
        return undefined;
      }
      throw error;
    }
  }

  let emu: Emulator<AnyformatApp>;
  let af: Anyformat;
  let lines: string[];

  beforeEach(async () => {
    emu = await startEmulator({ api: "anyformat", seed: 1 });
    af = new Anyformat({ apiKey: ANYFORMAT_EMULATOR_KEY, baseUrl: emu.url });
    lines = [];
  });

  afterEach(async () => {
    await af.close();
    await emu.close();
  });

  test("a dropped connection and a 500 are retried, and the workflow is created once", async () => {
    emu.inject("reset", { method: "POST" }); // the server creates it, but the answer is lost
    emu.inject("serverError", { method: "POST" }); // then the first retry meets a 500

    const id = await createInvoiceWorkflow(af, (line) => lines.push(line));

    expect(emu.requests.map((r) => r.fault)).toEqual(["reset", "serverError", undefined]);
    expect(lines).toEqual(["attempt 2 after CONNECTION_ERROR", "attempt 3 after INTERNAL_ERROR"]);
    expect([...emu.app.workflows.keys()]).toEqual([id]); // made once: the Idempotency-Key kept retries safe
  });

  test("an outage that outlasts the retries is reported, not thrown", async () => {
    emu.setFaults({ serverError: 1 });

    expect(await createInvoiceWorkflow(af, (line) => lines.push(line))).toBeUndefined();

    expect(emu.requests).toHaveLength(3); // the first attempt and 2 retries
    expect(lines.at(-1)).toBe("anyformat is unavailable; try again later");
  });

  test("a locked account is neither retried nor swallowed", async () => {
    emu.setFaults({ locked: 1 });

    await expect(createInvoiceWorkflow(af, (line) => lines.push(line))).rejects.toBeInstanceOf(LockedError);

    expect(emu.requests).toHaveLength(1);
    expect(lines).toEqual([]);
  });
});
