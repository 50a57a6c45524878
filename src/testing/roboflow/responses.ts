import type { EmulatorResponse } from "../types.js";

/**
 * The answers and error bodies of the Roboflow emulator. Roboflow speaks two error dialects: the
 * Graph-style nested `{"error": {message, status, type, hint}}` of most endpoints, and the flat
 * `{"error": "..."}` of generate, exports, Trash and the deployments service. Both are kept, so a
 * client is tested against each.
 */

/** What the Graph API says for anything it cannot find or will not show: the same words for both. */
export const GRAPH_HINT = "You can see your available workspaces by issuing a GET request to /workspaces";

/** An HTML 502 page such as a proxy in front of Roboflow sends: no JSON at all. */
export const ROBOFLOW_HTML_502 = `<!DOCTYPE html>
<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<center>The server encountered a temporary error and could not complete your request. Please try again in 30 seconds.</center>
<hr><center>nginx</center>
</body>
</html>
`;

/** The 503 page Roboflow's edge (Google's load balancer) sends when the API behind it is down. */
export const ROBOFLOW_HTML_503 = `<!DOCTYPE html>
<html lang=en>
<meta charset=utf-8>
<title>Error 503 (Service Unavailable)!!1</title>
<p><b>503.</b> <ins>That's an error.</ins>
<p>The service you requested is not available at this time. <ins>That's all we know.</ins>
`;

export function ok(json: unknown, status = 200): EmulatorResponse {
  return { status, json };
}

export function nested(status: number, type: string, message: string, hint?: string): EmulatorResponse {
  const error: Record<string, unknown> = { message, status, type };
  if (hint !== undefined) error["hint"] = hint;
  return { status, json: { error } };
}

export function flat(status: number, message: string): EmulatorResponse {
  return { status, json: { error: message } };
}

export function unauthorized(): EmulatorResponse {
  return nested(
    401,
    "OAuthException",
    "This API key does not exist (or has been revoked).",
    "You may retrieve your API key via the Roboflow Dashboard. Go to Account > Roboflow Keys to retrieve yours.",
  );
}

/** Graph's one answer for "missing", "hidden from you" and "no such operation" alike. */
export function graphNotFound(method: string, id: string): EmulatorResponse {
  return nested(
    404,
    "GraphMethodException",
    `Unsupported ${method.toLowerCase()} request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
    GRAPH_HINT,
  );
}

export function forbidden(workspace: string): EmulatorResponse {
  return nested(
    403,
    "ForbiddenException",
    `This API key does not have access to workspace ${workspace}.`,
    `Use an API key created in workspace ${workspace}, or ask one of its owners to invite you.`,
  );
}

export function locked(workspace: string): EmulatorResponse {
  return nested(
    423,
    "WorkspaceLockedException",
    lockedMessage(workspace),
    `A workspace owner can update billing at https://app.roboflow.com/${workspace}/settings/billing; requests succeed again once it is unlocked.`,
  );
}

export function lockedMessage(workspace: string): string {
  return `Workspace ${workspace} is locked: billing is paused. Update your payment method to resume.`;
}

export function validation(message: string): EmulatorResponse {
  return { status: 400, json: { error: { message, type: "ValidationException", status: 400 } } };
}

export function conflict(message: string, hint?: string): EmulatorResponse {
  return nested(409, "ConflictException", message, hint);
}

// Shared by both emulators; re-exported so each emulator's modules import from one place.
export { INVALID, isRecord, readJson } from "../json.js";

/** FNV-1a, hex: stable ids and link signatures without randomness, so runs repeat exactly. */
export function stableHash(text: string, length = 16): string {
  let out = "";
  let salt = 0;
  while (out.length < length) {
    let h = 0x811c9dc5 ^ salt;
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    out += h.toString(16).padStart(8, "0");
    salt += 1;
  }
  return out.slice(0, length);
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
