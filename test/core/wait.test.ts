import { describe, expect, it } from "vitest";
import { InvalidArgumentError, TimeoutError } from "../../src/core/errors.js";
import { ATTEMPT_TIMEOUT } from "../../src/core/retry.js";
import { WaitWindow, renamedOption, waitOption } from "../../src/core/wait.js";

const T0 = 1_000_000;

describe("WaitWindow", () => {
  it("sleeps the interval asked for while it fits", () => {
    const window = new WaitWindow(800, undefined, T0);
    window.polled(T0, 1, T0 + 5);
    expect(window.nextSleep(200, undefined, T0 + 5)).toBe(200);
  });

  it("shortens the last sleep to end with the waitTimeout, so that one last poll goes out then", () => {
    const window = new WaitWindow(800, undefined, T0);
    window.polled(T0, 1, T0 + 5);
    expect(window.nextSleep(1_000, undefined, T0 + 5)).toBe(795);
  });

  it("is over once the waitTimeout is spent, and not before", () => {
    const window = new WaitWindow(800, undefined, T0);
    expect(window.nextSleep(1_000, undefined, T0 + 799)).toBe(1);
    expect(window.nextSleep(1_000, undefined, T0 + 800)).toBeUndefined();
  });

  it("gives up at once when the server's Retry-After reaches past the end", () => {
    const window = new WaitWindow(5_000, undefined, T0);
    expect(window.nextSleep(10, 30_000, T0 + 5)).toBeUndefined();
    expect(window.nextSleep(10, 300, T0 + 5)).toBe(300);
  });

  it("leaves the last poll the slowest one-request poll's time when the deadline ends the wait", () => {
    const window = new WaitWindow(60_000, 1_000, T0);
    expect(window.boundBy).toBe("deadline");
    window.polled(T0, 1, T0 + 40);
    // A poll that was retried inside (3 requests, 800 ms) says nothing of how long an answer takes.
    window.polled(T0 + 40, 3, T0 + 840);
    expect(window.nextSleep(5_000, undefined, T0 + 840)).toBe(1_000 - 840 - 40);
    expect(window.pollDeadline(T0 + 840)).toBe(160);
    expect(window.nextSleep(5_000, undefined, T0 + 960)).toBeUndefined();
  });

  it("sends polls without a deadline of their own when only waitTimeout bounds the wait", () => {
    expect(new WaitWindow(800, undefined, T0).pollDeadline(T0 + 10)).toBeUndefined();
    expect(new WaitWindow(800, 5_000, T0).pollDeadline(T0 + 10)).toBe(4_990);
  });

  it("gives the first sleep at most half the wait", () => {
    const window = new WaitWindow(800, undefined, T0);
    expect(window.firstSleep(1_000, T0)).toBe(400);
    expect(window.firstSleep(100, T0)).toBe(100);
  });

  it("counts polls and the requests they sent, and says so with the limit that ended the wait", () => {
    const window = new WaitWindow(800, 5_000, T0);
    window.polled(T0, 1, T0 + 3);
    window.polled(T0 + 400, 2, T0 + 410);
    expect([window.polls, window.requests]).toEqual([2, 3]);
    expect(window.describe(T0 + 812)).toBe("812 ms (2 polls; waitTimeout 800 ms)");
    const one = new WaitWindow(60_000, 150, T0);
    one.polled(T0, 1, T0 + 150);
    expect(one.describe(T0 + 151)).toBe("151 ms (1 poll; deadline 150 ms)");
  });

  it("tells the deadline running out from a poll's own attempt timing out", () => {
    const window = new WaitWindow(60_000, 150, T0);
    const byDeadline = new TimeoutError("ran past its deadline");
    const byAttempt = Object.defineProperty(new TimeoutError("no response within 100 ms"), ATTEMPT_TIMEOUT, { value: true });
    expect(window.endedBy(byDeadline)).toBe(true);
    expect(window.endedBy(byAttempt)).toBe(false);
    expect(new WaitWindow(60_000, undefined, T0).endedBy(byDeadline)).toBe(false);
  });
});

describe("waitOption and renamedOption", () => {
  it("takes the fallback for a missing value and refuses what is not a finite number in range", () => {
    expect(waitOption("pollInterval", undefined, 1_000)).toBe(1_000);
    expect(waitOption("pollInterval", 0, 1_000)).toBe(0);
    expect(() => waitOption("waitTimeout", 0, 1, Number.MIN_VALUE)).toThrow("Invalid option waitTimeout: expected a positive, finite number of milliseconds, got 0");
    expect(() => waitOption("pollInterval", "5s", 1)).toThrow('Invalid option pollInterval: expected 0 or a positive, finite number of milliseconds, got "5s"');
    expect(() => waitOption("pollInterval", { ms: 5 }, 1)).toThrow("got an object");
  });

  it("takes the new name, else the deprecated one, and refuses both at once", () => {
    const names = { current: "waitTimeout", deprecated: "timeout" };
    expect(renamedOption(5, undefined, names)).toBe(5);
    expect(renamedOption(undefined, 7, names)).toBe(7);
    expect(renamedOption(undefined, undefined, names)).toBeUndefined();
    expect(() => renamedOption(5, 7, names)).toThrow(InvalidArgumentError);
  });
});
