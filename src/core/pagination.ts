import { APIPromise, type ApiResponse } from "./api-promise.js";
import { ResponseValidationError } from "./errors.js";

/** A page as paged APIs send it: `{count, page, page_size, results}`, other keys kept. */
export interface PageData<T> {
  readonly count: number;
  readonly page: number;
  readonly page_size: number;
  readonly results: T[];
}

/**
 * One page of a list, which is also an async iterable over every item of every page from this one on.
 * Its own keys are the API's (`count`, `page`, `page_size`, `results`), so it prints and serialises as the
 * wire page; the navigation methods are not enumerable.
 *
 * Walking on never loops on a server that stopped moving: `nextPage()` (and so the iteration) throws a
 * `ResponseValidationError` when the page that comes back is numbered no higher than the one before it (the
 * server ignored `page`), or holds nothing but items of the page before it (it moved the number, not the
 * content). A large `count` alone is not an error: bound a walk over a list you do not trust with `break`.
 *
 * @example
 * ```ts
 * const first = await af.workflows.list({ page_size: 50 });
 * console.log(first.count, first.results.length);
 * for await (const wf of first) console.log(wf.name); // every workflow, page after page
 * ```
 */
export type Page<T> = PageData<T> & AsyncIterable<T> & {
  /** Whether another page follows this one. */
  hasNextPage(): boolean;
  /** Fetches the next page with the same query and call options. */
  nextPage(): Promise<Page<T>>;
};

/** What `list()` returns: a promise of the first page that can also be iterated item by item directly. */
export class PagePromise<T> extends APIPromise<Page<T>> implements AsyncIterable<T> {
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    yield* await this;
  }
}

/** Loads one page by number (`undefined`: the API's default first page). */
export type PageLoader<T> = (page: number | undefined) => APIPromise<PageData<T>>;

/** Starts a list: requests `first` and gives back a page that knows how to fetch the rest. */
export function paginate<T>(load: PageLoader<T>, first?: number): PagePromise<T> {
  return new PagePromise(withPage(load(first).withResponse(), load));
}

function withPage<T>(response: Promise<ApiResponse<PageData<T>>>, load: PageLoader<T>): Promise<ApiResponse<Page<T>>> {
  return response.then((r) => ({ ...r, data: toPage(r.data, load) }));
}

function toPage<T>(data: PageData<T>, load: PageLoader<T>): Page<T> {
  const page = { ...data } as Page<T>;
  const hasNextPage = (): boolean =>
    data.results.length > 0 && data.page_size > 0 && data.page * data.page_size < data.count;
  const nextPage = async (): Promise<Page<T>> => {
    const response = await load(data.page + 1).withResponse();
    const stalled = stall(data, response.data);
    if (stalled !== undefined) {
      throw new ResponseValidationError(`${stalled.message}: the listing is not moving forward, so it stops here`, {
        status: response.status,
        issues: [stalled],
        body: undefined,
        attempts: response.attempts,
      });
    }
    return toPage(response.data, load);
  };
  Object.defineProperties(page, {
    hasNextPage: { value: hasNextPage },
    nextPage: { value: nextPage },
    [Symbol.asyncIterator]: {
      value: async function* (): AsyncGenerator<T> {
        let current: Page<T> = page;
        for (;;) {
          yield* current.results;
          if (!current.hasNextPage()) return;
          current = await current.nextPage();
        }
      },
    },
  });
  return page;
}

/**
 * Why `next` makes no progress after `previous`, or `undefined` when it does: a page numbered no higher than
 * the last, or a non-empty page whose every item is one of the last page's (compared as JSON).
 */
function stall<T>(previous: PageData<T>, next: PageData<T>): { path: string[]; message: string } | undefined {
  if (!(next.page > previous.page)) {
    return { path: ["page"], message: `Asked for page ${previous.page + 1}, the server answered page ${next.page}` };
  }
  if (next.results.length === 0 || previous.results.length === 0) return undefined;
  const seen = new Set<string>();
  for (const item of previous.results) {
    const key = keyOf(item);
    if (key === undefined) return undefined;
    seen.add(key);
  }
  for (const item of next.results) {
    const key = keyOf(item);
    if (key === undefined || !seen.has(key)) return undefined;
  }
  return { path: ["results"], message: `Page ${next.page} holds only items of page ${previous.page} again` };
}

/** An item's JSON text; `undefined` for one that cannot be written (then no repeat is claimed). */
function keyOf(item: unknown): string | undefined {
  try {
    return JSON.stringify(item);
  } catch {
    return undefined;
  }
}
