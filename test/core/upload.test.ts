import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { mkdtemp, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../src/core/errors.js";
import { multipartBody, prepareFile, type FileParam } from "../../src/core/upload.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "faultline-upload-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Sends nothing: reads a multipart body back the way a server would, with the platform's own parser. */
async function formOf(param: FileParam, maxBytes = 1024 * 1024, text?: string): Promise<{ form: FormData; length: string | undefined; bytes: number }> {
  const file = await prepareFile(param, maxBytes);
  const parts = text === undefined ? [{ name: "file", file }] : [{ name: "file", file }, { name: "text", value: text }];
  const { body, headers } = multipartBody(parts);
  const chunks: Buffer[] = [];
  for await (const chunk of body as Readable) chunks.push(Buffer.from(chunk as Uint8Array));
  const raw = Buffer.concat(chunks);
  const form = await new Response(raw, { headers: { "content-type": headers["content-type"] ?? "" } }).formData();
  return { form, length: headers["content-length"], bytes: raw.byteLength };
}

describe("prepareFile and multipartBody", () => {
  it("streams a file from a path under its own name, announcing the exact length", async () => {
    const path = join(dir, "invoice.pdf");
    await writeFile(path, "%PDF-1.7 total 99.50");
    const { form, length, bytes } = await formOf({ file: path });
    const part = form.get("file") as File;
    expect(part.name).toBe("invoice.pdf");
    expect(part.type).toBe("application/pdf");
    expect(await part.text()).toBe("%PDF-1.7 total 99.50");
    expect(Number(length)).toBe(bytes);
  });

  it("sends bytes under the filename given, with text fields beside them", async () => {
    const { form } = await formOf({ file: Buffer.from("a,b\n1,2\n"), filename: "data.csv" }, 1024, "note");
    const part = form.get("file") as File;
    expect([part.name, part.type, await part.text()]).toEqual(["data.csv", "text/csv", "a,b\n1,2\n"]);
    expect(form.get("text")).toBe("note");
  });

  it("sends a File under its own name and type", async () => {
    const { form } = await formOf({ file: new File(["hello"], "hello.txt", { type: "text/plain" }) });
    const part = form.get("file") as File;
    expect([part.name, part.type, await part.text()]).toEqual(["hello.txt", "text/plain", "hello"]);
  });

  it("sends a stream once, without a length, and refuses to open it twice", async () => {
    const file = await prepareFile({ file: Readable.from([Buffer.from("one "), Buffer.from("two")]), filename: "s.txt" }, 1024);
    expect(file.replayable).toBe(false);
    const { body, headers } = multipartBody([{ name: "file", file }]);
    expect(headers["content-length"]).toBeUndefined();
    let sent = "";
    for await (const chunk of body as Readable) sent += Buffer.from(chunk as Uint8Array).toString();
    expect(sent).toContain("one two");
    expect(() => file.open()).toThrow(InvalidArgumentError);
  });

  it("keeps a quote or a line break in a filename from breaking the part's headers", async () => {
    const { form } = await formOf({ file: Buffer.from("x"), filename: 'a"b\r\nContent-Type: text/html' });
    const part = form.get("file") as File;
    expect(part.type).toBe("application/octet-stream");
    // The platform parser decodes the escapes: the name arrives whole, and no header was injected.
    expect(part.name).toBe('a"b\r\nContent-Type: text/html');
    expect(form.getAll("file")).toHaveLength(1);
  });

  it("refuses a path over the limit before reading it, saying how big it is", async () => {
    const path = join(dir, "big.bin");
    await writeFile(path, Buffer.alloc(2048));
    await expect(prepareFile({ file: path }, 1024)).rejects.toThrow("The file is 2,048 bytes, over the limit of 1,024 bytes");
  });

  it("refuses bytes and blobs over the limit", async () => {
    await expect(prepareFile({ file: new Uint8Array(2048) }, 1024)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(prepareFile({ file: new Blob([new Uint8Array(2048)]) }, 1024)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it("refuses a stream fs opened on a file over the limit before reading it, counting only its byte range", async () => {
    const path = join(dir, "ranged.bin");
    await writeFile(path, Buffer.alloc(4096));
    const whole = createReadStream(path);
    await expect(prepareFile({ file: whole }, 1024)).rejects.toThrow("The file is 4,096 bytes, over the limit of 1,024 bytes");
    expect(whole.bytesRead).toBe(0);
    // Closed, as a stream whose upload failed would be: no file is left open.
    expect(whole.destroyed).toBe(true);
    const ranged = await prepareFile({ file: createReadStream(path, { start: 100, end: 1123 }) }, 1024);
    let sent = 0;
    for await (const chunk of ranged.open()) sent += chunk.byteLength;
    expect(sent).toBe(1024);
  });

  it("gives a file over the limit the caller's hint, or the document advice by default", async () => {
    await expect(prepareFile({ file: new Uint8Array(2048) }, 1024, "Shrink the image.")).rejects.toMatchObject({ hint: "Shrink the image." });
    await expect(prepareFile({ file: new Uint8Array(2048) }, 1024)).rejects.toMatchObject({ hint: expect.stringMatching(/document/) });
    const stream = await prepareFile({ file: Readable.from([Buffer.alloc(2048)]) }, 1024, "Shrink the image.");
    const read = async (): Promise<void> => {
      for await (const _ of stream.open()) void _;
    };
    await expect(read()).rejects.toMatchObject({ hint: "Shrink the image." });
  });

  it("cuts a stream that grows past the limit while it is read, without passing on the chunk that crosses it", async () => {
    const file = await prepareFile({ file: Readable.from([Buffer.alloc(600), Buffer.alloc(600)]) }, 1024);
    let passed = 0;
    const read = async (): Promise<void> => {
      for await (const chunk of file.open()) passed += chunk.byteLength;
    };
    await expect(read()).rejects.toThrow("The stream is over 1,024 bytes, the limit for one file: its upload was cut off there");
    expect(passed).toBe(600);
  });

  it("names a missing path, a directory and an unusable value as invalid arguments", async () => {
    await expect(prepareFile({ file: join(dir, "nope.pdf") }, 1024)).rejects.toThrow(/ENOENT/);
    await mkdir(join(dir, "folder"), { recursive: true });
    await expect(prepareFile({ file: join(dir, "folder") }, 1024)).rejects.toThrow(/not a file/);
    await expect(prepareFile({ file: 42 as never }, 1024)).rejects.toThrow(/Cannot upload a number/);
    await expect(prepareFile({} as never, 1024)).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
