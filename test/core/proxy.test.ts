/**
 * Proxies, against a real HTTP proxy on loopback (the `proxy` package): http:// APIs are forwarded
 * (absolute-form requests, as undici 8 sends them), https:// APIs tunnelled with CONNECT to a loopback
 * HTTPS server the process trusts. Environment variables are set for each test and restored after it; a
 * client reads them when it is built.
 */
import { inspect } from "node:util";
import { Agent } from "undici";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Anyformat, type AnyformatOptions } from "../../src/anyformat/client.js";
import { ConnectionError, InvalidArgumentError } from "../../src/core/errors.js";
import { proxyRoutes } from "../../src/core/proxy.js";
import { Roboflow } from "../../src/roboflow/client.js";
import { KEY, closeAfterTest, failure, setup } from "../anyformat/support.js";
import { startHttpProxy, startHttpsServer, trustTestCertificate, type RunningProxy } from "../helpers/http-proxy.js";
import { closedPort } from "../helpers/server.js";

const PROXY_VARIABLES = ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY"];
const saved = Object.fromEntries(PROXY_VARIABLES.map((name) => [name, process.env[name]]));

function setEnv(values: Readonly<Record<string, string>>): void {
  for (const name of PROXY_VARIABLES) delete process.env[name];
  Object.assign(process.env, values);
}

afterEach(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

let untrust: () => void;
beforeAll(() => {
  untrust = trustTestCertificate();
});
afterAll(() => untrust());

async function proxy(credentials?: { user: string; password: string }): Promise<RunningProxy> {
  const running = await startHttpProxy(credentials);
  closeAfterTest(() => running.close());
  return running;
}

async function httpsApi(): Promise<Awaited<ReturnType<typeof startHttpsServer>>> {
  const server = await startHttpsServer();
  closeAfterTest(() => server.close());
  return server;
}

function client(options: AnyformatOptions): Anyformat {
  const af = new Anyformat({ apiKey: KEY, ...options });
  closeAfterTest(() => af.close());
  return af;
}

/** Asserts `secret` shows nowhere a user could see it in `error`. */
function expectHidden(error: unknown, ...secrets: string[]): void {
  const e = error as Error & { toJSON(): unknown };
  const shown = [e.message, e.stack ?? "", String(e), JSON.stringify(e.toJSON()), inspect(e, { depth: 10 }), (e as { hint?: string }).hint ?? ""].join("\n");
  for (const secret of secrets) expect(shown).not.toContain(secret);
}

describe("proxies from the environment", () => {
  it("sends http:// calls through HTTP_PROXY, forwarded as absolute-form requests the proxy really carries", async () => {
    const { emu } = await setup();
    const running = await proxy();
    setEnv({ HTTP_PROXY: running.url });
    const af = client({ baseUrl: emu.url });

    const wf = await af.workflows.create({ name: "W", fields: [{ name: "total", description: "Total", data_type: "float" }] });
    await af.workflows.get(wf.id);

    expect(running.seen.map((r) => `${r.method} ${r.target}`)).toEqual([`POST ${emu.url}/v2/workflows/`, `GET ${emu.url}/v2/workflows/${wf.id}/`]);
    // What the API received came from the proxy, which says so.
    expect(emu.requests.map((r) => r.headers["via"])).toEqual([expect.stringContaining("proxy/"), expect.stringContaining("proxy/")]);
  });

  it("tunnels https:// calls through HTTPS_PROXY with CONNECT, its tunnels kept alive for the next calls", async () => {
    const api = await httpsApi();
    const running = await proxy();
    setEnv({ HTTPS_PROXY: running.url });
    const af = client({ baseUrl: api.url });

    for (let i = 0; i < 6; i++) expect(await af.health()).toEqual({ message: "ok" });

    expect(api.requests).toHaveLength(6);
    // The pool may open a second tunnel while the first is settling, as it would a second connection.
    expect(running.seen.length).toBeLessThan(6);
    expect(running.seen.every((r) => r.method === "CONNECT" && r.target === `127.0.0.1:${api.port}`)).toBe(true);
  });

  it("reads the lower-case variable first, as curl and undici do", async () => {
    const { emu, af: direct } = await setup();
    const lower = await proxy();
    const upper = await proxy();
    setEnv({ http_proxy: lower.url, HTTP_PROXY: upper.url });
    await client({ baseUrl: emu.url }).health();
    expect([lower.seen.length, upper.seen.length]).toEqual([1, 0]);
    expect(direct).toBeDefined();
  });

  it("sends https:// calls through HTTP_PROXY when HTTPS_PROXY is not set (undici's reading)", async () => {
    const api = await httpsApi();
    const running = await proxy();
    setEnv({ HTTP_PROXY: running.url });
    await client({ baseUrl: api.url }).health();
    expect(running.seen.map((r) => r.method)).toEqual(["CONNECT"]);
  });

  it("reaches the hosts NO_PROXY names directly", async () => {
    const { emu } = await setup();
    const api = await httpsApi();
    const running = await proxy();
    for (const noProxy of ["127.0.0.1", "localhost,127.0.0.1", `127.0.0.1:${new URL(emu.url).port}`, "*"]) {
      setEnv({ HTTP_PROXY: running.url, no_proxy: noProxy });
      await client({ baseUrl: emu.url }).health();
    }
    setEnv({ HTTPS_PROXY: running.url, NO_PROXY: "127.0.0.1" });
    await client({ baseUrl: api.url }).health();
    expect(running.seen).toEqual([]);
  });

  it("takes a bare host:port as an http:// proxy, as curl does", async () => {
    const { emu } = await setup();
    const running = await proxy();
    setEnv({ HTTP_PROXY: running.bare.replace("http://", "") });
    await client({ baseUrl: emu.url }).health();
    expect(running.seen).toHaveLength(1);
  });

  it("leaves a client alone that passes proxy: false, or a dispatcher of its own", async () => {
    const { emu } = await setup();
    const running = await proxy();
    setEnv({ HTTP_PROXY: running.url, HTTPS_PROXY: running.url });
    await client({ baseUrl: emu.url, proxy: false }).health();
    const own = new Agent();
    closeAfterTest(() => own.close());
    await client({ baseUrl: emu.url }).health({ dispatcher: own });
    expect(running.seen).toEqual([]);
  });

  it("costs nothing when no proxy variable is set: calls go straight to the API", async () => {
    const { emu } = await setup();
    setEnv({ NO_PROXY: "example.com" });
    await client({ baseUrl: emu.url }).health();
    expect(emu.requests.map((r) => r.headers["via"])).toEqual([undefined]);
  });
});

describe("the proxy option", () => {
  it("sends every call through the proxy, whatever the environment says", async () => {
    const { emu } = await setup();
    const running = await proxy();
    const elsewhere = await proxy();
    setEnv({ HTTP_PROXY: elsewhere.url, NO_PROXY: "127.0.0.1" });
    await client({ baseUrl: emu.url, proxy: running.url }).health();
    expect(running.seen).toHaveLength(1);
    expect(elsewhere.seen).toHaveLength(0);
  });

  it("sends the credentials in its URL to the proxy, and never to the API", async () => {
    const { emu } = await setup();
    const api = await httpsApi();
    const running = await proxy({ user: "alice", password: "s3cret pass/word" });
    await client({ baseUrl: emu.url, proxy: running.url }).health();
    await client({ baseUrl: api.url, proxy: running.url }).health();

    const expected = `Basic ${Buffer.from("alice:s3cret pass/word").toString("base64")}`;
    expect(running.seen.map((r) => [r.method, r.proxyAuthorization])).toEqual([
      ["GET", expected],
      ["CONNECT", expected],
    ]);
    expect(emu.requests[0]?.headers["proxy-authorization"]).toBeUndefined();
    expect(api.requests[0]?.["proxy-authorization"]).toBeUndefined();
  });

  it("is refused at once when it is not an http(s) URL, naming the option and masking its credentials", () => {
    for (const bad of ["ftp://alice:hunter22@proxy:21", "socks5://alice:hunter22@proxy:1080", "http://alice:hunter22@", "", 42]) {
      const error = (() => {
        try {
          new Anyformat({ apiKey: KEY, proxy: bad as string });
        } catch (caught) {
          return caught;
        }
        return undefined;
      })();
      expect(error, String(bad)).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message).toMatch(/^Invalid option proxy: expected an http\(s\) proxy URL/);
      expectHidden(error, "hunter22", "alice");
    }
  });

  it("is refused at once when an environment variable holds no URL, naming the variable", () => {
    setEnv({ HTTPS_PROXY: "http://bob:hunter22@[not-a-host" });
    const error = failureOf(() => new Roboflow({ apiKey: KEY }));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(/^Invalid HTTPS_PROXY: expected an http\(s\) proxy URL/);
    expect((error as InvalidArgumentError).hint).toContain("unset HTTPS_PROXY or pass `proxy: false`");
    expectHidden(error, "hunter22", "bob");
    // `proxy: false` builds the client whatever the environment holds.
    expect(new Roboflow({ apiKey: KEY, proxy: false })).toBeInstanceOf(Roboflow);
  });
});

describe("a client derived with withOptions", () => {
  it("keeps its parent's proxy unless it names another, or false, and then does not send through the parent's", async () => {
    const { emu } = await setup();
    const first = await proxy();
    const second = await proxy();
    const parent = client({ baseUrl: emu.url, proxy: first.url });

    await parent.withOptions({ timeout: 5_000 }).health();
    await parent.withOptions({ proxy: false }).health();
    await parent.withOptions({ proxy: second.url }).health();
    await parent.health();

    expect([first.seen.length, second.seen.length]).toEqual([2, 1]);
    expect(emu.requests.map((r) => r.headers["via"] !== undefined)).toEqual([true, false, true, true]);
  });
});

describe("a proxy that fails", () => {
  it.each([
    ["http://", "forwarded: undici's own 407 error"],
    ["https://", "tunnelled: the CONNECT answered 407"],
  ])("refusing an %s call with 407 is a ConnectionError that names the proxy, masked, and is not retried (%s)", async (scheme) => {
    const { emu } = await setup();
    const api = await httpsApi();
    const running = await proxy({ user: "alice", password: "right-password" });
    const wrong = running.url.replace("right-password", "wrong-password");
    setEnv({ HTTP_PROXY: wrong, HTTPS_PROXY: wrong });
    const baseUrl = scheme === "https://" ? api.url : emu.url;

    const error = await failure(client({ baseUrl, maxRetries: 2 }).workflows.get("wf_1"));

    expect(error).toBeInstanceOf(ConnectionError);
    const e = error as ConnectionError;
    const variable = scheme === "https://" ? "HTTPS_PROXY" : "HTTP_PROXY";
    expect(e.message).toBe(`The proxy http://***:***@${running.bare.slice(7)} (${variable}) refused the request: 407 Proxy Authentication Required`);
    expect(e.hint).toBe(`The proxy did not accept the credentials in its URL: correct them in ${variable}. Nothing reached the API.`);
    expect(e.code).toBe("CONNECTION_ERROR");
    expect(e.retryable).toBe(false);
    expect(e.attempts).toBe(1);
    expect(e.url).toBe(`${baseUrl}/v2/workflows/wf_1/`);
    expect(running.seen).toHaveLength(1);
    expect(emu.requests).toHaveLength(0);
    expect(api.requests).toHaveLength(0);
    expectHidden(error, "wrong-password", "alice", KEY);
  });

  it("asking for credentials the URL does not have says to put them in it", async () => {
    const { emu } = await setup();
    const running = await proxy({ user: "alice", password: "pw-123" });
    const error = (await failure(client({ baseUrl: emu.url, proxy: running.bare }).health())) as ConnectionError;
    expect(error.message).toBe(`The proxy ${running.bare} (the proxy option) refused the request: 407 Proxy Authentication Required`);
    expect(error.hint).toMatch(/^The proxy asks for credentials: put them in its URL \(http:\/\/user:password@host:port\) in the proxy option/);
  });

  it.each(["http://", "https://"])("down, for an %s call, is a ConnectionError that names the proxy, retried like any refused connection", async (scheme) => {
    const { emu } = await setup();
    const api = await httpsApi();
    const port = await closedPort();
    setEnv({ HTTP_PROXY: `http://carol:hunter22@127.0.0.1:${port}`, HTTPS_PROXY: `http://carol:hunter22@127.0.0.1:${port}` });
    const baseUrl = scheme === "https://" ? api.url : emu.url;

    const error = await failure(client({ baseUrl, maxRetries: 1 }).workflows.get("wf_1"));

    expect(error).toBeInstanceOf(ConnectionError);
    const e = error as ConnectionError;
    const variable = scheme === "https://" ? "HTTPS_PROXY" : "HTTP_PROXY";
    expect(e.message).toBe(`Could not reach the proxy http://***:***@127.0.0.1:${port} (${variable}): connect ECONNREFUSED 127.0.0.1:${port}`);
    expect(e.hint).toBe(
      `Check that the proxy is running and reachable from here, correct ${variable}, or add the API's host to NO_PROXY, or pass \`proxy: false\`, to connect directly. Nothing reached the API.`,
    );
    expect(e.retryable).toBe(true);
    expect(e.attempts).toBe(2);
    expect(e.message).not.toContain(new URL(baseUrl).port);
    expect(emu.requests).toHaveLength(0);
    expect(api.requests).toHaveLength(0);
    expectHidden(error, "hunter22", "carol");
  });

  it("unable to open a tunnel to the API's host says so, naming the proxy", async () => {
    const running = await proxy();
    const port = await closedPort();
    const error = (await failure(client({ baseUrl: `https://127.0.0.1:${port}`, proxy: running.url, maxRetries: 0 }).health())) as ConnectionError;
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error.message).toBe(`The proxy ${running.bare} (the proxy option) would not open a tunnel to 127.0.0.1:${port}: it answered 500`);
    expect(error.hint).toMatch(/^The proxy could not reach 127\.0\.0\.1:\d+ itself/);
    expect(error.retryable).toBe(true);
  });
});

describe("a proxy's credentials", () => {
  it("are masked in errors, log lines and whatever inspecting the client shows", async () => {
    const { emu } = await setup();
    const running = await proxy({ user: "dave-the-user", password: "p4ss-w0rd-xyz" });
    const token = Buffer.from("dave-the-user:p4ss-w0rd-xyz").toString("base64");
    const lines: string[] = [];
    const log = (message: string, fields?: Record<string, unknown>): void => void lines.push(`${message} ${JSON.stringify(fields)}`);
    const af = client({ baseUrl: emu.url, proxy: running.url, logger: { debug: log, info: log, warn: log, error: log }, logLevel: "debug" });

    const error = await failure(af.workflows.get("wf_missing"));
    await af.health();

    expect(lines.length).toBeGreaterThan(0);
    const everything = [...lines, inspect(af, { depth: Infinity, showHidden: true }), String(error), JSON.stringify((error as ConnectionError).toJSON())].join("\n");
    for (const secret of ["dave-the-user", "p4ss-w0rd-xyz", token, KEY]) expect(everything).not.toContain(secret);
    expectHidden(error, "dave-the-user", "p4ss-w0rd-xyz", token);
  });
});

function failureOf(build: () => unknown): unknown {
  try {
    build();
  } catch (error) {
    return error;
  }
  throw new Error("expected it to throw");
}

describe("reading the environment", () => {
  const routes = (env: Record<string, string>, option?: string | false) => proxyRoutes(option, env);

  it("finds no proxy, and builds no proxy code, when no variable is set or all are blank", () => {
    expect(routes({})).toBeUndefined();
    expect(routes({ HTTPS_PROXY: "  ", http_proxy: "", NO_PROXY: "*" })).toBeUndefined();
    expect(routes({ HTTPS_PROXY: "http://p:1" }, false)).toBeUndefined();
  });

  it("takes each scheme's variable, lower case first, and HTTP_PROXY for https:// when HTTPS_PROXY is not set", () => {
    const both = routes({ https_proxy: "http://a:1", HTTPS_PROXY: "http://b:1", HTTP_PROXY: "http://c:1", no_proxy: "x", NO_PROXY: "y" });
    expect([both?.https?.origin, both?.http?.origin, both?.noProxy]).toEqual(["http://a:1", "http://c:1", "x"]);
    const httpOnly = routes({ HTTP_PROXY: "http://c:1" });
    expect([httpOnly?.https?.source, httpOnly?.http?.source]).toEqual(["HTTP_PROXY", "HTTP_PROXY"]);
    const httpsOnly = routes({ HTTPS_PROXY: "https://d:2" });
    expect([httpsOnly?.https?.origin, httpsOnly?.http]).toEqual(["https://d:2", undefined]);
  });

  it("counts every form of a proxy's credentials among the client's secrets", () => {
    const found = routes({ HTTPS_PROXY: "http://us%40er:p%3Ass@proxy.example.com:3128" });
    expect(found?.https?.shown).toBe("http://***:***@proxy.example.com:3128");
    expect(found?.secrets).toEqual(["us@er", "p:ss", Buffer.from("us@er:p:ss").toString("base64")]);
  });
});
