/**
 * `faultline demo` (and `npm start`): a short story of calls failing well. It starts both embedded
 * emulators on loopback and walks through what faultline does for a user: retries it chose and why,
 * polls it waited through, and the typed errors a user catches. It always runs on the emulators: it
 * reads no key from the environment and sends nothing off the machine, whatever is set.
 */
import { Anyformat } from "../anyformat/client.js";
import type { RetryInfo } from "../core/retry.js";
import { ApiError, AuthFailedError, CircuitOpenError, FaultlineError, LockedError, NotFoundError } from "../core/errors.js";
import { Roboflow } from "../roboflow/client.js";
import { ANYFORMAT_EMULATOR_KEY, type AnyformatApp } from "../testing/anyformat/app.js";
import { ROBOFLOW_EMULATOR_KEY, ROBOFLOW_EMULATOR_WORKSPACE, type RoboflowApp } from "../testing/roboflow/app.js";
import { startEmulator, type Emulator } from "../testing/server.js";
import { runBatchChapter } from "./batch-demo.js";

export interface DemoIo {
  /** Where the story is told as it happens; without it, it is only summed up in what `runDemo` returns. */
  readonly stdout?: NodeJS.WritableStream | undefined;
  /** Stops the demo (Ctrl-C): the call under way ends with `AbortedError`, and the emulators close. */
  readonly signal?: AbortSignal | undefined;
}

/** One numbered step of the story and what it showed. */
export interface DemoStep {
  readonly step: number;
  readonly title: string;
  readonly lines: readonly string[];
}

/** What `faultline --json demo` prints. */
export interface DemoSummary {
  readonly emulators: { readonly anyformat: string; readonly roboflow: string };
  readonly steps: readonly DemoStep[];
  readonly seconds: number;
}

const INVOICE = `ACME Tools Ltd.
Invoice number: INV-2026-0042
Total: 1249.50
Currency: EUR
Due date: 2026-12-31`;

/** Tells the story, step by step, numbering the steps itself so the numbers never jump. */
class Story {
  readonly steps: Array<{ step: number; title: string; lines: string[] }> = [];
  readonly #out: NodeJS.WritableStream | undefined;

  constructor(out: NodeJS.WritableStream | undefined) {
    this.#out = out;
  }

  /** Starts the next step. */
  step(title: string): void {
    const step = this.steps.length + 1;
    this.steps.push({ step, title, lines: [] });
    this.#print("");
    this.#print(`${step}. ${title}`);
  }

  /** A line of the current step (or of the preamble, before the first). */
  say: Say = (line = "") => {
    this.steps.at(-1)?.lines.push(line.trim());
    this.#print(`     ${line}`);
  };

  /** A line outside any step: the title and the closing words. */
  print(line: string): void {
    this.#print(line);
  }

  #print(line: string): void {
    this.#out?.write(`${line}\n`);
  }
}

export async function runDemo(io: DemoIo = { stdout: process.stdout }): Promise<DemoSummary> {
  const started = Date.now();
  const story = new Story(io.stdout);
  const afEmu = await startEmulator({ api: "anyformat", stepMs: 250, faultRetryAfterSeconds: 1 });
  let rfEmu: Emulator<RoboflowApp>;
  try {
    rfEmu = await startEmulator({ api: "roboflow", exportMs: 1200 });
  } catch (error) {
    await afEmu.close();
    throw error;
  }
  const onRetry = (info: RetryInfo): void => story.say(`↻ ${describeRetry(info)}`);
  // The emulators listen on this machine's loopback, which no proxy in the environment can reach.
  const af = new Anyformat({ apiKey: ANYFORMAT_EMULATOR_KEY, baseUrl: afEmu.url, onRetry, signal: io.signal, proxy: false });
  const rf = new Roboflow({
    apiKey: ROBOFLOW_EMULATOR_KEY,
    workspace: ROBOFLOW_EMULATOR_WORKSPACE,
    baseUrl: rfEmu.url,
    deploymentsUrl: rfEmu.deploymentsUrl,
    onRetry,
    signal: io.signal,
    proxy: false,
  });

  try {
    story.print("faultline demo: calling two APIs that fail, and failing well (on the embedded emulators: no key, no network)");
    story.print(`  anyformat: emulator at ${afEmu.url}`);
    story.print(`  Roboflow:  emulator at ${rfEmu.url}`);
    await anyformatStory(af, afEmu, story);
    await batchStory(story, io.signal);
    await outageStory(afEmu, story);
    await roboflowStory(rf, rfEmu, story);
    const seconds = Math.round((Date.now() - started) / 100) / 10;
    story.print("");
    story.print(`Done in ${seconds.toFixed(1)} s. Every failure above was a typed error; nothing was retried that should not be.`);
    return { emulators: { anyformat: afEmu.url, roboflow: rfEmu.url }, steps: story.steps, seconds };
  } finally {
    await Promise.all([af.close(), rf.close()]);
    await Promise.all([afEmu.close(), rfEmu.close()]);
  }
}

type Say = (line?: string) => void;

async function anyformatStory(af: Anyformat, emu: Emulator<AnyformatApp>, story: Story): Promise<void> {
  const say = story.say;
  story.step("Create an anyformat workflow");
  const { data: workflow, requestId } = await af.workflows
    .create({
      name: "Invoices (faultline demo)",
      description: "What the demo extracts",
      fields: [
        { name: "Invoice number", description: "The invoice's number", data_type: "string" },
        { name: "Total", description: "Amount due", data_type: "float" },
        { name: "Currency", description: "ISO currency", data_type: "enum", enum_options: ["EUR", "USD", "GBP"] },
      ],
    })
    .withResponse();
  say(`created "${workflow.name}" (${workflow.id})${requestId ? `, request id ${requestId}` : ""}`);

  try {
    story.step("Extract a document: one call, af.workflows.extract(), through a rate limit and 412 polls");
    // One 429 on the submission, as a busy organisation would meet: faultline waits its Retry-After.
    emu.inject("rateLimit", { method: "POST", path: /\/run\/$/ });
    const results = await af.workflows.extract(workflow.id, { text: INVOICE }, {
      pollInterval: 200,
      onPoll: ({ status, attempt }) => {
        if (status !== "processed") say(`… poll ${attempt}: 412 PRECONDITION_FAILED, run ${status}: not ready, polling again`);
        else say(`✓ poll ${attempt}: results ready`);
      },
    });
    for (const [field, value] of Object.entries(results.extraction ?? {})) {
      const extracted = value as { value?: unknown; confidence?: number | null };
      say(`${field}: ${JSON.stringify(extracted.value)}${extracted.confidence == null ? "" : ` (confidence ${extracted.confidence})`}`);
    }

    story.step("A typed error, caught by class and by code");
    try {
      await af.workflows.get("00000000-0000-4000-8000-000000000000");
    } catch (error) {
      if (error instanceof NotFoundError) say(`instanceof NotFoundError: ${error.status} "${error.message}", request id ${error.requestId ?? "-"}`);
      if (error instanceof FaultlineError) say(`switch (err.code) → ${explain(error)}`);
    }

    story.step("A wrong key: what the user sees");
    const wrong = new Anyformat({ apiKey: "sk-demo-wrong-key-0123456789", baseUrl: af.baseUrl, proxy: false });
    try {
      await wrong.workflows.list();
    } catch (error) {
      if (!(error instanceof AuthFailedError)) throw error;
      say(`AuthFailedError ${error.status} ${error.code} after ${error.attempts} request (never retried)`);
      say(`message: ${error.message}`);
      const seen = [error.message, error.stack ?? "", String(error.url), JSON.stringify(error)].join(" ");
      say(`the key in its message, stack, url and toJSON(): ${seen.includes("sk-demo") ? "LEAKED" : "nowhere (masked as ***)"}`);
    } finally {
      await wrong.close();
    }
  } finally {
    await af.workflows.delete(workflow.id).catch(() => undefined);
  }
}

/** A dozen documents through a tight tier, interrupted and resumed: on an emulator of its own, so the tier is its. */
async function batchStory(story: Story, signal: AbortSignal | undefined): Promise<void> {
  story.step("A batch: a dozen invoices through a tight tier, interrupted and resumed from its journal");
  const emu = await startEmulator({ api: "anyformat", stepMs: 150, rateLimits: { submission: 4, general: 1_000, windowMs: 1_000 }, faultRetryAfterSeconds: 0.3 });
  try {
    signal?.throwIfAborted();
    await runBatchChapter(emu, story.say);
  } finally {
    await emu.close();
  }
}

/** The service goes down: calls fail, the circuit opens and spares it, and a probe finds it back. */
async function outageStory(emu: Emulator<AnyformatApp>, story: Story): Promise<void> {
  const say = story.say;
  story.step("An outage: the circuit opens, sends nothing while the service is down, and closes when it is back");
  // A smaller breaker than the default (10 failed calls in a row, 1 s before the first probe), to fit the demo.
  const af = new Anyformat({
    apiKey: ANYFORMAT_EMULATOR_KEY,
    baseUrl: emu.url,
    maxRetries: 1,
    circuitBreaker: { failureThreshold: 3, openMs: 500 },
    logLevel: "off",
  });
  const list = (): Promise<unknown> => af.webhooks.list().then(() => undefined, (error: unknown) => error);
  try {
    emu.outage({ status: 503 });
    say("the emulator answers every request with 503");
    const sentBefore = emu.requests.length;
    for (let call = 1; call <= 10 && af.circuitState().state === "closed"; call++) {
      const error = await list();
      if (error instanceof ApiError) say(`${error.name} ${error.status} after ${error.attempts} requests`);
    }
    const refused = await list();
    if (!(refused instanceof CircuitOpenError)) throw new Error("the circuit should have opened");
    say(`the circuit is open: CircuitOpenError, ${refused.attempts} requests sent, next probe in ${refused.retryAfterMs} ms`);
    emu.outage(false);
    say("the service is back; the next call after the probe time is the probe");
    await new Promise((resolve) => setTimeout(resolve, refused.retryAfterMs + 20));
    const probe = await list();
    say(probe === undefined ? `✓ the probe succeeded: the circuit is ${af.circuitState().state}` : `✗ the probe failed: ${String(probe)}`);
    say(`the service saw ${emu.requests.length - sentBefore} requests in all`);
  } finally {
    emu.outage(false);
    await af.close();
  }
}

async function roboflowStory(rf: Roboflow, emu: Emulator<RoboflowApp>, story: Story): Promise<void> {
  const say = story.say;
  story.step("A 423: the Roboflow workspace is locked for billing");
  emu.app.lock();
  try {
    await rf.projects.list();
  } catch (error) {
    if (!(error instanceof LockedError)) throw error;
    say(`LockedError ${error.status} ${error.code} after ${error.attempts} request (a 423 is never retried)`);
    say(`message: ${error.message}`);
    if (error.hint) say(`hint: ${error.hint}`);
  } finally {
    emu.app.unlock();
  }

  story.step("A Roboflow export that waits through 202s");
  const projects = await rf.projects.list();
  const project = projects[0];
  if (project === undefined) {
    say("(the workspace has no project to export)");
    return;
  }
  const detail = await rf.projects.get(project.id);
  const version = detail.versions[0];
  if (version === undefined) {
    say(`(${project.id} has no version to export)`);
    return;
  }
  const number = version.id.split("/").pop() ?? "1";
  const exported = await rf.versions.export(project.id, number, "coco", {
    wait: true,
    pollInterval: 300,
    onProgress: (progress) => say(`… 202 Accepted: export ${Math.round(progress * 100)} % prepared`),
  });
  say(`✓ ${project.id} v${number} as COCO: ${exported.link.replace(/([?&](api_key|key|signature|sig)=)[^&]+/gi, "$1…")}`);
}

function describeRetry({ attempt, delayMs, error }: RetryInfo): string {
  const why = error instanceof ApiError ? `${error.status} ${error.code}` : error.code;
  const hint = error instanceof ApiError && error.retryAfterMs !== undefined ? " (the server's Retry-After)" : " (backoff with jitter)";
  return `${why}: attempt ${attempt} in ${delayMs} ms${hint}`;
}

/** The `switch` a user writes over any caught `FaultlineError`: `code` autocompletes every code there is. */
function explain(error: FaultlineError): string {
  switch (error.code) {
    case "NOT_FOUND":
      return `case "NOT_FOUND": show "no such workflow" (retryable: ${error.retryable})`;
    case "RATE_LIMITED":
      return `case "RATE_LIMITED": come back in ${error instanceof ApiError ? (error.retryAfterMs ?? "?") : "?"} ms`;
    case "AUTH_FAILED":
    case "ACCESS_DENIED":
      return `case "${error.code}": ask for a new key`;
    default:
      return `default: ${error.code}`;
  }
}
