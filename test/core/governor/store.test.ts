/**
 * The tier rules every store follows, on the in-process store with a clock moved by hand.
 */
import { describe } from "vitest";
import { MemoryRateLimitStore } from "../../../src/core/governor/store.js";
import { tierRules } from "./tier-rules.js";

describe("the in-process rate-limit store", () => {
  tierRules((policy) => {
    let now = 1_000_000;
    const store = new MemoryRateLimitStore(() => now);
    return {
      take: () => store.take("k", policy),
      observe: (o) => store.observe("k", policy, o),
      advance: (ms) => {
        now += ms;
      },
    };
  });
});
