/**
 * How faultline runs a zod schema. Its own schemas are built with `zod/mini`, whose functions a bundler
 * can drop when unused (classic `zod` hangs every method on every schema, so all of it loads); both
 * forms share zod's core, so a schema of either kind is checked here.
 */
import en from "zod/v4/locales/en.js";
import * as z from "zod/mini";

/** Any zod schema, classic or mini, whose output is `T`. */
export type Schema<T> = z.core.$ZodType<T>;

/** What `safeParse` gives: the value, or zod's error with its issues. */
export type SafeParseResult<T> = z.core.util.SafeParseResult<T>;

// Classic zod sets English messages when it builds its first schema; zod/mini sets none, and every
// issue would read "Invalid input" without saying what was expected. English is set as classic sets it:
// only when no locale is configured, so a locale or error map an application chose still wins.
if (z.config().localeError === undefined) z.config(en());

/** Checks `value` against `schema`, without throwing for a mismatch. */
export function safeParse<T>(schema: Schema<T>, value: unknown): SafeParseResult<T> {
  return z.safeParse(schema, value);
}
