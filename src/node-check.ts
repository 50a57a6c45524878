/**
 * Stops faultline from loading on a Node older than it supports, with a plain `Error` that says so,
 * instead of a `TypeError` from deep inside undici. It is the first import of every entry, and the build
 * keeps it a separate file (dist/node-check.js, .cjs) so that it runs before undici is even loaded: ESM
 * hoists imports, so checking inside the bundle would come too late. A plain `Error`, since nothing of
 * faultline's own (its error classes included) can be trusted to load on that Node.
 */
import { UNSUPPORTED_NODE, unsupportedNode } from "./core/node-support.js";

const problem = unsupportedNode();
if (problem !== undefined) throw Object.assign(new Error(problem), { code: UNSUPPORTED_NODE });
