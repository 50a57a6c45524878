/**
 * A tiny loopback HTTP server for tests: node:http on 127.0.0.1, port 0, every request recorded,
 * every connection cut on close (a keep-alive pool would otherwise hold `close()` open).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

/** What the server answers: a status, headers (repeated ones as arrays) and a body. */
export interface Reply {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
  readonly body?: string | Uint8Array;
}

/** A request as the server saw it. */
export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface LoopbackServer {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly url: string;
  readonly port: number;
  readonly requests: SeenRequest[];
  close(): Promise<void>;
}

/** Starts a server that hands every request to `handler`. */
export async function startServer(handler: Handler): Promise<LoopbackServer> {
  const requests: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    // A client that stops reading (a capped error body) resets the socket under a pending write.
    res.on("error", () => undefined);
    req.on("error", () => undefined);
    handler(req, res);
  });
  server.on("clientError", (_error, socket) => socket.destroy());
  const { port, close } = await listenOnLoopback(server);
  return { url: `http://127.0.0.1:${port}`, port, requests, close };
}

/**
 * Starts `server` on a free port of 127.0.0.1. `close()` also drops the connections clients keep alive,
 * so it never waits on an idle pool.
 */
export async function listenOnLoopback(server: http.Server): Promise<{ readonly port: number; close(): Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const close = (): Promise<void> =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return { port, close };
}

/** Writes `reply` to `res`. */
export function send(res: http.ServerResponse, reply: Reply): void {
  res.writeHead(reply.status, reply.headers as http.OutgoingHttpHeaders | undefined);
  res.end(reply.body ?? "");
}

/** Starts a server answering each path from `routes` (the query is ignored); anything else is a bare 599. */
export async function startReplyServer(routes: ReadonlyMap<string, Reply> | Readonly<Record<string, Reply>>): Promise<LoopbackServer> {
  const lookup = routes instanceof Map ? routes : new Map(Object.entries(routes));
  return startServer((req, res) => {
    const path = (req.url ?? "").split("?", 1)[0] ?? "";
    send(res, lookup.get(path) ?? { status: 599, body: `no route for ${path}` });
  });
}

/** A port on 127.0.0.1 that nothing listens on (a server's, just closed): connecting is refused. */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The error a promise rejects with; fails the test if it resolves. */
export async function rejectionOf(promise: PromiseLike<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to fail, but it succeeded");
}

/** A bad body a server (or a proxy in front of it) may send instead of the API's own error JSON. */
export interface HostileReply {
  /** Reads after "keeps ... in body", e.g. "an HTML page". */
  readonly what: string;
  readonly reply: Reply;
  /** What `body` must hold: the parsed value for valid JSON, else the (capped) text. */
  readonly body: unknown;
  /** The message faultline must make up, since the body offers none. */
  readonly message: string;
  /** What `retryAfterMs` must be. */
  readonly retryAfterMs?: number | undefined;
}

const KIB = 1024;
const HTML_PAGE =
  "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n";
const ONE_MB = "x".repeat(1024 * KIB);
const FIVE_MB_JSON = `{"error": "too big", "detail": "${"y".repeat(5 * 1024 * KIB)}"}`;
const NOT_UTF8 = Uint8Array.from([0x62, 0x61, 0x64, 0x20, 0xff, 0xfe, 0xc3, 0x28, 0x80, 0x20, 0x62, 0x79, 0x74, 0x65, 0x73]);

/**
 * Bodies every dialect must survive: each gives the status's own class, the text (or parsed JSON) kept in
 * `body`, a message made from the status, and never any other throw.
 */
export const HOSTILE_REPLIES: readonly (HostileReply & { readonly status: number })[] = [
  {
    what: "an HTML page",
    status: 502,
    reply: { status: 502, headers: { "content-type": "text/html" }, body: HTML_PAGE },
    body: HTML_PAGE,
    message: "HTTP 502 Bad Gateway (HTML body)",
  },
  {
    what: "plain text",
    status: 503,
    reply: { status: 503, headers: { "content-type": "text/plain" }, body: "upstream connect error or disconnect/reset before headers\nreset reason: overflow" },
    body: "upstream connect error or disconnect/reset before headers\nreset reason: overflow",
    message: "HTTP 503 Service Unavailable: upstream connect error or disconnect/reset before headers",
  },
  {
    what: 'an empty body (as "")',
    status: 404,
    reply: { status: 404, headers: { "content-type": "application/json" }, body: "" },
    body: "",
    message: "HTTP 404 Not Found (empty body)",
  },
  {
    what: "truncated JSON",
    status: 400,
    reply: { status: 400, headers: { "content-type": "application/json" }, body: '{"error": "Validation failed", "detail": [{"type": "missing", "lo' },
    body: '{"error": "Validation failed", "detail": [{"type": "missing", "lo',
    message: 'HTTP 400 Bad Request: {"error": "Validation failed", "detail": [{"type": "missing", "lo',
  },
  {
    what: "invalid JSON",
    status: 401,
    reply: { status: 401, headers: { "content-type": "application/json" }, body: "{error: 'Authentication failed', retryable: false,}" },
    body: "{error: 'Authentication failed', retryable: false,}",
    message: "HTTP 401 Unauthorized: {error: 'Authentication failed', retryable: false,}",
  },
  {
    what: "JSON null",
    status: 403,
    reply: { status: 403, headers: { "content-type": "application/json" }, body: "null" },
    body: null,
    message: "HTTP 403 Forbidden",
  },
  {
    what: "a JSON number",
    status: 409,
    reply: { status: 409, headers: { "content-type": "application/json" }, body: "42" },
    body: 42,
    message: "HTTP 409 Conflict",
  },
  {
    what: "a JSON string",
    status: 423,
    reply: { status: 423, headers: { "content-type": "application/json" }, body: '"workspace is locked"' },
    body: "workspace is locked",
    message: "HTTP 423 Locked",
  },
  {
    what: "a JSON array",
    status: 429,
    reply: { status: 429, headers: { "content-type": "application/json" }, body: '[{"error": "Rate limited", "error_code": "RATE_LIMITED"}]' },
    body: [{ error: "Rate limited", error_code: "RATE_LIMITED" }],
    message: "HTTP 429 Too Many Requests",
  },
  {
    what: "an object whose fields have the wrong types",
    status: 500,
    reply: { status: 500, headers: { "content-type": "application/json" }, body: '{"error": 5, "retryable": "yes", "detail": {"x":1}}' },
    body: { error: 5, retryable: "yes", detail: { x: 1 } },
    message: "HTTP 500 Internal Server Error",
  },
  {
    what: "the first 64 KiB of a 1 MB text body",
    status: 500,
    reply: { status: 500, headers: { "content-type": "text/plain" }, body: ONE_MB },
    body: ONE_MB.slice(0, 64 * KIB),
    message: `HTTP 500 Internal Server Error: ${"x".repeat(200)}`,
  },
  {
    what: "the first 64 KiB of a 5 MB JSON body, no longer valid JSON",
    status: 502,
    reply: { status: 502, headers: { "content-type": "application/json" }, body: FIVE_MB_JSON },
    body: FIVE_MB_JSON.slice(0, 64 * KIB),
    message: `HTTP 502 Bad Gateway: ${FIVE_MB_JSON.slice(0, 200)}`,
  },
  {
    what: "bytes that are not UTF-8, decoded with replacement characters",
    status: 400,
    reply: { status: 400, headers: { "content-type": "text/plain; charset=utf-8" }, body: NOT_UTF8 },
    body: "bad \uFFFD\uFFFD\uFFFD(\uFFFD bytes",
    message: "HTTP 400 Bad Request: bad \uFFFD\uFFFD\uFFFD(\uFFFD bytes",
  },
  {
    what: "text sent with Retry-After: -5",
    status: 429,
    reply: { status: 429, headers: { "content-type": "text/plain", "retry-after": "-5" }, body: "slow down" },
    body: "slow down",
    message: "HTTP 429 Too Many Requests: slow down",
    retryAfterMs: undefined,
  },
  {
    what: "text sent with a 10 KB header and a 400-digit Retry-After",
    status: 503,
    reply: { status: 503, headers: { "content-type": "text/plain", "x-junk": "j".repeat(10 * KIB), "retry-after": "9".repeat(400) }, body: "busy" },
    body: "busy",
    message: "HTTP 503 Service Unavailable: busy",
    retryAfterMs: Number.MAX_SAFE_INTEGER,
  },
];
