// Writes every ```ts block of a README into a consumer project as its own module, with the tsconfigs
// that typecheck them: `tsconfig.json` for every block, `tsconfig.no-msw.json` for the blocks that use no
// optional peer, msw or OpenTelemetry (a project without them must still compile `faultline` and
// `faultline/testing`). A block whose first line is
// `// name.ts` is written as that file, so blocks can import one another (`./invoices.js`).
// Usage: node readme-snippets.mjs <README.md> <project dir>
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [readme, project] = process.argv.slice(2);
if (readme === undefined || project === undefined) throw new Error("usage: readme-snippets.mjs <README.md> <project dir>");

const text = readFileSync(readme, "utf8");
const blocks = [];
for (const match of text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)) {
  const line = text.slice(0, match.index).split("\n").length + 1;
  const code = match[1];
  const named = /^\/\/ ([\w.-]+\.ts)\n/.exec(code);
  const file = named?.[1] ?? `readme-line-${line}.ts`;
  if (blocks.some((b) => b.file === file)) throw new Error(`two blocks write ${file}`);
  blocks.push({ file, line, code, msw: /from "(msw|msw\/[^"]*|@mswjs\/[^"]*|faultline\/testing\/msw|@opentelemetry\/[^"]*)"/.test(code) });
}
if (blocks.length === 0) throw new Error(`no \`\`\`ts blocks in ${readme}`);

for (const block of blocks) writeFileSync(join(project, block.file), block.code);

// The CommonJS declaration files are checked too, without msw: a require() user's view of both entries.
writeFileSync(
  join(project, "require-check.cts"),
  `import faultline = require("faultline");
import testing = require("faultline/testing");
export const client: InstanceType<typeof faultline.Anyformat> = new faultline.Anyformat({ apiKey: "k" });
export const start: typeof testing.startEmulator = testing.startEmulator;
`,
);

const compilerOptions = {
  strict: true,
  target: "es2022",
  lib: ["es2023"],
  module: "nodenext",
  moduleResolution: "nodenext",
  types: ["node"],
  skipLibCheck: false,
  noEmit: true,
};
const all = [...blocks.map((b) => b.file), "require-check.cts"];
const withoutMsw = [...blocks.filter((b) => !b.msw).map((b) => b.file), "require-check.cts"];
// msw's own declarations name DOM types (WebSocketEventMap, ResponseType): its users compile with "dom".
const withDom = { ...compilerOptions, lib: [...compilerOptions.lib, "dom"] };
writeFileSync(join(project, "tsconfig.json"), JSON.stringify({ compilerOptions: withDom, files: all }, null, 2));
writeFileSync(join(project, "tsconfig.no-msw.json"), JSON.stringify({ compilerOptions, files: withoutMsw }, null, 2));

for (const block of blocks) console.log(`  ${block.file}: README.md line ${block.line}${block.msw ? " (uses an optional peer: msw or OpenTelemetry)" : ""}`);
