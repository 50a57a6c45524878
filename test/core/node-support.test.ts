import { describe, expect, it } from "vitest";
import { unsupportedNode } from "../../src/core/node-support.js";

describe("unsupportedNode", () => {
  it.each(["22.19.0", "22.19.1", "22.20.0", "23.0.0", "24.9.0", "v25.1.0", "100.0.0"])("lets Node %s run faultline", (version) => {
    expect(unsupportedNode(version)).toBeUndefined();
  });

  it.each(["22.18.9", "22.0.0", "20.20.2", "18.20.4", "v21.7.3", "0.10.48"])("says Node %s is too old, and which it is", (version) => {
    expect(unsupportedNode(version)).toBe(`faultline needs Node >= 22.19; this is ${version.replace(/^v/, "")}`);
  });

  it("lets a runtime whose version does not read as major.minor try", () => {
    expect(unsupportedNode(undefined)).toBeUndefined();
    expect(unsupportedNode("")).toBeUndefined();
    expect(unsupportedNode("bun")).toBeUndefined();
  });

  it("passes the Node running this suite", () => {
    expect(unsupportedNode()).toBeUndefined();
  });
});
