import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { createAnyformatApp, type AnyformatApp, type AnyformatEmulatorOptions } from "./anyformat/app.js";
import { createRoboflowApp, type RoboflowApp, type RoboflowEmulatorOptions } from "./roboflow/app.js";
import { ROBOFLOW_HTML_502 } from "./roboflow/responses.js";
import { FaultPlan, isHttpFault, type FaultName, type FaultRates, type InjectOptions, type OutageOptions } from "./faults.js";
import type { Clock, EmulatorApp, EmulatorRequest, EmulatorResponse } from "./types.js";

/** One request the emulator saw, credentials masked. */
export interface EmulatorLogEntry {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly headers: Readonly<Record<string, string>>;
  /** The status answered; `undefined` when the connection was cut instead. */
  readonly status: number | undefined;
  /** The fault injected into this request, if any (`"outage"` while an outage is on). */
  readonly fault: FaultName | "outage" | undefined;
  /** True when an `Idempotency-Key` matched an earlier request and its answer was replayed. */
  readonly replayed: boolean;
  /** When it was answered or cut (a held request: when it arrived), by the emulator's clock, in ms. */
  readonly at: number;
}

interface CommonOptions {
  /** Fault rates by name, 0 to 1 each, drawn from a generator seeded by `seed`. */
  readonly faults?: FaultRates | undefined;
  /** Seeds fault draws and the app's ids: the same seed gives the same run. */
  readonly seed?: number | undefined;
  readonly clock?: Clock | undefined;
  /** Defaults to 127.0.0.1 and a free port. */
  readonly host?: string | undefined;
  readonly port?: number | undefined;
  /** How long a `slowHeaders` fault holds a request before answering [10000]. */
  readonly slowHeadersMs?: number | undefined;
}

export interface StartAnyformatOptions extends CommonOptions, Omit<AnyformatEmulatorOptions, "clock" | "seed" | "baseUrl"> {
  readonly api: "anyformat";
}

export interface StartRoboflowOptions extends CommonOptions, Omit<RoboflowEmulatorOptions, "clock" | "baseUrl"> {
  readonly api: "roboflow";
}

export type StartEmulatorOptions = StartAnyformatOptions | StartRoboflowOptions;

/** A running emulator. */
export interface Emulator<A extends EmulatorApp = EmulatorApp> {
  /** Base URL of the API, e.g. `http://127.0.0.1:54321`. */
  readonly url: string;
  /** For Roboflow: the dedicated-deployments service's base URL. */
  readonly deploymentsUrl: string;
  /** For Roboflow: the inference host's base URL (models and Workflows). */
  readonly inferenceUrl: string;
  /**
   * Every request seen, in the order they were answered (or cut). A request held by `slowHeaders` is
   * logged as it arrives, with no status until (unless) the hold ends with an answer.
   */
  readonly requests: readonly EmulatorLogEntry[];
  /** The in-memory API, to inspect or seed its state. */
  readonly app: A;
  /**
   * Queues a fault for the next matching requests (`count` of them, default 1). Queued faults are served
   * first in, first out across every request they match: a call that stops after fewer attempts than
   * `count` (a 423, a 429 whose Retry-After is too long to wait) leaves the rest for later requests, so
   * scope a fault with `path` when calls must not share it.
   */
  inject(fault: FaultName, options?: InjectOptions): void;
  /** Replaces the fault rates. */
  setFaults(faults: FaultRates): void;
  /**
   * Starts an outage: every request fails with `status` (in the API's own error form) or a reset connection,
   * for `forMs` (by the real clock) or until `outage(false)`. It takes precedence over every other fault.
   *
   * @example
   * ```ts
   * emu.outage({ status: 503, forMs: 5_000 }); // down for five seconds, then back
   * ```
   */
  outage(options: OutageOptions | false): void;
  /** Stops the server and cuts open connections. */
  close(): Promise<void>;
}

const BODY_CAP = 64 * 1024 * 1024;

const HTML_BAD_GATEWAY = `<!DOCTYPE html>
<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx</center>
</body>
</html>
`;

/**
 * Starts an emulator of one API on a real loopback server.
 *
 * @example
 * ```ts
 * import { startEmulator } from "faultline/testing";
 * const emu = await startEmulator({ api: "anyformat", faults: { serverError: 0.2 }, seed: 7 });
 * const af = new Anyformat({ apiKey: ANYFORMAT_EMULATOR_KEY, baseUrl: emu.url });
 * // ...
 * await emu.close();
 * ```
 */
export async function startEmulator(options: StartAnyformatOptions): Promise<Emulator<AnyformatApp>>;
export async function startEmulator(options: StartRoboflowOptions): Promise<Emulator<RoboflowApp>>;
export async function startEmulator(options: StartEmulatorOptions): Promise<Emulator>;
export async function startEmulator(options: StartEmulatorOptions): Promise<Emulator> {
  const plan = new FaultPlan(options.faults ?? {}, options.seed ?? 1);
  const requests: EmulatorLogEntry[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const replays = new Map<string, EmulatorResponse>();
  const slowHeadersMs = options.slowHeadersMs ?? 10_000;
  const clock = options.clock ?? { now: () => Date.now() };
  let app: EmulatorApp | undefined;

  const server: Server = createServer((req, res) => {
    // An answer the app built that node refuses to send (a header it rejects) must not become an
    // unhandled rejection in the test process: the client gets a 500, or a cut connection.
    serve(req, res).catch((error: unknown) => {
      if (res.headersSent || res.destroyed) {
        res.destroy();
        return;
      }
      try {
        send(res, { status: 500, text: `emulator error: ${error instanceof Error ? error.message : String(error)}` });
      } catch {
        res.destroy();
      }
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.on("error", () => undefined);
    res.on("error", () => undefined);
    const target = new URL(req.url ?? "/", "http://emulator");
    const body = await readBody(req);
    if (body === undefined) return;
    const headers = lowerHeaders(req);
    const request: EmulatorRequest = {
      method: (req.method ?? "GET").toUpperCase(),
      path: target.pathname,
      query: target.searchParams,
      headers,
      body,
    };
    const current = app;
    if (current === undefined) return;
    const down = plan.outageNow();
    const fault: FaultName | "outage" | undefined = down === undefined ? plan.draw(request) : "outage";
    let entry: { -readonly [K in keyof EmulatorLogEntry]: EmulatorLogEntry[K] } | undefined;
    const log = (status: number | undefined, replayed = false): void => {
      if (entry !== undefined) {
        entry.status = status;
        entry.replayed = replayed;
        return;
      }
      entry = {
        method: request.method,
        path: request.path,
        query: maskQuery(target.searchParams),
        headers: maskHeaders(headers),
        status,
        fault,
        replayed,
        at: clock.now(),
      };
      requests.push(entry);
    };

    if (fault === "slowHeaders") {
      // Logged as it arrives, so a test that has just seen its client time out finds it in the log; the
      // entry gets its status if the hold ends with an answer.
      log(undefined);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          timers.delete(timer);
          resolve();
        }, slowHeadersMs);
        timers.add(timer);
        res.on("close", () => {
          clearTimeout(timer);
          timers.delete(timer);
          resolve();
        });
      });
      if (res.destroyed || res.writableEnded) return log(undefined);
    }
    if (down === "reset") {
      log(undefined);
      req.socket.destroy();
      return;
    }
    if (down !== undefined) {
      const answer = down === 504 ? current.fault("gatewayTimeout", request) : { ...current.fault("serverError", request), status: down };
      log(answer.status);
      return send(res, answer);
    }
    if (fault === "htmlBadGateway") {
      log(502);
      return send(res, badGatewayPage(current));
    }
    if (isHttpFault(fault)) {
      const answer = current.fault(fault, request);
      log(answer.status);
      return send(res, answer);
    }

    // Replaying by Idempotency-Key, as real APIs do, is what makes a retried POST safe.
    const key = headers["idempotency-key"];
    const replayKey = key === undefined ? undefined : `${request.method} ${request.path} ${key}`;
    const replay = replayKey === undefined ? undefined : replays.get(replayKey);
    let answer: EmulatorResponse;
    if (replay !== undefined) {
      answer = replay;
    } else {
      try {
        answer = await current.handle(request);
      } catch (error) {
        answer = { status: 500, text: `emulator error: ${error instanceof Error ? error.message : String(error)}` };
      }
      if (replayKey !== undefined && carriedOut(answer.status)) replays.set(replayKey, answer);
    }

    if (fault === "reset") {
      // The app has acted on the request; only the answer is lost, as when a proxy drops a connection.
      log(undefined, replay !== undefined);
      req.socket.destroy();
      return;
    }
    if (fault === "badGatewayAfterWrite") {
      // The app has acted (an upload is stored); the edge's page takes the place of its answer.
      log(502, replay !== undefined);
      return send(res, badGatewayPage(current));
    }
    if (fault === "truncatedBody") {
      log(answer.status, replay !== undefined);
      const payload = serialise(answer);
      res.writeHead(answer.status, { ...answer.headers, "content-type": payload.type, "content-length": payload.bytes.byteLength + 64 });
      res.write(payload.bytes.subarray(0, Math.floor(payload.bytes.byteLength / 2)));
      setImmediate(() => req.socket.destroy());
      return;
    }
    log(answer.status, replay !== undefined);
    send(res, answer);
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  app = createApp(options, url);

  return {
    url,
    deploymentsUrl: `${url}/deployments`,
    inferenceUrl: `${url}/inference`,
    requests,
    app,
    inject: (fault, injectOptions) => plan.inject(fault, injectOptions),
    setFaults: (faults) => plan.setRates(faults),
    outage: (options) => plan.outage(options),
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app?.close?.();
    },
  };
}

/**
 * Refusals on the request's own merits: the API looked at what was asked and said no, and would say so
 * again. Everything else below 500 (a 401 or 403 before the API looked, a 429, a 423, a redirect, a 405)
 * says nothing about the request itself.
 */
const REFUSED_ON_MERITS = new Set([400, 404, 409, 410, 413, 422]);

/**
 * Whether an answer may be replayed by `Idempotency-Key`: only when the API carried the request out (a
 * 2xx) or refused it on its merits. A stored 429 would be replayed after the window reset, so a keyed
 * retry could never get through; a stored 401 would outlive the fixed key.
 */
function carriedOut(status: number): boolean {
  return (status >= 200 && status < 300) || REFUSED_ON_MERITS.has(status);
}

/** Each API's own proxy page: Roboflow's is the one its SDK is known to choke on. */
function badGatewayPage(app: EmulatorApp): EmulatorResponse {
  return { status: 502, headers: { "content-type": "text/html" }, text: app.api === "roboflow" ? ROBOFLOW_HTML_502 : HTML_BAD_GATEWAY };
}

function createApp(options: StartEmulatorOptions, url: string): EmulatorApp {
  const { faults: _f, host: _h, port: _p, slowHeadersMs: _s, ...rest } = options;
  if (rest.api === "anyformat") {
    const { api: _a, ...appOptions } = rest;
    return createAnyformatApp({ ...(appOptions as AnyformatEmulatorOptions), baseUrl: url });
  }
  const { api: _a, seed: _seed, ...appOptions } = rest;
  return createRoboflowApp({ ...(appOptions as RoboflowEmulatorOptions), baseUrl: url });
}

async function readBody(req: IncomingMessage): Promise<Uint8Array | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.byteLength;
      if (size > BODY_CAP) {
        req.socket.destroy();
        return undefined;
      }
      chunks.push(chunk);
    }
  } catch {
    return undefined;
  }
  return Buffer.concat(chunks, size);
}

function lowerHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

function serialise(answer: EmulatorResponse): { bytes: Buffer; type: string } {
  if (answer.json !== undefined) return { bytes: Buffer.from(JSON.stringify(answer.json)), type: "application/json" };
  if (answer.text !== undefined) {
    const type = answer.headers?.["content-type"] ?? "text/plain; charset=utf-8";
    return { bytes: Buffer.from(answer.text), type };
  }
  return { bytes: Buffer.alloc(0), type: answer.headers?.["content-type"] ?? "application/json" };
}

function send(res: ServerResponse, answer: EmulatorResponse): void {
  if (res.destroyed) return;
  const payload = serialise(answer);
  const headers: Record<string, string | number> = { ...answer.headers };
  if (payload.bytes.byteLength > 0 || answer.status !== 204) {
    headers["content-type"] = payload.type;
    headers["content-length"] = payload.bytes.byteLength;
  }
  res.writeHead(answer.status, headers);
  res.end(payload.bytes);
}

function maskHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out = { ...headers };
  if (out["authorization"] !== undefined) out["authorization"] = out["authorization"].replace(/ .*/, " ***");
  return out;
}

function maskQuery(query: URLSearchParams): string {
  const copy = new URLSearchParams(query);
  if (copy.has("api_key")) copy.set("api_key", "***");
  return copy.toString().replaceAll("%2A%2A%2A", "***");
}
