#!/usr/bin/env bash
# Installs the packed package into an empty project, as a user would, and loads it both ways.
# Usage: .ci/smoke.sh [faultline.tgz]   (without one, packs a clean clone of this repository: .ci/pack.sh)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tarball="${1:-}"
if [ -z "$tarball" ]; then tarball="$(bash "$root/.ci/pack.sh" "$work" | tail -n 1)"; fi
tarball="$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")"
cd "$work"
echo '{"name":"smoke","private":true}' > package.json
npm install --no-audit --no-fund --loglevel=error "$tarball"

cat > smoke.cjs <<'JS'
const assert = require("node:assert");
const fl = require("faultline");
const testing = require("faultline/testing");
const af = new fl.Anyformat({ apiKey: "k", baseUrl: "http://127.0.0.1:9" });
const rf = new fl.Roboflow({ apiKey: "k", workspace: "w" });
assert.ok(af.workflows && rf.projects, "clients construct");
assert.ok(new fl.NotFoundError({ status: 404, code: "NOT_FOUND", message: "x", retryable: false, headers: {}, body: "" }) instanceof fl.ApiError);
assert.equal(typeof testing.startEmulator, "function");
assert.equal(typeof testing.createMswHandlers, "undefined", "msw handlers live in faultline/testing/msw");
assert.equal(typeof require("faultline/testing/msw").createMswHandlers, "function");
console.log("require(): ok");
JS
cat > smoke.mjs <<'JS'
import assert from "node:assert";
import { createRequire } from "node:module";
import { Anyformat, Roboflow, FaultlineError, NotFoundError } from "faultline";
import { startEmulator, ANYFORMAT_EMULATOR_KEY } from "faultline/testing";
const emu = await startEmulator({ api: "anyformat" });
const af = new Anyformat({ apiKey: ANYFORMAT_EMULATOR_KEY, baseUrl: emu.url });
assert.equal((await af.health()).message, "ok");
assert.ok(new Roboflow({ apiKey: "k", workspace: "w" }).projects);
// An error made by the CommonJS build is recognised by the ESM build's classes.
const cjs = createRequire(import.meta.url)("faultline");
const other = new cjs.NotFoundError({ status: 404, code: "NOT_FOUND", message: "x", retryable: false, headers: {}, body: "" });
assert.ok(other instanceof NotFoundError && other instanceof FaultlineError);
try {
  await af.workflows.get("missing");
  assert.fail("expected NotFoundError");
} catch (err) {
  assert.ok(err instanceof cjs.NotFoundError, "ESM error seen by CJS class");
}
await af.close();
await emu.close();
console.log("import(): ok");
JS
node smoke.cjs
node smoke.mjs
# The bin the package declares runs from the install.
node_modules/.bin/faultline --version
node_modules/.bin/faultline help anyformat workflows create > /dev/null
