/**
 * `faultline anyformat batch <workflow> <paths or folders...> --out results.jsonl [--journal F] [--resume]
 * [--concurrency N]`: `af.batch.extract` over files, in the shell every batch command shares.
 */
import { Anyformat } from "../anyformat/client.js";
import type { BatchOutcome } from "../anyformat/batch/extract.js";
import { CredentialsError } from "../core/errors.js";
import { anyformatKey } from "./anyformat.js";
import { UsageError } from "./args.js";
import { filesIn, resumeCommand } from "./batch-args.js";
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
  const files = (await filesIn(paths, [out, journal, `${journal}.lock`])).files.map((file) => file.path);
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
      resumeCommand: resumeCommand(ctx),
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
