import { InvalidArgumentError } from "../core/errors.js";
import { pathOf as joinPath } from "../core/paths.js";

/** Roboflow's paths have no trailing slash. */
export function pathOf(...segments: ReadonlyArray<string | number>): string {
  return joinPath(segments);
}

/** A version number: Roboflow numbers versions 1, 2, 3...; anything else is caught before a request. */
export function versionOf(version: number | string): number {
  const n = typeof version === "number" ? version : /^\s*\d+\s*$/.test(version) ? Number(version) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError(`A version is a positive whole number, got ${JSON.stringify(version)}`);
  }
  return n;
}
