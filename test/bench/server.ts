/**
 * The bench's loopback server: one node:http server in a process of its own, so the client under test has
 * its process (its CPU time, its heap, its event loop) to itself, as against a real API. The child runs
 * plain JavaScript (no loader needed) and talks to the bench over an IPC channel.
 *
 * Routes: GET /v2/workflows/{id}/ answers a ~1 KB workflow; the ids `rate-limited` and `bad-gateway`
 * answer a JSON 429 and an nginx HTML 502. Sockets are counted per client, tagged by the `user-agent`
 * of their first request, so each client's pool is measured on its own.
 */
import { spawn } from "node:child_process";

export interface SocketStats {
  /** Connections accepted, by client tag. */
  readonly connections: Record<string, number>;
  /** Sockets open right now, by client tag. */
  readonly open: Record<string, number>;
  /** The most sockets open at once, by client tag, since the last reset. */
  readonly maxOpen: Record<string, number>;
  readonly requests: number;
}

export interface BenchServer {
  readonly url: string;
  readonly workflowBytes: number;
  stats(): Promise<SocketStats>;
  resetStats(): Promise<void>;
  close(): Promise<void>;
}

export const WORKFLOW = {
  id: "3f2b9c1e-7a4d-4e8b-9c2f-1d5e6a7b8c9d",
  name: "Supplier invoices (EU)",
  description: "Extracts the header fields and line items of supplier invoices received by the AP team.",
  created_at: "2025-03-14T09:26:53.589Z",
  updated_at: "2025-06-02T17:45:10.112Z",
  fields: [
    { name: "invoice_number", description: "The invoice number as printed on the document", data_type: "string" },
    { name: "issue_date", description: "Date the invoice was issued", data_type: "date" },
    { name: "due_date", description: "Payment due date, if stated", data_type: "date" },
    { name: "supplier_vat_id", description: "VAT identification number of the supplier", data_type: "string" },
    { name: "currency", description: "ISO 4217 currency code", data_type: "enum", enum_options: ["EUR", "USD", "GBP", "CHF"] },
    { name: "total_amount", description: "Grand total including taxes", data_type: "float" },
    {
      name: "line_items",
      description: "Every billed line",
      data_type: "object",
      nested_fields: [
        { name: "description", description: "What was billed", data_type: "string" },
        { name: "quantity", description: "Units billed", data_type: "integer" },
        { name: "unit_price", description: "Price per unit before tax", data_type: "float" },
      ],
    },
  ],
};

/** anyformat's 429 body, padded with JSON whitespace to exactly 200 bytes: the size the targets name. */
export const RATE_LIMITED_BODY = JSON.stringify({
  error: "Rate limit exceeded",
  detail: "Too many requests: 600 per minute allowed on the general tier.",
  error_code: "RATE_LIMITED",
  retryable: true,
  request_id: "5d41402abc4b2a76b9719d911017c592",
}).padEnd(200, " ");

/** The page nginx answers when its upstream is down. */
export const BAD_GATEWAY_HTML =
  "<!DOCTYPE html>\n<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n<center><h1>502 Bad Gateway</h1></center>\n" +
  "<hr><center>nginx</center>\n</body>\n</html>\n";

const SERVER_SOURCE = String.raw`
const http = require("node:http");
const workerData = JSON.parse(process.env.BENCH_SERVER_DATA);
const parentPort = { postMessage: (message) => process.send(message), on: (event, listener) => process.on(event, listener) };
const workflow = Buffer.from(workerData.workflow);
const rateLimited = Buffer.from(workerData.rateLimited);
const badGateway = Buffer.from(workerData.badGateway);
let requests = 0;
let connections = {}, open = {}, maxOpen = {};
const bump = (record, tag, by) => { record[tag] = (record[tag] || 0) + by; return record[tag]; };
const server = http.createServer((req, res) => {
  requests++;
  const socket = req.socket;
  if (socket.benchTag === undefined) {
    const tag = String(req.headers["user-agent"] || "unknown").split("/")[0];
    socket.benchTag = tag;
    bump(connections, tag, 1);
    const now = bump(open, tag, 1);
    if (now > (maxOpen[tag] || 0)) maxOpen[tag] = now;
    socket.once("close", () => bump(open, tag, -1));
  }
  const url = req.url || "/";
  req.resume();
  if (url === "/v2/workflows/rate-limited/") {
    res.writeHead(429, { "content-type": "application/json", "content-length": rateLimited.length, "retry-after": "1", "x-request-id": "5d41402abc4b2a76b9719d911017c592" });
    res.end(rateLimited);
  } else if (url === "/v2/workflows/bad-gateway/") {
    res.writeHead(502, { "content-type": "text/html", "content-length": badGateway.length, server: "nginx" });
    res.end(badGateway);
  } else if (url.startsWith("/v2/workflows/")) {
    // A tier with room to spare: the governor learns it from these headers and takes its fast path (a slot
    // is free) on every call. anyformat's documented 600 a minute would hold the bench's 601st call a minute.
    res.writeHead(200, {
      "content-type": "application/json",
      "content-length": workflow.length,
      "x-ratelimit-limit": "1000000000",
      "x-ratelimit-remaining": "999999999",
      "x-ratelimit-reset": "60",
      "x-request-id": "a1b2c3d4e5f67890abcdef1234567890",
    });
    res.end(workflow);
  } else {
    res.writeHead(404, { "content-type": "application/json" });
    res.end('{"detail":"Not found."}');
  }
});
server.keepAliveTimeout = 60000;
server.headersTimeout = 61000;
server.listen(0, "127.0.0.1", () => parentPort.postMessage({ type: "listening", port: server.address().port }));
parentPort.on("message", (message) => {
  if (message === "stats") parentPort.postMessage({ type: "stats", stats: { connections, open, maxOpen, requests } });
  if (message === "reset") { connections = {}; maxOpen = { ...open }; requests = 0; parentPort.postMessage({ type: "reset" }); }
  if (message === "close") { server.closeAllConnections(); server.close(() => { parentPort.postMessage({ type: "closed" }); process.disconnect(); }); }
});
`;

export async function startBenchServer(): Promise<BenchServer> {
  const workflow = JSON.stringify(WORKFLOW);
  const child = spawn(process.execPath, ["-e", SERVER_SOURCE], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    env: { ...process.env, BENCH_SERVER_DATA: JSON.stringify({ workflow, rateLimited: RATE_LIMITED_BODY, badGateway: BAD_GATEWAY_HTML }) },
  });
  const next = (type: string): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const onMessage = (message: Record<string, unknown>): void => {
        if (message["type"] !== type) return;
        child.off("message", onMessage);
        child.off("error", reject);
        resolve(message);
      };
      child.on("message", onMessage);
      child.once("error", reject);
    });
  const { port } = (await next("listening")) as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    workflowBytes: Buffer.byteLength(workflow),
    async stats() {
      const reply = next("stats");
      child.send("stats");
      return (await reply)["stats"] as SocketStats;
    },
    async resetStats() {
      const reply = next("reset");
      child.send("reset");
      await reply;
    },
    async close() {
      const reply = next("closed");
      child.send("close");
      await reply;
      if (child.exitCode === null) await new Promise((resolve) => child.once("exit", resolve));
    },
  };
}
