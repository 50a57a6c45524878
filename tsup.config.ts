import { copyFileSync, mkdirSync } from "node:fs";
import { basename, dirname, join } from "node:path";
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

/**
 * Bundled into dist/ rather than loaded from node_modules at run time: p-retry because it is ESM-only
 * (bundling it keeps the CommonJS build loadable with require()); zod (its `zod/mini` functions, which the
 * bundle tree-shakes) and undici (only the modules src/core/undici.ts imports, not its main entry)
 * because resolving and compiling their hundreds of files was most of the time to a first response.
 */
const BUNDLED = ["p-retry", "is-network-error", "zod", "undici"];

/**
 * undici is CommonJS: in the ESM build, esbuild turns its `require("node:net")` and the like into a shim
 * that throws unless a `require` is in scope. This gives it Node's own.
 */
const requireInEsm = ({ format }: { format: string }): { js: string } | undefined =>
  format === "esm" ? { js: 'import { createRequire as __faultlineCreateRequire } from "node:module";\nconst require = __faultlineCreateRequire(import.meta.url);' } : undefined;

/**
 * undici's HTTP parsers are WebAssembly, shipped as modules of base64 text (320 kB of the 1.1 MB undici
 * would add to each bundle). A process compiles a bundle's whole text when it loads it, whether or not
 * these run, and each process runs one of them, on its first connection. They are copied beside the
 * bundles instead (dist/undici-*.cjs, standalone CommonJS modules) and required from there when needed.
 */
const UNDICI_WASM = /^\.\.\/(llhttp\/llhttp(?:_simd)?-wasm|milo\/(?:no-)?simd)\.js$/;
const undiciWasmAside: Plugin = {
  name: "faultline-undici-wasm-aside",
  setup(build) {
    const copies = new Map<string, string>();
    build.onResolve({ filter: UNDICI_WASM }, (args) => {
      if (!/[\\/]node_modules[\\/]undici[\\/]/.test(args.importer)) return undefined;
      const source = join(dirname(args.importer), args.path);
      const name = `undici-${basename(dirname(source))}-${basename(source, ".js")}.cjs`;
      copies.set(name, source);
      return { path: `./${name}`, external: true };
    });
    build.onEnd(() => {
      const outDir = build.initialOptions.outdir ?? "dist";
      mkdirSync(outDir, { recursive: true });
      for (const [name, source] of copies) copyFileSync(source, join(outDir, name));
    });
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
    noExternal: BUNDLED,
    banner: requireInEsm,
    // Node >= 22 knows every `node:` specifier; stripped, undici's `require("node:sqlite")` would name a package.
    removeNodeProtocol: false,
    // `import.meta.url` in the CommonJS build (the optional OpenTelemetry API is required from where the build lives).
    shims: true,
    esbuildPlugins: [nodeCheckFirst, undiciWasmAside],
  },
  {
    entry: { cli: "src/cli/main.ts" },
    esbuildPlugins: [undiciWasmAside],
    format: ["esm"],
    target: "node22",
    platform: "node",
    clean: false,
    noExternal: BUNDLED,
    removeNodeProtocol: false,
    banner: { js: `#!/usr/bin/env node\n${requireInEsm({ format: "esm" })!.js}` },
  },
]);
