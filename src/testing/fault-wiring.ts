/**
 * How the emulator server carries out a fault: what it does before the app sees a request (hold it), in
 * the app's place (an outage, an HTTP fault in the API's own words), and with the app's answer once the
 * app has acted (cut the connection, cut the body, put the edge's page in its place). Which fault a request
 * gets is the `FaultPlan`'s business; how the app phrases an HTTP fault is the app's.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { isHttpFault, type FaultName, type OutageOptions } from "./faults.js";
import type { EmulatorApp, EmulatorRequest, EmulatorResponse } from "./types.js";
import { badGatewayPage, send, serialise } from "./wire.js";

/** What a request drew: a fault, the outage under way, or nothing. */
export type Drawn = FaultName | "outage" | undefined;

/** Timers of held requests, so that closing the emulator ends every hold at once. */
export class Holds {
  readonly #timers = new Set<NodeJS.Timeout>();

  /** Holds a request for `ms`, or until its client hangs up; true when the request is still there to answer. */
  async hold(ms: number, res: ServerResponse): Promise<boolean> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        resolve();
      }, ms);
      this.#timers.add(timer);
      res.on("close", () => {
        clearTimeout(timer);
        this.#timers.delete(timer);
        resolve();
      });
    });
    return !(res.destroyed || res.writableEnded);
  }

  clear(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }
}

/**
 * What the server answers in the app's place, before the app sees the request: an outage's status (or a
 * reset), or an HTTP fault. `undefined` lets the app answer.
 */
export function insteadOfApp(
  drawn: Drawn,
  down: OutageOptions["status"] | undefined,
  app: EmulatorApp,
  request: EmulatorRequest,
): EmulatorResponse | "reset" | undefined {
  if (down === "reset") return "reset";
  if (down !== undefined) return down === 504 ? app.fault("gatewayTimeout", request) : { ...app.fault("serverError", request), status: down };
  if (drawn === "htmlBadGateway") return badGatewayPage(app);
  if (isHttpFault(drawn)) return app.fault(drawn, request);
  return undefined;
}

/**
 * Delivers the app's answer as the fault says. The app has acted on the request in every case: only the
 * answer is lost (a reset), cut short, or replaced by the edge's page. Gives the status the client saw,
 * `undefined` for none.
 */
export function deliver(drawn: Drawn, answer: EmulatorResponse, req: IncomingMessage, res: ServerResponse, app: EmulatorApp): number | undefined {
  switch (drawn) {
    case "reset":
      // As when a proxy drops a connection after the backend answered.
      req.socket.destroy();
      return undefined;
    case "badGatewayAfterWrite":
      send(res, badGatewayPage(app));
      return 502;
    case "truncatedBody": {
      const payload = serialise(answer);
      res.writeHead(answer.status, { ...answer.headers, "content-type": payload.type, "content-length": payload.bytes.byteLength + 64 });
      res.write(payload.bytes.subarray(0, Math.floor(payload.bytes.byteLength / 2)));
      setImmediate(() => req.socket.destroy());
      return answer.status;
    }
    default:
      send(res, answer);
      return answer.status;
  }
}
