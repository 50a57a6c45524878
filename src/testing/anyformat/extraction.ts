import { iso } from "./responses.js";
import type { AnyformatCollectionRecord, AnyformatFieldRecord, AnyformatFileRecord, AnyformatWorkflowRecord } from "./state.js";

/**
 * What a processed run answers: values are read from the submitted text where it says
 * `<field name>: <value>` on a line, else made up plausibly for the field's type, so a test can steer
 * a value by what it submits and still gets one of the right type when it does not.
 */

/** Where a collection's review page lives below the emulator's root (`verification.ts` serves it). */
export const VERIFICATION_PATH = "/verify/";

/** The link to a collection's review page on an emulator served at `base`. */
export function verificationUrl(base: string, collectionId: string): string {
  return `${base.replace(/\/+$/, "")}${VERIFICATION_PATH}${encodeURIComponent(collectionId)}`;
}

/** Bytes as text when they are UTF-8 and look like text; `undefined` for binary files. */
export function textOf(bytes: Uint8Array): string | undefined {
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return text.includes("\u0000") ? undefined : text;
  } catch {
    return undefined;
  }
}

/** The results of a processed run; `verification_url` points at the emulator's own page, served at `base`. */
export function resultsBody(
  workflow: AnyformatWorkflowRecord,
  collection: AnyformatCollectionRecord,
  base: string,
): { collection_id: string; verification_url: string; parse: { markdown: string }; extraction: Record<string, unknown> } {
  const run = collection.run;
  const file = collection.files.find((f) => f.id === run?.fileId) ?? collection.files[0];
  const text = file?.text ?? "";
  const at = run?.submittedAt ?? collection.createdAt;
  const extraction: Record<string, unknown> = {};
  for (const field of workflow.fields) extraction[field.name] = extract(field, text, at);
  return {
    collection_id: collection.id,
    verification_url: verificationUrl(base, collection.id),
    parse: { markdown: markdownOf(file) },
    extraction,
  };
}

function markdownOf(file: AnyformatFileRecord | undefined): string {
  if (file === undefined) return "";
  if (file.filename === undefined) return file.text ?? "";
  if (file.text === undefined) return `# ${file.filename}\n\n(${file.size} bytes)\n`;
  return `# ${file.filename}\n\n${file.text}`;
}

interface Extracted {
  value: unknown;
  confidence: number;
  evidence: Array<{ text: string; page_number: number }>;
}

function extract(field: AnyformatFieldRecord, text: string, at: number): Extracted {
  const line = findLine(field.name, text);
  const raw = line === undefined ? undefined : line.slice(line.search(/[:=]/) + 1).trim();
  const first = text.split(/\r?\n/).find((l) => l.trim() !== "")?.trim().slice(0, 200);
  const evidenceText = line?.trim() ?? first;
  return {
    value: valueOf(field, raw, first, text, at),
    confidence: raw === undefined ? 62 : 96,
    evidence: evidenceText === undefined ? [] : [{ text: evidenceText, page_number: 1 }],
  };
}

/** The line saying `name: value` (or `name = value`), spaces and underscores in the name alike. */
function findLine(name: string, text: string): string | undefined {
  const words = name
    .trim()
    .split(/[\s_]+/)
    .map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const pattern = new RegExp(`^\\s*${words.join("[\\s_]+")}\\s*[:=]`, "i");
  return text.split(/\r?\n/).find((l) => pattern.test(l));
}

function valueOf(field: AnyformatFieldRecord, raw: string | undefined, first: string | undefined, text: string, at: number): unknown {
  switch (field.data_type) {
    case "string":
      return raw ?? first ?? field.name;
    case "integer": {
      const n = raw === undefined ? Number.NaN : Number.parseInt(raw.replace(/[^\d-]/g, ""), 10);
      return Number.isFinite(n) ? n : 42;
    }
    case "float": {
      const n = raw === undefined ? Number.NaN : Number.parseFloat(raw.replace(/[^\d.-]/g, ""));
      return Number.isFinite(n) ? n : 3.14;
    }
    case "boolean":
      return raw === undefined ? true : /^(true|yes|y|1|si|oui)\b/i.test(raw);
    case "date": {
      const parsed = raw === undefined ? Number.NaN : Date.parse(raw);
      return iso(Number.isNaN(parsed) ? at : parsed).slice(0, 10);
    }
    case "datetime": {
      const parsed = raw === undefined ? Number.NaN : Date.parse(raw);
      return iso(Number.isNaN(parsed) ? at : parsed);
    }
    case "list":
      return raw === undefined ? ["item 1", "item 2"] : raw.split(/\s*[,;]\s*/).filter((s) => s !== "");
    case "enum": {
      const options = field.enum_options ?? [];
      return options.find((o) => raw !== undefined && o.toLowerCase() === raw.toLowerCase()) ?? options[0] ?? null;
    }
    case "multi_select": {
      const options = field.enum_options ?? [];
      const chosen = raw === undefined ? [] : options.filter((o) => raw.toLowerCase().includes(o.toLowerCase()));
      return chosen.length > 0 ? chosen : options.slice(0, 1);
    }
    case "object": {
      const out: Record<string, unknown> = {};
      for (const nested of field.nested_fields ?? []) {
        const line = findLine(nested.name, text);
        const nestedRaw = line === undefined ? undefined : line.slice(line.search(/[:=]/) + 1).trim();
        out[nested.name] = valueOf(nested, nestedRaw, first, text, at);
      }
      return out;
    }
  }
}
