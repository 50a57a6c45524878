/** The package's version: sent in `User-Agent`, and named as the instrumentation scope of its spans. */
export const VERSION = "0.1.0";
