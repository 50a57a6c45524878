/**
 * Finding submissions whose answer was lost: `run/` names a collection after the file it was given, so
 * the workflow's collections are listed and matched by that name. Two guards keep a match honest:
 * a collection another document of the journal already owns is never taken, and one made before the
 * submission's intent was recorded is someone else's (an earlier batch of the same files, say). The
 * runner never has two submissions of one name in flight, so among what is left the first one made
 * after the intent is the lost one.
 */
import type { InFlight } from "../../core/batch/runner.js";
import type { Anyformat } from "../client.js";

/**
 * How far the server's clock may run behind this machine's: a collection made up to this long before the
 * intent was recorded may still be the lost one, and is taken when none was made after it.
 */
export const CLOCK_SKEW_MS = 60_000;

interface Candidate {
  readonly id: string;
  readonly created: number;
}

/** Which of `items` the workflow holds, by key; refs in `claimed` belong to other documents. */
export async function reconcile(
  af: Anyformat,
  workflowId: string,
  items: readonly InFlight[],
  claimed: ReadonlySet<string>,
  signal: AbortSignal,
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  if (items.length === 0) return found;
  const candidates = await candidatesFor(af, workflowId, items, claimed, signal);
  const taken = new Set<string>();
  for (const item of [...items].sort((a, b) => a.at - b.at)) {
    const ref = pick(candidates.get(item.label) ?? [], item.at, taken);
    if (ref === undefined) continue;
    found.set(item.key, ref);
    taken.add(ref);
  }
  return found;
}

/**
 * The workflow's unclaimed collections named like one of `items`, made no earlier than the oldest intent
 * allows. The API lists newest first: once the listing is past that point nothing older can match, and
 * it stops (a listing seen out of that order is read to the end).
 */
async function candidatesFor(
  af: Anyformat,
  workflowId: string,
  items: readonly InFlight[],
  claimed: ReadonlySet<string>,
  signal: AbortSignal,
): Promise<Map<string, Candidate[]>> {
  const labels = new Set(items.map((item) => item.label));
  const horizon = Math.min(...items.map((item) => item.at)) - CLOCK_SKEW_MS;
  const byLabel = new Map<string, Candidate[]>();
  let newestFirst = true;
  let previous = Infinity;
  for await (const collection of af.files.list(workflowId, { page_size: 100 }, { signal })) {
    const created = Date.parse(collection.created_at ?? "");
    if (Number.isNaN(created)) {
      // Without its time a collection cannot be told from one of an earlier batch: never taken.
      newestFirst = false;
      continue;
    }
    if (created > previous) newestFirst = false;
    previous = created;
    const name = collection.name;
    if (name != null && labels.has(name) && !claimed.has(collection.id) && created >= horizon) {
      const list = byLabel.get(name) ?? [];
      list.push({ id: collection.id, created });
      byLabel.set(name, list);
    }
    if (newestFirst && created < horizon) break;
  }
  return byLabel;
}

/** The first collection made at or after the intent; failing that, the latest within the clock skew. */
function pick(candidates: readonly Candidate[], at: number, taken: ReadonlySet<string>): string | undefined {
  const free = candidates.filter((c) => !taken.has(c.id));
  const after = free.filter((c) => c.created >= at).sort((a, b) => a.created - b.created);
  if (after[0] !== undefined) return after[0].id;
  const skewed = free.filter((c) => c.created >= at - CLOCK_SKEW_MS).sort((a, b) => b.created - a.created);
  return skewed[0]?.id;
}
