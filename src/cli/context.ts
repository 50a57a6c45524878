/**
 * What a command handler is given, and the bits every API's handlers share: resolving options from
 * flags then environment, and reporting retries to a person at a terminal.
 */
import type { Readable } from "node:stream";
import type { RetryInfo } from "../core/retry.js";
import type { CommandFlags, CommandSpec, GlobalOptions } from "./args.js";
import type { Output, Rendered } from "./output.js";

export interface CommandContext {
  readonly command: CommandSpec;
  readonly args: Readonly<Record<string, string>>;
  /** The values of a last argument that takes many (`paths...`). */
  readonly rest: readonly string[];
  readonly flags: CommandFlags;
  readonly options: GlobalOptions;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly output: Output;
  readonly stdin: Readable;
}

/** A command's work: it returns what to print, or throws what went wrong. */
export type Handler = (ctx: CommandContext) => Promise<Rendered>;

/** The first of the values that is set and not blank. */
export function firstSet(...values: ReadonlyArray<string | undefined>): string | undefined {
  return values.find((v) => v !== undefined && v.trim() !== "");
}

/** The client options every API shares, from flags; retries are announced on a terminal. */
export function commonClientOptions(ctx: CommandContext): {
  maxRetries: number | undefined;
  timeout: number | undefined;
  onRetry: (info: RetryInfo) => void;
} {
  return {
    maxRetries: ctx.options.maxRetries,
    timeout: ctx.options.timeout,
    onRetry: (info) => {
      const seconds = (info.delayMs / 1000).toFixed(1);
      ctx.output.progress(`${info.error.code}: retrying in ${seconds} s (attempt ${info.attempt})`);
    },
  };
}
