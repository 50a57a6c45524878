/**
 * `faultline demo` (and `npm start`): a short story of calls failing well. It starts both embedded
 * emulators on loopback and walks through what faultline does for a user: retries it chose and why,
 * polls it waited through, and the typed errors a user catches. With `ANYFORMAT_API_KEY` or
 * `ROBOFLOW_API_KEY` set, that API's part talks to the real service instead (and injects no faults).
 */
import { Anyformat } from "../anyformat/client.js";
import type { RetryInfo } from "../core/retry.js";
import { ApiError, AuthFailedError, LockedError, NotFoundError, type KnownApiError } from "../core/errors.js";
import { Roboflow } from "../roboflow/client.js";
import { ANYFORMAT_EMULATOR_KEY, type AnyformatApp } from "../testing/anyformat/app.js";
import { ROBOFLOW_EMULATOR_KEY, ROBOFLOW_EMULATOR_WORKSPACE, type RoboflowApp } from "../testing/roboflow/app.js";
import { startEmulator, type Emulator } from "../testing/server.js";

export interface DemoIo {
  readonly stdout: NodeJS.WritableStream;
  readonly env: Readonly<Record<string, string | undefined>>;
}

const INVOICE = `ACME Tools Ltd.
Invoice number: INV-2026-0042
Total: 1249.50
Currency: EUR
Due date: 2026-12-31`;

export async function runDemo(io: DemoIo = { stdout: process.stdout, env: process.env }): Promise<number> {
  const started = Date.now();
  const say = (line = ""): void => void io.stdout.write(`${line}\n`);
  const afKey = io.env["ANYFORMAT_API_KEY"];
  const rfKey = io.env["ROBOFLOW_API_KEY"];
  const afEmu = afKey ? undefined : await startEmulator({ api: "anyformat", stepMs: 250, faultRetryAfterSeconds: 1 });
  const rfEmu = rfKey ? undefined : await startEmulator({ api: "roboflow", exportMs: 1200 });
  const onRetry = (info: RetryInfo): void => say(`     ↻ ${describeRetry(info)}`);
  const af = new Anyformat({
    apiKey: afKey ?? ANYFORMAT_EMULATOR_KEY,
    baseUrl: afEmu?.url ?? io.env["ANYFORMAT_BASE_URL"],
    onRetry,
  });
  const rf = new Roboflow({
    apiKey: rfKey ?? ROBOFLOW_EMULATOR_KEY,
    workspace: rfKey ? io.env["ROBOFLOW_WORKSPACE"] : ROBOFLOW_EMULATOR_WORKSPACE,
    baseUrl: rfEmu?.url ?? io.env["ROBOFLOW_BASE_URL"],
    deploymentsUrl: rfEmu?.deploymentsUrl ?? io.env["ROBOFLOW_DEPLOYMENTS_URL"],
    onRetry,
  });

  try {
    say("faultline demo: calling two APIs that fail, and failing well");
    say(`  anyformat: ${afEmu ? `emulator at ${afEmu.url}` : `${af.baseUrl} (ANYFORMAT_API_KEY set)`}`);
    say(`  Roboflow:  ${rfEmu ? `emulator at ${rfEmu.url}` : `${rf.baseUrl} (ROBOFLOW_API_KEY set)`}`);
    await anyformatStory(af, afEmu, say);
    await roboflowStory(rf, rfEmu, say);
    say();
    say(`Done in ${((Date.now() - started) / 1000).toFixed(1)} s. Every failure above was a typed error; nothing was retried that should not be.`);
    return 0;
  } finally {
    await Promise.all([af.close(), rf.close()]);
    await Promise.all([afEmu?.close(), rfEmu?.close()]);
  }
}

type Say = (line?: string) => void;

async function anyformatStory(af: Anyformat, emu: Emulator<AnyformatApp> | undefined, say: Say): Promise<void> {
  say();
  say("1. Create an anyformat workflow");
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
  say(`     created "${workflow.name}" (${workflow.id})${requestId ? `, request id ${requestId}` : ""}`);

  try {
    say();
    say("2. Extract a document: one call, af.workflows.extract(), through a rate limit and 412 polls");
    // One 429 on the submission, as a busy organisation would meet: faultline waits its Retry-After.
    emu?.inject("rateLimit", { method: "POST", path: /\/run\/$/ });
    const results = await af.workflows.extract(workflow.id, { text: INVOICE }, {
      pollInterval: 200,
      onPoll: ({ status, attempt }) => {
        if (status !== "processed") say(`     … poll ${attempt}: 412 PRECONDITION_FAILED, run ${status}: not ready, polling again`);
        else say(`     ✓ poll ${attempt}: results ready`);
      },
    });
    for (const [field, value] of Object.entries(results.extraction ?? {})) {
      const extracted = value as { value?: unknown; confidence?: number | null };
      say(`     ${field}: ${JSON.stringify(extracted.value)}${extracted.confidence == null ? "" : ` (confidence ${extracted.confidence})`}`);
    }

    say();
    say("3. A typed error, caught by class and by code");
    try {
      await af.workflows.get("00000000-0000-4000-8000-000000000000");
    } catch (error) {
      if (error instanceof NotFoundError) say(`     instanceof NotFoundError: ${error.status} "${error.message}", request id ${error.requestId ?? "-"}`);
      if (error instanceof ApiError) say(`     switch (err.code) → ${explain(error as KnownApiError)}`);
    }

    say();
    say("4. A wrong key: what the user sees");
    const wrong = new Anyformat({ apiKey: "sk-demo-wrong-key-0123456789", baseUrl: af.baseUrl });
    try {
      await wrong.workflows.list();
    } catch (error) {
      if (!(error instanceof AuthFailedError)) throw error;
      say(`     AuthFailedError ${error.status} ${error.code} after ${error.attempts} request (never retried)`);
      say(`     message: ${error.message}`);
      const seen = [error.message, error.stack ?? "", String(error.url), JSON.stringify(error)].join(" ");
      say(`     the key in its message, stack, url and toJSON(): ${seen.includes("sk-demo") ? "LEAKED" : "nowhere (masked as ***)"}`);
    } finally {
      await wrong.close();
    }
  } finally {
    await af.workflows.delete(workflow.id).catch(() => undefined);
  }
}

async function roboflowStory(rf: Roboflow, emu: Emulator<RoboflowApp> | undefined, say: Say): Promise<void> {
  if (emu !== undefined) {
    say();
    say("5. A 423: the Roboflow workspace is locked for billing");
    emu.app.lock();
    try {
      await rf.projects.list();
    } catch (error) {
      if (!(error instanceof LockedError)) throw error;
      say(`     LockedError ${error.status} ${error.code} after ${error.attempts} request (a 423 is never retried)`);
      say(`     message: ${error.message}`);
      if (error.hint) say(`     hint: ${error.hint}`);
    } finally {
      emu.app.unlock();
    }
  }

  say();
  say("6. A Roboflow export that waits through 202s");
  const projects = await rf.projects.list();
  const project = projects[0];
  if (project === undefined) {
    say("     (the workspace has no project to export)");
    return;
  }
  const detail = await rf.projects.get(project.id);
  const version = detail.versions[0];
  if (version === undefined) {
    say(`     (${project.id} has no version to export)`);
    return;
  }
  const number = version.id.split("/").pop() ?? "1";
  const exported = await rf.versions.export(project.id, number, "coco", {
    wait: true,
    pollInterval: 300,
    onProgress: (progress) => say(`     … 202 Accepted: export ${Math.round(progress * 100)} % prepared`),
  });
  say(`     ✓ ${project.id} v${number} as COCO: ${exported.link.replace(/([?&](api_key|key|signature|sig)=)[^&]+/gi, "$1…")}`);
}

function describeRetry({ attempt, delayMs, error }: RetryInfo): string {
  const why = error instanceof ApiError ? `${error.status} ${error.code}` : error.code;
  const hint = error instanceof ApiError && error.retryAfterMs !== undefined ? " (the server's Retry-After)" : " (backoff with jitter)";
  return `${why}: attempt ${attempt} in ${delayMs} ms${hint}`;
}

/** The `switch` a user writes over `KnownApiError`: each branch is narrowed to its class. */
function explain(error: KnownApiError): string {
  switch (error.code) {
    case "NOT_FOUND":
      return `case "NOT_FOUND": show "no such workflow" (retryable: ${error.retryable})`;
    case "RATE_LIMITED":
      return `case "RATE_LIMITED": come back in ${error.retryAfterMs ?? "?"} ms`;
    case "AUTH_FAILED":
    case "ACCESS_DENIED":
      return `case "${error.code}": ask for a new key`;
    default:
      return `default: ${error.code}`;
  }
}
