#!/usr/bin/env bash
# Every ```ts block of README.md typechecked as a user's project sees it: the packed package installed
# into an empty project, tsc with skipLibCheck off, first without the optional peers installed (msw,
# @opentelemetry/api: faultline and faultline/testing must compile without them) and then with them, and
# the OpenTelemetry SDK pieces the tracing example uses, for the blocks that use them.
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

if [ -e node_modules/msw ] || [ -e node_modules/@opentelemetry/api ]; then
  echo "msw or @opentelemetry/api is installed, but this pass is meant to run without them" >&2; exit 1
fi
echo "-- tsc without msw or @opentelemetry/api installed"
npx --no-install tsc -p tsconfig.no-msw.json

npm install --no-audit --no-fund --loglevel=error --prefer-offline \
  "msw@$(version msw)" "@mswjs/interceptors@$(version @mswjs/interceptors)" \
  "@opentelemetry/api@$(version @opentelemetry/api)" "@opentelemetry/sdk-trace-base@$(version @opentelemetry/sdk-trace-base)" \
  "@opentelemetry/context-async-hooks@$(version @opentelemetry/context-async-hooks)" "@opentelemetry/core@$(version @opentelemetry/core)"
echo "-- tsc with msw and OpenTelemetry installed, every block"
npx --no-install tsc -p tsconfig.json
echo "README snippets: ok"
