/**
 * Runs every example as its own process against the embedded emulators; fails if any fails.
 * CI runs this (`npm run examples`).
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const examples = ["quickstart.ts", "error-handling.ts", "batch-extract.ts", "roboflow-export.ts"];
const here = fileURLToPath(new URL(".", import.meta.url));
const env = { ...process.env };
// The examples must run on the emulators here, never on a real account by accident.
delete env["ANYFORMAT_API_KEY"];
delete env["ROBOFLOW_API_KEY"];

let failed = 0;
for (const example of examples) {
  const started = Date.now();
  console.log(`\n=== examples/${example}`);
  const run = spawnSync(process.execPath, ["--import", "tsx", `${here}${example}`], {
    stdio: "inherit",
    env,
    timeout: 120_000,
  });
  const ok = run.status === 0;
  if (!ok) failed += 1;
  console.log(`=== ${example}: ${ok ? "ok" : `FAILED (exit ${run.status ?? run.signal})`} in ${Date.now() - started} ms`);
}
process.exit(failed === 0 ? 0 : 1);
