/**
 * A loopback proxy in front of an emulator, for what the emulators do not do by themselves: answer one
 * document with a refusal of its own, or carry a request to the emulator and then withhold the answer
 * (the moment between a submission reaching the server and the client recording its answer).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { request } from "undici";

/** A request as the proxy read it. */
export interface ProxiedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/**
 * What to do with a request: pass it on (at once, or after a delay), answer it here, pass it on and never
 * answer, or pass it on and never answer if the target's status says so (the rest are answered).
 */
export type ProxyDecision =
  | "forward"
  | "withhold"
  | { readonly forwardAfterMs: number }
  | { readonly withholdIf: (status: number) => boolean; readonly forwardAfterMs?: number }
  | { readonly status: number; readonly json: unknown };

export interface Proxy {
  readonly url: string;
  /** Requests whose answer was withheld, after the target answered them (status as the target gave it). */
  readonly withheld: Array<{ readonly path: string; readonly status: number }>;
  close(): Promise<void>;
}

export async function startProxy(
  target: string,
  decide: (req: ProxiedRequest) => ProxyDecision,
  onWithheld: (path: string, status: number) => void = () => undefined,
): Promise<Proxy> {
  const withheld: Array<{ path: string; status: number }> = [];
  const server = http.createServer((req, res) => {
    req.on("error", () => undefined);
    res.on("error", () => undefined);
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const seen: ProxiedRequest = { method: req.method ?? "GET", path: req.url ?? "/", headers: req.headers, body };
      const decision = decide(seen);
      if (typeof decision === "object" && "withholdIf" in decision) {
        setTimeout(() => forward(seen, decision.withholdIf), decision.forwardAfterMs ?? 0);
        return;
      }
      if (typeof decision === "object" && "forwardAfterMs" in decision) {
        setTimeout(() => forward(seen, "forward"), decision.forwardAfterMs);
        return;
      }
      if (typeof decision === "object") {
        res.writeHead(decision.status, { "content-type": "application/json" });
        res.end(JSON.stringify(decision.json));
        return;
      }
      forward(seen, decision);
    });

    function forward(seen: ProxiedRequest, decision: "forward" | "withhold" | ((status: number) => boolean)): void {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined && name !== "host" && name !== "connection") headers[name] = Array.isArray(value) ? value.join(", ") : value;
      }
      request(`${target}${seen.path}`, { method: seen.method as "GET", headers, body: seen.method === "GET" ? null : seen.body })
        .then(async (answer) => {
          const text = await answer.body.arrayBuffer();
          if (decision === "withhold" || (typeof decision === "function" && decision(answer.statusCode))) {
            withheld.push({ path: seen.path, status: answer.statusCode });
            onWithheld(seen.path, answer.statusCode);
            return;
          }
          const out: Record<string, string> = {};
          for (const [name, value] of Object.entries(answer.headers)) {
            if (value !== undefined && name !== "connection" && name !== "keep-alive" && name !== "transfer-encoding") {
              out[name] = Array.isArray(value) ? value.join(", ") : value;
            }
          }
          res.writeHead(answer.statusCode, out);
          res.end(Buffer.from(text));
        })
        .catch(() => res.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    withheld,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The `filename` of a multipart body's file part, as sent. */
export function filenameIn(body: Buffer): string | undefined {
  return /filename="([^"]*)"/.exec(body.toString("latin1"))?.[1];
}
