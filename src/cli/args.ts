/**
 * The CLI's grammar: which commands exist, what they take, and every help page, built from the same
 * tables so help can never drift from what the parser accepts. Adding a command is one entry in
 * `COMMANDS` (its arguments, flags, summary, details and example) and one handler.
 */
import { DATA_TYPES } from "../anyformat/data-types.js";
import { FAULT_NAMES, type FaultName, type FaultRates } from "../testing/faults.js";

// Not `import { parseArgs } from "node:util"`: an ESM import of a builtin reads every export to build its
// facade, and node:util's lazy ones (TextDecoder, then its diff and colour helpers, which open stderr) cost
// `faultline --help` about a tenth of its time. The CommonJS object reads nothing until asked.
const { parseArgs } = process.getBuiltinModule("node:util");

export type ApiName = "anyformat" | "roboflow";

/** How a command's own flag parses, reads in usage, and is explained on its help page. */
interface FlagSpec {
  /** `integer` flags are parsed as whole numbers, `number` flags as decimals, from `min` to `max`. */
  readonly type: "boolean" | "string" | "integer" | "number";
  /** The placeholder after the flag in usage, e.g. `N` in `--limit N`. */
  readonly value?: string;
  readonly min?: number;
  readonly max?: number;
  /** A string flag given once per value (`--tag a --tag b`): its values, in order. */
  readonly multiple?: true;
  /** The values a string flag takes, and no other. */
  readonly choices?: readonly string[];
  readonly help: string;
}

/** Flags that belong to some commands only. Each command lists the ones it takes. */
export const FLAGS = {
  wait: { type: "boolean", help: "Wait until the work is done, polling (progress shows on a terminal)" },
  name: { type: "string", value: "N", help: "The workflow's name" },
  description: { type: "string", value: "D", help: "What the workflow is for" },
  fields: { type: "string", value: "<json|@file>", help: "The fields to extract: a JSON array, or @file.json holding one" },
  filename: { type: "string", value: "NAME", help: "The document's file name (for stdin, or to rename a file)" },
  limit: { type: "integer", value: "N", min: 1, max: Number.MAX_SAFE_INTEGER, help: "List at most N items [100]" },
  all: { type: "boolean", help: "List every item, however many (instead of --limit)" },
  port: { type: "integer", value: "N", min: 0, max: 65_534, help: "anyformat listens on N and Roboflow on N+1 [free ports]" },
  faults: {
    type: "string",
    value: "NAME=RATE,...",
    help: `Inject faults at these rates, 0 to 1 each (at most 1 in all), from:\n${FAULT_NAMES.join(", ")}`,
  },
  seed: { type: "integer", value: "N", min: 0, max: 2 ** 32 - 1, help: "Seed the fault draws and ids: the same seed, the same run [1]" },
  "rate-limit": {
    type: "string",
    value: "TIER=N/WINDOW,...",
    help: "anyformat's rate-limit tiers, e.g. submission=20/2s,general=200/2s (WINDOW in ms, s or m; both\ntiers share one window) [submission=60/1m,general=600/1m]; 'off' sends no limits",
  },
  out: { type: "string", value: "F", help: "Write one JSON line per file to F (its result, or the typed error)" },
  journal: { type: "string", value: "F", help: "Keep the batch's journal in F [<out>.journal]" },
  resume: { type: "boolean", help: "Go on with the batch its journal records, after a crash or Ctrl-C" },
  concurrency: { type: "integer", value: "N", min: 1, max: 1_000, help: "Files in flight at once [16]" },
  split: { type: "string", value: "S", choices: ["train", "valid", "test"], help: "The dataset split: train, valid or test [train]" },
  batch: { type: "string", value: "B", help: "The upload batch to file the images under in the Roboflow app" },
  tag: { type: "string", value: "T", multiple: true, help: "Tag every image with T; repeat for more tags" },
  annotations: {
    type: "string",
    value: "DIR",
    help: "Attach to each image the annotation file of the same base name in DIR (at the\nsame relative path): .xml, .txt, .coco.json...",
  },
  overwrite: { type: "boolean", help: "Replace an annotation an image already has" },
  confidence: { type: "number", value: "C", min: 0, max: 1, help: "Leave out predictions below this confidence, 0 to 1 [0.4]" },
  overlap: { type: "number", value: "O", min: 0, max: 1, help: "Merge boxes that overlap more than this, 0 to 1 [0.3]" },
  image: { type: "string", value: "<path|url>", help: "The image to run the Workflow on: a file, or an http(s) URL the host fetches" },
} as const satisfies Record<string, FlagSpec>;

export type CommandFlag = keyof typeof FLAGS;

/** What a command's flags parsed to: booleans, strings (a list for a repeated flag), and numbers. */
export type CommandFlags = {
  readonly [K in CommandFlag]: (typeof FLAGS)[K]["type"] extends "boolean"
    ? boolean
    : (typeof FLAGS)[K]["type"] extends "integer" | "number"
      ? number | undefined
      : (typeof FLAGS)[K] extends { readonly multiple: true }
        ? readonly string[]
        : string | undefined;
};

/** What every help page of a command shows. */
interface CommandHelp {
  /** Positional argument names, in order, all required; a last name ending in `...` takes one or more. */
  readonly args: readonly string[];
  readonly flags: readonly CommandFlag[];
  /** Flags that must be given. */
  readonly required?: readonly CommandFlag[] | undefined;
  /** One line, for lists of commands. */
  readonly summary: string;
  /** More, for the command's own page: what it prints, what its arguments and flags mean. */
  readonly details?: string | undefined;
  /** Command lines that run it, one per line, shown on its own page. */
  readonly example: string;
}

/** One API command: `faultline <api> <resource> [<action>] <args...>`. */
export interface CommandSpec extends CommandHelp {
  readonly api: ApiName;
  readonly resource: string;
  /** Absent for anyformat's `run` and `results`, which take their arguments straight after the resource. */
  readonly action?: string | undefined;
}

const LIST_FLAGS: readonly CommandFlag[] = ["limit", "all"];
const LIST_DETAILS =
  "Rows print as pages arrive: at most 100 by default, --limit N for another bound, --all for every one.\n" +
  "With --json, one array once the listing is complete (stdout stays empty if it fails half way).";

const FIELDS_DETAILS = `--fields is a JSON array of field definitions, or @path to a file holding one (a whole
create body, {"name": ..., "fields": [...]}, is accepted too). Each field is an object:
  name           the key its value comes back under in the results, kept exactly as written
  description    what to extract, in plain words
  data_type      one of ${DATA_TYPES.join(", ")}
  enum_options   the allowed values: required for enum and multi_select
  nested_fields  the fields inside an object, each of this same shape: required for object`;

export const COMMANDS: readonly CommandSpec[] = [
  {
    api: "anyformat",
    resource: "workflows",
    action: "list",
    args: [],
    flags: LIST_FLAGS,
    summary: "List workflows",
    details: LIST_DETAILS,
    example: "faultline anyformat workflows list --limit 20",
  },
  {
    api: "anyformat",
    resource: "workflows",
    action: "get",
    args: ["id"],
    flags: [],
    summary: "Show one workflow",
    details: "Prints the workflow with its fields.",
    example: "faultline anyformat workflows get 0b7c1d2e-5f60-4a81-9c3d-4e5f6a7b8c9d",
  },
  {
    api: "anyformat",
    resource: "workflows",
    action: "create",
    args: [],
    flags: ["name", "fields", "description"],
    required: ["name", "fields"],
    summary: "Create a workflow from a JSON array of fields",
    details: FIELDS_DETAILS,
    example: [
      `faultline anyformat workflows create --name Invoices \\`,
      `  --fields '[{"name": "total", "description": "Invoice total", "data_type": "float"}]'`,
      "faultline anyformat workflows create --name Invoices --fields @fields.json",
    ].join("\n"),
  },
  {
    api: "anyformat",
    resource: "workflows",
    action: "delete",
    args: ["id"],
    flags: [],
    summary: "Delete a workflow and its results",
    details: 'Cannot be undone. With --json:\n{"type": "workflow", "id": "<id>", "deleted": true, "restorable": false}',
    example: "faultline anyformat workflows delete 0b7c1d2e-5f60-4a81-9c3d-4e5f6a7b8c9d",
  },
  {
    api: "anyformat",
    resource: "run",
    args: ["workflow", "file|-"],
    flags: ["wait", "filename"],
    summary: "Run a workflow on a file ('-' streams stdin); --wait prints the results",
    details:
      "Without --wait, prints the run's collection id and the command that fetches its results. With --wait,\n" +
      "polls until the extraction ends and prints each field's value; Ctrl-C stops the waiting, not the run.",
    example: ["faultline anyformat run <workflow> invoice.pdf --wait", "cat invoice.pdf | faultline anyformat run <workflow> - --filename invoice.pdf"].join("\n"),
  },
  {
    api: "anyformat",
    resource: "results",
    args: ["workflow", "collection"],
    flags: ["wait"],
    summary: "Show a run's results; --wait polls until they are ready",
    details: "Without --wait, a run still processing is an error (exit 1) that says to add --wait.",
    example: "faultline anyformat results <workflow> <collection> --wait",
  },
  {
    api: "anyformat",
    resource: "batch",
    args: ["workflow", "paths..."],
    flags: ["out", "journal", "resume", "concurrency"],
    required: ["out"],
    summary: "Extract files and folders into JSON lines (--out); after a crash or Ctrl-C, --resume goes on",
    details:
      "Each document's outcome is one line of --out: its name, status, and results or the typed error. Every step is\n" +
      "journalled first, so a batch killed at any moment resumes with --resume without submitting a document twice.\n" +
      "Exit 0 when every document was processed, 1 when some failed, 2 on an authentication failure, 130 on Ctrl-C.",
    example: "faultline anyformat batch <workflow> ./invoices --out results.jsonl",
  },
  {
    api: "roboflow",
    resource: "project",
    action: "list",
    args: [],
    flags: LIST_FLAGS,
    summary: "List the workspace's projects",
    details: LIST_DETAILS,
    example: "faultline roboflow project list --workspace acme",
  },
  {
    api: "roboflow",
    resource: "project",
    action: "get",
    args: ["project"],
    flags: [],
    summary: "Show a project and its versions",
    example: "faultline roboflow project get widgets",
  },
  {
    api: "roboflow",
    resource: "project",
    action: "delete",
    args: ["project"],
    flags: [],
    summary: "Move a project to Trash",
    details: `'project restore' takes it back. With --json:\n{"type": "project", "id": "<project>", "deleted": true, "restorable": true}`,
    example: "faultline roboflow project delete widgets",
  },
  {
    api: "roboflow",
    resource: "project",
    action: "restore",
    args: ["project"],
    flags: [],
    summary: "Take a project back from Trash",
    example: "faultline roboflow project restore widgets",
  },
  {
    api: "roboflow",
    resource: "upload",
    args: ["project", "paths..."],
    flags: ["split", "batch", "tag", "annotations", "overwrite", "out", "journal", "resume", "concurrency"],
    summary: "Upload image files and folders to a project, with their annotations; after a crash or Ctrl-C, --resume goes on",
    details:
      "Folders are walked at any depth for images (.jpg, .png, .webp, .bmp, .gif, .tiff, .avif, .heic; hidden files\n" +
      "are skipped, other files counted and left); a file named on the command line is sent as it is. Each image's\n" +
      "outcome is one line of --out [roboflow-upload-<project>.jsonl]: its id and whether Roboflow already had those\n" +
      "bytes (duplicate, a success), or the typed error; the summary names the failures. Every step is journalled\n" +
      "first, so a batch killed at any moment resumes with --resume: an image known to be uploaded is never sent again,\n" +
      "and one whose answer was lost is resent, Roboflow's duplicate check answering it with the stored image's id.\n" +
      "An annotation is attached after its image and journalled too: \"already annotated\" fails an image only when\n" +
      "the annotation is not this batch's own (--overwrite replaces it).\n" +
      "Exit 0 when every image was uploaded, 1 when some failed, 2 on an authentication failure, 3 when the project\n" +
      "does not exist, 130 on Ctrl-C.",
    example: [
      "faultline roboflow upload widgets ./images --split train --tag line-3 --tag night",
      "faultline roboflow upload widgets ./images --annotations ./labels --out upload.jsonl",
    ].join("\n"),
  },
  {
    api: "roboflow",
    resource: "infer",
    args: ["project/version", "image"],
    flags: ["confidence", "overlap"],
    summary: "Run a trained model on an image (a file or an http(s) URL) and print its predictions",
    details:
      "Runs on the hosted inference service (--inference-url). Prints a table of the predictions: class, confidence\n" +
      "and box (x, y its centre, in pixels), or the classes of a classification model; with --json, the model's answer\n" +
      "with its kind (detection, classification or multi-label). A model still loading (503) is waited for as the\n" +
      "service asks; a workspace out of credits (402) is exit 1, never retried.",
    example: "faultline roboflow infer widgets/2 ./widget.jpg --confidence 0.5",
  },
  {
    api: "roboflow",
    resource: "version",
    action: "get",
    args: ["project", "version"],
    flags: [],
    summary: "Show a dataset version",
    example: "faultline roboflow version get widgets 2",
  },
  {
    api: "roboflow",
    resource: "version",
    action: "export",
    args: ["project", "version", "format"],
    flags: ["wait"],
    summary: "Export a version (coco, yolov8, voc, ...); --wait polls until the link is ready",
    details: "Without --wait, prints how far the export has got; run it again, or add --wait, for the link.",
    example: "faultline roboflow version export widgets 2 coco --wait",
  },
  {
    api: "roboflow",
    resource: "version",
    action: "delete",
    args: ["project", "version"],
    flags: [],
    summary: "Move a version to Trash",
    details: `'version restore' takes it back. With --json:\n{"type": "version", "id": "<project>/<version>", "deleted": true, "restorable": true}`,
    example: "faultline roboflow version delete widgets 2",
  },
  {
    api: "roboflow",
    resource: "version",
    action: "restore",
    args: ["project", "version"],
    flags: [],
    summary: "Take a version back from Trash",
    example: "faultline roboflow version restore widgets 2",
  },
  {
    api: "roboflow",
    resource: "trash",
    action: "list",
    args: [],
    flags: LIST_FLAGS,
    summary: "List what is in Trash",
    details: LIST_DETAILS,
    example: "faultline roboflow trash list",
  },
  {
    api: "roboflow",
    resource: "workflow",
    action: "list",
    args: [],
    flags: LIST_FLAGS,
    summary: "List the workspace's workflows",
    details: LIST_DETAILS,
    example: "faultline roboflow workflow list",
  },
  {
    api: "roboflow",
    resource: "workflow",
    action: "get",
    args: ["url"],
    flags: [],
    summary: "Show a workflow and its definition",
    details: "<url> is the workflow's slug, as 'workflow list' shows it.",
    example: "faultline roboflow workflow get detect-widgets",
  },
  {
    api: "roboflow",
    resource: "workflow",
    action: "run",
    args: ["id"],
    flags: ["image"],
    required: ["image"],
    summary: "Run a Workflow on an image and print its outputs",
    details:
      "<id> is the Workflow's id in its URL (the slug a workflow listing shows). Runs on the hosted inference service\n" +
      "(--inference-url). Predictions print as a table, other outputs as they are; with --json, {\"outputs\": [...]},\n" +
      "one entry per image.",
    example: "faultline roboflow workflow run detect-widgets --image ./widget.jpg",
  },
  {
    api: "roboflow",
    resource: "deployment",
    action: "list",
    args: [],
    flags: LIST_FLAGS,
    summary: "List dedicated deployments",
    details: LIST_DETAILS,
    example: "faultline roboflow deployment list",
  },
  {
    api: "roboflow",
    resource: "deployment",
    action: "get",
    args: ["name"],
    flags: [],
    summary: "Show a dedicated deployment",
    example: "faultline roboflow deployment get my-deployment",
  },
];

/** The commands that are not an API's: their names are their whole command line. */
type LocalName = "emulator" | "demo" | "help";

interface LocalCommandSpec extends CommandHelp {
  readonly name: LocalName;
}

const LOCAL_COMMANDS: Readonly<Record<LocalName, LocalCommandSpec>> = {
  emulator: {
    name: "emulator",
    args: [],
    flags: ["port", "faults", "seed", "rate-limit"],
    summary: "Serve both APIs' emulators on loopback until Ctrl-C",
    details:
      "Prints each emulator's URL and key (with --json, one line of JSON) and the exports that point the CLI at\n" +
      "them. Faults are drawn for every request, from the seed: the same seed and requests give the same run.",
    example: [
      "faultline emulator --port 8600",
      "faultline emulator --faults serverError=0.2,rateLimit=0.1 --seed 7",
      "faultline emulator --rate-limit submission=20/2s,general=200/2s",
    ].join("\n"),
  },
  demo: {
    name: "demo",
    args: [],
    flags: [],
    summary: "Watch faultline fail well, against the embedded emulators",
    details:
      "Always runs on the embedded emulators, never on a real account: no key is read, nothing leaves the machine.\n" +
      "With --json, prints one JSON summary of the steps at the end.",
    example: "faultline demo",
  },
  help: {
    name: "help",
    args: ["[command...]"],
    flags: [],
    summary: "Show the help page of a command",
    example: "faultline help anyformat workflows create",
  },
};

const API_SUMMARY: Readonly<Record<ApiName, string>> = {
  anyformat: "Document extraction: workflows, runs and their results",
  roboflow: "Computer vision: projects, versions, image uploads, inference, Trash, workflows and deployments",
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
  readonly inferenceUrl: string | undefined;
  readonly workspace: string | undefined;
  readonly maxRetries: number | undefined;
  readonly timeout: number | undefined;
}

export type Invocation =
  | { readonly kind: "help"; readonly text: string }
  | { readonly kind: "version"; readonly json: boolean }
  | {
      readonly kind: "emulator";
      readonly json: boolean;
      readonly port: number | undefined;
      readonly faults: FaultRates;
      readonly seed: number | undefined;
      /** anyformat's tiers; `false` for none; `undefined` for the documented ones. */
      readonly rateLimits: EmulatorRateLimits | false | undefined;
    }
  | { readonly kind: "demo"; readonly json: boolean }
  | {
      readonly kind: "api";
      readonly command: CommandSpec;
      /** Positional values by the names in `command.args`. */
      readonly args: Readonly<Record<string, string>>;
      /** The values of a last argument that takes one or more (`paths...`), by its name without the `...`. */
      readonly rest: Readonly<Record<string, readonly string[]>>;
      readonly flags: CommandFlags;
      readonly options: GlobalOptions;
    };

const GLOBAL_OPTIONS = {
  json: { type: "boolean" },
  "api-key": { type: "string" },
  "base-url": { type: "string" },
  "deployments-url": { type: "string" },
  "inference-url": { type: "string" },
  workspace: { type: "string" },
  "max-retries": { type: "string" },
  timeout: { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
} as const;

const COMMAND_FLAGS = Object.keys(FLAGS) as CommandFlag[];

const OPTIONS = {
  ...GLOBAL_OPTIONS,
  ...(Object.fromEntries(
    COMMAND_FLAGS.map((flag) => {
      const spec: FlagSpec = FLAGS[flag];
      return [flag, { type: spec.type === "boolean" ? "boolean" : "string", ...(spec.multiple === true ? { multiple: true } : {}) }];
    }),
  ) as { readonly [K in CommandFlag]: { readonly type: "boolean" | "string"; readonly multiple?: boolean } }),
};

type Values = Partial<Record<keyof typeof GLOBAL_OPTIONS | CommandFlag, string | boolean | string[]>>;

const ROBOFLOW_ONLY = ["workspace", "deployments-url", "inference-url"] as const;
const API_OPTIONS = ["api-key", "base-url", "deployments-url", "inference-url", "workspace", "max-retries", "timeout"] as const;

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

  // `faultline help <command...>` and `faultline <command...> --help` show the same page.
  if (positionals[0] === "help") return { kind: "help", text: helpFor(positionals.slice(1)) };
  if (values.help === true) return { kind: "help", text: helpFor(positionals) };
  if (values.version === true) return { kind: "version", json };

  const [first, ...rest] = positionals;
  if (first === undefined) throw new UsageError("Missing command");

  if (first === "emulator" || first === "demo") {
    const spec = LOCAL_COMMANDS[first];
    const hint = `Run 'faultline ${first} --help'`;
    rejectOptions(values, [...API_OPTIONS, ...COMMAND_FLAGS.filter((f) => !spec.flags.includes(f))], first, hint);
    if (rest.length > 0) throw new UsageError(`Unexpected argument '${rest[0]}' for '${first}'`, hint);
    if (first === "demo") return { kind: "demo", json };
    const flags = commandFlags(values, hint);
    return {
      kind: "emulator",
      json,
      port: flags.port,
      seed: flags.seed,
      faults: faultRates(flags.faults, hint),
      rateLimits: rateLimits(flags["rate-limit"], hint),
    };
  }

  if (first !== "anyformat" && first !== "roboflow") throw new UsageError(`Unknown command '${first}'`);
  const api: ApiName = first;
  const { command, args } = resolveCommand(api, rest);
  const name = commandName(command);
  const commandHint = `Run 'faultline ${name} --help'`;

  const named: Record<string, string> = {};
  const variadic: Record<string, readonly string[]> = {};
  command.args.forEach((argName, i) => {
    if (argName.endsWith("...")) {
      const given = args.slice(i);
      if (given.length === 0) throw new UsageError(`Missing argument <${argName.slice(0, -3)}> for '${name}'`, commandHint);
      variadic[argName.slice(0, -3)] = given;
      return;
    }
    const value = args[i];
    if (value === undefined) throw new UsageError(`Missing argument <${argName}> for '${name}'`, commandHint);
    named[argName] = value;
  });
  if (!command.args.some((a) => a.endsWith("...")) && args.length > command.args.length) {
    throw new UsageError(`Unexpected argument '${args[command.args.length]}' for '${name}'`, commandHint);
  }

  const notAllowed = COMMAND_FLAGS.filter((flag) => !command.flags.includes(flag));
  rejectOptions(values, [...notAllowed, ...(api === "anyformat" ? ROBOFLOW_ONLY : [])], name, commandHint);
  for (const flag of command.required ?? []) {
    if (values[flag] === undefined || values[flag] === "") {
      throw new UsageError(`Missing option --${flag} for '${name}'`, commandHint);
    }
  }
  const flags = commandFlags(values, commandHint);
  if (flags.all && flags.limit !== undefined) throw new UsageError("Give --limit N or --all, not both", commandHint);

  return {
    kind: "api",
    command,
    args: named,
    rest: variadic,
    flags,
    options: {
      json,
      apiKey: stringValue(values["api-key"]),
      baseUrl: stringValue(values["base-url"]),
      deploymentsUrl: stringValue(values["deployments-url"]),
      inferenceUrl: stringValue(values["inference-url"]),
      workspace: stringValue(values.workspace),
      maxRetries: integerOption(stringValue(values["max-retries"]), "--max-retries", 0, 100, commandHint),
      timeout: integerOption(stringValue(values.timeout), "--timeout", 1, 2_147_483_647, commandHint),
    },
  };
}

/** The command the words after `<api>` name, and the arguments after it. */
function resolveCommand(api: ApiName, words: readonly string[]): { command: CommandSpec; args: string[] } {
  const apiHint = `Run 'faultline ${api} --help'`;
  const [resource, ...afterResource] = words;
  if (resource === undefined) throw new UsageError(`Missing resource for '${api}'`, apiHint);
  const candidates = COMMANDS.filter((c) => c.api === api && c.resource === resource);
  const only = candidates[0];
  if (only === undefined) throw new UsageError(`Unknown resource '${resource}' for '${api}'`, apiHint);
  if (candidates.length === 1 && only.action === undefined) return { command: only, args: afterResource };
  const resourceHint = `Run 'faultline ${api} ${resource} --help'`;
  const [action, ...afterAction] = afterResource;
  if (action === undefined) throw new UsageError(`Missing action for '${api} ${resource}'`, resourceHint);
  const command = candidates.find((c) => c.action === action);
  if (command === undefined) throw new UsageError(`Unknown action '${action}' for '${api} ${resource}'`, resourceHint);
  return { command, args: afterAction };
}

/** `anyformat workflows get`, as the user would type it after `faultline`. */
export function commandName(command: CommandSpec): string {
  return [command.api, command.resource, command.action].filter((p) => p !== undefined).join(" ");
}

function commandFlags(values: Values, hint: string): CommandFlags {
  const flags: Record<string, boolean | string | number | readonly string[] | undefined> = {};
  for (const flag of COMMAND_FLAGS) {
    const spec: FlagSpec = FLAGS[flag];
    const raw = values[flag];
    if (spec.type === "boolean") flags[flag] = raw === true;
    else if (spec.type === "integer") flags[flag] = integerOption(stringValue(raw), `--${flag}`, spec.min ?? 0, spec.max ?? Number.MAX_SAFE_INTEGER, hint);
    else if (spec.type === "number") flags[flag] = numberOption(stringValue(raw), `--${flag}`, spec.min ?? 0, spec.max ?? Number.MAX_VALUE, hint);
    else if (spec.multiple === true) flags[flag] = (Array.isArray(raw) ? raw : []).map((value) => chosen(value, flag, spec, hint));
    else flags[flag] = raw === undefined ? undefined : chosen(stringValue(raw) ?? "", flag, spec, hint);
  }
  return flags as unknown as CommandFlags;
}

/** A string flag's value, checked against its choices; a repeated flag's values are never blank. */
function chosen(value: string, flag: string, spec: FlagSpec, hint: string): string {
  if (spec.choices !== undefined && !spec.choices.includes(value)) {
    throw new UsageError(`--${flag} takes ${spec.choices.join(", ")}, not '${value}'`, hint);
  }
  if (spec.multiple === true && value.trim() === "") throw new UsageError(`--${flag} needs a value that is not blank`, hint);
  return value;
}

function stringValue(value: string | boolean | string[] | undefined): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function rejectOptions(values: Values, names: readonly (keyof Values)[], where: string, hint?: string): void {
  for (const name of names) {
    if (values[name] !== undefined) throw new UsageError(`Option --${name} does not apply to '${where}'`, hint);
  }
}

function numberOption(raw: string | undefined, flag: string, min: number, max: number, hint?: string): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!/^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(raw) || value < min || value > max) {
    // A fraction given as a percentage, the other scale Roboflow's own tools use.
    const percent = max === 1 && value > 1 && value <= 100 ? `${flag} is a fraction: for ${value}%, pass ${value / 100}` : undefined;
    throw new UsageError(`${flag} takes a number from ${min} to ${max}, not '${raw}'`, percent ?? hint);
  }
  return value;
}

function integerOption(raw: string | undefined, flag: string, min: number, max: number, hint?: string): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < min || Number(raw) > max) {
    throw new UsageError(`${flag} takes a whole number from ${min} to ${max}, not '${raw}'`, hint);
  }
  return Number(raw);
}

/** `--faults serverError=0.2,rateLimit=0.1` as the testing kit's `faults` option. */
function faultRates(spec: string | undefined, hint: string): FaultRates {
  if (spec === undefined) return {};
  const rates: Partial<Record<FaultName, number>> = {};
  let total = 0;
  for (const entry of spec.split(",").map((e) => e.trim()).filter((e) => e !== "")) {
    const match = /^([A-Za-z]+)=(\d+(?:\.\d+)?|\.\d+)$/.exec(entry);
    if (match === null) throw new UsageError(`--faults takes NAME=RATE entries separated by commas, not '${entry}'`, hint);
    const [, name = "", raw = ""] = match;
    if (!FAULT_NAMES.includes(name as FaultName)) {
      throw new UsageError(`Unknown fault '${name}' in --faults (known: ${FAULT_NAMES.join(", ")})`, hint);
    }
    const rate = Number(raw);
    if (rate > 1) throw new UsageError(`The rate of ${name} in --faults is ${raw}: rates go from 0 to 1`, hint);
    rates[name as FaultName] = rate;
    total += rate;
  }
  if (total > 1 + 1e-9) throw new UsageError(`The rates in --faults add up to ${total}, more than 1`, hint);
  return rates;
}

/** What `--rate-limit` sets: the emulator's anyformat tiers (one window for both, as the emulator keeps them). */
export interface EmulatorRateLimits {
  readonly submission?: number | undefined;
  readonly general?: number | undefined;
  readonly windowMs?: number | undefined;
}

/** `submission=20/2s,general=200/2s`: each tier's count per window; `off` for none. */
function rateLimits(spec: string | undefined, hint: string): EmulatorRateLimits | false | undefined {
  if (spec === undefined) return undefined;
  if (spec.trim() === "off") return false;
  const tiers: { submission?: number; general?: number } = {};
  let windowMs: number | undefined;
  for (const entry of spec.split(",").map((e) => e.trim()).filter((e) => e !== "")) {
    const match = /^(submission|general)=(\d+)\/(\d+(?:\.\d+)?)(ms|s|m)$/.exec(entry);
    if (match === null) throw new UsageError(`--rate-limit takes TIER=N/WINDOW entries (submission or general, e.g. submission=20/2s), not '${entry}'`, hint);
    const [, tier = "", count = "", amount = "", unit = ""] = match;
    const ms = Number(amount) * (unit === "m" ? 60_000 : unit === "s" ? 1_000 : 1);
    if (Number(count) < 1 || ms < 1) throw new UsageError(`--rate-limit needs at least 1 request per window of at least 1 ms, not '${entry}'`, hint);
    if (windowMs !== undefined && windowMs !== ms) throw new UsageError("--rate-limit: both tiers share one window in the emulator; give them the same", hint);
    windowMs = ms;
    tiers[tier as "submission" | "general"] = Number(count);
  }
  return { ...tiers, windowMs };
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
// Help pages
// ---------------------------------------------------------------------------------------------

const API_OPTIONS_TEXT = `Options:
  --json                 Print results as JSON on stdout; on failure, stdout stays empty
                         and stderr gets one JSON line {"error": {...}}
  --api-key KEY          API key [env ANYFORMAT_API_KEY or ROBOFLOW_API_KEY]
  --base-url URL         API base URL [env ANYFORMAT_BASE_URL or ROBOFLOW_BASE_URL]
  --workspace WS         Roboflow workspace [env ROBOFLOW_WORKSPACE]
  --deployments-url URL  Roboflow dedicated-deployments URL [env ROBOFLOW_DEPLOYMENTS_URL]
  --inference-url URL    Roboflow inference URL, models and Workflows [env ROBOFLOW_INFERENCE_URL]
  --max-retries N        Retries after the first attempt [2]
  --timeout MS           Per-attempt timeout in milliseconds [60000]
  -h, --help             Show help; also after any command
  --version              Print the version`;

const EXIT_TEXT = `Exit codes:
  0    success
  1    any other failure: usage, bad input, network, server, unexpected response
  2    authentication: missing or invalid key (401, 403), no workspace selected
  3    not found (404)
  130  interrupted (Ctrl-C)`;

/** `--name N`, `[--description D]`, `[--wait]`: a command's flags as they read in usage. */
function flagUsage(spec: CommandHelp): string {
  return spec.flags
    .map((flag) => {
      const f: FlagSpec = FLAGS[flag];
      const text = f.value === undefined ? `--${flag}` : `--${flag} ${f.value}`;
      const usage = spec.required?.includes(flag) === true ? text : `[${text}]`;
      return f.multiple === true ? `${usage}...` : usage;
    })
    .join(" ");
}

function usageLine(name: string, spec: CommandHelp): string {
  // `[name]` is shown as written: an optional argument (help's own).
  const args = spec.args.map((a) => (a.startsWith("[") ? a : a.endsWith("...") ? `<${a.slice(0, -3)}>...` : `<${a}>`)).join(" ");
  return [`faultline ${name}`, args, flagUsage(spec)].filter((p) => p !== "").join(" ");
}

function apiUsageLine(command: CommandSpec): string {
  return usageLine(commandName(command), command);
}

/** Commands with their summaries; a summary moves under its command when the line would run long. */
function commandList(lines: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(...lines.map(([l]) => l.length));
  if (width > 48) return lines.map(([l, s]) => `  ${l}\n      ${s}`).join("\n");
  return lines.map(([l, s]) => `  ${l.padEnd(width)}  ${s}`).join("\n");
}

function indent(text: string, by = "  "): string {
  return text
    .split("\n")
    .map((line) => (line === "" ? line : `${by}${line}`))
    .join("\n");
}

/** The page of one command: usage, what it does, its own flags, an example. */
function commandPage(name: string, spec: CommandHelp, api: ApiName | undefined): string {
  const sections = [`Usage: ${usageLine(name, spec)}`, `${spec.summary}.`];
  if (spec.details !== undefined) sections.push(spec.details);
  if (spec.flags.length > 0) {
    const rows = spec.flags.map((flag) => {
      const f: FlagSpec = FLAGS[flag];
      return [f.value === undefined ? `--${flag}` : `--${flag} ${f.value}`, f.help] as const;
    });
    const width = Math.max(...rows.map(([l]) => l.length));
    // A help that runs over lines continues under its first line.
    const row = ([l, h]: readonly [string, string]): string => `  ${l.padEnd(width)}  ${h.split("\n").join(`\n${" ".repeat(width + 4)}`)}`;
    sections.push(`Flags:\n${rows.map(row).join("\n")}`);
  }
  sections.push(`Example${spec.example.includes("\n") ? "s" : ""}:\n${indent(spec.example)}`);
  if (api !== undefined) {
    const lines = API_OPTIONS_TEXT.split("\n").filter((l) => api === "roboflow" || !/--workspace|--deployments-url|--inference-url/.test(l));
    sections.push(lines.join("\n"), EXIT_TEXT);
  } else {
    sections.push("Options:\n  --json      Print JSON instead of text\n  -h, --help  Show this page");
  }
  return `${sections.join("\n\n")}\n`;
}

function apiPage(api: ApiName): string {
  const ofApi = COMMANDS.filter((c) => c.api === api);
  const resources = [...new Set(ofApi.map((c) => c.resource))].join(", ");
  return `Usage: faultline [options] ${api} <resource> <action> [args]

${API_SUMMARY[api]}. Resources: ${resources}.

Commands:
${commandList(ofApi.map((c) => [apiUsageLine(c), c.summary]))}

  'faultline help ${api} <resource> <action>' shows a command's own page, with an example.

${API_OPTIONS_TEXT}

${EXIT_TEXT}
`;
}

function resourcePage(api: ApiName, resource: string, commands: readonly CommandSpec[]): string {
  return `Usage: faultline [options] ${api} ${resource} <action> [args]

Commands:
${commandList(commands.map((c) => [apiUsageLine(c), c.summary]))}

  'faultline help ${api} ${resource} <action>' shows a command's own page, with an example.

${API_OPTIONS_TEXT}

${EXIT_TEXT}
`;
}

function topPage(): string {
  const local = (Object.values(LOCAL_COMMANDS) as LocalCommandSpec[]).map((c) => [usageLine(c.name, c), c.summary] as const);
  return `Usage: faultline [options] <api> <resource> <action> [args]
       ${local.map(([line]) => line).join("\n       ")}

Call the anyformat and Roboflow APIs from the shell, with errors that say what to do.

APIs:
  anyformat  ${API_SUMMARY.anyformat}
  roboflow   ${API_SUMMARY.roboflow}

Commands:
${COMMANDS.map((c) => `  ${apiUsageLine(c)}`).join("\n")}

${commandList(local)}

  'faultline help <command...>' (or '<command...> --help') shows a command's own page, with an example:
  faultline help anyformat workflows create

${API_OPTIONS_TEXT}

${EXIT_TEXT}
`;
}

/**
 * The help page the words name: the top page, an API's, a resource's, or one command's (words after a
 * whole command, its arguments, are ignored). A word that names nothing is a `UsageError`.
 */
export function helpFor(words: readonly string[]): string {
  const [first, second, third] = words;
  if (first === undefined) return topPage();
  if (first === "emulator" || first === "demo" || first === "help") return commandPage(first, LOCAL_COMMANDS[first], undefined);
  if (first !== "anyformat" && first !== "roboflow") throw new UsageError(`Unknown command '${first}'`, "Run 'faultline help'");
  if (second === undefined) return apiPage(first);
  const commands = COMMANDS.filter((c) => c.api === first && c.resource === second);
  const only = commands[0];
  if (only === undefined) throw new UsageError(`Unknown resource '${second}' for '${first}'`, `Run 'faultline help ${first}'`);
  if (commands.length === 1 && only.action === undefined) return commandPage(commandName(only), only, first);
  if (third === undefined) return resourcePage(first, second, commands);
  const command = commands.find((c) => c.action === third);
  if (command === undefined) {
    throw new UsageError(`Unknown action '${third}' for '${first} ${second}'`, `Run 'faultline help ${first} ${second}'`);
  }
  return commandPage(commandName(command), command, first);
}
