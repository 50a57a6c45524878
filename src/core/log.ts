/**
 * faultline's log lines: one per attempt at `debug`, rate-limit waits at `info`, circuit changes and
 * fallbacks at `warn`. Keys are masked before a line is made. A logger never fails a call.
 */

/**
 * How much faultline logs, from nothing to one line per attempt.
 *
 * @example
 * ```ts
 * const level: LogLevel = "debug";
 * const af = new Anyformat({ logLevel: level });
 * ```
 */
export type LogLevel = "off" | "error" | "warn" | "info" | "debug";

/**
 * Where faultline's lines go. Each level is optional: a logger with only `debug` (faultline's first form)
 * still works. `console` is a Logger.
 *
 * @example
 * ```ts
 * const af = new Anyformat({ logger: pino(), logLevel: "info" });
 * ```
 */
export interface Logger {
  error?(message: string, fields?: Record<string, unknown>): void;
  warn?(message: string, fields?: Record<string, unknown>): void;
  info?(message: string, fields?: Record<string, unknown>): void;
  debug?(message: string, fields?: Record<string, unknown>): void;
}

export const LOG_LEVELS: readonly LogLevel[] = ["off", "error", "warn", "info", "debug"];
const RANK: Readonly<Record<LogLevel, number>> = { off: 0, error: 1, warn: 2, info: 3, debug: 4 };

/** A logger with a level, as the transport and its stages use it. */
export class Log {
  readonly #logger: Logger | undefined;
  readonly #rank: number;

  constructor(logger: Logger | undefined, level: LogLevel) {
    this.#logger = logger;
    this.#rank = logger === undefined ? 0 : RANK[level];
  }

  /** Whether lines at `level` go anywhere: callers skip building lines nobody reads. */
  enabled(level: Exclude<LogLevel, "off">): boolean {
    return this.#rank >= RANK[level];
  }

  error(message: string, fields?: Record<string, unknown>): void {
    this.#write("error", message, fields);
  }

  warn(message: string, fields?: Record<string, unknown>): void {
    this.#write("warn", message, fields);
  }

  info(message: string, fields?: Record<string, unknown>): void {
    this.#write("info", message, fields);
  }

  debug(message: string, fields?: Record<string, unknown>): void {
    this.#write("debug", message, fields);
  }

  #write(level: Exclude<LogLevel, "off">, message: string, fields: Record<string, unknown> | undefined): void {
    if (this.#rank < RANK[level]) return;
    try {
      this.#logger?.[level]?.(message, fields);
    } catch {
      // A logger that throws is the logger's problem: the call goes on as if the line had been written.
    }
  }
}

/** Writes `faultline[level] message {fields}` lines to stderr: the logger used when none is given. */
export const stderrLogger: Logger = {
  error: (message, fields) => writeLine("error", message, fields),
  warn: (message, fields) => writeLine("warn", message, fields),
  info: (message, fields) => writeLine("info", message, fields),
  debug: (message, fields) => writeLine("debug", message, fields),
};

function writeLine(level: string, message: string, fields: Record<string, unknown> | undefined): void {
  process.stderr.write(`${message}${fields === undefined ? "" : ` ${JSON.stringify(fields)}`}${level === "debug" ? "" : ` [${level}]`}\n`);
}

/**
 * The level a client logs at: `logLevel` if given, else `FAULTLINE_LOG`, else `debug` when `FAULTLINE_DEBUG`
 * is set or a logger was passed (a logger you hand over gets every line), else `warn`.
 */
export function levelFrom(option: LogLevel | undefined, loggerGiven: boolean, env: Readonly<Record<string, string | undefined>>): LogLevel {
  if (option !== undefined) return option;
  const named = env["FAULTLINE_LOG"]?.trim().toLowerCase();
  if (named !== undefined && (LOG_LEVELS as readonly string[]).includes(named)) return named as LogLevel;
  const debug = env["FAULTLINE_DEBUG"];
  if (debug !== undefined && debug !== "" && debug !== "0") return "debug";
  return loggerGiven ? "debug" : "warn";
}
