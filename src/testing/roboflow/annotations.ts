import type { RoboflowAnnotationRecord } from "./state.js";

type Box = RoboflowAnnotationRecord["boxes"][number];

/**
 * The boxes the emulator reads from an annotation file, by its name's extension: YOLO `.txt`
 * (`class cx cy w h`, normalised) and Pascal VOC `.xml`. Anything else, or a file that does not parse,
 * gives no boxes and no error: Roboflow too accepts a file it cannot read and stores nothing.
 */
export function readBoxes(
  name: string,
  text: string,
  labelmap: Readonly<Record<string, string>> | undefined,
  image: { readonly width: number; readonly height: number },
): Box[] {
  const lower = name.toLowerCase();
  if (lower.endsWith(".txt")) return yolo(text, labelmap, image);
  if (lower.endsWith(".xml")) return voc(text);
  return [];
}

function yolo(text: string, labelmap: Readonly<Record<string, string>> | undefined, image: { width: number; height: number }): Box[] {
  const boxes: Box[] = [];
  for (const line of text.split(/\r?\n/)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length !== 5) continue;
    const [cls, ...rest] = fields;
    const [cx, cy, w, h] = rest.map(Number);
    if (cls === undefined || [cx, cy, w, h].some((n) => n === undefined || !Number.isFinite(n) || n < 0 || n > 1)) continue;
    boxes.push({
      label: labelmap?.[cls] ?? cls,
      x: round((cx as number) * image.width),
      y: round((cy as number) * image.height),
      width: round((w as number) * image.width),
      height: round((h as number) * image.height),
    });
  }
  return boxes;
}

function voc(text: string): Box[] {
  const boxes: Box[] = [];
  for (const object of text.matchAll(/<object>([\s\S]*?)<\/object>/g)) {
    const body = object[1] ?? "";
    const tag = (name: string): number => Number(new RegExp(`<${name}>\\s*([^<]*?)\\s*</${name}>`).exec(body)?.[1]);
    const label = /<name>\s*([^<]*?)\s*<\/name>/.exec(body)?.[1];
    const [xmin, ymin, xmax, ymax] = [tag("xmin"), tag("ymin"), tag("xmax"), tag("ymax")];
    if (label === undefined || label === "" || ![xmin, ymin, xmax, ymax].every(Number.isFinite) || xmax <= xmin || ymax <= ymin) continue;
    boxes.push({ label, x: round((xmin + xmax) / 2), y: round((ymin + ymax) / 2), width: round(xmax - xmin), height: round(ymax - ymin) });
  }
  return boxes;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
