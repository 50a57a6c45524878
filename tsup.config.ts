import { defineConfig, type Options } from "tsup";

type Plugin = NonNullable<Options["esbuildPlugins"]>[number];

/**
 * Keeps src/node-check.ts out of the bundles that import it: they import dist/node-check.js (or .cjs)
 * instead, as their first import. ESM evaluates imports before the module's own code, so a check bundled
 * inline would run only after undici had loaded (and, on an old Node, crashed); a separate file imported
 * first runs before it.
 */
const nodeCheckFirst: Plugin = {
  name: "faultline-node-check-first",
  setup(build) {
    const file = build.initialOptions.format === "cjs" ? "./node-check.cjs" : "./node-check.js";
    build.onResolve({ filter: /(^|\/)node-check\.js$/ }, (args) =>
      args.kind === "entry-point" ? undefined : { path: file, external: true },
    );
  },
};

export default defineConfig([
  {
    // `testing/msw` is its own entry so that msw's types stay out of `faultline/testing`: a consumer without
    // msw (an optional peer) compiles that entry with skipLibCheck off.
    entry: {
      index: "src/index.ts",
      testing: "src/testing/index.ts",
      "testing/msw": "src/testing/msw.ts",
      redis: "src/redis/index.ts",
      "node-check": "src/node-check.ts",
    },
    format: ["esm", "cjs"],
    dts: { entry: { index: "src/index.ts", testing: "src/testing/index.ts", "testing/msw": "src/testing/msw.ts", redis: "src/redis/index.ts" } },
    clean: true,
    target: "node22",
    platform: "node",
    sourcemap: false,
    splitting: false,
    // p-retry is ESM-only: bundling it keeps the CommonJS build loadable with require().
    noExternal: ["p-retry", "is-network-error"],
    // `import.meta.url` in the CommonJS build (the optional OpenTelemetry API is required from where the build lives).
    shims: true,
    esbuildPlugins: [nodeCheckFirst],
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
