/**
 * Secrets never leave the process in anything faultline builds for people to read: error fields,
 * logs, CLI output. A `Redactor` knows the client's secrets and masks them wherever they turn up,
 * including places a server may echo them back (an HTML error page quoting the URL, say).
 */

export const MASK = "***";

/**
 * How deep a parsed body is kept. Real bodies are a few levels deep; a hostile one can nest thousands,
 * which `JSON.stringify` (and so `toJSON()`) cannot walk. Anything deeper is replaced by `TOO_DEEP`.
 */
export const MAX_BODY_DEPTH = 100;
export const TOO_DEEP = `[nested deeper than ${MAX_BODY_DEPTH} levels]`;

const SECRET_QUERY_PARAMS = new Set(["api_key", "apikey", "key", "token", "access_token", "secret"]);
const SECRET_HEADERS = new Set(["authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"]);

export class Redactor {
  readonly #needles: readonly string[];

  constructor(secrets: ReadonlyArray<string | undefined>) {
    const needles = new Set<string>();
    for (const secret of secrets) {
      // A one- or two-letter "secret" would mask half the alphabet; structural masking still covers it.
      if (secret === undefined || secret.length < 3) continue;
      needles.add(secret);
      needles.add(encodeURIComponent(secret));
      // How URLSearchParams writes it (space as `+`, `~!'()*` escaped), as in a query faultline rebuilt.
      needles.add(new URLSearchParams([["", secret]]).toString().slice(1));
    }
    // Longest first, so a secret that contains another is masked whole.
    this.#needles = [...needles].sort((a, b) => b.length - a.length);
  }

  #found(text: string): boolean {
    for (const needle of this.#needles) if (text.includes(needle)) return true;
    return false;
  }

  /** Masks every known secret in free text. */
  text(value: string): string {
    let out = value;
    for (const needle of this.#needles) if (out.includes(needle)) out = out.split(needle).join(MASK);
    return out;
  }

  /**
   * Masks every known secret in text that was cut short (a body read up to a cap), including the
   * start of a secret the cut left at its very end.
   */
  truncatedText(value: string): string {
    let out = this.text(value);
    for (const needle of this.#needles) {
      for (let n = Math.min(needle.length - 1, out.length); n >= 4; n--) {
        if (out.endsWith(needle.slice(0, n))) {
          out = out.slice(0, out.length - n) + MASK;
          break;
        }
      }
    }
    return out;
  }

  /**
   * A parsed JSON body with every string masked. When its text holds no secret and no escape, no string
   * parsed from it can hold one either, so the body is kept as it is rather than copied (the common case).
   */
  parsedBody(json: unknown, text: string): unknown {
    if (!text.includes("\\") && !this.#found(text) && depthWithin(json, MAX_BODY_DEPTH)) return json;
    return this.value(json);
  }

  /** Masks secret query parameters and user info in a URL, whatever their value. */
  url(value: string): string {
    // No query, no user info, no secret: nothing to mask, and no URL to parse (the error path's usual case).
    if (!value.includes("?") && !value.includes("@") && !this.#found(value)) return value;
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      return this.text(value);
    }
    if (parsed.password !== "") parsed.password = MASK;
    for (const name of [...parsed.searchParams.keys()]) {
      if (SECRET_QUERY_PARAMS.has(name.toLowerCase())) parsed.searchParams.set(name, MASK);
    }
    // URLSearchParams percent-encodes the mask; people read `***`.
    return this.text(parsed.toString().replaceAll("%2A%2A%2A", MASK));
  }

  /** A plain header record with credentials masked (the auth scheme kept, so `Bearer ***`). */
  headers(value: Readonly<Record<string, string>>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, raw] of Object.entries(value)) {
      // A server may echo a key in a header's name (`x-debug-<key>: 1`) as well as in its value.
      out[this.text(name)] = SECRET_HEADERS.has(name.toLowerCase()) ? this.text(maskCredential(name, raw)) : this.text(raw);
    }
    return out;
  }

  /**
   * Deep copy of parsed JSON with every string masked, keys included. Walked with a stack of its own, not
   * recursion, so no nesting can overflow the call stack; levels past `MAX_BODY_DEPTH` become `TOO_DEEP`.
   */
  value(value: unknown): unknown {
    if (value === null || typeof value !== "object") return typeof value === "string" ? this.text(value) : value;
    const root: unknown[] | Record<string, unknown> = Array.isArray(value) ? [] : {};
    const pending: Array<[source: object, target: unknown[] | Record<string, unknown>, depth: number]> = [[value, root, 1]];
    for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
      const [source, target, depth] = next;
      for (const [key, item] of Object.entries(source)) {
        let out: unknown = item;
        if (typeof item === "string") {
          // A server may echo a key as the value of a property named for it.
          out = !Array.isArray(source) && SECRET_QUERY_PARAMS.has(key.toLowerCase()) ? MASK : this.text(item);
        } else if (item !== null && typeof item === "object") {
          if (depth >= MAX_BODY_DEPTH) out = TOO_DEEP;
          else {
            out = Array.isArray(item) ? [] : {};
            pending.push([item, out as unknown[] | Record<string, unknown>, depth + 1]);
          }
        }
        if (Array.isArray(target)) target.push(out);
        // defineProperty, not assignment: a body key named "__proto__" must stay a plain key.
        else Object.defineProperty(target, this.text(key), { value: out, enumerable: true, writable: true, configurable: true });
      }
    }
    return root;
  }
}

/** Whether parsed JSON nests no deeper than `max`; walked without recursion, and stops at the first level past it. */
export function depthWithin(value: unknown, max: number): boolean {
  if (value === null || typeof value !== "object") return true;
  const pending: Array<[object, number]> = [[value, 1]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [node, depth] = next;
    for (const item of Array.isArray(node) ? node : Object.values(node)) {
      if (item === null || typeof item !== "object") continue;
      if (depth >= max) return false;
      pending.push([item, depth + 1]);
    }
  }
  return true;
}

/** Only `Authorization`-style headers start with a scheme worth keeping; a cookie's first word is its value. */
const SCHEMED_HEADERS = new Set(["authorization", "proxy-authorization"]);
const AUTH_SCHEME = /^[A-Za-z][A-Za-z0-9-]{0,19}$/;

function maskCredential(name: string, value: string): string {
  const scheme = value.slice(0, Math.max(0, value.indexOf(" ")));
  return SCHEMED_HEADERS.has(name.toLowerCase()) && AUTH_SCHEME.test(scheme) ? `${scheme} ${MASK}` : MASK;
}
