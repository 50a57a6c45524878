import { describe, expect, it } from "vitest";
import { APIPromise } from "../../src/core/api-promise.js";
import { ResponseValidationError } from "../../src/core/errors.js";
import { paginate, type PageData } from "../../src/core/pagination.js";

function answer<T>(data: PageData<T>): APIPromise<PageData<T>> {
  return new APIPromise(Promise.resolve({ data, status: 200, headers: {}, requestId: undefined, rateLimit: undefined, attempts: 1, queuedMs: 0 }));
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

/** A list of `total` numbers served `size` per page, recording which pages were asked for. */
function pages(total: number, size: number, options: { stuck?: boolean } = {}) {
  const asked: Array<number | undefined> = [];
  const load = (page: number | undefined): APIPromise<PageData<number>> => {
    asked.push(page);
    const n = options.stuck === true ? 1 : (page ?? 1);
    const results = Array.from({ length: total }, (_, i) => i).slice((n - 1) * size, n * size);
    const data = { count: total, page: n, page_size: size, results, extra: "kept" };
    return new APIPromise(
      Promise.resolve({ data, status: 200, headers: {}, requestId: undefined, rateLimit: undefined, attempts: 1, queuedMs: 0 }),
    );
  };
  return { load, asked };
}

describe("paginate", () => {
  it("resolves to the first page with the wire keys, and only fetches that page", async () => {
    const { load, asked } = pages(45, 20);
    const page = await paginate(load);
    expect(page).toMatchObject({ count: 45, page: 1, page_size: 20, extra: "kept" });
    expect(page.results).toHaveLength(20);
    expect(JSON.parse(JSON.stringify(page))).toEqual({ count: 45, page: 1, page_size: 20, results: page.results, extra: "kept" });
    expect(asked).toEqual([undefined]);
  });

  it("iterates every item of every page from the awaited page", async () => {
    const { load, asked } = pages(45, 20);
    const seen: number[] = [];
    for await (const n of await paginate(load)) seen.push(n);
    expect(seen).toEqual(Array.from({ length: 45 }, (_, i) => i));
    expect(asked).toEqual([undefined, 2, 3]);
  });

  it("iterates straight from the promise without awaiting it first", async () => {
    const { load } = pages(5, 2);
    const seen: number[] = [];
    for await (const n of paginate(load)) seen.push(n);
    expect(seen).toEqual([0, 1, 2, 3, 4]);
  });

  it("starts from the page asked for", async () => {
    const { load, asked } = pages(10, 3);
    const seen: number[] = [];
    for await (const n of paginate(load, 3)) seen.push(n);
    expect(seen).toEqual([6, 7, 8, 9]);
    expect(asked).toEqual([3, 4]);
  });

  it("stops on an empty list without asking for another page", async () => {
    const { load, asked } = pages(0, 20);
    const page = await paginate(load);
    expect(page.hasNextPage()).toBe(false);
    const seen: number[] = [];
    for await (const n of page) seen.push(n);
    expect(seen).toEqual([]);
    expect(asked).toEqual([undefined]);
  });

  it("throws a ResponseValidationError when a server ignores the page number, after the items it did give", async () => {
    const { load, asked } = pages(10, 3, { stuck: true });
    const seen: number[] = [];
    const error = await rejectionOf((async () => {
      for await (const n of paginate(load)) seen.push(n);
    })());
    expect(error).toBeInstanceOf(ResponseValidationError);
    expect((error as ResponseValidationError).message).toBe(
      "Asked for page 2, the server answered page 1: the listing is not moving forward, so it stops here",
    );
    expect((error as ResponseValidationError).issues).toEqual([{ path: ["page"], message: "Asked for page 2, the server answered page 1" }]);
    expect(seen).toEqual([0, 1, 2]);
    expect(asked).toEqual([undefined, 2]);
  });

  it("throws when the next page is numbered lower than the last", async () => {
    const load = (page: number | undefined): APIPromise<PageData<number>> =>
      answer({ count: 100, page: page === undefined ? 5 : 4, page_size: 2, results: [page ?? 0, 1] });
    const first = await paginate(load);
    await expect(first.nextPage()).rejects.toThrow("Asked for page 6, the server answered page 4");
  });

  it("throws when a page moves the number but repeats every item of the page before", async () => {
    const asked: Array<number | undefined> = [];
    const load = (page: number | undefined): APIPromise<PageData<{ id: string }>> => {
      asked.push(page);
      return answer({ count: 1e12, page: page ?? 1, page_size: 2, results: [{ id: "b" }, { id: "a" }] });
    };
    const error = await rejectionOf((async () => {
      for await (const _ of paginate(load)) void _;
    })());
    expect(error).toBeInstanceOf(ResponseValidationError);
    expect((error as ResponseValidationError).message).toMatch(/^Page 2 holds only items of page 1 again: the listing is not moving forward/);
    expect(asked).toEqual([undefined, 2]);
  });

  it("walks on while each page brings at least one new item, however large the count", async () => {
    // One item per page and a count of a trillion: honest, only long. The caller bounds it.
    const load = (page: number | undefined): APIPromise<PageData<number>> => {
      const n = page ?? 1;
      return answer({ count: 1e12, page: n, page_size: 1, results: [n] });
    };
    const seen: number[] = [];
    for await (const n of paginate(load)) {
      seen.push(n);
      if (seen.length === 250) break;
    }
    expect(seen).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
  });

  it("walks on when a page overlaps the last one only in part (items inserted while listing)", async () => {
    const book: Record<number, string[]> = { 1: ["c", "b"], 2: ["b", "a"] };
    const load = (page: number | undefined): APIPromise<PageData<string>> =>
      answer({ count: 4, page: page ?? 1, page_size: 2, results: book[page ?? 1] ?? [] });
    const seen: string[] = [];
    for await (const id of paginate(load)) seen.push(id);
    expect(seen).toEqual(["c", "b", "b", "a"]);
  });

  it("ends quietly on an empty page even when the count promised more (items deleted while listing)", async () => {
    const load = (page: number | undefined): APIPromise<PageData<number>> =>
      answer({ count: 10, page: page ?? 1, page_size: 2, results: page === undefined ? [1, 2] : [] });
    const seen: number[] = [];
    for await (const n of paginate(load)) seen.push(n);
    expect(seen).toEqual([1, 2]);
  });

  it("lets a caller walk the pages by hand", async () => {
    const { load } = pages(5, 2);
    const first = await paginate(load);
    const second = await first.nextPage();
    expect(second.page).toBe(2);
    expect(second.results).toEqual([2, 3]);
    expect(second.hasNextPage()).toBe(true);
    expect((await second.nextPage()).hasNextPage()).toBe(false);
  });
});
