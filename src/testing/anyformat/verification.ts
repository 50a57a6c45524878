/**
 * The page a results' `verification_url` opens: anyformat's reviewer UI, which the emulator stands in for
 * with a read-only page of the collection's status and extracted values, so the link a test or a demo
 * prints leads somewhere real and never to the real app.
 */
import type { EmulatorResponse } from "../types.js";
import { resultsBody, VERIFICATION_PATH } from "./extraction.js";
import type { AnyformatStore } from "./state.js";

/** `GET /verify/{collection_id}`: the page, or a plain 404 for a collection the emulator does not hold. */
export function verificationPage(store: AnyformatStore, path: string, base: string): EmulatorResponse {
  const id = decoded(path.slice(VERIFICATION_PATH.length).replace(/\/+$/, ""));
  const collection = id === undefined ? undefined : store.collections.get(id);
  const workflow = collection === undefined ? undefined : store.workflows.get(collection.workflowId);
  if (collection === undefined || workflow === undefined) {
    return { status: 404, headers: { "content-type": "text/plain; charset=utf-8" }, text: "No such collection\n" };
  }
  const rows =
    collection.status === "processed"
      ? Object.entries(resultsBody(workflow, collection, base).extraction as Record<string, { value?: unknown }>)
          .map(([name, field]) => `<tr><th>${escape(name)}</th><td>${escape(JSON.stringify(field.value))}</td></tr>`)
          .join("\n")
      : "";
  const html = `<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>Verify ${escape(collection.id)} (faultline emulator)</title></head>
<body>
<h1>${escape(workflow.name)}</h1>
<p>Collection ${escape(collection.id)}: ${escape(collection.status)}. Served by the faultline anyformat emulator.</p>
<table>
${rows}
</table>
</body>
</html>
`;
  return { status: 200, headers: { "content-type": "text/html; charset=utf-8" }, text: html };
}

function decoded(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
