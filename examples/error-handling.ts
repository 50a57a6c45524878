/**
 * Error handling: one `switch (err.code)` over any caught `FaultlineError`, the way application code
 * branches. `code` is typed with every code faultline can produce, so the cases autocomplete and a typo
 * does not compile; the fields of one class (a validation error's `issues`) are read after `instanceof`.
 * Each case below is provoked for real against the emulator.
 *
 *   npx tsx examples/error-handling.ts
 */
import { Anyformat, ApiError, FaultlineError, ValidationError } from "faultline";
import { ANYFORMAT_EMULATOR_KEY, startEmulator } from "faultline/testing";

const emulator = await startEmulator({ api: "anyformat", stepMs: 50, terminalForm: "422" });
const af = new Anyformat({ apiKey: ANYFORMAT_EMULATOR_KEY, baseUrl: emulator.url, maxRetries: 1, maxRetryAfter: 500 });

/** What an application would do with each failure. */
function explain(err: FaultlineError): string {
  switch (err.code) {
    case "VALIDATION_ERROR":
      if (err instanceof ValidationError) {
        return `fix the request: ${err.issues.map((i) => `${i.loc.join(".")}: ${i.msg}`).join("; ")}`;
      }
      return `fix the request: ${err.message}`;
    case "INVALID_JSON":
    case "BAD_REQUEST":
    case "INVALID_ARGUMENT":
      return `bad request: ${err.message}`;
    case "AUTH_FAILED":
    case "ACCESS_DENIED":
    case "MISSING_CREDENTIALS":
      return `credentials: ${err.message}${err instanceof ApiError ? ` (request ${err.requestId ?? "?"})` : ""}`;
    case "NOT_FOUND":
      return `not there: ${err.url ?? ""}`;
    case "CONFLICT":
    case "LOCKED":
      return `state forbids it: ${err.message}`;
    case "PAYMENT_REQUIRED":
      return `billing: ${err.message}`;
    case "PRECONDITION_FAILED":
      return `not ready yet, poll again (retryable: ${err.retryable})`;
    case "EXTRACTION_FAILED":
    case "EXTRACTION_CANCELLED":
      return `the extraction ended badly (${err.code}); resubmit or alert`;
    case "RATE_LIMITED":
      return `slow down: come back in ${err instanceof ApiError ? (err.retryAfterMs ?? "?") : "?"} ms`;
    case "INTERNAL_ERROR":
    case "GATEWAY_TIMEOUT":
    case "CIRCUIT_OPEN":
      return `server trouble after ${err.attempts} attempts${err instanceof ApiError ? `; quote ${err.requestId ?? "?"} / ${err.referenceId ?? "-"}` : ""}`;
    case "CONNECTION_ERROR":
    case "TIMEOUT":
      return `network trouble (${err.code}); retryable: ${err.retryable}`;
    case "ABORTED":
      return "we cancelled it ourselves";
    case "RESPONSE_VALIDATION":
    case "RESPONSE_TOO_LARGE":
      return `the answer was not what the API sends (${err.code}): is the base URL right?`;
    default:
      // An `HTTP_<status>` code: a status faultline has no class for.
      return `unexpected ${err.code}: ${err.message}`;
  }
}

async function attempt(label: string, call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
    console.log(`${label}: ok`);
  } catch (err) {
    if (!(err instanceof FaultlineError)) throw err;
    console.log(`${label}: ${err.name} -> ${explain(err)}`);
  }
}

try {
  await attempt("invalid workflow", () =>
    af.workflows.create({ name: "x", fields: [{ name: "f", description: "d", data_type: "colour" as "string" }] }),
  );
  await attempt("missing workflow", () => af.workflows.get("00000000-0000-0000-0000-000000000000"));
  await attempt("wrong key", () => new Anyformat({ apiKey: "wrong", baseUrl: emulator.url }).workflows.list());
  // maxRetries 1: two 500s in a row exhaust the call.
  emulator.inject("serverError", { count: 2 });
  await attempt("server down", () => af.workflows.list());
  const wf = await af.workflows.create({
    name: "Failing",
    fields: [{ name: "total", description: "d", data_type: "float" }],
  });
  const run = await af.workflows.run(wf.id, { text: "this document will FAIL" });
  await attempt("results while processing", () => af.results.get(wf.id, run.id));
  await attempt("a failed extraction", () => af.results.waitFor(wf.id, run.id, { pollInterval: 50 }));
  // Retry-After 1 s is over this client's maxRetryAfter (500 ms): thrown at once, for the caller to schedule.
  // The whole tier then waits that second out (the rate-limit governor), so this case comes last.
  emulator.inject("rateLimit");
  await attempt("rate limited for longer than we wait", () => af.workflows.list());
  await attempt("no key at all", () => new Anyformat({ apiKey: "", baseUrl: emulator.url }).workflows.list());
} finally {
  await af.close();
  await emulator.close();
}
