// ingest.ts
import { ApiError, Roboflow } from "faultline";

export interface Outcome {
  readonly file: string;
  readonly id?: string | undefined;
  readonly duplicate?: boolean;
  readonly error?: string;
}

/** Uploads and annotates each image; reports every failure instead of printing and forgetting it. */
export async function ingest(rf: Roboflow, project: string, images: ReadonlyArray<{ file: string; bytes: Uint8Array; yolo: string }>): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const image of images) {
    try {
      const { id, duplicate } = await rf.images.upload(project, { file: image.bytes, name: image.file });
      if (id !== undefined) await rf.images.annotate(project, id, { annotation: image.yolo, name: image.file.replace(/\.\w+$/, ".txt"), overwrite: true });
      outcomes.push({ file: image.file, id, duplicate });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      outcomes.push({ file: image.file, error: `${error.code}: ${error.message}` });
    }
  }
  return outcomes;
}
