/**
 * The tier rules every store follows, on the in-process store with a clock moved by hand.
 */
import { describe, expect, it } from "vitest";
import { MemoryRateLimitStore, type Slot, type TierPolicy } from "../../../src/core/governor/store.js";

/** A tier as documented (assumed, learnt from answers) and one the user configured (fixed). */
const TIER: TierPolicy = { limit: 3, windowMs: 2_000 };
const CONFIGURED: TierPolicy = { ...TIER, explicit: true };

function rig(policy: TierPolicy | "unknown" = TIER) {
  let now = 1_000_000;
  const store = new MemoryRateLimitStore(() => now);
  return {
    store,
    take: (): Slot => store.take("k", policy === "unknown" ? undefined : policy),
    observe: (o: Parameters<MemoryRateLimitStore["observe"]>[2]) => store.observe("k", policy === "unknown" ? undefined : policy, o),
    advance: (ms: number) => (now += ms),
  };
}

const granted = (slot: Slot): boolean => slot.granted;

describe("the in-process rate-limit store", () => {
  it("grants `limit` slots in a window, then says how long until the next", () => {
    const r = rig(CONFIGURED);
    expect([r.take(), r.take(), r.take()].map(granted)).toEqual([true, true, true]);
    const refused = r.take();
    expect(refused.granted).toBe(false);
    // A window is guessed to last windowMs plus a 5 % guard until the server bounds it.
    expect(refused.granted === false && refused.waitMs).toBe(2_100);
  });

  it("opens a new window when the last one ended", () => {
    const r = rig(CONFIGURED);
    r.take();
    r.take();
    r.take();
    r.advance(2_100);
    expect(granted(r.take())).toBe(true);
  });

  it("ends a window at the tightest bound the server's x-ratelimit-reset gives", () => {
    const r = rig();
    const first = r.take();
    const window = first.granted ? first.window : -1;
    r.advance(10);
    r.observe({ window, answered: true, limit: 3, remaining: 2, resetMs: 2_000 });
    r.take();
    r.take();
    r.advance(1_500);
    r.observe({ window, answered: true, limit: 3, remaining: 0, resetMs: 1_000 });
    const refused = r.take();
    // The first bound (10 + 2000) is tighter than the second (1510 + 1000): the window ends at 2010.
    expect(refused.granted === false && refused.waitMs).toBe(500);
  });

  it("counts slots others took, from x-ratelimit-remaining", () => {
    const r = rig();
    const first = r.take();
    r.observe({ window: first.granted ? first.window : -1, answered: true, limit: 3, remaining: 0, resetMs: 2_000 });
    expect(granted(r.take())).toBe(false);
  });

  it("learns the limit from the headers, over the documented one", () => {
    const r = rig();
    const first = r.take();
    r.observe({ window: first.granted ? first.window : -1, answered: true, limit: 5, remaining: 4, resetMs: 2_000 });
    expect([r.take(), r.take(), r.take(), r.take(), r.take()].map(granted)).toEqual([true, true, true, true, false]);
  });

  it("keeps a configured limit as a ceiling the headers may lower but not raise", () => {
    const r = rig({ limit: 2, windowMs: 2_000, explicit: true });
    const first = r.take();
    r.observe({ window: first.granted ? first.window : -1, answered: true, limit: 100, remaining: 99, resetMs: 2_000 });
    expect([r.take(), r.take()].map(granted)).toEqual([true, false]);
  });

  it("learns the window's length from the first response of a server window", () => {
    const r = rig({ limit: 2, windowMs: 60_000 });
    const first = r.take();
    r.observe({ window: first.granted ? first.window : -1, answered: true, limit: 2, remaining: 1, resetMs: 5_000 });
    r.take();
    r.advance(5_000);
    r.take();
    r.take();
    const refused = r.take();
    // The next window is guessed at the learned 5 s (plus guard), not the documented minute.
    expect(refused.granted === false && refused.waitMs).toBe(5_250);
  });

  it("ignores what a response says about a window that has already ended", () => {
    const r = rig(CONFIGURED);
    const first = r.take();
    r.advance(2_100);
    r.take();
    r.observe({ window: first.granted ? first.window : -1, answered: true, limit: 3, remaining: 0, resetMs: 1_000 });
    expect(granted(r.take())).toBe(true);
  });

  it("blocks the whole tier for a 429's wait, and opens a fresh window after it", () => {
    const r = rig();
    r.take();
    r.observe({ window: undefined, answered: true, blockMs: 1_000 });
    const refused = r.take();
    expect(refused.granted === false && refused.waitMs).toBe(1_000);
    r.advance(1_000);
    expect([r.take(), r.take(), r.take(), r.take()].map(granted)).toEqual([true, true, true, false]);
  });

  it("lets one request out to learn an assumed tier's size before the rest go", () => {
    const r = rig({ limit: 60, windowMs: 60_000 });
    expect(granted(r.take())).toBe(true);
    const held = r.take();
    expect(held.granted === false && held.probing).toBe(true);
    const first = r.take();
    void first;
    // The answer says the tier is 2 a second: that is what the rest get.
    r.observe({ window: 1, answered: true, limit: 2, remaining: 1, resetMs: 1_000 });
    expect([r.take(), r.take()].map(granted)).toEqual([true, false]);
  });

  it("lets the next request probe when the first got no answer, or after its lease", () => {
    const r = rig();
    r.take();
    r.observe({ window: 1, answered: false });
    expect(granted(r.take())).toBe(true);
    expect(granted(r.take())).toBe(false);
    r.advance(250);
    expect(granted(r.take())).toBe(true);
  });

  it("holds a tier no longer than a day for a 429, nor past twice its window for a reset header, whatever a server says", () => {
    const r = rig(CONFIGURED);
    r.take();
    r.observe({ window: undefined, answered: true, blockMs: Number.MAX_SAFE_INTEGER });
    const blocked = r.take();
    expect(blocked.granted === false && blocked.waitMs).toBe(86_400_000);

    const s = rig(CONFIGURED);
    const first = s.take();
    s.observe({ window: first.granted ? first.window : -1, answered: true, limit: 3, remaining: 0, resetMs: 99_999_999_999 });
    const held = s.take();
    expect(held.granted === false && held.waitMs).toBe(4_000);
  });

  it("grants every slot for a tier of unknown size, until a 429 blocks it", () => {
    const r = rig("unknown");
    expect(Array.from({ length: 50 }, () => granted(r.take())).every(Boolean)).toBe(true);
    r.observe({ window: undefined, blockMs: 300 });
    expect(granted(r.take())).toBe(false);
    r.advance(300);
    expect(granted(r.take())).toBe(true);
  });
});
