/**
 * The tier rules every rate-limit store follows, as cases any store can be put through: the in-process store
 * (test/core/governor/store.test.ts) and the Redis store's scripts (test/redis/store.test.ts) run these same
 * cases, on a clock moved by hand.
 */
import { expect, it } from "vitest";
import { PROBE_LEASE_MS, type RateObservation, type Slot, type TierPolicy } from "../../../src/core/governor/store.js";

/** One key of a store under test, on a clock the test moves. */
export interface RuleRig {
  take(): Slot | Promise<Slot>;
  observe(observation: RateObservation): void | Promise<void>;
  advance(ms: number): void;
}

/** Makes a fresh store for one case: `policy` is the tier's, or undefined for a tier of unknown size. */
export type MakeRuleRig = (policy: TierPolicy | undefined) => RuleRig | Promise<RuleRig>;

/** A tier as documented (assumed, learnt from answers) and one the user configured (fixed). */
const TIER: TierPolicy = { limit: 3, windowMs: 2_000 };
const CONFIGURED: TierPolicy = { ...TIER, explicit: true };

/** Defines the rule cases (call inside a `describe`). */
export function tierRules(make: MakeRuleRig): void {
  const rig = async (policy: TierPolicy | "unknown" = TIER) => {
    const r = await make(policy === "unknown" ? undefined : policy);
    return {
      ...r,
      /** Whether each of `n` takes in a row was granted. */
      grants: async (n: number): Promise<boolean[]> => {
        const out: boolean[] = [];
        for (let i = 0; i < n; i++) out.push((await r.take()).granted);
        return out;
      },
      /** The window of a take that must be granted. */
      window: async (): Promise<number> => {
        const slot = await r.take();
        if (!slot.granted) throw new Error("expected a slot");
        return slot.window;
      },
      /** The wait of a take that must be refused. */
      waitMs: async (): Promise<number> => {
        const slot = await r.take();
        if (slot.granted) throw new Error("expected a refusal");
        return slot.waitMs;
      },
    };
  };

  it("grants `limit` slots in a window, then says how long until the next", async () => {
    const r = await rig(CONFIGURED);
    expect(await r.grants(3)).toEqual([true, true, true]);
    // A window is guessed to last windowMs plus a 5 % guard until the server bounds it.
    expect(await r.waitMs()).toBe(2_100);
  });

  it("opens a new window when the last one ended", async () => {
    const r = await rig(CONFIGURED);
    await r.grants(3);
    r.advance(2_100);
    expect(await r.grants(1)).toEqual([true]);
  });

  it("ends a window at the tightest bound the server's x-ratelimit-reset gives", async () => {
    const r = await rig();
    const window = await r.window();
    r.advance(10);
    await r.observe({ window, answered: true, limit: 3, remaining: 2, resetMs: 2_000 });
    await r.grants(2);
    r.advance(1_500);
    await r.observe({ window, answered: true, limit: 3, remaining: 0, resetMs: 1_000 });
    // The first bound (10 + 2000) is tighter than the second (1510 + 1000): the window ends at 2010.
    expect(await r.waitMs()).toBe(500);
  });

  it("counts slots others took, from x-ratelimit-remaining", async () => {
    const r = await rig();
    await r.observe({ window: await r.window(), answered: true, limit: 3, remaining: 0, resetMs: 2_000 });
    expect(await r.grants(1)).toEqual([false]);
  });

  it("learns the limit from the headers, over the documented one", async () => {
    const r = await rig();
    await r.observe({ window: await r.window(), answered: true, limit: 5, remaining: 4, resetMs: 2_000 });
    expect(await r.grants(5)).toEqual([true, true, true, true, false]);
  });

  it("keeps a configured limit as a ceiling the headers may lower but not raise", async () => {
    const r = await rig({ limit: 2, windowMs: 2_000, explicit: true });
    await r.observe({ window: await r.window(), answered: true, limit: 100, remaining: 99, resetMs: 2_000 });
    expect(await r.grants(2)).toEqual([true, false]);
  });

  it("learns the window's length from the first response of a server window", async () => {
    const r = await rig({ limit: 2, windowMs: 60_000 });
    await r.observe({ window: await r.window(), answered: true, limit: 2, remaining: 1, resetMs: 5_000 });
    await r.grants(1);
    r.advance(5_000);
    await r.grants(2);
    // The next window is guessed at the learned 5 s (plus guard), not the documented minute.
    expect(await r.waitMs()).toBe(5_250);
  });

  it("ignores what a response says about a window that has already ended", async () => {
    const r = await rig(CONFIGURED);
    const first = await r.window();
    r.advance(2_100);
    await r.grants(1);
    await r.observe({ window: first, answered: true, limit: 3, remaining: 0, resetMs: 1_000 });
    expect(await r.grants(1)).toEqual([true]);
  });

  it("blocks the whole tier for a 429's wait, and opens a fresh window after it, at a smaller share", async () => {
    const r = await rig();
    await r.grants(3);
    await r.observe({ window: undefined, answered: true, blockMs: 1_000 });
    expect(await r.waitMs()).toBe(1_000);
    r.advance(1_000);
    // Half of 3, rounded down: 1.
    expect(await r.grants(2)).toEqual([true, false]);
  });

  it("halves its share of the tier at a 429 (once a window), and gives a slot back for each window without one", async () => {
    const r = await rig({ limit: 4, windowMs: 1_000, explicit: true });
    await r.grants(4);
    await r.observe({ window: undefined, answered: true, blockMs: 1_000 });
    await r.observe({ window: undefined, answered: true, blockMs: 1_000 });
    r.advance(1_000);
    expect(await r.grants(3)).toEqual([true, true, false]);
    r.advance(1_050);
    expect(await r.grants(4)).toEqual([true, true, true, false]);
    r.advance(1_050);
    expect(await r.grants(5)).toEqual([true, true, true, true, false]);
    r.advance(1_050);
    expect(await r.grants(5)).toEqual([true, true, true, true, false]);
  });

  it("calls a window's end a guess while a server that speaks x-ratelimit-* has not yet bounded it", async () => {
    const r = await rig({ limit: 2, windowMs: 60_000, explicit: true });
    const first = await r.window();
    await r.observe({ window: first, answered: true, limit: 2, remaining: 1, resetMs: 1_000 });
    await r.grants(1);
    const bounded = await r.take();
    expect(bounded.granted === false && bounded.guess).toBeFalsy();
    r.advance(1_000);
    // A new window: the server has not answered in it yet, so its end (a minute, as configured) is a guess.
    await r.grants(2);
    const guessed = await r.take();
    expect(guessed.granted === false && guessed.guess).toBe(true);
  });

  it("takes the documented length as the word when the server never sends x-ratelimit-*", async () => {
    const r = await rig({ limit: 1, windowMs: 60_000, explicit: true });
    const first = await r.window();
    await r.observe({ window: first, answered: true });
    const refused = await r.take();
    expect(refused.granted === false && refused.guess).toBeFalsy();
  });

  it("cuts its share to what it got of a window when others took the rest, not just by half", async () => {
    const r = await rig({ limit: 10, windowMs: 1_000, explicit: true });
    // The server says the tier is 10; three went out; the third met a 429: two is what this store got.
    const first = await r.window();
    await r.observe({ window: first, answered: true, limit: 10, remaining: 5, resetMs: 1_000 });
    await r.grants(2);
    await r.observe({ window: undefined, answered: true, blockMs: 1_000 });
    r.advance(1_000);
    expect(await r.grants(3)).toEqual([true, true, false]);
  });

  it("keeps its share at a 429 the server's own count does not explain: it counted only what this store sent", async () => {
    const r = await rig({ limit: 10, windowMs: 1_000, explicit: true });
    const first = await r.window();
    await r.observe({ window: first, answered: true, limit: 10, remaining: 9, resetMs: 1_000 });
    await r.grants(3);
    await r.observe({ window: first, answered: true, limit: 10, remaining: 6, resetMs: 1_000 });
    // A fault, a proxy: a 429 in a tier nobody else uses. Everyone waits it out, then goes on at full speed.
    await r.observe({ window: undefined, answered: true, blockMs: 100 });
    r.advance(100);
    expect(await r.grants(11)).toEqual([...Array<boolean>(10).fill(true), false]);
  });

  it("reads answers that overtook each other as ours, not as others' requests", async () => {
    const r = await rig({ limit: 10, windowMs: 1_000, explicit: true });
    const first = await r.window();
    await r.grants(3);
    // Four requests out; their answers arrive out of order.
    for (const remaining of [8, 9, 6, 7]) await r.observe({ window: first, answered: true, limit: 10, remaining, resetMs: 1_000 });
    await r.observe({ window: undefined, answered: true, blockMs: 100 });
    r.advance(100);
    expect(await r.grants(11)).toEqual([...Array<boolean>(10).fill(true), false]);
  });

  it("never shares a tier down to nothing: one slot a window at least", async () => {
    const r = await rig({ limit: 2, windowMs: 1_000, explicit: true });
    for (let i = 0; i < 5; i++) {
      await r.grants(1);
      await r.observe({ window: undefined, answered: true, blockMs: 1_000 });
      r.advance(1_000);
    }
    expect(await r.grants(2)).toEqual([true, false]);
  });

  it("lets one request out to learn an assumed tier's size before the rest go", async () => {
    const r = await rig({ limit: 60, windowMs: 60_000 });
    const probe = await r.window();
    const held = await r.take();
    expect(held.granted === false && held.probing).toBe(true);
    // The answer says the tier is 2 a second: that is what the rest get.
    await r.observe({ window: probe, answered: true, limit: 2, remaining: 1, resetMs: 1_000 });
    expect(await r.grants(2)).toEqual([true, false]);
  });

  it("lets the next request probe when the first got no answer, or after its lease", async () => {
    const r = await rig();
    await r.observe({ window: await r.window(), answered: false });
    expect(await r.grants(2)).toEqual([true, false]);
    r.advance(PROBE_LEASE_MS);
    expect(await r.grants(1)).toEqual([true]);
  });

  it("holds a tier no longer than a day for a 429, nor past twice its window for a reset header, whatever a server says", async () => {
    const r = await rig(CONFIGURED);
    await r.grants(1);
    await r.observe({ window: undefined, answered: true, blockMs: Number.MAX_SAFE_INTEGER });
    expect(await r.waitMs()).toBe(86_400_000);

    const s = await rig(CONFIGURED);
    await s.observe({ window: await s.window(), answered: true, limit: 3, remaining: 0, resetMs: 99_999_999_999 });
    expect(await s.waitMs()).toBe(4_000);
  });

  it("grants every slot for a tier of unknown size, until a 429 blocks it", async () => {
    const r = await rig("unknown");
    expect((await r.grants(50)).every(Boolean)).toBe(true);
    await r.observe({ window: undefined, blockMs: 300 });
    expect(await r.grants(1)).toEqual([false]);
    r.advance(300);
    expect(await r.grants(1)).toEqual([true]);
  });
}
