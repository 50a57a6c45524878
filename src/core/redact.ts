/**
 * Secrets never leave the process in anything faultline builds for people to read: error fields,
 * logs, CLI output. A `Redactor` knows the client's secrets and masks them wherever they turn up,
 * including places a server may echo them back (an HTML error page quoting the URL, say).
 */

export const MASK = "***";

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
    }
    // Longest first, so a secret that contains another is masked whole.
    this.#needles = [...needles].sort((a, b) => b.length - a.length);
  }

  /** Masks every known secret in free text. */
  text(value: string): string {
    let out = value;
    for (const needle of this.#needles) if (out.includes(needle)) out = out.split(needle).join(MASK);
    return out;
  }

  /** Masks secret query parameters and user info in a URL, whatever their value. */
  url(value: string): string {
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
      out[name] = SECRET_HEADERS.has(name.toLowerCase()) ? maskCredential(raw) : this.text(raw);
    }
    return out;
  }

  /** Deep copy of parsed JSON with every string masked. */
  value(value: unknown): unknown {
    if (typeof value === "string") return this.text(value);
    if (Array.isArray(value)) return value.map((item) => this.value(item));
    if (value !== null && typeof value === "object") {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) {
        out[key] = SECRET_QUERY_PARAMS.has(key.toLowerCase()) && typeof item === "string" ? MASK : this.value(item);
      }
      return out;
    }
    return value;
  }
}

function maskCredential(value: string): string {
  const space = value.indexOf(" ");
  return space > 0 && space < 20 ? `${value.slice(0, space)} ${MASK}` : MASK;
}
