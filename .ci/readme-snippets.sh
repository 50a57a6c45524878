#!/usr/bin/env bash
# Every ```ts block of README.md typechecked as a user's project sees it: the packed package installed
# into an empty project, tsc with skipLibCheck off, first without msw installed (faultline/testing must
# compile without it) and then with msw for the blocks that use it.
# Usage: .ci/readme-snippets.sh [faultline.tgz]   (without one, packs this checkout; prepack builds)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

tarball="${1:-}"
if [ -z "$tarball" ]; then
  tarball="$work/$(cd "$root" && npm pack --silent --pack-destination "$work" | tail -n 1)"
fi
tarball="$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")"

# The tools a user would have, at the versions this repository pins.
version() { node -p "require('$root/package.json').devDependencies['$1']"; }

project="$work/consumer"
mkdir -p "$project"
cd "$project"
echo '{"name":"readme-consumer","private":true,"type":"module"}' > package.json
npm install --no-audit --no-fund --loglevel=error --prefer-offline \
  "$tarball" "typescript@$(version typescript)" "@types/node@$(version @types/node)" "vitest@$(version vitest)"
node "$root/.ci/readme-snippets.mjs" "$root/README.md" "$project"

if [ -e node_modules/msw ]; then echo "msw is installed, but this pass is meant to run without it" >&2; exit 1; fi
echo "-- tsc without msw installed"
npx --no-install tsc -p tsconfig.no-msw.json

npm install --no-audit --no-fund --loglevel=error --prefer-offline \
  "msw@$(version msw)" "@mswjs/interceptors@$(version @mswjs/interceptors)"
echo "-- tsc with msw installed, every block"
npx --no-install tsc -p tsconfig.json
echo "README snippets: ok"
