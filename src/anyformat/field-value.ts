import type { ExtractedField, Results } from "./schemas.js";

/**
 * The value extracted for one of a workflow's fields, or `undefined` when the results hold none.
 *
 * `results.extraction[name]` comes in two forms: one `ExtractedField` (`{ value, confidence, ... }`), or, for a
 * field that repeats (a list of line items), an array of rows, each a record of `ExtractedField`s. This reads
 * either: the field's `value`, or one plain record of values per row. The confidence, evidence and any
 * reviewer's `value_override` stay on `results.extraction[name]`.
 *
 * @example
 * ```ts
 * const results = await af.workflows.extract(workflow.id, { file: "./invoice.pdf" });
 * console.log(fieldValue(results, "total"));      // 1249.5
 * console.log(fieldValue(results, "line_items")); // [{ description: "Bolts", amount: 12 }, ...]
 * ```
 */
export function fieldValue(results: Pick<Results, "extraction">, name: string): unknown {
  const extraction = results.extraction;
  if (extraction === null || extraction === undefined || !Object.hasOwn(extraction, name)) return undefined;
  const field = extraction[name];
  if (field === undefined) return undefined;
  if (!Array.isArray(field)) return field.value;
  return field.map((row) => {
    const values: Record<string, unknown> = {};
    for (const [column, cell] of Object.entries(row)) values[column] = (cell as ExtractedField | undefined)?.value;
    return values;
  });
}
