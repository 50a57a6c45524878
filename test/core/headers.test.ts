import { describe, expect, it } from "vitest";
import { flattenHeaders, parseRateLimit, parseRetryAfter } from "../../src/core/headers.js";

const NOW = Date.parse("2026-03-01T12:00:00.000Z");
const httpDate = (msFromNow: number): string => new Date(NOW + msFromNow).toUTCString();

describe("parseRetryAfter", () => {
  it.each([
    { value: "12", ms: 12_000 },
    { value: "0", ms: 0 },
    { value: "1", ms: 1_000 },
    { value: " 7 ", ms: 7_000 },
    { value: "007", ms: 7_000 },
    { value: "86400", ms: 86_400_000 },
  ])("reads Retry-After: $value as $ms ms", ({ value, ms }) => {
    expect(parseRetryAfter({ "retry-after": value }, NOW)).toBe(ms);
  });

  it.each([
    { value: "1.5", ms: 1_500 },
    { value: "0.25", ms: 250 },
    { value: "2.0", ms: 2_000 },
    { value: "0.0001", ms: 1 },
  ])("reads fractional seconds $value as $ms ms, rounding up", ({ value, ms }) => {
    expect(parseRetryAfter({ "retry-after": value }, NOW)).toBe(ms);
  });

  it("reads a future HTTP date as the time until it", () => {
    expect(parseRetryAfter({ "retry-after": httpDate(30_000) }, NOW)).toBe(30_000);
    expect(parseRetryAfter({ "retry-after": "Sun, 01 Mar 2026 12:02:00 GMT" }, NOW)).toBe(120_000);
  });

  it("reads an HTTP date of exactly now as no wait", () => {
    expect(parseRetryAfter({ "retry-after": httpDate(0) }, NOW)).toBe(0);
  });

  it("lets retry-after-ms win over Retry-After", () => {
    expect(parseRetryAfter({ "retry-after-ms": "250", "retry-after": "10" }, NOW)).toBe(250);
    expect(parseRetryAfter({ "retry-after-ms": "1.5", "retry-after": httpDate(60_000) }, NOW)).toBe(2);
  });

  it("falls back to Retry-After when retry-after-ms is not a number", () => {
    expect(parseRetryAfter({ "retry-after-ms": "soon", "retry-after": "3" }, NOW)).toBe(3_000);
    expect(parseRetryAfter({ "retry-after-ms": "", "retry-after": "3" }, NOW)).toBe(3_000);
  });

  it("reads retry-after-ms alone", () => {
    expect(parseRetryAfter({ "retry-after-ms": "800" }, NOW)).toBe(800);
  });

  it("gives undefined when neither header is there", () => {
    expect(parseRetryAfter({}, NOW)).toBeUndefined();
    expect(parseRetryAfter({ "x-retry-after": "5" }, NOW)).toBeUndefined();
  });

  it.each([
    { what: "a negative number", value: "-5" },
    { what: "a negative fraction", value: "-0.5" },
    { what: "NaN", value: "NaN" },
    { what: "Infinity", value: "Infinity" },
    { what: "an exponent", value: "1e12" },
    { what: "a small exponent", value: "1e3" },
    { what: "hex", value: "0x10" },
    { what: "a leading dot", value: ".5" },
    { what: "a trailing dot", value: "5." },
    { what: "a unit", value: "5s" },
    { what: "a past HTTP date (the clocks disagree: back off instead)", value: "Wed, 21 Oct 2015 07:28:00 GMT" },
    { what: "an HTTP date a second ago", value: httpDate(-1_000) },
    { what: "a date without GMT", value: "2026-03-01T12:00:30" },
    { what: "an invalid date ending in GMT", value: "Sun, 99 Foo 2026 99:99:99 GMT" },
    { what: "garbage", value: "soon, probably" },
    { what: "an empty value", value: "" },
    { what: "only spaces", value: "   " },
    { what: "a lone comma", value: " , " },
  ])("gives undefined for $what", ({ value }) => {
    expect(parseRetryAfter({ "retry-after": value }, NOW)).toBeUndefined();
  });

  it.each([
    { what: "negative", value: "-1" },
    { what: "an exponent", value: "1e12" },
  ])("gives undefined for a retry-after-ms that is $what", ({ value }) => {
    expect(parseRetryAfter({ "retry-after-ms": value }, NOW)).toBeUndefined();
  });

  it.each([
    { what: "more than a day in seconds", headers: { "retry-after": "90000" }, ms: 90_000_000 },
    { what: "a million seconds", headers: { "retry-after": "1000000" }, ms: 1_000_000_000 },
    { what: "an HTTP date two days ahead", headers: { "retry-after": httpDate(2 * 86_400_000) }, ms: 2 * 86_400_000 },
    { what: "a retry-after-ms of 99999999", headers: { "retry-after-ms": "99999999" }, ms: 99_999_999 },
  ])("keeps a hint longer than a day, $what, so that it is thrown rather than dropped", ({ headers, ms }) => {
    expect(parseRetryAfter(headers, NOW)).toBe(ms);
  });

  it.each([
    { what: "400 digits", value: "9".repeat(400) },
    { what: "a number too big for a double", value: "1" + "0".repeat(400) },
    { what: "a 10 KB value", value: "9".repeat(10 * 1024) },
  ])("reads a hint too large for a number, $what, as the largest safe integer", ({ value }) => {
    expect(parseRetryAfter({ "retry-after": value }, NOW)).toBe(Number.MAX_SAFE_INTEGER);
    expect(parseRetryAfter({ "retry-after-ms": value }, NOW)).toBe(Number.MAX_SAFE_INTEGER);
  });

  it.each([
    { what: "the same number twice", value: "120, 120", ms: 120_000 },
    { what: "two numbers", value: "5, 10", ms: 10_000 },
    { what: "a number and garbage", value: "soon, 7", ms: 7_000 },
    { what: "two HTTP dates", value: `${httpDate(30_000)}, ${httpDate(90_000)}`, ms: 90_000 },
    { what: "a date and a number", value: `${httpDate(30_000)}, 45`, ms: 45_000 },
  ])("counts a header sent twice by its largest value: $what", ({ value, ms }) => {
    expect(parseRetryAfter({ "retry-after": value }, NOW)).toBe(ms);
  });

  it("reads RFC 850 and asctime dates, the other two forms recipients must accept", () => {
    expect(parseRetryAfter({ "retry-after": "Sunday, 01-Mar-26 12:00:30 GMT" }, NOW)).toBe(30_000);
    expect(parseRetryAfter({ "retry-after": "Sun Mar  1 12:00:30 2026" }, NOW)).toBe(30_000);
  });

  it("uses the real clock when no now is given", () => {
    const ms = parseRetryAfter({ "retry-after": new Date(Date.now() + 60_000).toUTCString() });
    expect(ms).toBeGreaterThan(58_000);
    expect(ms).toBeLessThanOrEqual(60_000);
  });
});

describe("parseRateLimit", () => {
  it("reads anyformat's three headers, reset being seconds until the window resets", () => {
    expect(parseRateLimit({ "x-ratelimit-limit": "600", "x-ratelimit-remaining": "599", "x-ratelimit-reset": "42" })).toEqual({
      limit: 600,
      remaining: 599,
      resetMs: 42_000,
    });
  });

  it("reads a fractional reset in ms", () => {
    expect(parseRateLimit({ "x-ratelimit-reset": "1.5" })).toEqual({ limit: undefined, remaining: undefined, resetMs: 1_500 });
  });

  it("gives undefined when none of the headers is there", () => {
    expect(parseRateLimit({})).toBeUndefined();
    expect(parseRateLimit({ "retry-after": "5", "x-ratelimit-used": "3" })).toBeUndefined();
  });

  it("keeps each header that reads, and leaves out each that does not", () => {
    expect(parseRateLimit({ "x-ratelimit-limit": "60", "x-ratelimit-remaining": "lots", "x-ratelimit-reset": "-3" })).toEqual({
      limit: 60,
      remaining: undefined,
      resetMs: undefined,
    });
    expect(parseRateLimit({ "x-ratelimit-remaining": " 0 " })).toEqual({ limit: undefined, remaining: 0, resetMs: undefined });
  });

  it("reads a header sent twice by its first value", () => {
    expect(parseRateLimit({ "x-ratelimit-limit": "60, 600", "x-ratelimit-remaining": "3, 3", "x-ratelimit-reset": "2, 9" })).toEqual({
      limit: 60,
      remaining: 3,
      resetMs: 2_000,
    });
  });

  it.each(["-1", "1.5", "1e3", "NaN", "", "9".repeat(16), "0x10"])("rejects %j as a count", (value) => {
    expect(parseRateLimit({ "x-ratelimit-limit": value, "x-ratelimit-remaining": value })).toBeUndefined();
  });
});

describe("flattenHeaders", () => {
  it("lower-cases names, joins repeated headers and drops undefined ones", () => {
    expect(flattenHeaders({ "Retry-After": "5", "set-cookie": ["a=1", "b=2"], "x-none": undefined })).toEqual({
      "retry-after": "5",
      "set-cookie": "a=1, b=2",
    });
  });
});
