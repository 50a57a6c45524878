/**
 * The Redis tests run against a real redis-server (../helpers/redis-server.ts). Where it is not installed
 * they are skipped, loudly, except under CI, where that fails the run.
 */
import { describe, it } from "vitest";
import { REDIS_INSTALLED } from "../helpers/redis-server.js";

export { freePort, startRedis, type RedisServer } from "../helpers/redis-server.js";

const IN_CI = process.env["CI"] === "true";

/**
 * `describe`, when redis-server is installed. Otherwise the suite is skipped with a warning that says how to
 * install it, and under CI=true a failing test stands in its place: CI must run the Redis tests.
 */
export function describeWithRedis(name: string, suite: () => void): void {
  if (!REDIS_INSTALLED) {
    if (IN_CI) {
      describe(name, () => {
        it("needs redis-server, which CI installs (.ci/run)", () => {
          throw new Error("redis-server is not installed: .ci/run installs it with `apt-get install -y redis-server`");
        });
      });
      return;
    }
    console.warn(
      `\n!!! SKIPPED: "${name}" needs a real redis-server, which is not installed here.\n` +
        "!!! Install it (Debian/Ubuntu: `sudo apt-get install -y redis-server`; macOS: `brew install redis`) to run the Redis tests.\n",
    );
  }
  describe.skipIf(!REDIS_INSTALLED)(name, suite);
}
