import type { RateLimit } from "./errors.js";

/** undici's header record: a value per name, arrays for repeated headers. */
export type RawHeaders = Record<string, string | string[] | undefined>;

/** Flattens response headers to one lower-cased string per name. */
export function flattenHeaders(raw: RawHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  // A loop over the keys, not Object.entries: every response passes here, and entries allocates a pair per header.
  for (const name of Object.keys(raw)) {
    const value = raw[name];
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

/**
 * How long the server asked us to wait, in ms: `retry-after-ms` wins over `Retry-After` (seconds, fractions
 * allowed, or an HTTP date). A hint of any size is kept, so that one longer than `maxRetryAfter` is thrown at
 * once rather than dropped and retried early; one too large for a number reads as the largest safe integer.
 * A header sent twice (`120, 120`) counts by its largest value. What is not a hint (negative, a unit, an
 * exponent, a date in the past, which only says the clocks disagree) gives `undefined`: the caller backs off.
 */
export function parseRetryAfter(headers: Readonly<Record<string, string>>, now = Date.now()): number | undefined {
  const ms = largest(headers["retry-after-ms"], (part) => parseDecimal(part));
  if (ms !== undefined) return ms;
  return largest(headers["retry-after"], (part) => {
    const seconds = parseDecimal(part);
    if (seconds !== undefined) return seconds * 1000;
    const date = parseHttpDate(part);
    return date === undefined || date < now ? undefined : date - now;
  });
}

/** The largest of a header's comma-separated values that `read` understands, as whole ms. */
function largest(raw: string | undefined, read: (part: string) => number | undefined): number | undefined {
  if (raw === undefined) return undefined;
  let best: number | undefined;
  for (const part of headerValues(raw)) {
    const value = read(part);
    if (value !== undefined && (best === undefined || value > best)) best = value;
  }
  return best === undefined ? undefined : Math.min(Math.ceil(best), Number.MAX_SAFE_INTEGER);
}

/**
 * The values of a header that may have been sent more than once (undici joins repeats with ", "). An HTTP
 * date holds a comma of its own (`Wed, 21 Oct 2015 ...`): a lone day name is joined back to what follows it.
 */
const DAY_NAME = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)(day|sday|nesday|rsday|urday)?$/i;

export function headerValues(raw: string): string[] {
  const values: string[] = [];
  let pending = "";
  for (const piece of raw.split(",")) {
    const part = pending === "" ? piece.trim() : `${pending}, ${piece.trim()}`;
    if (DAY_NAME.test(part)) {
      pending = part;
      continue;
    }
    pending = "";
    if (part !== "") values.push(part);
  }
  if (pending !== "") values.push(pending);
  return values;
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

/** RFC 9110's delay-seconds (digits), with the fractions some servers send; no sign, unit or exponent. */
function parseDecimal(raw: string): number | undefined {
  const text = raw.trim();
  if (!/^\d+(\.\d+)?$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isNaN(value) ? undefined : Math.min(value, Number.MAX_SAFE_INTEGER);
}

/** `x-ratelimit-*` as the anyformat API sends them (`reset` in seconds until the window resets). */
export function parseRateLimit(headers: Readonly<Record<string, string>>): RateLimit | undefined {
  const limit = parseCount(first(headers["x-ratelimit-limit"]));
  const remaining = parseCount(first(headers["x-ratelimit-remaining"]));
  const resetHeader = first(headers["x-ratelimit-reset"]);
  const reset = resetHeader === undefined ? undefined : parseDecimal(resetHeader);
  if (limit === undefined && remaining === undefined && reset === undefined) return undefined;
  return { limit, remaining, resetMs: reset === undefined ? undefined : Math.round(reset * 1000) };
}

/** A header sent twice counts by its first value, the one the origin wrote before a proxy added its own. */
function first(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  // Sent once, as nearly always: nothing to split.
  return raw.includes(",") ? headerValues(raw)[0] : raw.trim() || undefined;
}

function parseCount(raw: string | undefined): number | undefined {
  if (raw === undefined || !/^\s*\d{1,15}\s*$/.test(raw)) return undefined;
  return Number(raw);
}
