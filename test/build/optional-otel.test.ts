/**
 * `@opentelemetry/api` is an optional peer: both builds look for it lazily, once a tracer provider is
 * registered with it and then only once, with a `require` of their own (the ESM build through
 * createRequire), and go on without it. Each case runs the built package
 * in a fresh Node process, whose module resolution a `module.registerHooks` hook watches (and, for the
 * "absent" case, blocks), against the built emulator on loopback.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));
const dist = join(root, "dist");

/**
 * A script for a child process: watches every resolution of `@opentelemetry/api` (blocking it when
 * `block`), loads the `build` of faultline, then runs `body` with `af` (a client on a fresh emulator,
 * `wf` a workflow in it), `lookups()`, and `out` (printed as JSON at the end).
 */
function script(build: "esm" | "cjs", block: boolean, body: string, setup = ""): string {
  const load =
    build === "esm"
      ? `const lib = await import(${JSON.stringify(join(dist, "index.js"))}); const kit = await import(${JSON.stringify(join(dist, "testing.js"))});`
      : `const lib = require(${JSON.stringify(join(dist, "index.cjs"))}); const kit = require(${JSON.stringify(join(dist, "testing.cjs"))});`;
  return `
    import { registerHooks, createRequire } from "node:module";
    const require = createRequire(${JSON.stringify(join(root, "package.json"))});
    let seen = 0;
    registerHooks({
      resolve(specifier, context, next) {
        if (specifier === "@opentelemetry/api") {
          seen += 1;
          if (${block}) throw Object.assign(new Error("Cannot find module '@opentelemetry/api'"), { code: "MODULE_NOT_FOUND" });
        }
        return next(specifier, context);
      },
    });
    const lookups = () => seen;
    const out = {};
    ${setup}
    const before = lookups();
    ${load}
    out.lookupsAtImport = lookups() - before;
    const emu = await kit.startEmulator({ api: "anyformat", stepMs: 10 });
    const af = new lib.Anyformat({ apiKey: kit.ANYFORMAT_EMULATOR_KEY, baseUrl: emu.url });
    try {
      const wf = await af.workflows.create({ name: "W", fields: [{ name: "total", description: "Total", data_type: "float" }] });
      ${body}
      out.traceparents = emu.requests.filter((r) => r.headers.traceparent !== undefined).length;
    } finally {
      await af.close();
      await emu.close();
    }
    process.stdout.write(JSON.stringify(out));
  `;
}

function run(source: string): Record<string, unknown> {
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", source], { cwd: root, encoding: "utf8", timeout: 60_000 });
  expect(result.stderr, "the child's stderr").toBe("");
  expect(result.status).toBe(0);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

/** Registers the real SDK in the child, before faultline is loaded, the way an instrumented service does. */
const SDK = `
  const { trace, context, propagation } = require("@opentelemetry/api");
  const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require("@opentelemetry/sdk-trace-base");
  const { AsyncLocalStorageContextManager } = require("@opentelemetry/context-async-hooks");
  const { W3CTraceContextPropagator } = require("@opentelemetry/core");
  const exporter = new InMemorySpanExporter();
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
`;

beforeAll(() => {
  expect(existsSync(join(dist, "index.cjs")), "dist/ is built by `npm test` (pretest)").toBe(true);
});

describe.each(["esm", "cjs"] as const)("the %s build", (build) => {
  it("works without @opentelemetry/api, never looks for it while no SDK registered one, and sends no traceparent", () => {
    const out = run(
      script(
        build,
        true,
        `
          const { tracingChannel } = await import("node:diagnostics_channel");
          const published = [];
          const noop = () => undefined;
          tracingChannel("faultline:call").subscribe({ start: (c) => published.push(c.operation), end: noop, asyncStart: noop, asyncEnd: noop, error: noop });
          for (let i = 0; i < 5; i++) await af.workflows.get(wf.id);
          out.lookups = lookups() - before;
          out.published = published;
        `,
      ),
    );
    expect(out).toEqual({ lookupsAtImport: 0, lookups: 0, published: Array(5).fill("workflows.get"), traceparents: 0 });
  });

  it("does not load the API, installed, while no tracer provider is registered with it", () => {
    const out = run(
      script(
        build,
        false,
        `
          for (let i = 0; i < 5; i++) await af.workflows.get(wf.id);
          out.lookups = lookups() - before;
        `,
      ),
    );
    expect(out).toEqual({ lookupsAtImport: 0, lookups: 0, traceparents: 0 });
  });

  it("loads the API at the first call after an SDK registers, only once, and traces from then on", () => {
    const out = run(
      script(
        build,
        false,
        `
          await af.workflows.get(wf.id);
          out.lookupsBefore = lookups() - before;
          ${SDK}
          const registered = lookups();
          for (let i = 0; i < 3; i++) await af.workflows.get(wf.id);
          out.lookupsAfter = lookups() - registered;
          out.spans = exporter.getFinishedSpans().map((s) => s.name);
        `,
      ),
    );
    expect(out).toEqual({
      lookupsAtImport: 0,
      lookupsBefore: 0,
      lookupsAfter: 1,
      spans: ["GET", "anyformat workflows.get", "GET", "anyformat workflows.get", "GET", "anyformat workflows.get"],
      traceparents: 3,
    });
  });

  it("finds the API a service registered its SDK with, and records the calls' spans", () => {
    const out = run(
      script(
        build,
        false,
        `
          await af.workflows.get(wf.id);
          out.spans = exporter.getFinishedSpans().map((s) => s.name);
        `,
        SDK,
      ),
    );
    expect(out).toEqual({ lookupsAtImport: 0, spans: ["POST", "anyformat workflows.create", "GET", "anyformat workflows.get"], traceparents: 2 });
  });
});

describe("the type declarations", () => {
  it("name no OpenTelemetry type, so a project without the API compiles against them", () => {
    const files = readdirSync(dist, { recursive: true, encoding: "utf8" }).filter((f) => /\.d\.c?ts$/.test(f));
    expect(files.length).toBeGreaterThan(4);
    for (const file of files) expect(readFileSync(join(dist, file), "utf8"), file).not.toContain("@opentelemetry");
  });
});
