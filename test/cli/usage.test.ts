import { describe, expect, it } from "vitest";
import { COMMANDS, commandName } from "../../src/cli/args.js";
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
    it(`describes '${name}' for 'faultline ${name} --help', with its arguments`, async () => {
      const result = await runCli([...name.split(" "), "--help"]);
      expect(result.code).toBe(0);
      expect(result.stderr).toBe("");
      const usage = [`faultline ${name}`, ...command.args.map((arg) => `<${arg}>`)].join(" ");
      expect(result.stdout).toContain(usage);
      expect(result.stdout).toContain(command.summary);
    });
  }

  for (const command of ["emulator", "demo"]) {
    it(`prints usage and exits 0 for 'faultline ${command} --help'`, async () => {
      const result = await runCli([command, "--help"]);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`faultline ${command}`);
    });
  }

  it("wins over a command that would otherwise be incomplete", async () => {
    const result = await runCli(["roboflow", "version", "get", "--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("faultline roboflow version get <project> <version>");
  });

  it("lists every command and the exit codes at the top level", async () => {
    const result = await runCli(["--help"]);
    for (const command of ["anyformat run", "anyformat results", "roboflow trash list", "roboflow deployment get", "emulator", "demo"]) {
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
      roboflow: { url: string; deployments_url: string; api_key: string; workspace: string };
    };
    expect(info.anyformat.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(info.roboflow).toMatchObject({ api_key: "rf-emulator-key", workspace: "acme" });

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
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    child.kill("SIGINT");
    expect(await exited).toBe(0);
  });
});

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
