/**
 * A real HTTP proxy on loopback (the `proxy` package: forwards absolute-form requests, tunnels CONNECT),
 * recording every request it is asked to carry, optionally asking for Basic credentials (407 without
 * them); and an HTTPS server with a test certificate the process is made to trust.
 */
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import tls from "node:tls";
import { createProxy } from "proxy";
import { listenOnLoopback } from "./server.js";

/** A request the proxy was asked to carry, as it read it (before deciding whether to allow it). */
export interface ProxiedRequest {
  readonly method: string;
  /** `http://host:port/path` for a forwarded request, `host:port` for a CONNECT. */
  readonly target: string;
  readonly proxyAuthorization: string | undefined;
}

export interface RunningProxy {
  /** `http://127.0.0.1:<port>` (with `user:password@` when it asks for credentials). */
  readonly url: string;
  /** Its URL without credentials. */
  readonly bare: string;
  readonly seen: ProxiedRequest[];
  close(): Promise<void>;
}

/** Starts a proxy; with `credentials`, it answers 407 to any request that does not bring them. */
export async function startHttpProxy(credentials?: { readonly user: string; readonly password: string }): Promise<RunningProxy> {
  const seen: ProxiedRequest[] = [];
  const server = createProxy(http.createServer());
  const expected = credentials === undefined ? undefined : `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`).toString("base64")}`;
  server.authenticate = (req) => {
    const proxyAuthorization = req.headers["proxy-authorization"];
    seen.push({ method: req.method ?? "", target: req.url ?? "", proxyAuthorization });
    return expected === undefined || proxyAuthorization === expected;
  };
  const { port, close } = await listenOnLoopback(server);
  const auth = credentials === undefined ? "" : `${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@`;
  return { url: `http://${auth}127.0.0.1:${port}`, bare: `http://127.0.0.1:${port}`, seen, close };
}

const CERT = readFileSync(new URL("./tls/cert.pem", import.meta.url), "utf8");
const KEY = readFileSync(new URL("./tls/key.pem", import.meta.url), "utf8");

/** Makes this process trust the test certificate (for IP 127.0.0.1 and `localhost`); answers how to undo it. */
export function trustTestCertificate(): () => void {
  const before = tls.getCACertificates("default");
  tls.setDefaultCACertificates([...before, CERT]);
  return () => tls.setDefaultCACertificates(before);
}

export interface HttpsServer {
  /** `https://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Headers of every request, in order. */
  readonly requests: http.IncomingHttpHeaders[];
  close(): Promise<void>;
}

/** An HTTPS server answering every request with `200 {"message":"ok"}`, as anyformat's `/health/` does. */
export async function startHttpsServer(): Promise<HttpsServer> {
  const requests: http.IncomingHttpHeaders[] = [];
  const server = https.createServer({ key: KEY, cert: CERT }, (req, res) => {
    requests.push(req.headers);
    req.resume();
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ message: "ok" }));
  });
  const { port, close } = await listenOnLoopback(server);
  return { url: `https://127.0.0.1:${port}`, port, requests, close };
}
