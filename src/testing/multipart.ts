/**
 * A small multipart/form-data reader (RFC 7578) over a fully read body, so the emulator needs no
 * dependency. It is strict where a real server is: a missing boundary or closing delimiter is an error.
 */

/** One part: a field, or a file when it carried a `filename`. */
export interface FormPart {
  readonly name: string;
  readonly filename: string | undefined;
  readonly contentType: string | undefined;
  readonly data: Uint8Array;
}

/** Why a body could not be read as multipart/form-data. */
export class MultipartError extends Error {}

const CRLF = new Uint8Array([13, 10]);
const HEADER_END = new Uint8Array([13, 10, 13, 10]);

/** The boundary of a `multipart/form-data` content type, or `undefined` for any other type. */
export function boundaryOf(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  const [type, ...params] = contentType.split(";");
  if (type?.trim().toLowerCase() !== "multipart/form-data") return undefined;
  for (const param of params) {
    const eq = param.indexOf("=");
    if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== "boundary") continue;
    const value = param.slice(eq + 1).trim();
    const unquoted = value.startsWith('"') && value.endsWith('"') && value.length >= 2 ? value.slice(1, -1) : value;
    return unquoted === "" ? undefined : unquoted;
  }
  return undefined;
}

/** Splits a multipart body into its parts. Throws `MultipartError` when it is malformed. */
export function parseMultipart(body: Uint8Array, boundary: string): FormPart[] {
  const encoder = new TextEncoder();
  const delimiter = encoder.encode(`--${boundary}`);
  // Every delimiter after the first is preceded by CRLF, which belongs to it rather than to the part.
  const next = encoder.encode(`\r\n--${boundary}`);
  let at = indexOf(body, delimiter, 0);
  if (at < 0) throw new MultipartError("no boundary delimiter in the body");
  at += delimiter.byteLength;
  const parts: FormPart[] = [];
  for (;;) {
    if (body[at] === 45 && body[at + 1] === 45) return parts; // "--": the closing delimiter
    // Transport padding (spaces, tabs) may follow a delimiter before its CRLF.
    while (body[at] === 32 || body[at] === 9) at += 1;
    if (body[at] !== CRLF[0] || body[at + 1] !== CRLF[1]) throw new MultipartError("a delimiter is not followed by CRLF");
    at += 2;
    const headerEnd = indexOf(body, HEADER_END, at);
    let headers: Map<string, string>;
    let contentStart: number;
    if (body[at] === 13 && body[at + 1] === 10) {
      headers = new Map();
      contentStart = at + 2;
    } else {
      if (headerEnd < 0) throw new MultipartError("a part's headers do not end");
      headers = readHeaders(new TextDecoder().decode(body.subarray(at, headerEnd)));
      contentStart = headerEnd + HEADER_END.byteLength;
    }
    const end = indexOf(body, next, contentStart);
    if (end < 0) throw new MultipartError("the body ends before its closing delimiter");
    parts.push(toPart(headers, body.subarray(contentStart, end)));
    at = end + next.byteLength;
  }
}

function readHeaders(text: string): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of text.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new MultipartError(`malformed part header "${line}"`);
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return headers;
}

function toPart(headers: Map<string, string>, data: Uint8Array): FormPart {
  const disposition = headers.get("content-disposition");
  if (disposition === undefined) throw new MultipartError("a part has no Content-Disposition");
  const params = dispositionParams(disposition);
  const name = params.get("name");
  if (name === undefined) throw new MultipartError("a part has no name");
  const filename = params.get("filename*") ?? params.get("filename");
  return { name, filename, contentType: headers.get("content-type"), data };
}

/** `form-data; name="a"; filename="b"` as a map, quotes and the browsers' percent-escapes undone. */
function dispositionParams(value: string): Map<string, string> {
  const params = new Map<string, string>();
  const pattern = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;
  for (const match of value.matchAll(pattern)) {
    const key = (match[1] ?? "").toLowerCase();
    const quoted = match[2];
    let text = quoted === undefined ? (match[3] ?? "").trim() : quoted.replace(/\\(.)/g, "$1");
    if (key === "filename*") {
      // RFC 5987: charset'language'percent-encoded
      const ext = /^([^']*)'[^']*'(.*)$/.exec(text);
      try {
        text = decodeURIComponent(ext?.[2] ?? text);
      } catch {
        continue;
      }
    } else if (quoted !== undefined) {
      // The WHATWG encoding of form data escapes these three characters this way.
      text = text.replace(/%22/g, '"').replace(/%0D/gi, "\r").replace(/%0A/gi, "\n");
    }
    params.set(key, text);
  }
  return params;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  const last = haystack.byteLength - needle.byteLength;
  outer: for (let i = from; i <= last; i++) {
    if (haystack[i] !== first) continue;
    for (let j = 1; j < needle.byteLength; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
