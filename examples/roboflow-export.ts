/**
 * Roboflow export: ask for a dataset export and wait through the 202 "still preparing" answers
 * until the download link. Runs against the embedded emulator unless ROBOFLOW_API_KEY is set.
 *
 *   npx tsx examples/roboflow-export.ts [project] [version] [format]
 */
import { NotFoundError, Roboflow } from "faultline";
import { ROBOFLOW_EMULATOR_KEY, ROBOFLOW_EMULATOR_WORKSPACE, startEmulator } from "faultline/testing";

const [project = "widgets", version = "1", format = "coco"] = process.argv.slice(2);
const real = process.env["ROBOFLOW_API_KEY"] !== undefined;
const emulator = real ? undefined : await startEmulator({ api: "roboflow", exportMs: 1200 });
const rf = real
  ? new Roboflow()
  : new Roboflow({
      apiKey: ROBOFLOW_EMULATOR_KEY,
      workspace: ROBOFLOW_EMULATOR_WORKSPACE,
      baseUrl: emulator?.url,
      deploymentsUrl: emulator?.deploymentsUrl,
    });

try {
  const exported = await rf.versions.export(project, Number(version), format, {
    wait: true,
    pollInterval: 200,
    onProgress: (progress: number) => console.log(`preparing ${format}: ${Math.round(progress * 100)} %`),
  });
  console.log(`ready: ${JSON.stringify(exported)}`);
} catch (err) {
  if (err instanceof NotFoundError) {
    console.error(`${project}/${version} not found: ${err.message}${err.hint ? ` (${err.hint})` : ""}`);
    process.exitCode = 3;
  } else {
    throw err;
  }
} finally {
  await rf.close();
  await emulator?.close();
}
