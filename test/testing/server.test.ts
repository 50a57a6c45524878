import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/testing/clock.js";
import { ROBOFLOW_EMULATOR_KEY, ROBOFLOW_HTML_502 } from "../../src/testing/roboflow/app.js";
import { startEmulator, type Emulator } from "../../src/testing/server.js";

const open: Emulator[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((emu) => emu.close()));
});

async function emulator(options: Parameters<typeof startEmulator>[0]): Promise<Emulator> {
  const emu = await startEmulator(options as never);
  open.push(emu);
  return emu;
}

describe("startEmulator's request log and faults", () => {
  it("logs a request held by slowHeaders as soon as it arrives, without a status", async () => {
    const emu = await emulator({ api: "anyformat", slowHeadersMs: 5_000 });
    emu.inject("slowHeaders");
    const pending = request(`${emu.url}/health/`, { headersTimeout: 200 }).catch((error: unknown) => error);
    await expect(pending).resolves.toBeInstanceOf(Error);
    expect(emu.requests).toHaveLength(1);
    expect(emu.requests[0]).toMatchObject({ path: "/health/", fault: "slowHeaders", status: undefined });
  });

  it("gives a held request its status when the hold ends with an answer", async () => {
    const emu = await emulator({ api: "anyformat", slowHeadersMs: 50 });
    emu.inject("slowHeaders");
    const response = await request(`${emu.url}/health/`);
    await response.body.text();
    expect(emu.requests).toEqual([expect.objectContaining({ fault: "slowHeaders", status: 200 })]);
  });

  it("stamps each entry with the emulator's clock", async () => {
    const clock = new ManualClock(1_000);
    const emu = await emulator({ api: "anyformat", clock });
    await (await request(`${emu.url}/health/`)).body.text();
    clock.advance(500);
    await (await request(`${emu.url}/health/`)).body.text();
    expect(emu.requests.map((r) => r.at)).toEqual([1_000, 1_500]);
  });

  it("answers Roboflow's htmlBadGateway with Roboflow's own proxy page", async () => {
    const emu = await emulator({ api: "roboflow" });
    emu.inject("htmlBadGateway");
    const response = await request(`${emu.url}/acme?api_key=${ROBOFLOW_EMULATOR_KEY}`);
    expect(response.statusCode).toBe(502);
    expect(await response.body.text()).toBe(ROBOFLOW_HTML_502);
  });
});
