/**
 * The optional `@opentelemetry/api` peer. It is looked for once, synchronously, at the first call made
 * after a tracer provider is registered with it, from where this build of faultline lives (so the ESM and
 * CommonJS builds find the same copy a user's own `require` would). Until then it is not loaded at all:
 * the API keeps what an SDK registers on a global of its own, which a call reads. Absent, or present with
 * no tracer provider registered, it costs a call one cached branch, or a few property reads: nothing is
 * allocated.
 */
import { createRequire } from "node:module";
import type * as OtelApi from "@opentelemetry/api";

export type Otel = typeof OtelApi;

type Load = (id: string) => unknown;

/**
 * Where every 1.x release of the API keeps the globals an SDK registers (`trace` for its tracer provider):
 * `Symbol.for("opentelemetry.js.api.<major>")` on the global object, shared by every copy of the API.
 */
const OTEL_GLOBAL = Symbol.for("opentelemetry.js.api.1");

/** `undefined`: not looked for yet; `null`: looked for, and absent (or unusable). */
let api: Otel | null | undefined;
/** What the API's own provider answers for its delegate while no SDK has registered one. */
let idleDelegate: unknown;

/**
 * The API when it is installed and a tracer provider is registered with it; `undefined` otherwise. The
 * provider is asked about on every call, not cached: an SDK may start after the first call.
 */
export function activeOtel(): Otel | undefined {
  if (api === undefined) {
    // Loading the API takes a cold process tens of milliseconds, for nothing while no SDK has registered.
    if ((globalThis as { [OTEL_GLOBAL]?: { trace?: unknown } })[OTEL_GLOBAL]?.trace === undefined) return undefined;
    api = loadOtel(defaultLoad);
  }
  if (api === null) return undefined;
  const provider = api.trace.getTracerProvider() as { getDelegate?: () => unknown };
  // Another copy of the API may have registered its own proxy: only this copy's idle answer means "none".
  return typeof provider.getDelegate !== "function" || provider.getDelegate() !== idleDelegate ? api : undefined;
}

/**
 * Looks for the API with `load` (a `require`), and remembers the answer for every later call. A module
 * that is missing, fails to load, or does not look like the API counts as absent.
 */
export function loadOtel(load: Load): Otel | null {
  let found: Otel;
  try {
    found = load("@opentelemetry/api") as Otel;
  } catch {
    return (api = null);
  }
  if (typeof found?.trace?.getTracerProvider !== "function" || typeof found.ProxyTracerProvider !== "function") return (api = null);
  idleDelegate = new found.ProxyTracerProvider().getDelegate();
  return (api = found);
}

/** Forgets what was found, so that the next call looks again (tests and the bench switch the API off and on). */
export function forgetOtel(): void {
  api = undefined;
  idleDelegate = undefined;
}

function defaultLoad(id: string): unknown {
  // The CommonJS build gets `import.meta.url` from tsup's shim (`shims` in tsup.config.ts).
  return createRequire(import.meta.url)(id);
}
