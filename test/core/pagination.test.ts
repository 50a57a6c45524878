import { describe, expect, it } from "vitest";
import { APIPromise } from "../../src/core/api-promise.js";
import { paginate, type PageData } from "../../src/core/pagination.js";

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

  it("stops when a server ignores the page number instead of looping forever", async () => {
    const { load, asked } = pages(10, 3, { stuck: true });
    const seen: number[] = [];
    for await (const n of paginate(load)) seen.push(n);
    expect(seen).toEqual([0, 1, 2]);
    expect(asked).toEqual([undefined, 2]);
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
