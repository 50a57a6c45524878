import type { RateLimit } from "./errors.js";

/** undici's header record: a value per name, arrays for repeated headers. */
export type RawHeaders = Record<string, string | string[] | undefined>;

/** Flattens response headers to one lower-cased string per name. */
export function flattenHeaders(raw: RawHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

/** Anything longer is not a real hint but a broken or hostile header: fall back to our own backoff. */
const MAX_SANE_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;

/**
 * How long the server asked us to wait, in ms: `retry-after-ms` wins over `Retry-After`
 * (seconds, fractions allowed, or an HTTP date). Absurd values (negative, not a number, over a day,
 * a date in the past) give `undefined`, so the caller uses its default backoff.
 */
export function parseRetryAfter(headers: Readonly<Record<string, string>>, now = Date.now()): number | undefined {
  const ms = headers["retry-after-ms"];
  if (ms !== undefined) {
    const value = parseDecimal(ms);
    if (value !== undefined) return sane(value);
  }
  const raw = headers["retry-after"];
  if (raw === undefined) return undefined;
  const seconds = parseDecimal(raw);
  if (seconds !== undefined) return sane(seconds * 1000);
  const date = parseHttpDate(raw.trim());
  if (date === undefined) return undefined;
  const delta = date - now;
  return delta < 0 ? undefined : sane(delta);
}

/** asctime, the third HTTP-date form recipients must accept (RFC 9110 5.6.7): UTC, though it does not say so. */
const ASCTIME = /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;

/**
 * An HTTP date (IMF-fixdate, RFC 850 or asctime) in ms since the epoch. An HTTP date always names GMT or
 * has the asctime shape; Date.parse alone would accept "1" or "2024", and read a bare date as local time.
 */
function parseHttpDate(text: string): number | undefined {
  let date = Number.NaN;
  if (/GMT$/i.test(text)) date = Date.parse(text);
  else if (ASCTIME.test(text)) date = Date.parse(`${text} GMT`);
  return Number.isNaN(date) ? undefined : date;
}

function parseDecimal(raw: string): number | undefined {
  const text = raw.trim();
  if (!/^\d+(\.\d+)?$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

function sane(ms: number): number | undefined {
  return ms >= 0 && ms <= MAX_SANE_RETRY_AFTER_MS ? Math.ceil(ms) : undefined;
}

/** `x-ratelimit-*` as the anyformat API sends them (`reset` in seconds until the window resets). */
export function parseRateLimit(headers: Readonly<Record<string, string>>): RateLimit | undefined {
  const limit = parseCount(headers["x-ratelimit-limit"]);
  const remaining = parseCount(headers["x-ratelimit-remaining"]);
  const reset = headers["x-ratelimit-reset"] === undefined ? undefined : parseDecimal(headers["x-ratelimit-reset"]);
  if (limit === undefined && remaining === undefined && reset === undefined) return undefined;
  return { limit, remaining, resetMs: reset === undefined ? undefined : Math.round(reset * 1000) };
}

function parseCount(raw: string | undefined): number | undefined {
  if (raw === undefined || !/^\s*\d{1,15}\s*$/.test(raw)) return undefined;
  return Number(raw);
}
