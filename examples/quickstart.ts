/**
 * Quickstart: create a workflow, extract a document, read the results.
 * Runs against the embedded emulator unless ANYFORMAT_API_KEY is set.
 *
 *   npx tsx examples/quickstart.ts
 */
import { Anyformat } from "faultline";
import { ANYFORMAT_EMULATOR_KEY, startEmulator } from "faultline/testing";

const real = process.env["ANYFORMAT_API_KEY"] !== undefined;
const emulator = real ? undefined : await startEmulator({ api: "anyformat", stepMs: 200 });
const af = real ? new Anyformat() : new Anyformat({ apiKey: ANYFORMAT_EMULATOR_KEY, baseUrl: emulator?.url });

try {
  const workflow = await af.workflows.create({
    name: "Invoices",
    fields: [
      { name: "invoice_number", description: "The invoice number", data_type: "string" },
      { name: "total", description: "The amount due", data_type: "float" },
    ],
  });
  console.log(`created workflow ${workflow.id}`);

  const results = await af.workflows.extract(
    workflow.id,
    { text: "ACME Corp\ninvoice_number: INV-0042\ntotal: 1234.50\n" },
    { pollInterval: 250 },
  );
  for (const [name, field] of Object.entries(results.extraction ?? {})) {
    if (!Array.isArray(field)) console.log(`${name} = ${JSON.stringify(field.value)} (confidence ${field.confidence ?? "?"})`);
  }

  await af.workflows.delete(workflow.id);
} finally {
  await af.close();
  await emulator?.close();
}
