import { describe, expect, it } from "vitest";
import { fieldValue } from "../../src/anyformat/field-value.js";
import type { Results } from "../../src/anyformat/schemas.js";
import { invoiceWorkflow, setup } from "./support.js";

describe("fieldValue", () => {
  it("reads each field's value from real results, under the user's own field names", async () => {
    const { af } = await setup({}, { stepMs: 0 });
    const workflow = await invoiceWorkflow(af);
    const results = await af.workflows.extract(workflow.id, { text: "Total Amount: 12.30\ninvoice_number: A-42\n" });
    expect(fieldValue(results, "Total Amount")).toBe(12.3);
    expect(fieldValue(results, "invoice_number")).toBe("A-42");
  });

  it("gives one record of values per row for a field that comes as rows", () => {
    const results: Results = {
      collection_id: "c1",
      extraction: {
        line_items: [
          { description: { value: "Bolts", confidence: 90 }, amount: { value: 12 } },
          { description: { value: "Nuts" }, amount: { value: 3.5, value_override: 4 } },
        ],
      },
    };
    expect(fieldValue(results, "line_items")).toEqual([
      { description: "Bolts", amount: 12 },
      { description: "Nuts", amount: 3.5 },
    ]);
  });

  it("is undefined for a field the results do not hold, and for results without an extraction", () => {
    expect(fieldValue({ extraction: { total: { value: 1 } } }, "missing")).toBeUndefined();
    expect(fieldValue({ extraction: null }, "total")).toBeUndefined();
    expect(fieldValue({}, "total")).toBeUndefined();
  });

  it("never reads a field name off the prototype chain", () => {
    expect(fieldValue({ extraction: {} }, "constructor")).toBeUndefined();
    expect(fieldValue({ extraction: {} }, "__proto__")).toBeUndefined();
  });

  it("keeps a null value as null: the model found the field empty", () => {
    expect(fieldValue({ extraction: { due: { value: null, confidence: 40 } } }, "due")).toBeNull();
  });
});
