#!/usr/bin/env bash
# Packs faultline as a fresh clone would: `git clone` of this repository's HEAD into a temp dir, `npm ci`,
# then `npm pack`, whose `prepack` builds. Prints the tarball's path (in <dest dir>) on its last line.
# Uncommitted changes are not in a clone: commit first to pack them.
# Usage: .ci/pack.sh <dest dir>
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$(cd "${1:?usage: pack.sh <dest dir>}" && pwd)"
clone="$(mktemp -d)"
trap 'rm -rf "$clone"' EXIT

git clone --quiet --no-local "$root" "$clone/faultline"
cd "$clone/faultline"
echo "packing $(git rev-parse --short HEAD) from a clean clone" >&2
npm ci --no-audit --no-fund --loglevel=error >&2
tarball="$(npm pack --silent --pack-destination "$dest" | tail -n 1)"

# A clone has no dist/: the tarball holds code only because prepack built it.
listing="$(tar -tzf "$dest/$tarball")"
for file in dist/index.js dist/index.cjs dist/index.d.ts dist/testing.js dist/testing.d.cts \
  dist/testing/msw.js dist/testing/msw.d.ts dist/cli.js; do
  grep -qx "package/$file" <<<"$listing" || { echo "$tarball lacks $file" >&2; exit 1; }
done
echo "$dest/$tarball"
