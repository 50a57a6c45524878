/**
 * `faultline anyformat batch <workflow> <paths or folders...> --out results.jsonl [--journal F] [--resume]
 * [--concurrency N]`: `af.batch.extract` over files, in the shell every batch command shares.
 */
import { readdir, stat } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { Anyformat } from "../anyformat/client.js";
import type { BatchOutcome } from "../anyformat/batch/extract.js";
import { CredentialsError, InvalidArgumentError } from "../core/errors.js";
import { anyformatKey } from "./anyformat.js";
import { UsageError } from "./args.js";
import { runBatchShell, type ShellOutcome } from "./batch-shell.js";
import { clientLogging, firstSet, type CommandContext } from "./context.js";
import type { Rendered } from "./output.js";

export async function runAnyformatBatch(ctx: CommandContext): Promise<Rendered> {
  const apiKey = anyformatKey(ctx);
  if (apiKey === undefined) throw new CredentialsError("No anyformat API key");
  const workflow = ctx.args["workflow"] ?? "";
  const out = ctx.flags.out ?? "";
  const journal = ctx.flags.journal ?? `${out}.journal`;
  const paths = ctx.rest["paths"] ?? [];
  const files = await filesIn(paths, [out, journal, `${journal}.lock`]);
  if (files.length === 0) throw new UsageError(`No files in ${paths.join(", ")}`, "Name files, or folders that hold some");

  // Retries are not announced line by line here: the progress bar tells how the batch goes.
  const af = new Anyformat({
    apiKey,
    baseUrl: firstSet(ctx.options.baseUrl, ctx.env["ANYFORMAT_BASE_URL"]),
    maxRetries: ctx.options.maxRetries,
    timeout: ctx.options.timeout,
    ...clientLogging(ctx),
  });
  try {
    return await runBatchShell({
      output: ctx.output,
      out,
      journal,
      resume: ctx.flags.resume,
      total: files.length,
      noun: "documents",
      resumeCommand: resumeCommand(ctx, journal),
      run: (signal, onProgress) =>
        outcomes(af.batch.extract(workflow, files, { concurrency: ctx.flags.concurrency, journal, signal, onProgress })),
    });
  } finally {
    await af.close();
  }
}

async function* outcomes(batch: AsyncIterable<BatchOutcome<string>>): AsyncGenerator<ShellOutcome> {
  for await (const outcome of batch) {
    yield outcome.status === "processed"
      ? { name: outcome.input, status: "processed", detail: { results: outcome.results } }
      : { name: outcome.input, status: "failed", detail: { error: outcome.error.toJSON() }, code: outcome.error.code };
  }
}

/**
 * The files the arguments name: a file as given, a folder's files at any depth (sorted, hidden ones
 * skipped), never the batch's own `--out` and journal should they sit among them.
 */
async function filesIn(paths: readonly string[], own: readonly string[]): Promise<string[]> {
  const skip = new Set(own.map((p) => resolve(p)));
  const found: string[] = [];
  for (const path of paths) {
    const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
      throw new InvalidArgumentError(`Cannot read ${path}: ${error.code ?? error.message}`);
    });
    if (info.isFile()) {
      found.push(path);
      continue;
    }
    if (!info.isDirectory()) throw new InvalidArgumentError(`Not a file or a folder: ${path}`);
    const entries = await readdir(path, { recursive: true, withFileTypes: true });
    const files: string[] = [];
    for (const entry of entries) {
      const full = join(entry.parentPath, entry.name);
      if (relative(path, full).split(/[\\/]/).some((part) => part.startsWith("."))) continue;
      if (entry.isFile() || (entry.isSymbolicLink() && (await stat(full).then((s) => s.isFile(), () => false)))) files.push(full);
    }
    found.push(...files.sort());
  }
  return found.filter((file) => !skip.has(resolve(file)));
}

/** The same command with `--resume`: what the user types to go on. The key is never part of it. */
function resumeCommand(ctx: CommandContext, journal: string): string {
  const words = ["faultline", "anyformat", "batch", ctx.args["workflow"] ?? "", ...(ctx.rest["paths"] ?? []), "--out", ctx.flags.out ?? ""];
  if (ctx.flags.journal !== undefined) words.push("--journal", journal);
  if (ctx.flags.concurrency !== undefined) words.push("--concurrency", String(ctx.flags.concurrency));
  if (ctx.options.baseUrl !== undefined) words.push("--base-url", ctx.options.baseUrl);
  if (ctx.options.timeout !== undefined) words.push("--timeout", String(ctx.options.timeout));
  if (ctx.options.maxRetries !== undefined) words.push("--max-retries", String(ctx.options.maxRetries));
  words.push("--resume");
  return words.map(shellWord).join(" ");
}

function shellWord(word: string): string {
  return /^[\w./:@%+=,-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
