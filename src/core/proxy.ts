/**
 * Proxies: `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` from the environment (lower case first, as curl and
 * undici read them), through undici's `EnvHttpProxyAgent`; or one proxy for every call, the `proxy`
 * option, through its `ProxyAgent`. A client with neither keeps its plain keep-alive pool, and no proxy
 * code runs on its calls. Credentials in a proxy URL are secrets: errors show the proxy as
 * `http://***:***@host:port`, and the client masks them wherever else they turn up.
 *
 * When a call fails at the proxy (it is down, it refuses with 407, it will not open a tunnel), the error
 * says so and names the proxy, not the API: nothing reached the API. undici reports refusals in words of
 * its own, and connection failures the way it reports any host's; faultline tells which host a failed
 * connection was for from undici's `undici:client:connectError` diagnostics channel, which it listens to
 * only once a client uses a proxy.
 */
import { subscribe } from "node:diagnostics_channel";
import type { Dispatcher } from "undici";
import { ConnectionError, InvalidArgumentError } from "./errors.js";
import type { AttemptContext } from "./failures.js";
import { MASK } from "./redact.js";

/** One proxy, as a client uses it. */
export interface ProxyEndpoint {
  /** The URL given (a bare `host:port` gets `http://`), credentials and all: only undici sees it. */
  readonly url: string;
  /** `http://***:***@proxy.example.com:3128`: how errors name it. */
  readonly shown: string;
  /** `http://proxy.example.com:3128`: how undici names the host it connects to. */
  readonly origin: string;
  /** Where it was set: `the proxy option`, or the environment variable's name. */
  readonly source: string;
  /** Whether its URL carries credentials. */
  readonly authenticated: boolean;
  /** Its credentials, in every form they travel in, for the client's redactor. */
  readonly secrets: readonly string[];
}

/** What undici's connection settings of a client's pool are. */
export interface PoolOptions {
  readonly connections: number;
  readonly keepAliveTimeout: number;
}

const ENV_HINT_DIRECT = "add the API's host to NO_PROXY, or pass `proxy: false`, to connect directly";
const OPTION_HINT_DIRECT = "pass `proxy: false` to connect directly";

/** The proxies a client sends its calls through: one per scheme of the URL called. */
export class ProxyRoutes {
  /**
   * @param http the proxy for `http://` URLs, if any
   * @param https the proxy for `https://` URLs, if any
   * @param noProxy `NO_PROXY` as read, when the proxies came from the environment; `undefined` for the
   * `proxy` option, which every call goes through
   */
  constructor(
    readonly http: ProxyEndpoint | undefined,
    readonly https: ProxyEndpoint | undefined,
    readonly noProxy: string | undefined,
  ) {}

  /** What names these routes among a client's pools: two clients with the same proxies share one. */
  get route(): string {
    return JSON.stringify(["proxy", this.http?.url, this.https?.url, this.noProxy]);
  }

  /** The credentials of the proxies, for the client's redactor. */
  get secrets(): string[] {
    return [...(this.http?.secrets ?? []), ...(this.https?.secrets ?? [])];
  }

  /**
   * The pooled dispatcher that sends calls through the proxies. undici's proxy agents are loaded here, with
   * the first proxied pool: a client without a proxy never loads them.
   */
  async dispatcher(pool: PoolOptions): Promise<Dispatcher> {
    watchConnections([this.http?.origin, this.https?.origin]);
    if (this.noProxy === undefined && this.https !== undefined) {
      const { default: ProxyAgent } = await import("undici/lib/dispatcher/proxy-agent.js");
      return new ProxyAgent({ uri: this.https.url, ...pool });
    }
    const { default: EnvHttpProxyAgent } = await import("undici/lib/dispatcher/env-http-proxy-agent.js");
    // Passed explicitly, so that the routes stay those the client was built with, whatever the environment becomes.
    return new EnvHttpProxyAgent({ httpProxy: this.http?.url ?? "", httpsProxy: this.https?.url ?? "", noProxy: this.noProxy ?? "", ...pool });
  }

  /** The typed error for a failure at a proxy; `undefined` when `error` is not one. */
  failure(context: AttemptContext, error: unknown): ConnectionError | undefined {
    const proxy = context.url.startsWith("https:") ? this.https : this.http;
    const message = error instanceof Error ? error.message : "";
    const tunnel = /^Proxy response \((\d{3})\) !== 200 when HTTP Tunneling$/.exec(message);
    if (proxy !== undefined && (message === "Proxy Authentication Required (407)" || tunnel?.[1] === "407")) return refused(context, proxy, 407, error);
    if (proxy !== undefined && tunnel !== null) return refused(context, proxy, Number(tunnel[1]), error);
    const origin = connectedTo(error);
    const candidates = context.url.startsWith("https:") ? [this.https, this.http] : [this.http, this.https];
    const unreachable = origin === undefined ? undefined : candidates.find((p) => p?.origin === origin);
    if (unreachable !== undefined) return notReached(context, unreachable, error, message);
    if (proxy !== undefined && codeOf(error) === "UND_ERR_PRX_CONN") return notReached(context, proxy, error, message);
    return undefined;
  }
}

/**
 * The proxies a client uses: `option` when it is a URL, none when it is `false`, else the environment's
 * (`https_proxy`/`HTTPS_PROXY` for https:// URLs, `HTTP_PROXY` when that is not set, as undici reads them;
 * `http_proxy`/`HTTP_PROXY` for http:// URLs; `no_proxy`/`NO_PROXY` for the hosts reached directly).
 * `undefined` when there is no proxy at all. A URL that is not an http(s) proxy URL is an
 * `InvalidArgumentError` naming where it came from, with its credentials masked.
 */
export function proxyRoutes(option: unknown, env: Readonly<Record<string, string | undefined>>): ProxyRoutes | undefined {
  if (option === false) return undefined;
  if (option !== undefined) {
    if (typeof option !== "string" || option.trim() === "") throw invalidProxy("Invalid option proxy", option, OPTION_HINT_DIRECT, "or false");
    const proxy = endpoint(option, "the proxy option");
    return new ProxyRoutes(proxy, proxy, undefined);
  }
  const http = fromEnv(env, "http_proxy", "HTTP_PROXY");
  const https = fromEnv(env, "https_proxy", "HTTPS_PROXY") ?? http;
  if (http === undefined && https === undefined) return undefined;
  return new ProxyRoutes(http, https, env["no_proxy"] ?? env["NO_PROXY"] ?? "");
}

function fromEnv(env: Readonly<Record<string, string | undefined>>, lower: string, upper: string): ProxyEndpoint | undefined {
  const name = env[lower] !== undefined && env[lower].trim() !== "" ? lower : upper;
  const value = env[name];
  return value === undefined || value.trim() === "" ? undefined : endpoint(value, name);
}

function endpoint(value: string, source: string): ProxyEndpoint {
  const given = value.trim();
  // curl's reading of a bare `proxy.example.com:3128`: an http:// proxy.
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(given) ? given : `http://${given}`;
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  const where = source === "the proxy option" ? "Invalid option proxy" : `Invalid ${source}`;
  const direct = source === "the proxy option" ? OPTION_HINT_DIRECT : `unset ${source} or pass \`proxy: false\` to connect directly`;
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "") {
    throw invalidProxy(where, given, direct, source === "the proxy option" ? "or false" : "");
  }
  const user = decode(url.username);
  const password = decode(url.password);
  const secrets = [user, password];
  if (user !== "" || password !== "") secrets.push(Buffer.from(`${user}:${password}`).toString("base64"));
  return {
    url: url.href,
    shown: `${url.protocol}//${credentialsShown(url)}${url.host}`,
    origin: `${url.protocol}//${url.host}`,
    source,
    authenticated: user !== "" || password !== "",
    secrets: secrets.filter((s) => s !== ""),
  };
}

function credentialsShown(url: URL): string {
  if (url.username === "" && url.password === "") return "";
  return url.password === "" ? `${MASK}@` : `${MASK}:${MASK}@`;
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

function invalidProxy(where: string, value: unknown, direct: string, orFalse: string): InvalidArgumentError {
  const shown = typeof value === "string" ? JSON.stringify(maskCredentials(value.slice(0, 200))) : value === null ? "null" : `a ${typeof value}`;
  const expected = `an http(s) proxy URL such as http://proxy.example.com:3128${orFalse === "" ? "" : `, ${orFalse}`}`;
  return new InvalidArgumentError(`${where}: expected ${expected}, got ${shown}`, { hint: `Correct it, or ${direct}.` });
}

/** `scheme://user:password@host` with the credentials masked, whatever else the text is. */
function maskCredentials(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/@]*@/i, (_all, scheme: string | undefined) => `${scheme ?? ""}${MASK}@`);
}

/** A proxy refused the request (407), or would not open a tunnel to the API's host. */
function refused(context: AttemptContext, proxy: ProxyEndpoint, status: number, cause: unknown): ConnectionError {
  const name = `The proxy ${proxy.shown} (${proxy.source})`;
  if (status === 407) {
    return proxyError(context, `${name} refused the request: 407 Proxy Authentication Required`, cause, false, proxy.authenticated
      ? `The proxy did not accept the credentials in its URL: correct them in ${proxy.source}. Nothing reached the API.`
      : `The proxy asks for credentials: put them in its URL (http://user:password@host:port) in ${proxy.source}; faultline masks them everywhere. Nothing reached the API.`);
  }
  const host = hostOf(context.url);
  return proxyError(context, `${name} would not open a tunnel to ${host}: it answered ${status}`, cause, status >= 500, status >= 500
    ? `The proxy could not reach ${host} itself; ask whoever runs the proxy, or ${directHint(proxy)}. Nothing reached the API.`
    : `The proxy does not let this client through to ${host}; ask whoever runs the proxy, or ${directHint(proxy)}. Nothing reached the API.`);
}

/** The proxy itself could not be reached: down, unknown, or dropping the connection. */
function notReached(context: AttemptContext, proxy: ProxyEndpoint, cause: unknown, reason: string): ConnectionError {
  const code = codeOf(cause);
  const why = (reason.split("\n", 1)[0] ?? "").trim().slice(0, 300) || "no reason given";
  return proxyError(
    context,
    `Could not reach the proxy ${proxy.shown} (${proxy.source}): ${why}${code === undefined || why.includes(code) ? "" : ` (${code})`}`,
    cause,
    true,
    `Check that the proxy is running and reachable from here, correct ${proxy.source}, or ${directHint(proxy)}. Nothing reached the API.`,
  );
}

function proxyError(context: AttemptContext, message: string, cause: unknown, retryable: boolean, hint: string): ConnectionError {
  return new ConnectionError(message, { method: context.method, url: context.url, attempts: context.attempt, retryable, hint, cause });
}

function directHint(proxy: ProxyEndpoint): string {
  return proxy.source === "the proxy option" ? OPTION_HINT_DIRECT : ENV_HINT_DIRECT;
}

function hostOf(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || (parsed.protocol === "https:" ? "443" : "80")}`;
  } catch {
    return "the API's host";
  }
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** Marks an error undici raised while connecting to a proxy with the proxy's origin. */
const CONNECTING_TO = Symbol("faultline.connectingTo");
const proxyOrigins = new Set<string>();
let watching = false;

/** Starts listening for undici's failed connections to `origins` (once per process, and only once a client uses a proxy). */
function watchConnections(origins: ReadonlyArray<string | undefined>): void {
  for (const origin of origins) if (origin !== undefined) proxyOrigins.add(origin);
  if (watching) return;
  watching = true;
  subscribe("undici:client:connectError", (message) => {
    const { connectParams, error } = message as { connectParams?: { protocol?: unknown; host?: unknown }; error?: unknown };
    if (connectParams === undefined || error === null || typeof error !== "object") return;
    const origin = `${String(connectParams.protocol)}//${String(connectParams.host)}`;
    if (proxyOrigins.has(origin)) Object.defineProperty(error, CONNECTING_TO, { value: origin, configurable: true });
  });
}

/** The proxy origin a connection error happened on, looked for along its causes. */
function connectedTo(error: unknown): string | undefined {
  let e: unknown = error;
  for (let depth = 0; e !== null && typeof e === "object" && depth < 5; depth++) {
    const origin = (e as { [CONNECTING_TO]?: string })[CONNECTING_TO];
    if (origin !== undefined) return origin;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
