/**
 * The CLI against servers that misbehave on purpose, over loopback: text that tries to drive the terminal,
 * lists that never end, values no formatter expects. Whatever they send, the CLI prints something safe,
 * stops, and keeps its exit-code promises.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { afterAll, describe, expect, it } from "vitest";
import { send, startServer, type LoopbackServer } from "../helpers/server.js";
import { expectFailure, expectSuccess, MODES, runCli, startCli, until } from "./support.js";

const open: LoopbackServer[] = [];
afterAll(async () => {
  await Promise.all(open.splice(0).map((server) => server.close()));
});

async function server(handler: (req: IncomingMessage, res: ServerResponse, url: URL) => void): Promise<LoopbackServer> {
  const started = await startServer((req, res) => handler(req, res, new URL(req.url ?? "/", "http://loopback")));
  open.push(started);
  return started;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  send(res, { status, headers: { "content-type": "application/json", "x-request-id": "req-hostile-1" }, body: JSON.stringify(body) });
}

const anyformatEnv = (url: string): Record<string, string> => ({ ANYFORMAT_API_KEY: "af-key-0c4e7d", ANYFORMAT_BASE_URL: url });
const roboflowEnv = (url: string): Record<string, string> => ({
  ROBOFLOW_API_KEY: "rf-key-8d2f1a",
  ROBOFLOW_WORKSPACE: "acme",
  ROBOFLOW_BASE_URL: url,
});

/** Everything a terminal would act on rather than show. */
const RAW_CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe.concurrent("text from a server cannot drive the terminal", () => {
  // Tries to erase its own "Error:" line and write a reassuring one, retitle the window, ring the bell,
  // colour the rest red with a one-byte C1 CSI, and reverse what follows.
  const ATTACK = "Forbidden\r\u001b[2KYour key was accepted\u001b]0;pwned\u0007 \u009b31m \u202eevil";

  for (const mode of MODES) {
    it(`shows an anyformat 403's escape sequences as visible escapes, in ${mode.name} mode`, async () => {
      const api = await server((_req, res) =>
        json(res, 403, { error: ATTACK, detail: "\u001b[8mhidden", error_code: "ACCESS_DENIED", retryable: false }),
      );
      const result = await runCli([...mode.flags, "anyformat", "workflows", "list"], { env: anyformatEnv(api.url) });
      const error = expectFailure(result, mode, { exit: 2, code: "ACCESS_DENIED", status: 403 });
      expect(result.stderr).not.toMatch(RAW_CONTROLS);
      if (mode.name === "JSON") {
        // JSON keeps the server's words exactly; only their encoding is escaped.
        expect(error.message).toContain("Your key was accepted\u001b]0;pwned\u0007 \u009b31m \u202eevil");
        expect(result.stderr).toContain("\\u009b31m \\u202eevil");
      } else {
        const lines = result.stderr.split("\n");
        // The message is one line: the dialect folds the carriage return into a space, the rest is escaped.
        expect(lines[0]).toBe(
          "Error: Forbidden \\x1b[2KYour key was accepted\\x1b]0;pwned\\x07 \\x9b31m \\u202eevil: \\x1b[8mhidden",
        );
        expect(lines[1]).toMatch(/^Hint: /);
      }
    });
  }

  it("shows a Roboflow error's escapes in its message and hint as visible escapes", async () => {
    const api = await server((_req, res) =>
      json(res, 404, {
        error: { message: `No such project\u001b]8;;http://evil.example\u0007click\u001b]8;;\u0007`, type: "GraphMethodException", hint: "\u001b[1A\u001b[2KRun again" },
      }),
    );
    const result = await runCli(["roboflow", "project", "get", "widgets"], { env: roboflowEnv(api.url) });
    expectFailure(result, MODES[0], { exit: 3, code: "NOT_FOUND" });
    expect(result.stderr).not.toMatch(RAW_CONTROLS);
    expect(result.stderr).toContain("\\x1b]8;;http://evil.example\\x07click");
  });

  it("shows escapes in a successful answer's fields, in a table and in key: value lines", async () => {
    const workflow = { id: "wf-1\u001b[31m", name: "Invoices\r\u001b[2Kowned", description: "line one\nline two\u0007" };
    const api = await server((_req, res, url) => {
      if (url.pathname === "/v2/workflows/") return json(res, 200, { count: 1, page: 1, page_size: 100, results: [workflow] });
      json(res, 200, workflow);
    });
    const list = await runCli(["anyformat", "workflows", "list"], { env: anyformatEnv(api.url) });
    expectSuccess(list, MODES[0]);
    expect(list.stdout).not.toMatch(RAW_CONTROLS);
    // One row per item: a newline inside a cell is shown, not obeyed.
    expect(list.stdout.split("\n").filter((l) => l !== "")).toHaveLength(2);
    expect(list.stdout).toContain("Invoices\\r\\x1b[2Kowned");
    expect(list.stdout).toContain("line one\\nline two\\x07");
    const get = await runCli(["anyformat", "workflows", "get", "wf-1"], { env: anyformatEnv(api.url) });
    expectSuccess(get, MODES[0]);
    expect(get.stdout).not.toMatch(RAW_CONTROLS);
    expect(get.stdout).toContain("id: wf-1\\x1b[31m");
    const asJson = await runCli(["--json", "anyformat", "workflows", "get", "wf-1"], { env: anyformatEnv(api.url) });
    expect(JSON.parse(asJson.stdout)).toMatchObject(workflow);
  });
});

/** A server that claims a trillion workflows and answers each page from `pageOf`. */
async function endless(pageOf: (page: number) => { page: number; ids: string[] }): Promise<LoopbackServer> {
  return server((_req, res, url) => {
    const asked = Number(url.searchParams.get("page") ?? "1");
    const { page, ids } = pageOf(asked);
    json(res, 200, { count: 1e12, page, page_size: ids.length, results: ids.map((id) => ({ id, name: `workflow ${id}` })) });
  });
}

const onePerPage = (page: number): { page: number; ids: string[] } => ({ page, ids: [`wf-${page}`] });

describe.concurrent("a list that claims to have no end", () => {
  it("prints the first 100 items by default, notes that there are more, and exits 0", async () => {
    const api = await endless(onePerPage);
    const result = await runCli(["anyformat", "workflows", "list"], { env: anyformatEnv(api.url), timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    const rows = result.stdout.trimEnd().split("\n");
    expect(rows[0]).toMatch(/^ID +NAME/);
    expect(rows).toHaveLength(101);
    expect(rows.at(-1)).toMatch(/^wf-100 /);
    expect(result.stderr).toBe("Listed the first 100 workflows; there are more: --limit N or --all to list them.\n");
    expect(api.requests).toHaveLength(100);
    // It asks for pages as big as it needs (the API's cap is 100), whatever the server then sends.
    expect(new URL(api.requests[0]?.url ?? "", "http://x").searchParams.get("page_size")).toBe("100");
  }, 70_000);

  for (const mode of MODES) {
    it(`stops at --limit, in ${mode.name} mode`, async () => {
      const api = await endless(onePerPage);
      const result = await runCli([...mode.flags, "anyformat", "workflows", "list", "--limit", "3"], { env: anyformatEnv(api.url) });
      expect(result.code, result.stderr).toBe(0);
      expect(api.requests).toHaveLength(3);
      if (mode.name === "JSON") {
        expect((JSON.parse(result.stdout) as Array<{ id: string }>).map((w) => w.id)).toEqual(["wf-1", "wf-2", "wf-3"]);
        expect(result.stderr).toBe("");
      } else {
        expect(result.stdout.trimEnd().split("\n").slice(1).map((l) => l.split(" ")[0])).toEqual(["wf-1", "wf-2", "wf-3"]);
        expect(result.stderr).toMatch(/^Listed the first 3 workflows; there are more/);
      }
    });
  }

  it("prints rows as pages arrive, before the next page has come", async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const api = await server((_req, res, url) => {
      const page = Number(url.searchParams.get("page") ?? "1");
      const answer = (): void => json(res, 200, { count: 2, page, page_size: 1, results: [{ id: `wf-${page}`, name: "w" }] });
      if (page === 1) answer();
      else void held.then(answer);
    });
    const child = startCli(["anyformat", "workflows", "list"], { env: anyformatEnv(api.url) });
    let stdout = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    // The second page is asked for and held by the server, and the first row is already out.
    await until(() => stdout.includes("wf-1") && api.requests.length === 2);
    expect(stdout).not.toContain("wf-2");
    release();
    expect(await exited).toBe(0);
    expect(stdout).toMatch(/wf-1 .*\nwf-2 /);
  });

  for (const mode of MODES) {
    it(`with --all, stops with a typed error when the server repeats a page, in ${mode.name} mode`, async () => {
      const api = await endless(() => ({ page: 1, ids: ["wf-1", "wf-2"] }));
      const result = await runCli([...mode.flags, "anyformat", "workflows", "list", "--all"], { env: anyformatEnv(api.url) });
      expect(result.code).toBe(1);
      expect(api.requests).toHaveLength(2);
      const message = /Asked for page 2, the server answered page 1: the listing is not moving forward/;
      if (mode.name === "JSON") {
        // stdout stays empty on failure, as --json promises: nothing half-listed.
        expectFailure(result, mode, { exit: 1, code: "RESPONSE_VALIDATION", status: 200, message });
      } else {
        expect(result.stdout).toMatch(/^ID +NAME.*\nwf-1 .*\nwf-2 .*\n$/);
        expect(result.stderr.split("\n")[0]).toMatch(message);
      }
    });
  }

  it("with --all, stops when every new page number brings the same items again", async () => {
    const api = await endless((page) => ({ page, ids: ["wf-1"] }));
    const result = await runCli(["anyformat", "workflows", "list", "--all"], { env: anyformatEnv(api.url) });
    expect(result.code).toBe(1);
    expect(api.requests).toHaveLength(2);
    expect(result.stderr).toMatch(/^Error: Page 2 holds only items of page 1 again/);
  });

  it("bounds a Roboflow list that comes in one answer the same way, and --all shows it whole", async () => {
    const projects = Array.from({ length: 150 }, (_, i) => ({ id: `acme/p${i + 1}`, name: `P${i + 1}` }));
    const api = await server((_req, res) => json(res, 200, { workspace: { name: "Acme", url: "acme", projects } }));
    const bounded = await runCli(["roboflow", "project", "list"], { env: roboflowEnv(api.url) });
    expect(bounded.code, bounded.stderr).toBe(0);
    expect(bounded.stdout.trimEnd().split("\n")).toHaveLength(101);
    expect(bounded.stderr).toMatch(/^Listed the first 100 projects; there are more/);
    const all = await runCli(["--json", "roboflow", "project", "list", "--all"], { env: roboflowEnv(api.url) });
    expect(JSON.parse(all.stdout)).toHaveLength(150);
  });
});

describe.concurrent("values no formatter expects", () => {
  const project = {
    workspace: { url: "acme" },
    project: { id: "acme/widgets", name: "Widgets", created: 1e300, updated: -8.64e15 - 1 },
    versions: [{ id: "acme/widgets/1", created: 1e300 }],
  };

  for (const mode of MODES) {
    it(`prints a project created at 1e300 as it came and exits 0, in ${mode.name} mode`, async () => {
      const api = await server((_req, res) => json(res, 200, project));
      const result = await runCli([...mode.flags, "roboflow", "project", "get", "widgets"], { env: roboflowEnv(api.url) });
      const data = expectSuccess(result, mode);
      if (mode.name === "JSON") {
        expect(data).toEqual(project);
      } else {
        expect(result.stdout).toContain("created: 1e+300");
        expect(result.stdout).toContain("updated: -8640000000000001");
        expect(result.stdout).toMatch(/acme\/widgets\/1 +1e\+300/);
      }
    });
  }

  it("prints a Trash item deleted at an impossible time, and a Firestore timestamp past the end of time", async () => {
    const api = await server((_req, res) =>
      json(res, 200, {
        items: [
          { id: "p1", type: "project", name: "P", deletedAt: 1e300, scheduledCleanupAt: 0 },
          { id: "p2", type: "project", name: "Q", deletedAt: { _seconds: 1e300 } },
        ],
        sections: {},
      }),
    );
    const result = await runCli(["roboflow", "trash", "list"], { env: roboflowEnv(api.url) });
    expectSuccess(result, MODES[0]);
    expect(result.stdout).toMatch(/^project +p1 +P +1e\+300$/m);
    expect(result.stdout).toMatch(/^project +p2 +Q +\{"_seconds":1e\+300\}$/m);
  });

  for (const mode of MODES) {
    it(`prints a workflow nested deeper than JSON.stringify can go and exits 0, in ${mode.name} mode`, async () => {
      const depth = 20_000;
      const body = `{"id":"wf-1","name":"Deep","extra":${"[".repeat(depth)}${"]".repeat(depth)}}`;
      const api = await server((_req, res) => send(res, { status: 200, headers: { "content-type": "application/json" }, body }));
      const result = await runCli([...mode.flags, "anyformat", "workflows", "get", "wf-1"], { env: anyformatEnv(api.url) });
      expect(result.code, result.stderr.slice(0, 500)).toBe(0);
      expect(result.stderr).toBe("");
      expect(result.stdout.trim()).toBe(body);
    });
  }
});
