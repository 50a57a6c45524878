/**
 * What a command handler is given, and the bits every API's handlers share: resolving options from
 * flags then environment, and reporting retries to a person at a terminal.
 */
import type { Readable } from "node:stream";
import type { RateLimitWaitInfo } from "../core/governor/governor.js";
import type { Logger, LogLevel } from "../core/log.js";
import type { RetryInfo } from "../core/retry.js";
import type { CommandFlags, CommandSpec, GlobalOptions } from "./args.js";
import type { Output, Rendered } from "./output.js";

export interface CommandContext {
  readonly command: CommandSpec;
  readonly args: Readonly<Record<string, string>>;
  /** The values of a last argument that takes one or more (`paths...`), by its name without the `...`. */
  readonly rest: Readonly<Record<string, readonly string[]>>;
  readonly flags: CommandFlags;
  readonly options: GlobalOptions;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly output: Output;
  readonly stdin: Readable;
  /** Aborts on Ctrl-C: every call and wait of the command stops at once, with `AbortedError`. */
  readonly signal: AbortSignal | undefined;
}

/** A command's work: it returns what to print, or throws what went wrong. */
export type Handler = (ctx: CommandContext) => Promise<Rendered>;

/** The first of the values that is set and not blank. */
export function firstSet(...values: ReadonlyArray<string | undefined>): string | undefined {
  return values.find((v) => v !== undefined && v.trim() !== "");
}

/** The client options every API shares, from flags; retries are announced on a terminal; Ctrl-C aborts. */
export function commonClientOptions(ctx: CommandContext): {
  maxRetries: number | undefined;
  timeout: number | undefined;
  signal: AbortSignal | undefined;
  onRetry: (info: RetryInfo) => void;
  onRateLimitWait: (info: RateLimitWaitInfo) => void;
  logger?: Logger;
  logLevel?: LogLevel;
} {
  return {
    maxRetries: ctx.options.maxRetries,
    timeout: ctx.options.timeout,
    signal: ctx.signal,
    onRetry: (info) => {
      const seconds = (info.delayMs / 1000).toFixed(1);
      ctx.output.progress(`${info.error.code}: retrying in ${seconds} s (attempt ${info.attempt})`);
    },
    // The governor paces every command on its own; a person watching sees why a call is slow to go.
    onRateLimitWait: (info) => ctx.output.progress(`Waiting ${(info.waitMs / 1000).toFixed(1)} s for a ${info.tier} rate-limit slot`),
    ...clientLogging(ctx),
  };
}

/**
 * Where a client's log lines go in the CLI. Asked for (`FAULTLINE_LOG`, `FAULTLINE_DEBUG`): to stderr, as
 * the library writes them. Otherwise warnings only (a circuit opening, a store falling back), through the
 * CLI's own masked output; none with --json, whose stderr holds nothing but the one error line.
 */
export function clientLogging(ctx: Pick<CommandContext, "env" | "options" | "output">): { logger?: Logger; logLevel?: LogLevel } {
  if (firstSet(ctx.env["FAULTLINE_LOG"], ctx.env["FAULTLINE_DEBUG"]) !== undefined) return {};
  if (ctx.options.json) return { logLevel: "off" };
  const note = (message: string): void => ctx.output.note(message);
  return { logger: { error: note, warn: note }, logLevel: "warn" };
}
