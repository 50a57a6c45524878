import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// Classic `zod` loads all of itself, whatever a bundle uses; `zod/mini` and zod's core are functions a
// bundler drops when unused. One classic import anywhere in src/ would bring the whole of it back.
// A single locale's own module, too: "zod/locales" is every locale at once, which a bundle keeps whole.
const TREE_SHAKABLE = new Set(["zod/mini", "zod/v4/core", "zod/locales", "zod/v4/locales/en.js"]);
const src = fileURLToPath(new URL("../../src/", import.meta.url));
const ZOD_IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)["'](zod(?:\/[^"']*)?)["']/g;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return /\.[cm]?tsx?$/.test(entry.name) ? [path] : [];
  });
}

function zodImports(): { file: string; specifier: string }[] {
  return sources(src).flatMap((path) =>
    [...readFileSync(path, "utf8").matchAll(ZOD_IMPORT)].map((m) => ({ file: relative(src, path), specifier: m[1] as string })),
  );
}

describe("zod in src/", () => {
  it("is imported only in its tree-shakable forms (zod/mini, zod's core, a locale), never as classic zod", () => {
    const imports = zodImports();
    expect(imports.filter((i) => i.specifier === "zod/mini").length).toBeGreaterThan(0);
    expect(imports.filter((i) => !TREE_SHAKABLE.has(i.specifier))).toEqual([]);
  });

  it("would be caught importing classic zod in any of the forms TypeScript allows", () => {
    const forms = [
      'import * as z from "zod";',
      "import type * as z from 'zod';",
      'import { z } from "zod/v4";',
      'export { z } from "zod";',
      'const z = await import("zod");',
      'const z = require("zod");',
    ];
    for (const form of forms) expect([...form.matchAll(ZOD_IMPORT)].map((m) => m[1]), form).toHaveLength(1);
    expect([...'import { x } from "zodiac";'.matchAll(ZOD_IMPORT)]).toEqual([]);
  });
});
