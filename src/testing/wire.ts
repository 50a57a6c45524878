/**
 * The emulator server's plumbing: reading a request off the socket, writing an answer, and masking what
 * its request log keeps.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { ROBOFLOW_HTML_502 } from "./roboflow/responses.js";
import type { EmulatorApp, EmulatorResponse } from "./types.js";

/** The largest request body the emulator reads; a larger one has its connection cut. */
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

/** Each API's own proxy page: Roboflow's is the one its SDK is known to choke on. */
export function badGatewayPage(app: EmulatorApp): EmulatorResponse {
  return { status: 502, headers: { "content-type": "text/html" }, text: app.api === "roboflow" ? ROBOFLOW_HTML_502 : HTML_BAD_GATEWAY };
}

/** The whole body, or `undefined` when it was too large (the connection is then cut) or broke off. */
export async function readBody(req: IncomingMessage): Promise<Uint8Array | undefined> {
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

export function lowerHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

export function serialise(answer: EmulatorResponse): { bytes: Buffer; type: string } {
  if (answer.json !== undefined) return { bytes: Buffer.from(JSON.stringify(answer.json)), type: "application/json" };
  if (answer.text !== undefined) {
    const type = answer.headers?.["content-type"] ?? "text/plain; charset=utf-8";
    return { bytes: Buffer.from(answer.text), type };
  }
  return { bytes: Buffer.alloc(0), type: answer.headers?.["content-type"] ?? "application/json" };
}

export function send(res: ServerResponse, answer: EmulatorResponse): void {
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

export function maskHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out = { ...headers };
  if (out["authorization"] !== undefined) out["authorization"] = out["authorization"].replace(/ .*/, " ***");
  return out;
}

export function maskQuery(query: URLSearchParams): string {
  const copy = new URLSearchParams(query);
  if (copy.has("api_key")) copy.set("api_key", "***");
  return copy.toString().replaceAll("%2A%2A%2A", "***");
}
