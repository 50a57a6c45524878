/**
 * Which Node versions faultline runs on: `engines.node` in package.json. Kept free of imports, so that it
 * can be checked before anything that needs a newer Node (undici) is loaded.
 */

/** The oldest Node faultline supports, as `[major, minor]`. */
export const MINIMUM_NODE: readonly [number, number] = [22, 19];

/** The code of the error thrown (and printed by the CLI) on an older Node. */
export const UNSUPPORTED_NODE = "UNSUPPORTED_NODE";

/**
 * The reason faultline cannot run on `version` (`"faultline needs Node >= 22.19; this is 20.20.2"`), or
 * `undefined` when it can. A version that does not read as `major.minor` (another runtime's) is let through.
 */
export function unsupportedNode(version: string | undefined = process.versions?.node): string | undefined {
  const match = /^v?(\d+)\.(\d+)/.exec(version ?? "");
  if (match === null) return undefined;
  const [major, minor] = [Number(match[1]), Number(match[2])];
  const [needMajor, needMinor] = MINIMUM_NODE;
  if (major > needMajor || (major === needMajor && minor >= needMinor)) return undefined;
  return `faultline needs Node >= ${needMajor}.${needMinor}; this is ${String(version).replace(/^v/, "")}`;
}

/** What to do about it. */
export const NODE_HINT = `Install Node ${MINIMUM_NODE.join(".")} or later: https://nodejs.org`;
