import { performance } from "node:perf_hooks";
import { describe, expect, it } from "vitest";
import { Anyformat } from "../../src/anyformat/client.js";
import type { PollInfo } from "../../src/anyformat/resources/results.js";
import {
  AbortedError,
  ExtractionFailedError,
  InvalidArgumentError,
  NotFoundError,
  PreconditionFailedError,
  RateLimitedError,
  TimeoutError,
} from "../../src/core/errors.js";
import { ManualClock } from "../../src/testing/clock.js";
import { send, startServer } from "../helpers/server.js";
import { KEY, closeAfterTest, expectMasked, failure, invoiceWorkflow, setup, statuses } from "./support.js";

const INVOICE_TEXT = "Total Amount: 12.30\ninvoice_number: A-42\nÜnïcode: Grüße\n";

describe("af.results.get", () => {
  it("throws PreconditionFailedError at once while the run is processing, sending one request", async () => {
    const { emu, af } = await setup({}, { stepMs: 10_000 });
    const wf = await invoiceWorkflow(af);
    const run = await af.workflows.run(wf.id, { text: INVOICE_TEXT });
    const before = emu.requests.length;
    const error = await failure(af.results.get(wf.id, run.id));
    expect(error).toBeInstanceOf(PreconditionFailedError);
    const e = error as PreconditionFailedError;
    expect(e.status).toBe(412);
    expect(e.code).toBe("PRECONDITION_FAILED");
    expect(e.retryable).toBe(true);
    expect(e.detail).toBe("Extraction status is 'pending'. Results are available when status is 'processed'.");
    expect(e.attempts).toBe(1);
    expect(emu.requests.length - before).toBe(1);
    expect(emu.requests.at(-1)?.path).toBe(`/v2/workflows/${wf.id}/files/${run.id}/results/`);
    expectMasked(error);
  });

  it("gets the results of a processed run with the user's field names unchanged", async () => {
    const { emu, af } = await setup({}, { stepMs: 0 });
    const wf = await invoiceWorkflow(af);
    const run = await af.workflows.run(wf.id, { text: INVOICE_TEXT });
    const { data: results, status, attempts } = await af.results.get(wf.id, run.id).withResponse();
    expect(status).toBe(200);
    expect(attempts).toBe(1);
    expect(results.collection_id).toBe(run.id);
    expect(results.verification_url).toBe(`${emu.url}/verify/${run.id}`);
    expect(Object.keys(results.extraction ?? {})).toEqual(["Total Amount", "invoice_number", "Ünïcode"]);
    expect(results.extraction).toMatchObject({
      "Total Amount": { value: 12.3 },
      invoice_number: { value: "A-42" },
      "Ünïcode": { value: "Grüße" },
    });
  });

  it("throws ExtractionFailedError EXTRACTION_FAILED (422) for a failed run, at once", async () => {
    const { emu, af } = await setup({}, { stepMs: 0 });
    const wf = await invoiceWorkflow(af);
    const run = await af.workflows.run(wf.id, { text: "FAIL this" });
    const error = await failure(af.results.get(wf.id, run.id));
    expect(error).toBeInstanceOf(ExtractionFailedError);
    const e = error as ExtractionFailedError;
    expect(e.status).toBe(422);
    expect(e.code).toBe("EXTRACTION_FAILED");
    expect(e.retryable).toBe(false);
    expect(e.attempts).toBe(1);
    expect(statuses(emu)).toEqual([201, 202, 422]);
  });

  it("throws ExtractionFailedError EXTRACTION_CANCELLED (422) for a cancelled run", async () => {
    const { af } = await setup({}, { stepMs: 0 });
    const wf = await invoiceWorkflow(af);
    const run = await af.workflows.run(wf.id, { text: "CANCEL this" });
    const error = await failure(af.results.get(wf.id, run.id));
    expect(error).toBeInstanceOf(ExtractionFailedError);
    expect((error as ExtractionFailedError).code).toBe("EXTRACTION_CANCELLED");
  });

  it("throws PreconditionFailedError with retryable false for a failed run in the 412 form", async () => {
    const { af } = await setup({}, { stepMs: 0, terminalForm: "412" });
    const wf = await invoiceWorkflow(af);
    const run = await af.workflows.run(wf.id, { text: "FAIL" });
    const error = await failure(af.results.get(wf.id, run.id));
    expect(error).toBeInstanceOf(PreconditionFailedError);
    expect((error as PreconditionFailedError).retryable).toBe(false);
  });

  it("throws NotFoundError for an unknown collection, and for one of another workflow", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const other = await invoiceWorkflow(af, "Other");
    const run = await af.workflows.run(other.id, { text: "x" });
    const unknown = await failure(af.results.get(wf.id, "no-such-collection"));
    expect(unknown).toBeInstanceOf(NotFoundError);
    expect((unknown as NotFoundError).detail).toBe("File collection 'no-such-collection' not found.");
    expect(await failure(af.results.get(wf.id, run.id))).toBeInstanceOf(NotFoundError);
    expect(await failure(af.results.get("no-such-workflow", run.id))).toBeInstanceOf(NotFoundError);
    expect(statuses(emu).slice(3)).toEqual([404, 404, 404]);
  });
});

describe("af.results.waitFor", () => {
  it("polls through pending, queued and in_progress to the results, telling onPoll each time", async () => {
    // The run moves a step for each poll, by a clock of the test's own: no busy machine can skip a status.
    const clock = new ManualClock();
    const { emu, af } = await setup({}, { stepMs: 1_000, clock });
    const wf = await invoiceWorkflow(af);
    const run = await af.workflows.run(wf.id, { text: INVOICE_TEXT });
    const polls: PollInfo[] = [];
    const onPoll = (p: PollInfo): void => {
      polls.push(p);
      clock.advance(1_000);
    };
    const { data, attempts } = await af.results.waitFor(wf.id, run.id, { pollInterval: 10, maxPollInterval: 20, onPoll }).withResponse();
    expect(data.extraction?.["invoice_number"]).toMatchObject({ value: "A-42" });
    const resultCalls = emu.requests.filter((r) => r.path.endsWith("/results/"));
    expect(attempts).toBe(resultCalls.length);
    expect(polls.map((p) => p.attempt)).toEqual(resultCalls.map((_, i) => i + 1));
    const seen = [...new Set(polls.map((p) => p.status))];
    expect(seen).toEqual(["pending", "queued", "in_progress", "processed"]);
    expect(resultCalls.map((r) => r.status)).toEqual([...Array(resultCalls.length - 1).fill(412), 200]);
  });

  it("resolves at the first poll when the results are ready", async () => {
    const { emu, af } = await setup({}, { stepMs: 0 });
    const wf = await invoiceWorkflow(af);
    const run = await af.workflows.run(wf.id, { text: INVOICE_TEXT });
    const polls: PollInfo[] = [];
    await af.results.waitFor(wf.id, run.id, { onPoll: (p) => polls.push(p) });
    expect(polls).toEqual([{ status: "processed", attempt: 1 }]);
    expect(emu.requests).toHaveLength(3);
  });

  it("throws ExtractionFailedError for the terminal 412 form, after polling through the retryable 412s", async () => {
    const { emu, af } = await setup({}, { stepMs: 20, terminalForm: "412" });
    const wf = await invoiceWorkflow(af);
    const run = await af.workflows.run(wf.id, { text: "FAIL" });
    const error = await failure(af.results.waitFor(wf.id, run.id, { pollInterval: 10 }));
    expect(error).toBeInstanceOf(ExtractionFailedError);
    const e = error as ExtractionFailedError;
    expect(e.code).toBe("EXTRACTION_FAILED");
    expect(e.status).toBe(412);
    expect(e.retryable).toBe(false);
    expect(e.requestId).toMatch(/^[0-9a-f]{32}$/);
    const polls = emu.requests.filter((r) => r.path.endsWith("/results/"));
    expect(e.attempts).toBe(polls.length);
    expect(polls.length).toBeGreaterThanOrEqual(2);
    expectMasked(error);
  });

  it("throws ExtractionFailedError EXTRACTION_CANCELLED for a cancelled run in the 412 form", async () => {
    const { af } = await setup({}, { stepMs: 0, terminalForm: "412" });
    const wf = await invoiceWorkflow(af);
    const run = await af.workflows.run(wf.id, { text: "CANCEL" });
    const error = await failure(af.results.waitFor(wf.id, run.id, { pollInterval: 10 }));
    expect((error as ExtractionFailedError).code).toBe("EXTRACTION_CANCELLED");
  });

  it("throws ExtractionFailedError for the 422 form", async () => {
    const { af } = await setup({}, { stepMs: 10 });
    const wf = await invoiceWorkflow(af);
    const run = await af.workflows.run(wf.id, { text: "CANCEL" });
    const error = await failure(af.results.waitFor(wf.id, run.id, { pollInterval: 10 }));
    expect(error).toBeInstanceOf(ExtractionFailedError);
    expect((error as ExtractionFailedError).status).toBe(422);
    expect((error as ExtractionFailedError).code).toBe("EXTRACTION_CANCELLED");
  });

  it("throws NotFoundError at once for an unknown collection", async () => {
    const { emu, af } = await setup();
    const wf = await invoiceWorkflow(af);
    const error = await failure(af.results.waitFor(wf.id, "missing", { pollInterval: 10 }));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(emu.requests).toHaveLength(2);
  });

  it("retries a 429 met while polling and carries on", async () => {
    const { emu, af } = await setup({}, { stepMs: 20 });
    const wf = await invoiceWorkflow(af);
    const run = await af.workflows.run(wf.id, { text: INVOICE_TEXT });
    emu.inject("rateLimit", { path: /\/results\/$/ });
    const results = await af.results.waitFor(wf.id, run.id, { pollInterval: 10 });
    expect(results.collection_id).toBe(run.id);
    expect(statuses(emu)[2]).toBe(429);
  });

  it("throws RateLimitedError when a poll's 429s outlast the retries", async () => {
    const { emu, af } = await setup({ maxRetries: 1 }, { stepMs: 10_000 });
    const wf = await invoiceWorkflow(af);
    const run = await af.workflows.run(wf.id, { text: "x" });
    emu.inject("rateLimit", { path: /\/results\/$/, count: 2 });
    const error = await failure(af.results.waitFor(wf.id, run.id, { pollInterval: 10 }));
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(statuses(emu).slice(2)).toEqual([429, 429]);
  });

  it("throws TimeoutError past its waitTimeout, with the last 412 as its cause", async () => {
    const { emu, af } = await setup({}, { stepMs: 10_000 });
    const wf = await invoiceWorkflow(af);
    const run = await af.workflows.run(wf.id, { text: "x" });
    const started = Date.now();
    const error = await failure(af.results.waitFor(wf.id, run.id, { pollInterval: 20, waitTimeout: 150 }));
    const ms = Date.now() - started;
    expect(error).toBeInstanceOf(TimeoutError);
    const e = error as TimeoutError;
    expect(e.code).toBe("TIMEOUT");
    expect(e.message).toMatch(/; waitTimeout 150 ms\)$/);
    expect(e.cause).toBeInstanceOf(PreconditionFailedError);
    expect(e.hint).toMatch(/`waitTimeout`/);
    expect(e.attempts).toBe(emu.requests.length - 2);
    // Generous: a wait that ignored its timeout would run for the run's 10 s.
    expect(ms).toBeLessThan(3_000);
  });

  it("bounds the wait by the deadline as well as the waitTimeout", async () => {
    const { af } = await setup({}, { stepMs: 10_000 });
    const wf = await invoiceWorkflow(af);
    const run = await af.workflows.run(wf.id, { text: "x" });
    const started = Date.now();
    const error = await failure(af.results.waitFor(wf.id, run.id, { pollInterval: 20, waitTimeout: 60_000, deadline: 150 }));
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).message).toMatch(/; deadline 150 ms\)$/);
    expect((error as TimeoutError).hint).toMatch(/`deadline`/);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it("is bounded by the client's deadline", async () => {
    const { af } = await setup({ deadline: 150 }, { stepMs: 10_000 });
    const wf = await invoiceWorkflow(af);
    const run = await af.workflows.run(wf.id, { text: "x" });
    const started = Date.now();
    expect(await failure(af.results.waitFor(wf.id, run.id, { pollInterval: 20 }))).toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it("throws AbortedError promptly when its signal aborts between polls", async () => {
    const { emu, af } = await setup({}, { stepMs: 10_000 });
    const wf = await invoiceWorkflow(af);
    const run = await af.workflows.run(wf.id, { text: "x" });
    const controller = new AbortController();
    const pending = failure(af.results.waitFor(wf.id, run.id, { pollInterval: 5_000, signal: controller.signal }));
    await new Promise((r) => setTimeout(r, 50));
    const aborted = Date.now();
    controller.abort();
    const error = await pending;
    expect(error).toBeInstanceOf(AbortedError);
    expect((error as AbortedError).code).toBe("ABORTED");
    expect((error as AbortedError).attempts).toBe(1);
    // Well before the 5 s wait would have ended (a loose bound: busy machines are slow, never that slow).
    expect(Date.now() - aborted).toBeLessThan(2_500);
    expect(emu.requests).toHaveLength(3);
  });

  it("throws AbortedError promptly when its signal aborts during a poll", async () => {
    const { emu, af } = await setup({}, { stepMs: 10_000, slowHeadersMs: 5_000 });
    const wf = await invoiceWorkflow(af);
    const run = await af.workflows.run(wf.id, { text: "x" });
    emu.inject("slowHeaders", { path: /\/results\/$/ });
    const controller = new AbortController();
    const pending = failure(af.results.waitFor(wf.id, run.id, { pollInterval: 10, signal: controller.signal }));
    await new Promise((r) => setTimeout(r, 50));
    const aborted = Date.now();
    controller.abort();
    expect(await pending).toBeInstanceOf(AbortedError);
    expect(Date.now() - aborted).toBeLessThan(2_500);
  });

  it("sends nothing when its signal has already aborted", async () => {
    const { emu, af } = await setup();
    const error = await failure(af.results.waitFor("wf", "c", { signal: AbortSignal.abort() }));
    expect(error).toBeInstanceOf(AbortedError);
    expect(emu.requests).toHaveLength(0);
  });

  it("honours a Retry-After sent with a 412", async () => {
    // The emulator sends no Retry-After on a 412; a loopback server stands in for an API that does.
    const arrivals: number[] = [];
    const server = await startServer((req, res) => {
      arrivals.push(performance.now());
      if (arrivals.length === 1) {
        return send(res, {
          status: 412,
          headers: { "content-type": "application/json", "retry-after": "0.3" },
          body: JSON.stringify({ error: "Results not ready", detail: "Extraction status is 'queued'.", error_code: "PRECONDITION_FAILED", retryable: true }),
        });
      }
      send(res, { status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify({ collection_id: "c1", extraction: { "Total Amount": { value: 1 } } }) });
    });
    closeAfterTest(() => server.close());
    const af = new Anyformat({ apiKey: KEY, baseUrl: server.url });
    closeAfterTest(() => af.close());
    const polls: PollInfo[] = [];
    const results = await af.results.waitFor("wf", "c1", { pollInterval: 10, onPoll: (p) => polls.push(p) });
    expect(results.extraction).toEqual({ "Total Amount": { value: 1 } });
    expect(arrivals).toHaveLength(2);
    expect((arrivals[1] ?? 0) - (arrivals[0] ?? 0)).toBeGreaterThanOrEqual(290);
    expect(polls.map((p) => `${p.attempt}:${p.status}`)).toEqual(["1:queued", "2:processed"]);
    expect(polls[0]?.error?.retryAfterMs).toBe(300);
  });

  it("gives up with TimeoutError at once when a 412's Retry-After reaches past the waitTimeout", async () => {
    const server = await startServer((_req, res) =>
      send(res, {
        status: 412,
        headers: { "content-type": "application/json", "retry-after": "30" },
        body: JSON.stringify({ error: "Results not ready", error_code: "PRECONDITION_FAILED", retryable: true }),
      }),
    );
    closeAfterTest(() => server.close());
    const af = new Anyformat({ apiKey: KEY, baseUrl: server.url });
    closeAfterTest(() => af.close());
    const started = Date.now();
    const error = await failure(af.results.waitFor("wf", "c1", { pollInterval: 10, waitTimeout: 5_000 }));
    expect(error).toBeInstanceOf(TimeoutError);
    // At once, rather than after the 30 s the server asked for.
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(server.requests).toHaveLength(1);
  });

  it("polls until its waitTimeout is really spent, its last sleep shortened to fit one more poll", async () => {
    // Issue 11.12: with polls 1 s apart, an 800 ms wait used to give up after its first poll, in a few ms.
    const arrivals: number[] = [];
    const server = await startServer((_req, res) => {
      arrivals.push(performance.now());
      send(res, {
        status: 412,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ error: "Results not ready", detail: "Extraction status is 'queued'.", error_code: "PRECONDITION_FAILED", retryable: true }),
      });
    });
    closeAfterTest(() => server.close());
    const af = new Anyformat({ apiKey: KEY, baseUrl: server.url });
    closeAfterTest(() => af.close());
    const started = performance.now();
    const error = await failure(af.results.waitFor("wf", "c1", { waitTimeout: 800 }));
    const waited = performance.now() - started;

    expect(error).toBeInstanceOf(TimeoutError);
    const e = error as TimeoutError;
    const said = /^The results of collection c1 were not ready after (\d+) ms \(2 polls; waitTimeout 800 ms\)$/.exec(e.message);
    expect(said, e.message).not.toBeNull();
    expect(arrivals).toHaveLength(2);
    // The second poll went out near the end of the wait: not a second after the first, nor never.
    expect((arrivals[1] ?? 0) - (arrivals[0] ?? 0)).toBeGreaterThanOrEqual(600);
    expect(waited).toBeGreaterThanOrEqual(600);
    expect(Number(said?.[1])).toBeGreaterThanOrEqual(600);
    expect(e.attempts).toBe(2);
    expect(e.cause).toBeInstanceOf(PreconditionFailedError);
    expect(e.retryable).toBe(true);
  });

  it("takes `timeout` as each request's own limit, not the wait's", async () => {
    const server = await startServer((_req, res) => {
      setTimeout(() => send(res, { status: 200, headers: { "content-type": "application/json" }, body: '{"collection_id":"c1"}' }), 400);
    });
    closeAfterTest(() => server.close());
    const af = new Anyformat({ apiKey: KEY, baseUrl: server.url, maxRetries: 0 });
    closeAfterTest(() => af.close());
    const error = await failure(af.results.waitFor("wf", "c1", { timeout: 100, waitTimeout: 30_000 }));
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).message).toMatch(/got no complete response within 100 ms$/);
    expect(server.requests).toHaveLength(1);
    // `requestTimeout`, its deprecated name, means the same.
    const again = await failure(af.results.waitFor("wf", "c1", { requestTimeout: 100, waitTimeout: 30_000 }));
    expect((again as TimeoutError).message).toMatch(/got no complete response within 100 ms$/);
  });

  it("refuses `timeout` and its deprecated name `requestTimeout` together, before any request", async () => {
    const { emu, af } = await setup();
    const error = await failure(af.results.waitFor("wf", "c1", { timeout: 1_000, requestTimeout: 2_000 }));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).message).toBe("Pass `timeout` only: `requestTimeout` is its deprecated name");
    expect(emu.requests).toHaveLength(0);
  });

  it.each([
    ["waitTimeout", { waitTimeout: -1 }, "Invalid option waitTimeout: expected a positive, finite number of milliseconds, got -1"],
    ["waitTimeout", { waitTimeout: 0 }, "Invalid option waitTimeout: expected a positive, finite number of milliseconds, got 0"],
    ["waitTimeout", { waitTimeout: Number.NaN }, "Invalid option waitTimeout: expected a positive, finite number of milliseconds, got NaN"],
    ["pollInterval", { pollInterval: Infinity }, "Invalid option pollInterval: expected 0 or a positive, finite number of milliseconds, got Infinity"],
    ["maxPollInterval", { maxPollInterval: "5s" as never }, 'Invalid option maxPollInterval: expected 0 or a positive, finite number of milliseconds, got "5s"'],
    ["initialDelay", { initialDelay: -5 }, "Invalid option initialDelay: expected 0 or a positive, finite number of milliseconds, got -5"],
  ])("refuses a bad %s before any request", async (_name, options, message) => {
    const { emu, af } = await setup();
    const error = await failure(af.results.waitFor("wf", "c1", options));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).message).toBe(message);
    expect(emu.requests).toHaveLength(0);
  });

  it("ends with its own TimeoutError when the deadline runs out during a slow poll", async () => {
    const { emu, af } = await setup({ maxRetries: 0 }, { stepMs: 60_000, slowHeadersMs: 5_000 });
    const wf = await invoiceWorkflow(af);
    const run = await af.workflows.run(wf.id, { text: "x" });
    emu.inject("slowHeaders", { path: /\/results\/$/ });
    const started = performance.now();
    const error = await failure(af.results.waitFor(wf.id, run.id, { deadline: 300 }));
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).message).toMatch(/were not ready after \d+ ms \(1 poll; deadline 300 ms\)$/);
    expect((error as TimeoutError).cause).toBeInstanceOf(TimeoutError);
    // Cut at the deadline, not when the server's 5 s hold ended.
    expect(performance.now() - started).toBeLessThan(4_000);
  });
});
