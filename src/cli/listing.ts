/**
 * Every `... list` command: a bounded number of items by default, rows printed as pages arrive, and a note
 * when more were left out. A server that claims a trillion items cannot keep the CLI busy or growing.
 */
import type { Page } from "../core/pagination.js";
import type { CommandContext } from "./context.js";
import { TableLayout, type Column, type Rendered } from "./output.js";

/** How many items a listing prints without `--limit` or `--all`. */
export const DEFAULT_LIST_LIMIT = 100;

/** Items as they arrive (a page, or a whole answer), and whether another batch follows this one. */
export interface Batch<T> {
  readonly items: readonly T[];
  readonly more: boolean;
}

export interface ListView<T> {
  readonly columns: readonly Column<T>[];
  /** Printed when there is nothing to list, e.g. "No workflows." */
  readonly empty: string;
  /** What the items are, plural, for the note about the ones left out. */
  readonly noun: string;
  /** The `--json` document for the items listed [the array itself]. */
  readonly json?: (items: readonly T[]) => unknown;
}

/** The most items the invocation lists: `--limit N`, everything with `--all`, else the default. */
export function listLimit(ctx: CommandContext): number {
  if (ctx.flags.all) return Number.POSITIVE_INFINITY;
  return ctx.flags.limit ?? DEFAULT_LIST_LIMIT;
}

/**
 * Lists up to `listLimit` items from `batches`. In text mode the rows print as each batch arrives and
 * nothing is kept; with `--json` the items listed are kept for one document at the end (stdout stays
 * empty if the listing fails half way, as `--json` promises). Stops reading once the limit is reached.
 */
export async function listing<T>(ctx: CommandContext, batches: AsyncIterable<Batch<T>>, view: ListView<T>): Promise<Rendered> {
  const limit = listLimit(ctx);
  const kept: T[] = [];
  let layout: TableLayout<T> | undefined;
  let listed = 0;
  let leftOut = false;
  for await (const batch of batches) {
    const room = limit - listed;
    const items = batch.items.length > room ? batch.items.slice(0, room) : batch.items;
    listed += items.length;
    if (ctx.output.json) {
      for (const item of items) kept.push(item);
    } else if (items.length > 0) {
      if (layout === undefined) {
        layout = new TableLayout(view.columns, items);
        ctx.output.stdout(layout.header());
      }
      const rows = layout;
      ctx.output.stdout(items.map((item) => rows.row(item)).join("\n"));
    }
    if (listed >= limit) {
      leftOut = batch.items.length > items.length || batch.more;
      break;
    }
  }
  if (ctx.output.json) return { data: view.json === undefined ? kept : view.json(kept), text: undefined };
  if (listed === 0) ctx.output.stdout(view.empty);
  if (leftOut) ctx.output.note(`Listed the first ${listed} ${view.noun}; there are more: --limit N or --all to list them.`);
  return { data: undefined, text: undefined };
}

/** A whole answer (an API that does not page) as one batch. */
export async function* whole<T>(items: Promise<readonly T[]>): AsyncGenerator<Batch<T>> {
  yield { items: await items, more: false };
}

/** A paged list, page by page as it arrives; the library's iterator stops a server whose pages do not move. */
export async function* pages<T>(first: PromiseLike<Page<T>>): AsyncGenerator<Batch<T>> {
  let page = await first;
  for (;;) {
    const more = page.hasNextPage();
    yield { items: page.results, more };
    if (!more) return;
    page = await page.nextPage();
  }
}
