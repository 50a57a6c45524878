import type { RateTiers } from "../core/transport.js";

/** The endpoints that count in anyformat's submission tier: `run/`, `upload/`, `POST files/` and a stored file's `run/`. */
const SUBMISSION = /\/(run|upload|files)\/$/;

/**
 * anyformat's two independent rate-limit counters, as documented: submissions at 60 a minute, everything
 * else at 600 a minute, per organisation (one key). `/health/` needs no key and counts in neither.
 */
export const ANYFORMAT_RATE_TIERS: RateTiers = {
  tierOf: (spec) => (spec.anonymous === true ? undefined : spec.method === "POST" && SUBMISSION.test(spec.path) ? "submission" : "general"),
  documented: {
    submission: { limit: 60, windowMs: 60_000 },
    general: { limit: 600, windowMs: 60_000 },
  },
};
