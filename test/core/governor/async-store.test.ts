/**
 * The governor over a store that answers asynchronously, as a fleet's store does over the network: the
 * store's answers are held and released by hand, timers are faked, so each interleaving is exact.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AbortedError } from "../../../src/core/errors.js";
import { Governor, type Ticket, type WaitLimits } from "../../../src/core/governor/governor.js";
import { MemoryRateLimitStore, type RateLimitStore, type Slot, type TierPolicy } from "../../../src/core/governor/store.js";

/** A store whose every `take` waits until the test answers it. */
class HeldStore implements RateLimitStore {
  readonly takes: Array<{ answer: (slot: Slot) => void }> = [];
  readonly observations: unknown[] = [];

  take(): Promise<Slot> {
    return new Promise((resolve) => this.takes.push({ answer: resolve }));
  }

  observe(_key: string, _policy: TierPolicy | undefined, observation: unknown): void {
    this.observations.push(observation);
  }

  /** Answers take number `n` (1 for the first). */
  answer(n: number, slot: Slot): void {
    const take = this.takes[n - 1];
    if (take === undefined) throw new Error(`take ${n} was never asked`);
    take.answer(slot);
  }
}

const refused = (waitMs: number, probing = false): Slot => ({ granted: false, waitMs, limit: 10, windowMs: 1_000, ...(probing ? { probing } : {}) });
const granted = (window: number): Slot => ({ granted: true, window });

function limits(signal?: AbortSignal): WaitLimits {
  return { signal, deadlineAt: undefined, maxWaitMs: 60_000, attempt: 1, onWait: undefined, method: "POST", url: "https://api.example/run/" };
}

describe("the governor over a store that answers asynchronously", () => {
  let store: HeldStore;
  let governor: Governor;
  const acquire = (signal?: AbortSignal) => Promise.resolve(governor.acquire("submission", "https://api.example", limits(signal)));
  /** Lets timers due within `ms` fire, and the promises they settle run. */
  const pass = (ms: number) => vi.advanceTimersByTimeAsync(ms);

  beforeEach(() => {
    vi.useFakeTimers();
    store = new HeldStore();
    governor = new Governor("api", "sk-test", { submission: { limit: 10, windowMs: 60_000 } }, { store });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("asks the store for one waiter at a time, however many join the queue meanwhile", async () => {
    const first = acquire();
    store.answer(1, refused(100));
    await pass(100);
    // The queue's wake-up asked the store for its head; two calls join while it answers.
    expect(store.takes).toHaveLength(2);
    void acquire();
    void acquire();
    await pass(50);
    // They wait for that answer: a second server of the queue would take a slot for the same head.
    expect(store.takes).toHaveLength(2);
    store.answer(2, granted(1));
    await pass(0);
    expect((await first).window).toBe(1);
    expect(store.takes).toHaveLength(3);
  });

  it("gives a slot to whoever heads the queue when the waiter it was taken for has gone", async () => {
    const controller = new AbortController();
    const leaving = acquire(controller.signal);
    store.answer(1, refused(100));
    await pass(0);
    const staying = acquire();
    await pass(100);
    expect(store.takes).toHaveLength(2);
    controller.abort();
    await expect(leaving).rejects.toBeInstanceOf(AbortedError);
    store.answer(2, granted(7));
    await pass(0);

    const ticket: Ticket = await staying;
    expect(ticket.window).toBe(7);
    // No slot was taken for nobody: the staying call did not need a take of its own.
    expect(store.takes).toHaveLength(2);
  });

  it("looks again at once when a tier's first answer comes in while the store is still answering an older take", async () => {
    const probe = acquire();
    store.answer(1, granted(1));
    const ticket = await probe;
    const next = acquire();
    store.answer(2, refused(2_000, true));
    await pass(0);
    // The queue's server asks again (probing waits are short), and its take is out when the answer comes.
    expect(store.takes).toHaveLength(3);
    governor.observe(ticket, { status: 202, limit: 10, remaining: 9, resetMs: 1_000 });
    // The store's answer predates what the probe just learnt: it says to wait out the probe's lease.
    store.answer(3, refused(2_000, true));
    await pass(10);

    expect(store.takes).toHaveLength(4);
    store.answer(4, granted(1));
    expect((await next).window).toBe(1);
  });

  it("wakes a call that queues while the server is stopping, having found its queue empty", async () => {
    // The in-process store answers at once; the call that queues does so from the served call's own continuation.
    const memory = new Governor("api", "sk-test", {}, { store: new MemoryRateLimitStore(), tiers: { submission: { limit: 1, windowMs: 1_000 } } });
    const take = () => Promise.resolve(memory.acquire("submission", "https://api.example", limits()));
    await take();
    let thirdWindow: number | undefined;
    const second = take().then((ticket) => {
      void take().then((third) => (thirdWindow = third.window));
      return ticket;
    });
    await pass(1_100);
    expect((await second).window).toBe(2);
    await pass(1_100);
    expect(thirdWindow).toBe(3);
  });
});
