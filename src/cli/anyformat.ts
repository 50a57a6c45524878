/** `faultline anyformat ...`: one small handler per command, over the `Anyformat` client. */
import { readFile, stat } from "node:fs/promises";
import { Anyformat } from "../anyformat/client.js";
import { AbortedError, CredentialsError, InvalidArgumentError } from "../core/errors.js";
import { UsageError } from "./args.js";
import { commonClientOptions, firstSet, type CommandContext, type Handler } from "./context.js";
import { listLimit, listing, pages } from "./listing.js";
import { deleted, keyValues, scalar, type Rendered } from "./output.js";

/** The key this invocation would use, for masking and for the client. */
export function anyformatKey(ctx: Pick<CommandContext, "options" | "env">): string | undefined {
  return firstSet(ctx.options.apiKey, ctx.env["ANYFORMAT_API_KEY"]);
}

/** A client for the invocation; a missing key is refused here, before anything is sent or read. */
function client(ctx: CommandContext): Anyformat {
  const apiKey = anyformatKey(ctx);
  if (apiKey === undefined) throw new CredentialsError("No anyformat API key");
  return new Anyformat({
    apiKey,
    baseUrl: firstSet(ctx.options.baseUrl, ctx.env["ANYFORMAT_BASE_URL"]),
    ...commonClientOptions(ctx),
  });
}

/** Runs `work` with a client and closes its connection pool after, so the process can end. */
async function withClient(ctx: CommandContext, work: (af: Anyformat) => Promise<Rendered>): Promise<Rendered> {
  const af = client(ctx);
  try {
    return await work(af);
  } finally {
    await af.close();
  }
}

const arg = (ctx: CommandContext, name: string): string => ctx.args[name] ?? "";

interface WorkflowRow {
  readonly id: string;
  readonly name: string;
  readonly description?: string | null | undefined;
  readonly created_at?: string | null | undefined;
}

const workflowColumns = [
  ["ID", (w: WorkflowRow) => w.id],
  ["NAME", (w: WorkflowRow) => w.name],
  ["CREATED", (w: WorkflowRow) => w.created_at],
  ["DESCRIPTION", (w: WorkflowRow) => w.description],
] as const;

/** `--fields` is JSON text, or `@path` to a file holding it; either way an array of field definitions. */
async function readFields(spec: string): Promise<unknown[]> {
  let text = spec;
  if (spec.startsWith("@")) {
    const path = spec.slice(1);
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      throw new InvalidArgumentError(`Cannot read --fields file ${path}: ${(error as Error).message}`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InvalidArgumentError(`--fields is not valid JSON: ${(error as Error).message}`, {
      hint: `Pass a JSON array, e.g. --fields '[{"name":"total","description":"Invoice total","data_type":"float"}]', or @file.json`,
    });
  }
  // A whole create body is accepted too: its `fields` is what is meant.
  if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) && "fields" in parsed) {
    parsed = (parsed as { fields: unknown }).fields;
  }
  if (!Array.isArray(parsed)) throw new InvalidArgumentError("--fields must be a JSON array of field definitions");
  return parsed;
}

/** A path must name a readable file before anything is sent; `-` is stdin, streamed. */
async function fileInput(
  ctx: CommandContext,
): Promise<{ file: string; filename?: string } | { file: NodeJS.ReadableStream; filename: string }> {
  const path = arg(ctx, "file|-");
  const { filename } = ctx.flags;
  if (path === "-") {
    // Waiting on a terminal for a document nobody is typing would look like a hang.
    if ((ctx.stdin as { isTTY?: boolean }).isTTY === true) {
      throw new UsageError("'-' reads the document from stdin, but stdin is a terminal", "Pipe a file in ('< invoice.pdf'), or name the file");
    }
    return { file: ctx.stdin, filename: filename ?? "stdin" };
  }
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new InvalidArgumentError(`Not a file: ${path}`);
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw error;
    throw new InvalidArgumentError(`Cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return filename === undefined ? { file: path } : { file: path, filename };
}

/** Results for people: each extracted field on a line, with its confidence when given. */
function resultsText(results: Readonly<Record<string, unknown>>): string {
  const { extraction, ...rest } = results;
  const head = keyValues(rest);
  if (extraction === null || extraction === undefined || typeof extraction !== "object") return head;
  const lines: string[] = [];
  for (const [name, field] of Object.entries(extraction)) {
    if (field !== null && typeof field === "object" && !Array.isArray(field) && "value" in field) {
      const { value, confidence } = field as { value: unknown; confidence?: unknown };
      const shown = value !== null && typeof value === "object" ? JSON.stringify(value) : scalar(value);
      lines.push(`  ${name}: ${shown}${typeof confidence === "number" ? ` (confidence ${confidence})` : ""}`);
    } else {
      lines.push(`  ${name}:`, ...JSON.stringify(field, null, 2).split("\n").map((l) => `    ${l}`));
    }
  }
  return `${head}\nextraction:${lines.length === 0 ? " {}" : `\n${lines.join("\n")}`}`;
}

/** The most a page holds: the API caps `page_size` at 100. */
const MAX_PAGE_SIZE = 100;

/**
 * A Ctrl-C during a wait stops the waiting, not the work: the error says how to pick the results up. Any
 * other failure passes through.
 */
function resumable(hint: string): (error: unknown) => never {
  return (error) => {
    if (error instanceof AbortedError) throw new AbortedError("Interrupted while waiting for the results", { hint, cause: error });
    throw error;
  };
}

export const ANYFORMAT_HANDLERS: Readonly<Record<string, Handler>> = {
  "workflows list": (ctx) =>
    withClient(ctx, (af) =>
      listing(ctx, pages(af.workflows.list({ page_size: Math.min(MAX_PAGE_SIZE, listLimit(ctx)) })), {
        columns: workflowColumns,
        empty: "No workflows.",
        noun: "workflows",
      }),
    ),

  "workflows get": (ctx) =>
    withClient(ctx, async (af) => {
      const workflow = await af.workflows.get(arg(ctx, "id"));
      return { data: workflow, text: () => keyValues(workflow) };
    }),

  "workflows create": (ctx) =>
    withClient(ctx, async (af) => {
      const fields = await readFields(ctx.flags.fields ?? "");
      const params = {
        name: ctx.flags.name ?? "",
        fields,
        ...(ctx.flags.description === undefined ? {} : { description: ctx.flags.description }),
      };
      const workflow = await af.workflows.create(params as Parameters<Anyformat["workflows"]["create"]>[0]);
      return { data: workflow, text: () => `Created workflow ${workflow.id}\n${keyValues(workflow)}` };
    }),

  "workflows delete": (ctx) =>
    withClient(ctx, async (af) => {
      const id = arg(ctx, "id");
      await af.workflows.delete(id);
      return { data: deleted("workflow", id, false), text: `Deleted workflow ${id}` };
    }),

  run: (ctx) =>
    withClient(ctx, async (af) => {
      const workflow = arg(ctx, "workflow");
      const run = await af.workflows.run(workflow, await fileInput(ctx));
      const resume = `faultline anyformat results ${workflow} ${run.id} --wait`;
      if (!ctx.flags.wait) {
        return { data: run, text: () => `${keyValues(run)}\n\nResults: ${resume}` };
      }
      ctx.output.progress(`Extracting (collection ${run.id}): ${run.status}`);
      const results = await af.results
        .waitFor(workflow, run.id, {
          onPoll: ({ status }) => ctx.output.progress(`Extracting (collection ${run.id}): ${status}`),
        })
        .catch(resumable(`The run goes on: '${resume}' picks up its results`));
      return { data: results, text: () => resultsText(results) };
    }),

  results: (ctx) =>
    withClient(ctx, async (af) => {
      const [workflow, collection] = [arg(ctx, "workflow"), arg(ctx, "collection")];
      const results = ctx.flags.wait
        ? await af.results
            .waitFor(workflow, collection, {
              onPoll: ({ status }) => ctx.output.progress(`Waiting for the results of ${collection}: ${status}`),
            })
            .catch(resumable("The run goes on: run the same command again to wait for its results"))
        : await af.results.get(workflow, collection);
      return { data: results, text: () => resultsText(results) };
    }),

  // Its own module, loaded only when used: the batch machinery costs the other commands nothing.
  batch: (ctx) => import("./anyformat-batch.js").then((batch) => batch.runAnyformatBatch(ctx)),
};

/** What to suggest when an anyformat command meets a 404. */
export function anyformatNotFoundHint(resource: string): string {
  return resource === "results"
    ? "Check the workflow and collection ids ('faultline anyformat run' prints the collection id)"
    : "Run 'faultline anyformat workflows list' to see your workflows";
}
