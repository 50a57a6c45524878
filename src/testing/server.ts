import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { createAnyformatApp, type AnyformatApp, type AnyformatEmulatorOptions } from "./anyformat/app.js";
import { createRoboflowApp, type RoboflowApp, type RoboflowEmulatorOptions } from "./roboflow/app.js";
import { deliver, Holds, insteadOfApp, type Drawn } from "./fault-wiring.js";
import { FaultPlan, type FaultName, type FaultRates, type InjectOptions, type OutageOptions } from "./faults.js";
import { ReplayStore } from "./replays.js";
import type { Clock, EmulatorApp, EmulatorRequest } from "./types.js";
import { lowerHeaders, maskHeaders, maskQuery, readBody, send } from "./wire.js";

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
  const holds = new Holds();
  const replays = new ReplayStore();
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

  /** A request's life: read, draw a fault, answer (in the app's place, or the app's answer the fault's way), log. */
  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.on("error", () => undefined);
    res.on("error", () => undefined);
    const target = new URL(req.url ?? "/", "http://emulator");
    const body = await readBody(req);
    const current = app;
    if (body === undefined || current === undefined) return;
    const headers = lowerHeaders(req);
    const request: EmulatorRequest = { method: (req.method ?? "GET").toUpperCase(), path: target.pathname, query: target.searchParams, headers, body };
    const down = plan.outageNow();
    const drawn: Drawn = down === undefined ? plan.draw(request) : "outage";
    const log = logger(request, target.searchParams, drawn);

    if (drawn === "slowHeaders") {
      // Logged as it arrives, so a test that has just seen its client time out finds it in the log; the
      // entry gets its status if the hold ends with an answer.
      log(undefined);
      if (!(await holds.hold(slowHeadersMs, res))) return log(undefined);
    }
    const instead = insteadOfApp(drawn, down, current, request);
    if (instead === "reset") {
      log(undefined);
      req.socket.destroy();
      return;
    }
    if (instead !== undefined) {
      log(instead.status);
      return send(res, instead);
    }
    const { answer, replayed } = await replays.answer(request, async () => {
      try {
        return await current.handle(request);
      } catch (error) {
        return { status: 500, text: `emulator error: ${error instanceof Error ? error.message : String(error)}` };
      }
    });
    log(deliver(drawn, answer, req, res, current), replayed);
  }

  /** The request's log entry: written the first time, updated by later calls. */
  function logger(request: EmulatorRequest, query: URLSearchParams, drawn: Drawn): (status: number | undefined, replayed?: boolean) => void {
    let entry: { -readonly [K in keyof EmulatorLogEntry]: EmulatorLogEntry[K] } | undefined;
    return (status, replayed = false) => {
      if (entry !== undefined) {
        entry.status = status;
        entry.replayed = replayed;
        return;
      }
      entry = {
        method: request.method,
        path: request.path,
        query: maskQuery(query),
        headers: maskHeaders(request.headers),
        status,
        fault: drawn,
        replayed,
        at: clock.now(),
      };
      requests.push(entry);
    };
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
    outage: (outage) => plan.outage(outage),
    close: async () => {
      holds.clear();
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app?.close?.();
    },
  };
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
