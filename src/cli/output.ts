/**
 * Everything the CLI prints, and the exit code it ends with. Every byte goes through one masking
 * step: an API key must not reach a terminal or a log even if some message upstream let it slip.
 */
import {
  AbortedError,
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

export type ExitCode = 0 | 1 | 2 | 3 | 130;

/**
 * The documented exit code for a failure: 2 for authentication (401, 403, missing key or workspace),
 * 3 for not found (404), 130 for a call the user interrupted (the CLI's only abort signal is Ctrl-C),
 * 1 for everything else, usage errors included.
 */
export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof UsageError) return 1;
  if (error instanceof AbortedError) return 130;
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
  /**
   * The text for people. A function is called only in text mode, and if it throws (a value it cannot
   * format) the data is printed as JSON instead: rendering never fails a call that succeeded.
   * `undefined` when the command printed its text as it went (a streamed listing).
   */
  readonly text: string | (() => string) | undefined;
  /** The exit code when it is not 0: a batch that ended with failures (1), or was interrupted (130). */
  readonly exitCode?: number | undefined;
}

/** What a progress bar draws on: a terminal's width and a way to write to it. */
export interface ProgressTerminal {
  readonly isTTY: true;
  readonly columns: number | undefined;
  write(text: string, done?: () => void): boolean;
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
    if (this.json) return this.#write(this.#streams.stdout, jsonText(rendered.data, 2));
    if (rendered.text === undefined) return;
    let text: string;
    try {
      text = typeof rendered.text === "function" ? rendered.text() : rendered.text;
    } catch {
      text = jsonText(rendered.data, 2);
    }
    this.#write(this.#streams.stdout, text);
  }

  /** Prints lines on stdout as they are: help, the version, rows of a listing as they arrive. */
  stdout(text: string): void {
    this.#clearProgress();
    this.#write(this.#streams.stdout, text);
  }

  /** Prints a failure on stderr and gives its exit code. */
  error(error: unknown, context: ErrorContext = {}): ExitCode {
    this.#clearProgress();
    const payload = errorPayload(error, context);
    if (this.json) {
      this.#write(this.#streams.stderr, jsonText({ error: payload }));
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
    // The erase sequence is ours; everything after it may hold a server's words, made printable.
    this.#streams.stderr.write(`\r\x1b[2K${printable(this.mask(line))}`);
    this.#progressShown = true;
  }

  /**
   * The terminal to draw live progress on (a progress bar), masked like everything else: stderr when it
   * is a terminal and the output is not `--json`, else `undefined`.
   */
  terminal(): ProgressTerminal | undefined {
    const stderr = this.#streams.stderr as NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
    if (this.json || stderr.isTTY !== true) return undefined;
    return {
      isTTY: true,
      get columns() {
        return stderr.columns;
      },
      write: (text, done) => stderr.write(this.mask(text), done),
    };
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

  /**
   * Every line the CLI prints goes out here: masked, and in text mode with the control characters a
   * terminal would act on shown as escapes (server text must not move the cursor, retitle the window or
   * overwrite the "Error:" line). JSON text has them escaped already (`jsonText`).
   */
  #write(stream: NodeJS.WritableStream, text: string): void {
    const masked = this.mask(text);
    const safe = this.json ? masked : printable(masked);
    stream.write(safe.endsWith("\n") ? safe : `${safe}\n`);
  }
}

// ---------------------------------------------------------------------------------------------
// Text rendering
// ---------------------------------------------------------------------------------------------

/**
 * The characters a terminal acts on instead of showing: C0 controls but newline and tab (ESC starts CSI and
 * OSC sequences, BEL ends OSC, a bare CR returns to the start of the line), DEL, the C1 controls (U+009B is
 * a one-character CSI on some terminals), and the bidirectional controls that reorder what is shown.
 */
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every terminal control shown as a visible escape (`\x1b`, `\r`, `\u202e`). */
export function printable(text: string): string {
  return text.replace(CONTROLS, escapeControl);
}

function escapeControl(char: string): string {
  const code = char.charCodeAt(0);
  if (char === "\r") return "\\r";
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
}

/** Characters JSON.stringify leaves raw that a terminal may still act on: escaped, the value unchanged. */
const JSON_RAW_CONTROLS = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * `value` as JSON that is safe on a terminal and never throws: pretty-printed with `indent` where it can be,
 * and compact, written without recursion, for a structure nested too deep for `JSON.stringify`.
 */
export function jsonText(value: unknown, indent = 0): string {
  let text: string;
  try {
    text = JSON.stringify(value ?? null, null, indent) ?? "null";
  } catch {
    text = flatJson(value);
  }
  return text.replace(JSON_RAW_CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

type JsonFrame =
  | { readonly open: "["; readonly items: readonly unknown[]; index: number }
  | { readonly open: "{"; readonly items: ReadonlyArray<readonly [string, unknown]>; index: number };

/** Compact JSON with an explicit stack: depth costs memory, not call frames. */
function flatJson(root: unknown): string {
  const out: string[] = [];
  const stack: JsonFrame[] = [];
  const value = (input: unknown): void => {
    let v = input;
    if (v !== null && typeof v === "object" && typeof (v as { toJSON?: unknown }).toJSON === "function") {
      v = (v as { toJSON(): unknown }).toJSON();
    }
    if (Array.isArray(v)) {
      out.push("[");
      stack.push({ open: "[", items: v, index: 0 });
    } else if (v !== null && typeof v === "object") {
      const entries = Object.entries(v).filter(([, e]) => e !== undefined && typeof e !== "function" && typeof e !== "symbol");
      out.push("{");
      stack.push({ open: "{", items: entries, index: 0 });
    } else {
      out.push(typeof v === "bigint" ? String(v) : (JSON.stringify(v) ?? "null"));
    }
  };
  value(root);
  for (let frame = stack.at(-1); frame !== undefined; frame = stack.at(-1)) {
    if (frame.index >= frame.items.length) {
      out.push(frame.open === "[" ? "]" : "}");
      stack.pop();
      continue;
    }
    if (frame.index > 0) out.push(",");
    if (frame.open === "[") {
      value(frame.items[frame.index++]);
    } else {
      const [key, item] = frame.items[frame.index++] ?? ["", null];
      out.push(`${JSON.stringify(key)}:`);
      value(item);
    }
  }
  return out.join("");
}

/**
 * What every delete prints with `--json`, in both APIs: what was deleted, its id as the user named it, and
 * whether it can come back (Roboflow moves things to Trash; anyformat deletes for good). The server's own
 * acknowledgement, which differs by API and says nothing more, is not printed.
 */
export interface Deleted {
  readonly type: string;
  readonly id: string;
  readonly deleted: true;
  readonly restorable: boolean;
}

export function deleted(type: string, id: string, restorable: boolean): Deleted {
  return { type, id, deleted: true, restorable };
}

/** What a restore prints with `--json`: the same shape as a delete's. */
export function restored(type: string, id: string): { readonly type: string; readonly id: string; readonly restored: true } {
  return { type, id, restored: true };
}

/** One column of a table: its header and how to read a row's cell. */
export type Column<T> = readonly [header: string, cell: (row: T) => unknown];

/** An aligned table with a header row; `empty` when there are no rows. */
export function table<T>(rows: readonly T[], columns: readonly Column<T>[], empty: string): string {
  if (rows.length === 0) return empty;
  const layout = new TableLayout(columns, rows);
  return [layout.header(), ...rows.map((row) => layout.row(row))].join("\n");
}

/**
 * Column widths fixed from a first batch of rows, so a listing can print rows as pages arrive: later
 * rows pad to the same widths (a longer cell pushes only its own row's next columns).
 */
export class TableLayout<T> {
  readonly #columns: readonly Column<T>[];
  readonly #widths: number[];

  constructor(columns: readonly Column<T>[], first: readonly T[]) {
    this.#columns = columns;
    this.#widths = columns.map(([header]) => header.length);
    for (const row of first) {
      this.#cells(row).forEach((cell, i) => {
        // A loop, not Math.max(...cells): spreading a long listing would overflow the stack.
        if (cell.length > (this.#widths[i] ?? 0)) this.#widths[i] = cell.length;
      });
    }
  }

  header(): string {
    return this.#line(this.#columns.map(([header]) => header));
  }

  row(row: T): string {
    return this.#line(this.#cells(row));
  }

  /** Each cell on one line: a newline or tab in a value would break the table's rows apart. */
  #cells(row: T): string[] {
    return this.#columns.map(([, cell]) => scalar(cell(row)).replace(/\n/g, "\\n").replace(/\t/g, "\\t"));
  }

  #line(values: readonly string[]): string {
    return values
      .map((v, i) => (i === values.length - 1 ? v : v.padEnd(this.#widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  }
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

/**
 * Milliseconds since the epoch (Roboflow's timestamps) as an ISO date; anything that is not a date a
 * `Date` can hold (text, 1e300, a negative year past -271821) as it came.
 */
export function when(value: unknown): string {
  if (typeof value === "number" && Number.isFinite(value)) {
    // Roboflow sends seconds in some places and milliseconds in others.
    return isoDate(value < 1e11 ? value * 1000 : value) ?? scalar(value);
  }
  if (value !== null && typeof value === "object" && "_seconds" in value) {
    const seconds = (value as { _seconds: unknown })._seconds;
    if (typeof seconds === "number") return isoDate(seconds * 1000) ?? scalar(value);
  }
  return scalar(value);
}

function isoDate(ms: number): string | undefined {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}
