import { createHash } from "node:crypto";

/** What the emulator can tell of an image from its bytes. */
export interface ImageInfo {
  readonly type: "jpeg" | "png" | "gif" | "bmp" | "webp" | "tiff" | "avif" | "heic";
  readonly width: number;
  readonly height: number;
}

/** When a header gives no size (TIFF, AVIF, HEIC are not read that far): a common camera frame. */
const FALLBACK = { width: 640, height: 480 } as const;

/** SHA-256 of the bytes, hex: how the emulator tells duplicates apart, as Roboflow does by content. */
export function contentHash(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * The image's type (by its magic bytes, the formats Roboflow accepts) and size in pixels, or
 * `undefined` for anything that is not one. Headers are read defensively: truncated or lying ones
 * give the fallback size, never an exception.
 */
export function readImage(bytes: Uint8Array): ImageInfo | undefined {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = (i: number): number => b[i] ?? -1;
  const ascii = (from: number, to: number): string => b.subarray(from, to).toString("latin1");
  if (at(0) === 0x89 && ascii(1, 4) === "PNG") return sized("png", () => [b.readUInt32BE(16), b.readUInt32BE(20)]);
  if (at(0) === 0xff && at(1) === 0xd8 && at(2) === 0xff) return sized("jpeg", () => jpegSize(b));
  if (ascii(0, 4) === "GIF8") return sized("gif", () => [b.readUInt16LE(6), b.readUInt16LE(8)]);
  if (ascii(0, 2) === "BM") return sized("bmp", () => [b.readInt32LE(18), Math.abs(b.readInt32LE(22))]);
  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return sized("webp", () => webpSize(b));
  if (ascii(0, 4) === "II*\u0000" || ascii(0, 4) === "MM\u0000*") return { type: "tiff", ...FALLBACK };
  if (ascii(4, 8) === "ftyp") {
    const brand = ascii(8, 12);
    if (brand === "avif" || brand === "avis") return { type: "avif", ...FALLBACK };
    if (["heic", "heix", "mif1", "msf1", "heim", "heis"].includes(brand)) return { type: "heic", ...FALLBACK };
  }
  return undefined;
}

function sized(type: ImageInfo["type"], read: () => [number, number] | undefined): ImageInfo {
  let size: [number, number] | undefined;
  try {
    size = read();
  } catch {
    size = undefined;
  }
  const [width, height] = size ?? [0, 0];
  const usable = Number.isSafeInteger(width) && Number.isSafeInteger(height) && width > 0 && height > 0;
  return usable ? { type, width, height } : { type, ...FALLBACK };
}

/** Walks the JPEG segments to the first start-of-frame marker, which holds the size. */
function jpegSize(b: Buffer): [number, number] | undefined {
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1] ?? 0;
    const length = b.readUInt16BE(i + 2);
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) return [b.readUInt16BE(i + 7), b.readUInt16BE(i + 5)];
    if (length < 2) return undefined;
    i += 2 + length;
  }
  return undefined;
}

function webpSize(b: Buffer): [number, number] | undefined {
  const chunk = b.subarray(12, 16).toString("latin1");
  if (chunk === "VP8X") return [1 + b.readUIntLE(24, 3), 1 + b.readUIntLE(27, 3)];
  if (chunk === "VP8 ") return [b.readUInt16LE(26) & 0x3fff, b.readUInt16LE(28) & 0x3fff];
  if (chunk === "VP8L") {
    const bits = b.readUInt32LE(21);
    return [1 + (bits & 0x3fff), 1 + ((bits >> 14) & 0x3fff)];
  }
  return undefined;
}
