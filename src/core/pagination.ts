import { APIPromise, type ApiResponse } from "./api-promise.js";

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
  // A server that ignores `page` would send the same page forever: only ever move forward.
  const hasNextPage = (): boolean =>
    data.results.length > 0 && data.page_size > 0 && data.page * data.page_size < data.count;
  const nextPage = async (): Promise<Page<T>> => {
    const next = (await withPage(load(data.page + 1).withResponse(), load)).data;
    return next.page > data.page ? next : toPage({ ...next, results: [], count: 0 }, load);
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
