/**
 * The CLI's grammar: which commands exist, what they take, and the usage text built from the same table,
 * so help can never drift from what the parser accepts.
 */
import { parseArgs } from "node:util";

export type ApiName = "anyformat" | "roboflow";

/** A flag that belongs to some commands only. */
export type CommandFlag = "wait" | "name" | "description" | "fields" | "filename" | "out" | "journal" | "resume" | "concurrency";

/** One command: `faultline <api> <resource> [<action>] <args...>`. */
export interface CommandSpec {
  readonly api: ApiName;
  readonly resource: string;
  /** Absent for anyformat's `run` and `results`, which take their arguments straight after the resource. */
  readonly action?: string | undefined;
  /** Positional argument names, in order, all required; a last one ending in `...` takes one value or more. */
  readonly args: readonly string[];
  readonly flags: readonly CommandFlag[];
  /** Flags that must be given. */
  readonly required?: readonly CommandFlag[] | undefined;
  /** How the flags read in usage, e.g. `--name N --fields <json|@file>`. */
  readonly flagUsage?: string | undefined;
  readonly summary: string;
}

export const COMMANDS: readonly CommandSpec[] = [
  { api: "anyformat", resource: "workflows", action: "list", args: [], flags: [], summary: "List every workflow" },
  { api: "anyformat", resource: "workflows", action: "get", args: ["id"], flags: [], summary: "Show one workflow" },
  {
    api: "anyformat",
    resource: "workflows",
    action: "create",
    args: [],
    flags: ["name", "fields", "description"],
    required: ["name", "fields"],
    flagUsage: "--name N --fields <json|@file> [--description D]",
    summary: "Create a workflow from a JSON array of fields",
  },
  { api: "anyformat", resource: "workflows", action: "delete", args: ["id"], flags: [], summary: "Delete a workflow and its results" },
  {
    api: "anyformat",
    resource: "run",
    args: ["workflow", "file|-"],
    flags: ["wait", "filename"],
    flagUsage: "[--wait] [--filename NAME]",
    summary: "Run a workflow on a file ('-' streams stdin); --wait prints the results",
  },
  {
    api: "anyformat",
    resource: "results",
    args: ["workflow", "collection"],
    flags: ["wait"],
    flagUsage: "[--wait]",
    summary: "Show a run's results; --wait polls until they are ready",
  },
  {
    api: "anyformat",
    resource: "batch",
    args: ["workflow", "paths..."],
    flags: ["out", "journal", "resume", "concurrency"],
    required: ["out"],
    flagUsage: "--out F [--journal F] [--resume] [--concurrency N]",
    summary: "Extract files and folders into JSON lines (--out); after a crash or Ctrl-C, --resume goes on",
  },
  { api: "roboflow", resource: "project", action: "list", args: [], flags: [], summary: "List the workspace's projects" },
  { api: "roboflow", resource: "project", action: "get", args: ["project"], flags: [], summary: "Show a project and its versions" },
  { api: "roboflow", resource: "project", action: "delete", args: ["project"], flags: [], summary: "Move a project to Trash" },
  { api: "roboflow", resource: "project", action: "restore", args: ["project"], flags: [], summary: "Take a project back from Trash" },
  { api: "roboflow", resource: "version", action: "get", args: ["project", "version"], flags: [], summary: "Show a dataset version" },
  {
    api: "roboflow",
    resource: "version",
    action: "export",
    args: ["project", "version", "format"],
    flags: ["wait"],
    flagUsage: "[--wait]",
    summary: "Export a version (coco, yolov8, voc, ...); --wait polls until the link is ready",
  },
  { api: "roboflow", resource: "version", action: "delete", args: ["project", "version"], flags: [], summary: "Move a version to Trash" },
  { api: "roboflow", resource: "version", action: "restore", args: ["project", "version"], flags: [], summary: "Take a version back from Trash" },
  { api: "roboflow", resource: "trash", action: "list", args: [], flags: [], summary: "List what is in Trash" },
  { api: "roboflow", resource: "workflow", action: "list", args: [], flags: [], summary: "List the workspace's workflows" },
  { api: "roboflow", resource: "workflow", action: "get", args: ["url"], flags: [], summary: "Show a workflow and its definition" },
  { api: "roboflow", resource: "deployment", action: "list", args: [], flags: [], summary: "List dedicated deployments" },
  { api: "roboflow", resource: "deployment", action: "get", args: ["name"], flags: [], summary: "Show a dedicated deployment" },
];

const API_SUMMARY: Readonly<Record<ApiName, string>> = {
  anyformat: "Document extraction: workflows, runs and their results",
  roboflow: "Computer vision: projects, versions, Trash, workflows and deployments",
};

/** A mistake in how the CLI was called. Always exit 1, in both output modes. */
export class UsageError extends Error {
  readonly hint: string;

  constructor(message: string, hint = "Run 'faultline --help'") {
    super(message);
    this.name = "UsageError";
    this.hint = hint;
  }
}

/** Options that apply to every API command. */
export interface GlobalOptions {
  readonly json: boolean;
  readonly apiKey: string | undefined;
  readonly baseUrl: string | undefined;
  readonly deploymentsUrl: string | undefined;
  readonly workspace: string | undefined;
  readonly maxRetries: number | undefined;
  readonly timeout: number | undefined;
}

export interface CommandFlags {
  readonly wait: boolean;
  readonly name: string | undefined;
  readonly description: string | undefined;
  readonly fields: string | undefined;
  readonly filename: string | undefined;
  readonly out: string | undefined;
  readonly journal: string | undefined;
  readonly resume: boolean;
  readonly concurrency: number | undefined;
}

export type Invocation =
  | { readonly kind: "help"; readonly text: string }
  | { readonly kind: "version"; readonly json: boolean }
  | { readonly kind: "emulator"; readonly json: boolean; readonly port: number | undefined }
  | { readonly kind: "demo"; readonly json: boolean }
  | {
      readonly kind: "api";
      readonly command: CommandSpec;
      /** Positional values by the names in `command.args`. */
      readonly args: Readonly<Record<string, string>>;
      /** The values of a last argument that takes many (`paths...`); empty for other commands. */
      readonly rest: readonly string[];
      readonly flags: CommandFlags;
      readonly options: GlobalOptions;
    };

const OPTIONS = {
  json: { type: "boolean" },
  "api-key": { type: "string" },
  "base-url": { type: "string" },
  "deployments-url": { type: "string" },
  workspace: { type: "string" },
  "max-retries": { type: "string" },
  timeout: { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
  port: { type: "string" },
  wait: { type: "boolean" },
  name: { type: "string" },
  description: { type: "string" },
  fields: { type: "string" },
  filename: { type: "string" },
  out: { type: "string" },
  journal: { type: "string" },
  resume: { type: "boolean" },
  concurrency: { type: "string" },
} as const;

type Values = {
  -readonly [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]["type"] extends "boolean" ? boolean : string;
};

const COMMAND_FLAGS: readonly CommandFlag[] = ["wait", "name", "description", "fields", "filename", "out", "journal", "resume", "concurrency"];
const ROBOFLOW_ONLY = ["workspace", "deployments-url"] as const;
const API_OPTIONS = ["api-key", "base-url", "deployments-url", "workspace", "max-retries", "timeout"] as const;

/**
 * Whether the caller asked for JSON, read before parsing proper: a usage error must honour `--json`
 * even when the rest of the line does not parse.
 */
export function wantsJson(argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === "--") return false;
    if (arg === "--json") return true;
  }
  return false;
}

/** Reads argv (without node and the script) into what to do. Throws `UsageError`. */
export function parseInvocation(argv: readonly string[]): Invocation {
  let values: Values;
  let positionals: string[];
  try {
    const parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
    values = parsed.values as Values;
    positionals = parsed.positionals;
  } catch (error) {
    throw new UsageError(parseErrorMessage(error));
  }
  const json = values.json === true;

  if (values.help === true) return { kind: "help", text: helpFor(positionals) };
  if (values.version === true) return { kind: "version", json };

  const [first, ...rest] = positionals;
  if (first === undefined) throw new UsageError("Missing command");

  if (first === "emulator" || first === "demo") {
    rejectOptions(values, [...API_OPTIONS, ...COMMAND_FLAGS, ...(first === "demo" ? (["port"] as const) : [])], first);
    if (rest.length > 0) throw new UsageError(`Unexpected argument '${rest[0]}' for '${first}'`);
    if (first === "demo") return { kind: "demo", json };
    return { kind: "emulator", json, port: integerOption(values.port, "--port", 0, 65_534) };
  }

  if (first !== "anyformat" && first !== "roboflow") throw new UsageError(`Unknown command '${first}'`);
  const api: ApiName = first;
  const apiHint = `Run 'faultline ${api} --help'`;
  const [resource, ...afterResource] = rest;
  if (resource === undefined) throw new UsageError(`Missing resource for '${api}'`, apiHint);
  const candidates = COMMANDS.filter((c) => c.api === api && c.resource === resource);
  if (candidates.length === 0) throw new UsageError(`Unknown resource '${resource}' for '${api}'`, apiHint);

  const resourceHint = `Run 'faultline ${api} ${resource} --help'`;
  let command: CommandSpec | undefined;
  let args: string[];
  if (candidates.length === 1 && candidates[0]?.action === undefined) {
    command = candidates[0];
    args = afterResource;
  } else {
    const [action, ...afterAction] = afterResource;
    if (action === undefined) throw new UsageError(`Missing action for '${api} ${resource}'`, resourceHint);
    command = candidates.find((c) => c.action === action);
    if (command === undefined) throw new UsageError(`Unknown action '${action}' for '${api} ${resource}'`, resourceHint);
    args = afterAction;
  }
  if (command === undefined) throw new UsageError(`Unknown resource '${resource}' for '${api}'`, apiHint);

  const name = commandName(command);
  const variadic = command.args.at(-1)?.endsWith("...") === true;
  if (args.length < command.args.length) {
    throw new UsageError(`Missing argument <${command.args[args.length]}> for '${name}'`, resourceHint);
  }
  if (args.length > command.args.length && !variadic) {
    throw new UsageError(`Unexpected argument '${args[command.args.length]}' for '${name}'`, resourceHint);
  }
  const named: Record<string, string> = {};
  command.args.forEach((argName, i) => {
    named[argName] = args[i] ?? "";
  });
  const many = variadic ? args.slice(command.args.length - 1) : [];

  const notAllowed = COMMAND_FLAGS.filter((flag) => !command.flags.includes(flag));
  rejectOptions(values, ["port", ...notAllowed, ...(api === "anyformat" ? ROBOFLOW_ONLY : [])], name, resourceHint);
  for (const flag of command.required ?? []) {
    if (values[flag] === undefined || values[flag] === "") {
      throw new UsageError(`Missing option --${flag} for '${name}'`, resourceHint);
    }
  }

  return {
    kind: "api",
    command,
    args: named,
    rest: many,
    flags: {
      wait: values.wait === true,
      name: values.name,
      description: values.description,
      fields: values.fields,
      filename: values.filename,
      out: values.out,
      journal: values.journal,
      resume: values.resume === true,
      concurrency: integerOption(values.concurrency, "--concurrency", 1, 1_000),
    },
    options: {
      json,
      apiKey: values["api-key"],
      baseUrl: values["base-url"],
      deploymentsUrl: values["deployments-url"],
      workspace: values.workspace,
      maxRetries: integerOption(values["max-retries"], "--max-retries", 0, 100),
      timeout: integerOption(values.timeout, "--timeout", 1, 2_147_483_647),
    },
  };
}

/** `anyformat workflows get`, as the user would type it after `faultline`. */
export function commandName(command: CommandSpec): string {
  return [command.api, command.resource, command.action].filter((p) => p !== undefined).join(" ");
}

function rejectOptions(values: Values, names: readonly (keyof Values)[], where: string, hint?: string): void {
  for (const name of names) {
    if (values[name] !== undefined) throw new UsageError(`Option --${name} does not apply to '${where}'`, hint);
  }
}

function integerOption(raw: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < min || Number(raw) > max) {
    throw new UsageError(`${flag} takes a whole number from ${min} to ${max}, not '${raw}'`);
  }
  return Number(raw);
}

/** node's parseArgs messages end in advice about `--` that only confuses here: keep the first sentence. */
function parseErrorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const match = /^Unknown option '([^']+)'/.exec(message);
    if (match !== null) return `Unknown option '${match[1]}'`;
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    const missing = /^Option '([^']+)' argument missing/.exec(message);
    if (missing !== null) return `Option '${missing[1]}' needs a value`;
    const ambiguous = /^Option '([^']+)' argument is ambiguous/.exec(message);
    if (ambiguous !== null) {
      return `Option '${ambiguous[1]}' needs a value; write ${ambiguous[1]}=<value> for one that starts with '-'`;
    }
  }
  const first = message.split("\n")[0] ?? message;
  return first.split(". ")[0] ?? first;
}

// ---------------------------------------------------------------------------------------------
// Usage text
// ---------------------------------------------------------------------------------------------

const GLOBAL_USAGE = "faultline [--json] [--api-key KEY] [--base-url URL] [--workspace WS] <api> <resource> <action> [args]";

const OPTIONS_TEXT = `Options:
  --json                 Print results as JSON on stdout; on failure, stdout stays empty
                         and stderr gets one JSON line {"error": {...}}
  --api-key KEY          API key [env ANYFORMAT_API_KEY or ROBOFLOW_API_KEY]
  --base-url URL         API base URL [env ANYFORMAT_BASE_URL or ROBOFLOW_BASE_URL]
  --workspace WS         Roboflow workspace [env ROBOFLOW_WORKSPACE]
  --deployments-url URL  Roboflow dedicated-deployments URL [env ROBOFLOW_DEPLOYMENTS_URL]
  --max-retries N        Retries after the first attempt [2]
  --timeout MS           Per-attempt timeout in milliseconds [60000]
  -h, --help             Show help; also after an api or a resource
  --version              Print the version`;

const EXIT_TEXT = `Exit codes:
  0  success
  1  any other failure: usage, bad input, network, server, unexpected response
  2  authentication: missing or invalid key (401, 403), no workspace selected
  3  not found (404)`;

function commandLine(command: CommandSpec): string {
  const args = command.args.map((a) => `<${a}>`).join(" ");
  return [commandName(command), args, command.flagUsage ?? ""].filter((p) => p !== "").join(" ");
}

/** Commands with their summaries; a summary moves under its command when the line would run long. */
function commandList(commands: readonly CommandSpec[]): string {
  const lines = commands.map((c) => [`faultline ${commandLine(c)}`, c.summary] as const);
  const width = Math.max(...lines.map(([l]) => l.length));
  if (width > 48) return lines.map(([l, s]) => `  ${l}\n      ${s}`).join("\n");
  return lines.map(([l, s]) => `  ${l.padEnd(width)}  ${s}`).join("\n");
}

/** The usage text for the deepest level the positionals name: top, api, or resource. */
export function helpFor(positionals: readonly string[]): string {
  const [api, resource] = positionals;
  if (api === "anyformat" || api === "roboflow") {
    const ofApi = COMMANDS.filter((c) => c.api === api);
    const ofResource = ofApi.filter((c) => c.resource === resource);
    if (ofResource.length > 0) {
      return `Usage: faultline [options] ${api} ${resource} ${ofResource[0]?.action === undefined ? "" : "<action> "}[args]

Commands:
${commandList(ofResource)}

${OPTIONS_TEXT}

${EXIT_TEXT}
`;
    }
    const resources = [...new Set(ofApi.map((c) => c.resource))].join(", ");
    return `Usage: faultline [options] ${api} <resource> <action> [args]

${API_SUMMARY[api]}. Resources: ${resources}.

Commands:
${commandList(ofApi)}

${OPTIONS_TEXT}

${EXIT_TEXT}
`;
  }
  return `Usage: ${GLOBAL_USAGE}
       faultline emulator [--port N]
       faultline demo

Call the anyformat and Roboflow APIs from the shell, with errors that say what to do.

APIs:
  anyformat  ${API_SUMMARY.anyformat}
  roboflow   ${API_SUMMARY.roboflow}

Commands:
${COMMANDS.map((c) => `  faultline ${commandLine(c)}`).join("\n")}
  faultline emulator [--port N]
  faultline demo

  'faultline <api> --help' and 'faultline <api> <resource> --help' describe each command.
  'faultline emulator' serves both emulators on loopback until Ctrl-C (anyformat on N, roboflow on N+1);
  'faultline demo' shows faultline at work against them.

${OPTIONS_TEXT}

${EXIT_TEXT}
`;
}
