/**
 * `faultline roboflow upload <project> <paths or folders...> [--split S] [--batch B] [--tag T]...
 * [--annotations DIR] [--overwrite] [--out F] [--journal F] [--resume] [--concurrency N]`: a folder upload,
 * with each image's annotation, in the shell every batch command shares.
 *
 * Each image's outcome goes to a file (`--out`), not to stdout: a report printed line by line is lost with
 * the terminal it scrolled past, and with a crash. The file is the record a resumed run adds to, never
 * repeating a line, and the summary on stdout counts and names the failures from it. It defaults to
 * `roboflow-upload-<project>.jsonl`, so `faultline roboflow upload <project> <paths>` needs nothing more,
 * and the same line with `--resume` finds its journal.
 */
import { readdir, stat } from "node:fs/promises";
import { basename, dirname, extname, join, resolve } from "node:path";
import { ConflictError, InvalidArgumentError, type FaultlineError } from "../core/errors.js";
import { uploadImages, type UploadInput, type UploadOutcome } from "../roboflow/batch/upload.js";
import { Roboflow } from "../roboflow/client.js";
import { isImageName } from "../roboflow/image-input.js";
import type { ImageSplit } from "../roboflow/resources/images.js";
import { UsageError } from "./args.js";
import { filesIn, resumeCommand, type FoundFile } from "./batch-args.js";
import { runBatchShell, type ShellOutcome } from "./batch-shell.js";
import { clientLogging, type CommandContext } from "./context.js";
import type { Rendered } from "./output.js";
import { roboflowTarget } from "./roboflow.js";

/** Files the summary names when it says which were left as not images; the rest are counted. */
const NAMED_SKIPPED = 5;

export async function runRoboflowUpload(ctx: CommandContext): Promise<Rendered> {
  const project = ctx.args["project"] ?? "";
  const out = ctx.flags.out ?? defaultOut(project);
  const journal = ctx.flags.journal ?? `${out}.journal`;
  const paths = ctx.rest["paths"] ?? [];
  const target = roboflowTarget(ctx);
  const found = await filesIn(paths, [out, journal, `${journal}.lock`], isImageName);
  const annotations = ctx.flags.annotations === undefined ? undefined : await AnnotationIndex.open(ctx.flags.annotations);
  const inputs: UploadInput[] = [];
  for (const file of found.files) inputs.push({ file: file.path, ...(await annotations?.find(file)) });
  if (inputs.length === 0) throw new UsageError(`No images in ${paths.join(", ")}`, "Name image files, or folders that hold some");
  // Files of the folders that are neither images nor the images' annotations: said, never silently left.
  const used = new Set(inputs.flatMap((i) => (i.annotation === undefined ? [] : [resolve(i.annotation)])));
  const skipped = found.skipped.filter((path) => !used.has(resolve(path)));

  // Retries are not announced line by line here: the progress bar tells how the batch goes.
  const rf = new Roboflow({ ...target, maxRetries: ctx.options.maxRetries, timeout: ctx.options.timeout, ...clientLogging(ctx) });
  try {
    // Every image would meet a missing project or a refused key: find out before the first, when the
    // workspace is known (the upload route itself needs none, and then the first upload finds out).
    if (target.workspace !== undefined || project.includes("/")) await rf.projects.get(project, { signal: ctx.signal });
    const options = {
      split: ctx.flags.split as ImageSplit | undefined,
      batch: ctx.flags.batch,
      tags: ctx.flags.tag.length === 0 ? undefined : ctx.flags.tag,
      overwrite: ctx.flags.overwrite,
      concurrency: ctx.flags.concurrency,
      journal,
    };
    const rendered = await runBatchShell({
      output: ctx.output,
      out,
      journal,
      resume: ctx.flags.resume,
      total: inputs.length,
      noun: "images",
      doneWord: "uploaded",
      resumeCommand: resumeCommand(ctx),
      run: (signal, onProgress) => outcomes(uploadImages(rf, project, inputs, { ...options, signal, onProgress })),
    });
    return withSkipped(rendered, skipped);
  } finally {
    await rf.close();
  }
}

/** `roboflow-upload-widgets.jsonl`, `roboflow-upload-acme-widgets.jsonl` for `acme/widgets`. */
function defaultOut(project: string): string {
  return `roboflow-upload-${project.replace(/[^\w.-]+/g, "-")}.jsonl`;
}

async function* outcomes(batch: AsyncIterable<UploadOutcome>): AsyncGenerator<ShellOutcome> {
  for await (const outcome of batch) {
    const { file, annotation } = outcome.input;
    const annotated = annotation === undefined ? {} : { annotation };
    if (outcome.status === "uploaded") {
      yield { name: file, status: "processed", detail: { id: outcome.id ?? null, duplicate: outcome.duplicate, ...annotated } };
      continue;
    }
    const id = outcome.id === undefined ? {} : { id: outcome.id };
    yield { name: file, status: "failed", detail: { ...id, ...annotated, error: errorLine(outcome.error) }, code: outcome.error.code };
  }
}

/** The error as `--out` records it; "already annotated" gets the remedy this command has for it. */
function errorLine(error: FaultlineError): Record<string, unknown> {
  const line = error.toJSON();
  if (error instanceof ConflictError) line["hint"] = "The image already had an annotation, not written by this batch: add --overwrite to replace it.";
  return line;
}

/** The summary, saying which files of the folders were left because they are not images. */
function withSkipped(rendered: Rendered, skipped: readonly string[]): Rendered {
  if (skipped.length === 0) return rendered;
  const named = skipped.slice(0, NAMED_SKIPPED).join(", ");
  const more = skipped.length > NAMED_SKIPPED ? `, and ${skipped.length - NAMED_SKIPPED} more` : "";
  const line = `Left ${skipped.length} file${skipped.length === 1 ? "" : "s"} that ${skipped.length === 1 ? "is" : "are"} not an image by its extension: ${named}${more}`;
  const data = { ...(rendered.data as Record<string, unknown>), skipped: skipped.length };
  return { ...rendered, data, text: typeof rendered.text === "string" ? `${rendered.text}\n${line}` : rendered.text };
}

/**
 * Where each image's annotation file is: in `--annotations DIR`, at the image's place under the folder it
 * was found in (`images/train/x.jpg` is annotated by `DIR/train/x.txt`, or `.xml`, `.coco.json`...), a
 * file named on the command line directly in DIR. Each folder of DIR is read once.
 */
class AnnotationIndex {
  readonly #folders = new Map<string, Promise<readonly string[]>>();

  private constructor(private readonly root: string) {}

  static async open(root: string): Promise<AnnotationIndex> {
    const info = await stat(root).catch((error: NodeJS.ErrnoException) => {
      throw new InvalidArgumentError(`Cannot read --annotations ${root}: ${error.code ?? error.message}`);
    });
    if (!info.isDirectory()) throw new InvalidArgumentError(`--annotations ${root} is not a folder`, { hint: "Name the folder that holds the annotation files" });
    return new AnnotationIndex(root);
  }

  /** The image's annotation file; or, when several could be it, the problem that fails the image. */
  async find(image: FoundFile): Promise<Pick<UploadInput, "annotation" | "problem">> {
    const folder = join(this.root, dirname(image.relative));
    const name = basename(image.relative);
    const stem = name.slice(0, name.length - extname(name).length);
    const names = (await this.#list(folder)).filter((candidate) => annotates(candidate, stem));
    const [only] = names;
    if (only === undefined) return {};
    if (names.length === 1) return { annotation: join(folder, only) };
    return { problem: `${names.length} annotation files could be ${image.path}'s in ${folder} (${names.join(", ")}): keep one` };
  }

  #list(folder: string): Promise<readonly string[]> {
    let listed = this.#folders.get(folder);
    if (listed === undefined) {
      listed = readdir(folder, { withFileTypes: true }).then(
        (entries) => entries.filter((e) => e.isFile() && !e.name.startsWith(".")).map((e) => e.name),
        // A folder of images with no annotations has no folder in DIR: nothing to attach.
        () => [],
      );
      this.#folders.set(folder, listed);
    }
    return listed;
  }
}

/**
 * Whether `candidate` is an annotation of an image whose name without its extension is `stem`: the stem,
 * then one extension (`.txt`, `.xml`) or a named JSON (`.coco.json`), and not an image itself.
 */
function annotates(candidate: string, stem: string): boolean {
  if (!candidate.startsWith(`${stem}.`) || isImageName(candidate)) return false;
  return /^\.[^.]+(\.json)?$/i.test(candidate.slice(stem.length));
}
