/**
 * What every batch command does with its command line: find the files its paths name, and say the
 * command line that resumes it.
 */
import { readdir, stat } from "node:fs/promises";
import { basename, join, relative, resolve } from "node:path";
import { InvalidArgumentError } from "../core/errors.js";
import { commandName, FLAGS, type CommandFlag } from "./args.js";
import type { CommandContext } from "./context.js";

/** A file a batch takes: its path, and its place under the folder it was found in (its name, for a file named itself). */
export interface FoundFile {
  readonly path: string;
  readonly relative: string;
}

/** The files a batch takes, and those its folders hold that it leaves (by `accept`). */
export interface FoundFiles {
  readonly files: readonly FoundFile[];
  readonly skipped: readonly string[];
}

/**
 * The files the arguments name: a file as given, a folder's files at any depth (sorted, hidden ones
 * skipped) that `accept` takes, never the batch's own files (`own`: its `--out` and journal) should they
 * sit among them. A path that is neither a file nor a folder is an `InvalidArgumentError`.
 */
export async function filesIn(paths: readonly string[], own: readonly string[], accept: (path: string) => boolean = () => true): Promise<FoundFiles> {
  const skip = new Set(own.map((p) => resolve(p)));
  const files: FoundFile[] = [];
  const skipped: string[] = [];
  for (const path of paths) {
    const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
      throw new InvalidArgumentError(`Cannot read ${path}: ${error.code ?? error.message}`);
    });
    if (info.isFile()) {
      if (!skip.has(resolve(path))) files.push({ path, relative: basename(path) });
      continue;
    }
    if (!info.isDirectory()) throw new InvalidArgumentError(`Not a file or a folder: ${path}`);
    const entries = await readdir(path, { recursive: true, withFileTypes: true });
    const found: FoundFile[] = [];
    for (const entry of entries) {
      const full = join(entry.parentPath, entry.name);
      const under = relative(path, full);
      if (under.split(/[\\/]/).some((part) => part.startsWith("."))) continue;
      if (!(entry.isFile() || (entry.isSymbolicLink() && (await stat(full).then((s) => s.isFile(), () => false))))) continue;
      if (skip.has(resolve(full))) continue;
      if (accept(full)) found.push({ path: full, relative: under });
      else skipped.push(full);
    }
    files.push(...found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)));
  }
  return { files, skipped: skipped.sort() };
}

/** Options that say where and how a command calls, as the user gave them on the command line. */
const CALL_OPTIONS = [
  ["base-url", "baseUrl"],
  ["deployments-url", "deploymentsUrl"],
  ["inference-url", "inferenceUrl"],
  ["workspace", "workspace"],
  ["timeout", "timeout"],
  ["max-retries", "maxRetries"],
] as const;

/**
 * The same command with `--resume`: what the user types to go on. Built from the command's own table
 * entry, so it names every argument and flag that was given; the key is never part of it, nor `--json`.
 */
export function resumeCommand(ctx: Pick<CommandContext, "command" | "args" | "rest" | "flags" | "options">): string {
  const words = ["faultline", ...commandName(ctx.command).split(" ")];
  for (const arg of ctx.command.args) {
    if (arg.endsWith("...")) words.push(...(ctx.rest[arg.slice(0, -3)] ?? []));
    else words.push(ctx.args[arg] ?? "");
  }
  for (const flag of ctx.command.flags) {
    if (flag !== "resume") words.push(...flagWords(flag, ctx.flags[flag]));
  }
  for (const [flag, option] of CALL_OPTIONS) {
    const value = ctx.options[option];
    if (value !== undefined) words.push(`--${flag}`, String(value));
  }
  words.push("--resume");
  return words.map(shellWord).join(" ");
}

function flagWords(flag: CommandFlag, value: boolean | string | number | readonly string[] | undefined): string[] {
  if (value === undefined || value === false) return [];
  if (value === true) return FLAGS[flag].type === "boolean" ? [`--${flag}`] : [];
  if (Array.isArray(value)) return value.flatMap((v: string) => [`--${flag}`, v]);
  return [`--${flag}`, String(value)];
}

function shellWord(word: string): string {
  return /^[\w./:@%+=,-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
