/**
 * Everything the CLI prints, and the exit code it ends with. Every byte goes through one masking
 * step: an API key must not reach a terminal or a log even if some message upstream let it slip.
 */
import {
  ApiError,
  ConnectionError,
  CredentialsError,
  FaultlineError,
  ResponseValidationError,
  TimeoutError,
  type ValidationIssue,
} from "../core/errors.js";
import { MASK } from "../core/redact.js";
import { UsageError, type ApiName } from "./args.js";

export type ExitCode = 0 | 1 | 2 | 3;

/**
 * The documented exit code for a failure: 2 for authentication (401, 403, missing key or workspace),
 * 3 for not found (404), 1 for everything else, usage errors included.
 */
export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof UsageError) return 1;
  if (error instanceof CredentialsError) return 2;
  if (error instanceof ApiError) {
    if (error.status === 401 || error.status === 403) return 2;
    if (error.status === 404) return 3;
    // A body's own code can pick the class over the status: honour it when it names auth or absence.
    if (error.code === "AUTH_FAILED" || error.code === "ACCESS_DENIED") return 2;
    if (error.code === "NOT_FOUND") return 3;
  }
  return 1;
}

/** The one line `--json` prints on stderr for a failure: `{"error": {...}}`. */
export interface ErrorPayload {
  readonly message: string;
  readonly hint?: string;
  readonly code: string;
  readonly status?: number;
  readonly request_id?: string;
  readonly retryable: boolean;
}

/** What the CLI knows about the call that failed, to give a hint the API did not. */
export interface ErrorContext {
  readonly api?: ApiName | undefined;
  /** What to suggest on a 404 for this command. */
  readonly notFoundHint?: string | undefined;
  /** The Roboflow workspace the call used, to tell "no such workspace" from "no such project". */
  readonly workspace?: string | undefined;
}

const ENV_KEY: Readonly<Record<ApiName, string>> = { anyformat: "ANYFORMAT_API_KEY", roboflow: "ROBOFLOW_API_KEY" };
const ENV_BASE: Readonly<Record<ApiName, string>> = { anyformat: "ANYFORMAT_BASE_URL", roboflow: "ROBOFLOW_BASE_URL" };

/** Builds the error payload, with the CLI's own hint where the API gave none. */
export function errorPayload(error: unknown, context: ErrorContext = {}): ErrorPayload {
  const api = context.api ?? "roboflow";
  if (error instanceof UsageError) {
    return { message: error.message, hint: error.hint, code: "USAGE_ERROR", retryable: false };
  }
  if (error instanceof FaultlineError) {
    const status = error instanceof ApiError || error instanceof ResponseValidationError ? error.status : undefined;
    const requestId = error instanceof ApiError ? error.requestId : undefined;
    const message = messageOf(error, status);
    const hint = hintFor(error, api, context);
    return {
      message,
      ...(hint === undefined ? {} : { hint }),
      code: error.code,
      ...(status === undefined ? {} : { status }),
      ...(requestId === undefined ? {} : { request_id: requestId }),
      retryable: error.retryable,
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { message: message === "" ? "Unexpected error" : message, code: "UNEXPECTED_ERROR", retryable: false };
}

/**
 * One line that says what went wrong: the error's message, then what the body explained beyond it (the
 * `detail`, or each validation issue as `where: what`) unless the message already carries it, then how
 * many attempts were spent when the failure survived retries.
 */
function messageOf(error: FaultlineError, status: number | undefined): string {
  let message = oneLine(error.message) || (status === undefined ? error.code : `HTTP ${status}`);
  if (error instanceof ApiError && !carries(message, error.detail)) {
    const detail = detailOf(error.detail);
    if (detail !== "") message = `${message.replace(/[.:]$/, "")}: ${detail}`;
  }
  // A wait counts polls, not attempts, and says so itself.
  if (error.attempts > 1 && !/\b(attempts?|polls?)\b/.test(message)) message = `${message} (after ${error.attempts} attempts)`;
  return message;
}

/**
 * Whether the message already says what the detail says. A dialect may have put a long detail into the
 * message cut short, or named only the first validation issues: its start, or the first issue, is enough.
 */
function carries(message: string, detail: ApiError["detail"]): boolean {
  if (detail === undefined) return true;
  const first = typeof detail === "string" ? oneLine(detail).slice(0, 60) : issueText(detail[0]);
  return first === "" || message.includes(first);
}

function detailOf(detail: ApiError["detail"]): string {
  if (detail === undefined) return "";
  if (typeof detail === "string") return oneLine(detail);
  return detail.map(issueText).join("; ");
}

function issueText(issue: ValidationIssue | undefined): string {
  if (issue === undefined) return "";
  const loc = (issue.loc ?? []).join(".");
  return loc === "" ? issue.msg : `${loc}: ${issue.msg}`;
}

/** Messages are printed on one line (the JSON form is one line by contract; text reads better so too). */
function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

function hintFor(error: FaultlineError, api: ApiName, context: ErrorContext): string | undefined {
  // The client's own credential hints speak to SDK users (`new Roboflow({...})`); a CLI user needs flags.
  if (error instanceof CredentialsError) {
    return /workspace/i.test(error.message)
      ? "Pass --workspace or set ROBOFLOW_WORKSPACE"
      : `Pass --api-key or set ${ENV_KEY[api]}`;
  }
  // Roboflow's Graph 404 hint tells REST callers to GET /workspaces; a CLI user needs a command instead.
  if (error instanceof ApiError && error.status === 404 && error.type === "GraphMethodException") {
    const ws = context.workspace;
    if (ws !== undefined && error.message.includes(`ID '${ws}'`)) {
      return `Workspace '${ws}' is not visible to this key: check --workspace (or ROBOFLOW_WORKSPACE) and the key's scopes`;
    }
    return context.notFoundHint;
  }
  // The waits' own hints name SDK options (`timeout`, `deadline`); the CLI user's remedy is to ask again.
  if (error instanceof TimeoutError) {
    return /not ready/.test(error.message)
      ? "The service keeps working on it: run the same command again later"
      : "Try again, or raise --timeout";
  }
  if (error.hint !== undefined && error.hint !== "") return error.hint;
  if (error instanceof ApiError) {
    if (error.status === 401) return `Check your API key (--api-key or ${ENV_KEY[api]})`;
    if (error.status === 403) {
      return api === "roboflow"
        ? "Check that your key can access this workspace (--workspace or ROBOFLOW_WORKSPACE)"
        : `Check your API key (--api-key or ${ENV_KEY[api]})`;
    }
    if (error.status === 404) return context.notFoundHint;
    if (error.status === 412 && error.code === "PRECONDITION_FAILED" && error.retryable) {
      return "The run has not finished: add --wait to wait for its results";
    }
    if (error.code === "EXTRACTION_FAILED" || error.code === "EXTRACTION_CANCELLED" || error.status === 412) {
      return "Run the document again ('faultline anyformat run <workflow> <file> --wait')";
    }
    if (error.status === 423) return "The account is locked: check its billing or contact support";
    if (error.status === 429) return "Wait a little and try again, or raise --max-retries";
    if (error.status >= 500) return "The service failed; try again later";
    return undefined;
  }
  if (error instanceof ConnectionError) return `Check --base-url (or ${ENV_BASE[api]}) and your network`;
  // An answer in a shape the API never sends most often comes from another server entirely.
  if (error instanceof ResponseValidationError) return `Check that --base-url (or ${ENV_BASE[api]}) points at the ${api} API`;
  return undefined;
}

/** What a command produced: the data for `--json`, and how to show it to a person. */
export interface Rendered {
  readonly data: unknown;
  readonly text: string;
}

export interface Streams {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Prints results, errors and progress, masking every known secret on the way out. */
export class Output {
  readonly json: boolean;
  readonly #streams: Streams;
  readonly #needles: readonly string[];
  #progressShown = false;

  constructor(json: boolean, secrets: ReadonlyArray<string | undefined>, streams: Streams) {
    this.json = json;
    this.#streams = streams;
    const needles = new Set<string>();
    for (const secret of secrets) {
      // Too short to mask without garbling ordinary words; the client masks structurally anyway.
      if (secret === undefined || secret.length < 3) continue;
      needles.add(secret);
      needles.add(encodeURIComponent(secret));
      needles.add(JSON.stringify(secret).slice(1, -1));
    }
    this.#needles = [...needles].sort((a, b) => b.length - a.length);
  }

  /** Masks every known secret in `text`. */
  mask(text: string): string {
    let out = text;
    for (const needle of this.#needles) if (out.includes(needle)) out = out.split(needle).join(MASK);
    return out;
  }

  /** Prints a command's result on stdout. */
  result(rendered: Rendered): void {
    this.#clearProgress();
    const text = this.json ? JSON.stringify(rendered.data ?? null, null, 2) : rendered.text;
    this.#write(this.#streams.stdout, text);
  }

  /** Prints plain lines on stdout (help, version). */
  stdout(text: string): void {
    this.#write(this.#streams.stdout, text);
  }

  /** Prints a failure on stderr and gives its exit code. */
  error(error: unknown, context: ErrorContext = {}): ExitCode {
    this.#clearProgress();
    const payload = errorPayload(error, context);
    if (this.json) {
      this.#write(this.#streams.stderr, JSON.stringify({ error: payload }));
    } else {
      const lines = [`Error: ${payload.message}`];
      if (payload.hint !== undefined) lines.push(`Hint: ${payload.hint}`);
      if (payload.request_id !== undefined) lines.push(`Request ID: ${payload.request_id}`);
      this.#write(this.#streams.stderr, lines.join("\n"));
    }
    return exitCodeFor(error);
  }

  /**
   * A progress line for people watching a wait. Only on a terminal, and never with `--json`, whose
   * stderr carries nothing but the one error line. Each line overwrites the last.
   */
  progress(line: string): void {
    if (this.json || this.#streams.stderr.isTTY !== true) return;
    this.#streams.stderr.write(`\r\x1b[2K${this.mask(line)}`);
    this.#progressShown = true;
  }

  /** A note on stderr (not a result): for long-running commands such as the emulator. */
  note(text: string): void {
    this.#write(this.#streams.stderr, text);
  }

  #clearProgress(): void {
    if (!this.#progressShown) return;
    this.#streams.stderr.write("\r\x1b[2K");
    this.#progressShown = false;
  }

  #write(stream: NodeJS.WritableStream, text: string): void {
    const masked = this.mask(text);
    stream.write(masked.endsWith("\n") ? masked : `${masked}\n`);
  }
}

// ---------------------------------------------------------------------------------------------
// Text rendering
// ---------------------------------------------------------------------------------------------

/** One column of a table: its header and how to read a row's cell. */
export type Column<T> = readonly [header: string, cell: (row: T) => unknown];

/** An aligned table with a header row; `empty` when there are no rows. */
export function table<T>(rows: readonly T[], columns: readonly Column<T>[], empty: string): string {
  if (rows.length === 0) return empty;
  const cells = rows.map((row) => columns.map(([, cell]) => scalar(cell(row))));
  const headers = columns.map(([header]) => header);
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]?.length ?? 0)));
  const line = (values: readonly string[]): string =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...cells.map(line)].join("\n");
}

/** `key: value` lines; nested values pretty-printed as JSON under their key. */
export function keyValues(record: Readonly<Record<string, unknown>>): string {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(record)) {
    if (value === undefined) continue;
    if (value !== null && typeof value === "object") {
      // Short structures read best on their line; long ones indented below their key.
      const compact = JSON.stringify(value);
      if (compact.length <= 72) lines.push(`${key}: ${compact}`);
      else lines.push(`${key}:`, ...JSON.stringify(value, null, 2).split("\n").map((l) => `  ${l}`));
    } else {
      lines.push(`${key}: ${scalar(value)}`);
    }
  }
  return lines.join("\n");
}

/** A cell's text: empty for null or undefined, JSON for anything structured. */
export function scalar(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  return JSON.stringify(value);
}

/** Milliseconds since the epoch (Roboflow's timestamps) as an ISO date; other values as they are. */
export function when(value: unknown): string {
  if (typeof value === "number" && Number.isFinite(value)) {
    // Roboflow sends seconds in some places and milliseconds in others.
    const ms = value < 1e11 ? value * 1000 : value;
    return new Date(ms).toISOString();
  }
  if (value !== null && typeof value === "object" && "_seconds" in value) {
    const seconds = (value as { _seconds: unknown })._seconds;
    if (typeof seconds === "number") return new Date(seconds * 1000).toISOString();
  }
  return scalar(value);
}
