import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DATA_TYPES } from "../../src/anyformat/data-types.js";
import { COMMANDS, commandName } from "../../src/cli/args.js";
import { FAULT_NAMES } from "../../src/testing/faults.js";
import { startEmulator } from "../../src/testing/server.js";
import { png } from "../helpers/images.js";
import { expectFailure, MODES, runCli, startCli } from "./support.js";

describe.concurrent("faultline help", () => {
  const levels: readonly (readonly string[])[] = [
    [],
    ["anyformat"],
    ["roboflow"],
    ["anyformat", "workflows"],
    ["anyformat", "run"],
    ["roboflow", "project"],
    ["roboflow", "version", "export"],
  ];
  for (const level of levels) {
    for (const flag of ["--help", "-h"]) {
      it(`prints usage on stdout and exits 0 for 'faultline ${[...level, flag].join(" ")}'`, async () => {
        const result = await runCli([...level, flag]);
        expect(result.code).toBe(0);
        expect(result.stdout).toMatch(/^Usage: faultline/);
        expect(result.stderr).toBe("");
        if (level.length > 0) expect(result.stdout).toContain(`faultline ${level.slice(0, 2).join(" ")}`);
      });
    }
  }

  for (const command of COMMANDS) {
    const name = commandName(command);
    it(`gives '${name}' its own page, with its arguments, flags and example, for --help and for 'help'`, async () => {
      const result = await runCli([...name.split(" "), "--help"]);
      expect(result.code).toBe(0);
      expect(result.stderr).toBe("");
      const usage = [`Usage: faultline ${name}`, ...command.args.map((arg) => (arg.endsWith("...") ? `<${arg.slice(0, -3)}>...` : `<${arg}>`))].join(" ");
      expect(result.stdout.startsWith(usage)).toBe(true);
      expect(result.stdout).toContain(command.summary);
      expect(result.stdout).toContain(`Example`);
      expect(result.stdout).toContain(command.example.split("\n")[0]);
      for (const flag of command.flags) expect(result.stdout).toContain(`--${flag}`);
      // Not the page of its resource: no other command of the resource is listed.
      for (const other of COMMANDS.filter((c) => c.api === command.api && c !== command)) {
        expect(result.stdout).not.toContain(`faultline ${commandName(other)} `);
      }
      const viaHelp = await runCli(["help", ...name.split(" ")]);
      expect(viaHelp.code).toBe(0);
      expect(viaHelp.stdout).toBe(result.stdout);
    });
  }

  for (const command of ["emulator", "demo"]) {
    it(`gives '${command}' its own page for --help and for 'help ${command}'`, async () => {
      const result = await runCli([command, "--help"]);
      expect(result.code).toBe(0);
      expect(result.stdout.startsWith(`Usage: faultline ${command}`)).toBe(true);
      expect(result.stdout).toContain("Example");
      expect(result.stdout).not.toContain("Commands:");
      expect((await runCli(["help", command])).stdout).toBe(result.stdout);
    });
  }

  it("documents the emulator's --faults and --seed, naming every fault", async () => {
    const result = await runCli(["emulator", "--help"]);
    expect(result.stdout).toContain("--faults NAME=RATE,...");
    expect(result.stdout).toContain("--seed N");
    for (const fault of FAULT_NAMES) expect(result.stdout).toContain(fault);
  });

  it("describes the shape of a --fields entry on the create page", async () => {
    const result = await runCli(["anyformat", "workflows", "create", "--help"]);
    for (const key of ["name", "description", "data_type", "enum_options", "nested_fields"]) {
      expect(result.stdout).toMatch(new RegExp(`^  ${key} +\\S`, "m"));
    }
    for (const type of DATA_TYPES) expect(result.stdout).toContain(type);
    expect(result.stdout).toContain(`--fields '[{"name": "total", "description": "Invoice total", "data_type": "float"}]'`);
  });

  it("works as a command: 'faultline help' is the top page, 'faultline help anyformat' the API's", async () => {
    const help = await runCli(["help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toBe((await runCli(["--help"])).stdout);
    const api = await runCli(["help", "anyformat"]);
    expect(api.stdout).toBe((await runCli(["anyformat", "--help"])).stdout);
    expect((await runCli(["help", "help"])).stdout.startsWith("Usage: faultline help [command...]")).toBe(true);
  });

  for (const mode of MODES) {
    it(`is a usage error (exit 1) for a command that does not exist, in ${mode.name} mode`, async () => {
      for (const words of [["frob"], ["anyformat", "frob"], ["roboflow", "project", "frob"]]) {
        const result = await runCli([...mode.flags, "help", ...words]);
        expectFailure(result, mode, { exit: 1, code: "USAGE_ERROR", message: /Unknown (command|resource|action) 'frob'/, hint: /faultline help/ });
      }
    });
  }

  it("wins over a command that would otherwise be incomplete", async () => {
    const result = await runCli(["roboflow", "version", "get", "--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("faultline roboflow version get <project> <version>");
  });

  it("lists every command and the exit codes at the top level", async () => {
    const result = await runCli(["--help"]);
    for (const command of ["anyformat run", "anyformat results", "roboflow trash list", "roboflow deployment get", "roboflow upload", "roboflow infer", "roboflow workflow run", "emulator", "demo"]) {
      expect(result.stdout).toContain(`faultline ${command}`);
    }
    expect(result.stdout).toMatch(/2 +authentication/);
  });

  it("prints the version with --version", async () => {
    const result = await runCli(["--version"]);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

const USAGE_ERRORS: readonly { readonly why: string; readonly args: readonly string[]; readonly message: RegExp }[] = [
  { why: "no command at all", args: [], message: /Missing command/ },
  { why: "an unknown command", args: ["frobnicate"], message: /Unknown command 'frobnicate'/ },
  { why: "a missing resource", args: ["roboflow"], message: /Missing resource/ },
  { why: "an unknown resource", args: ["roboflow", "projects", "list"], message: /Unknown resource 'projects'/ },
  { why: "a missing action", args: ["anyformat", "workflows"], message: /Missing action/ },
  { why: "an unknown action", args: ["roboflow", "project", "rename", "x"], message: /Unknown action 'rename'/ },
  { why: "a missing argument", args: ["roboflow", "version", "get", "widgets"], message: /Missing argument <version>/ },
  { why: "an extra argument", args: ["roboflow", "project", "list", "extra"], message: /Unexpected argument 'extra'/ },
  { why: "an unknown flag", args: ["--frob", "roboflow", "project", "list"], message: /Unknown option '--frob'/ },
  { why: "a flag without its value", args: ["roboflow", "project", "list", "--api-key"], message: /--api-key/ },
  { why: "a flag on a command it does not apply to", args: ["roboflow", "project", "list", "--wait"], message: /--wait/ },
  { why: "a Roboflow flag on an anyformat command", args: ["--workspace", "acme", "anyformat", "workflows", "list"], message: /--workspace/ },
  { why: "a required flag left out", args: ["anyformat", "workflows", "create", "--name", "x"], message: /--fields/ },
  { why: "a bad --max-retries", args: ["--max-retries", "lots", "roboflow", "project", "list"], message: /--max-retries/ },
  { why: "a bad --port", args: ["emulator", "--port", "-1"], message: /port/ },
  { why: "a --limit of 0", args: ["anyformat", "workflows", "list", "--limit", "0"], message: /--limit takes a whole number from 1/ },
  { why: "--limit and --all together", args: ["roboflow", "project", "list", "--limit", "5", "--all"], message: /--limit N or --all, not both/ },
  { why: "--limit on a command that lists nothing", args: ["anyformat", "workflows", "get", "x", "--limit", "5"], message: /--limit/ },
  { why: "an unknown fault", args: ["emulator", "--faults", "meteor=0.1"], message: /Unknown fault 'meteor'/ },
  { why: "a fault rate over 1", args: ["emulator", "--faults", "reset=2"], message: /rates go from 0 to 1/ },
  { why: "fault rates adding up past 1", args: ["emulator", "--faults", "reset=0.6,locked=0.6"], message: /add up to 1\.2/ },
  { why: "a fault without a rate", args: ["emulator", "--faults", "reset"], message: /NAME=RATE/ },
  { why: "a bad --seed", args: ["emulator", "--seed", "seven"], message: /--seed/ },
  { why: "a malformed --rate-limit", args: ["emulator", "--rate-limit", "submission=20"], message: /TIER=N\/WINDOW/ },
  { why: "an unknown rate-limit tier", args: ["emulator", "--rate-limit", "uploads=2/1s"], message: /submission or general/ },
  { why: "two windows in --rate-limit", args: ["emulator", "--rate-limit", "submission=2/1s,general=5/2s"], message: /same/ },
  { why: "--faults on an API command", args: ["--faults", "reset=1", "roboflow", "project", "list"], message: /--faults/ },
  { why: "a --split that is no split", args: ["roboflow", "upload", "widgets", ".", "--split", "training"], message: /--split takes train, valid, test/ },
  { why: "a --confidence that is not a fraction", args: ["roboflow", "infer", "widgets/2", "w.jpg", "--confidence", "high"], message: /--confidence takes a number from 0 to 1/ },
  { why: "a Roboflow URL on an anyformat command", args: ["--inference-url", "http://127.0.0.1:1", "anyformat", "workflows", "list"], message: /--inference-url/ },
];

for (const mode of MODES) {
  describe.concurrent(`usage errors, in ${mode.name} mode`, () => {
    for (const { why, args, message } of USAGE_ERRORS) {
      it(`exit 1, never 2, for ${why}`, async () => {
        // --json goes last where it can, to show it is honoured even after a bad command.
        const result = await runCli([...args, ...mode.flags]);
        expectFailure(result, mode, { exit: 1, code: "USAGE_ERROR", message, hint: /Run 'faultline .*--help'/ });
      });
    }

    it("mask a key pasted where a command belongs", async () => {
      const key = "sk-live-4b7d1e0c";
      const result = await runCli([...mode.flags, "--api-key", key, key]);
      expectFailure(result, mode, { exit: 1, code: "USAGE_ERROR", secrets: [key] });
      expect(result.stderr).toContain("***");
    });

    it("mask a key from the environment in the same way", async () => {
      const key = "af-live-9e1f2a3b";
      const result = await runCli([...mode.flags, "anyformat", key], { env: { ANYFORMAT_API_KEY: key } });
      expectFailure(result, mode, { exit: 1, code: "USAGE_ERROR", secrets: [key] });
    });
  });
}

describe("faultline emulator", () => {
  it("serves both APIs, prints their URLs and keys, and stops cleanly on SIGTERM", async () => {
    const child = startCli(["emulator", "--json"]);
    const first = await firstLine(child.stdout);
    const info = JSON.parse(first) as {
      anyformat: { url: string; api_key: string };
      roboflow: { url: string; deployments_url: string; inference_url: string; api_key: string; workspace: string };
    };
    expect(info.anyformat.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(info.roboflow).toMatchObject({ api_key: "rf-emulator-key", workspace: "acme", inference_url: `${info.roboflow.url}/inference` });

    // The base URL is all the CLI needs: the inference host follows it.
    const dir = await mkdtemp(join(tmpdir(), "faultline-emulator-"));
    await writeFile(join(dir, "widget.png"), png(32, 24, 5));
    const inferred = await runCli(["--json", "roboflow", "infer", "widgets/2", join(dir, "widget.png")], {
      env: { ROBOFLOW_BASE_URL: info.roboflow.url, ROBOFLOW_API_KEY: info.roboflow.api_key },
    });
    await rm(dir, { recursive: true, force: true });
    expect(inferred.code, inferred.stderr).toBe(0);
    expect(JSON.parse(inferred.stdout)).toMatchObject({ kind: "detection", image: { width: 32, height: 24 } });

    const projects = await runCli(["--json", "roboflow", "project", "list"], {
      env: {
        ROBOFLOW_BASE_URL: info.roboflow.url,
        ROBOFLOW_API_KEY: info.roboflow.api_key,
        ROBOFLOW_WORKSPACE: info.roboflow.workspace,
      },
    });
    expect(projects.code).toBe(0);
    const workflows = await runCli(["--json", "anyformat", "workflows", "list"], {
      env: { ANYFORMAT_BASE_URL: info.anyformat.url, ANYFORMAT_API_KEY: info.anyformat.api_key },
    });
    expect(workflows.code, workflows.stderr).toBe(0);

    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  it("prints readable URLs and stops on SIGINT in text mode", async () => {
    const child = startCli(["emulator"]);
    let stdout = "";
    child.stdout?.setEncoding("utf8");
    await new Promise<void>((resolve) => {
      child.stdout?.on("data", (chunk: string) => {
        stdout += chunk;
        if (stdout.includes("ROBOFLOW_WORKSPACE=")) resolve();
      });
    });
    expect(stdout).toMatch(/anyformat +http:\/\/127\.0\.0\.1:\d+ +key af-emulator-key/);
    expect(stdout).toContain("export ROBOFLOW_BASE_URL=");
    expect(stdout).toMatch(/inference http:\/\/127\.0\.0\.1:\d+\/inference/);
    // Derived from the base URL: no export of their own.
    expect(stdout).not.toContain("ROBOFLOW_DEPLOYMENTS_URL");
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    child.kill("SIGINT");
    expect(await exited).toBe(0);
  });
});

describe("faultline emulator --faults --seed", () => {
  /** Starts `faultline --json emulator <flags>`, reads its URLs, and stops it with SIGINT afterwards. */
  async function emulatorWith(flags: readonly string[]): Promise<{ info: EmulatorInfo; stop: () => Promise<number | null> }> {
    const child = startCli(["--json", "emulator", ...flags]);
    const info = JSON.parse(await firstLine(child.stdout)) as EmulatorInfo;
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    return {
      info,
      stop: async () => {
        child.kill("SIGINT");
        return exited;
      },
    };
  }

  /** The statuses of `count` health checks, one after another. */
  async function statuses(url: string, count: number): Promise<number[]> {
    const seen: number[] = [];
    for (let i = 0; i < count; i++) {
      const response = await fetch(`${url}/health/`);
      await response.arrayBuffer();
      seen.push(response.status);
    }
    return seen;
  }

  it("injects the faults it is given into both emulators, and says so", async () => {
    const { info, stop } = await emulatorWith(["--faults", "serverError=1", "--seed", "5"]);
    try {
      expect(info.faults).toEqual({ serverError: 1 });
      expect(info.seed).toBe(5);
      expect(await statuses(info.anyformat.url, 3)).toEqual([500, 500, 500]);
      const roboflow = await fetch(`${info.roboflow.url}/?api_key=${info.roboflow.api_key}`, { method: "POST" });
      expect(roboflow.status).toBe(500);
    } finally {
      expect(await stop()).toBe(0);
    }
  });

  it("draws the same faults for the same seed, as the testing kit does", async () => {
    const flags = ["--faults", "serverError=0.3,gatewayTimeout=0.2", "--seed", "42"];
    const first = await emulatorWith(flags);
    const second = await emulatorWith(flags);
    const kit = await startEmulator({ api: "anyformat", faults: { serverError: 0.3, gatewayTimeout: 0.2 }, seed: 42 });
    try {
      const a = await statuses(first.info.anyformat.url, 30);
      expect(await statuses(second.info.anyformat.url, 30)).toEqual(a);
      expect(await statuses(kit.url, 30)).toEqual(a);
      expect(new Set(a)).toEqual(new Set([200, 500, 504]));
    } finally {
      await kit.close();
      await Promise.all([first.stop(), second.stop()]);
    }
  });

  it("enforces the rate-limit tiers it is given, per key across connections", async () => {
    const { info, stop } = await emulatorWith(["--rate-limit", "submission=2/60s,general=3/60s"]);
    try {
      expect(info.rate_limits).toEqual({ submission: 2, general: 3, windowMs: 60_000 });
      const headers = { authorization: `Bearer ${info.anyformat.api_key}` };
      const seen: Array<[number, string | null]> = [];
      // A fresh connection each time: the tier is the key's, not the socket's.
      for (let i = 0; i < 4; i++) {
        const response = await fetch(`${info.anyformat.url}/v2/workflows/`, { headers: { ...headers, connection: "close" } });
        await response.arrayBuffer();
        seen.push([response.status, response.headers.get("x-ratelimit-limit")]);
      }
      expect(seen).toEqual([[200, "3"], [200, "3"], [200, "3"], [429, "3"]]);
    } finally {
      expect(await stop()).toBe(0);
    }
  });

  it("says in text mode which faults it injects", async () => {
    const child = startCli(["emulator", "--faults", "rateLimit=0.25"]);
    let stdout = "";
    child.stdout?.setEncoding("utf8");
    await new Promise<void>((resolve) => {
      child.stdout?.on("data", (chunk: string) => {
        stdout += chunk;
        if (stdout.includes("ROBOFLOW_WORKSPACE=")) resolve();
      });
    });
    expect(stdout).toMatch(/^faults +rateLimit 0\.25 \(seed 1\)$/m);
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    child.kill("SIGINT");
    expect(await exited).toBe(0);
  });
});

interface EmulatorInfo {
  readonly anyformat: { readonly url: string; readonly api_key: string };
  readonly roboflow: { readonly url: string; readonly api_key: string; readonly workspace: string };
  readonly faults: Record<string, number>;
  readonly seed: number;
  readonly rate_limits: { readonly submission: number; readonly general: number; readonly windowMs: number };
}

describe("faultline demo", () => {
  it("runs against the embedded emulator and exits 0", async () => {
    const result = await runCli(["demo"], { timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.length).toBeGreaterThan(0);
  }, 70_000);
});

function firstLine(stream: NodeJS.ReadableStream | null): Promise<string> {
  return new Promise((resolve, reject) => {
    if (stream === null) return reject(new Error("no stdout"));
    let buffered = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      buffered += chunk;
      const newline = buffered.indexOf("\n");
      if (newline >= 0) resolve(buffered.slice(0, newline));
    });
    stream.on("end", () => reject(new Error(`stdout ended before a line: ${buffered}`)));
  });
}
