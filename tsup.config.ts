import { defineConfig } from "tsup";

export default defineConfig([
  {
    // `testing/msw` is its own entry so that msw's types stay out of `faultline/testing`: a consumer without
    // msw (an optional peer) compiles that entry with skipLibCheck off.
    entry: { index: "src/index.ts", testing: "src/testing/index.ts", "testing/msw": "src/testing/msw.ts" },
    format: ["esm", "cjs"],
    dts: true,
    clean: true,
    target: "node22",
    platform: "node",
    sourcemap: false,
    splitting: false,
    // p-retry is ESM-only: bundling it keeps the CommonJS build loadable with require().
    noExternal: ["p-retry", "is-network-error"],
  },
  {
    entry: { cli: "src/cli/main.ts" },
    format: ["esm"],
    target: "node22",
    platform: "node",
    clean: false,
    noExternal: ["p-retry", "is-network-error"],
    banner: { js: "#!/usr/bin/env node" },
  },
]);
