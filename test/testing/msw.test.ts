/**
 * `createMswHandlers` with msw 3, set up exactly as its documentation says: msw's `setupServer` does not
 * see undici's `request()`, which faultline sends through, so the handlers go into a network of
 * `defineNetwork` (from `msw/experimental`) whose source is the socket-level `HttpRequestInterceptor`
 * (from `@mswjs/interceptors/http`). Written only against public entry points, as a user would.
 */
import { HttpRequestInterceptor } from "@mswjs/interceptors/http";
import { defineNetwork, InterceptorSource } from "msw/experimental";
import { setupServer } from "msw/node";
import { afterAll, beforeAll, beforeEach, describe, expect, test, vi } from "vitest";
import { Anyformat, ConnectionError, NotFoundError, Roboflow } from "faultline";
import { ANYFORMAT_EMULATOR_KEY, ROBOFLOW_EMULATOR_KEY, ROBOFLOW_EMULATOR_WORKSPACE } from "faultline/testing";
import { createMswHandlers } from "faultline/testing/msw";

const UNKNOWN_WORKFLOW = "00000000-0000-4000-8000-000000000000";

describe("msw handlers on a defineNetwork with the HttpRequestInterceptor", () => {
  const network = defineNetwork({
    sources: [new InterceptorSource({ interceptors: [new HttpRequestInterceptor()] })],
    // Anything no handler matches fails instead of going out to the real network.
    onUnhandledFrame: "error",
    context: { quiet: true },
  });
  /** Every request the network answered from a handler. */
  const mocked: string[] = [];
  network.events.on("response:mocked", ({ request, response }) => {
    mocked.push(`${request.method} ${request.url} ${response.status}`);
  });

  beforeAll(async () => {
    network.resetHandlers(
      ...(await createMswHandlers({ api: "anyformat" })),
      ...(await createMswHandlers({ api: "roboflow" })),
    );
    await network.enable();
  });
  afterAll(async () => {
    await network.disable();
  });
  beforeEach(() => {
    mocked.length = 0;
  });

  test("an Anyformat client on its default base URL creates a workflow and gets a NotFoundError for an unknown one", async () => {
    const af = new Anyformat({ apiKey: ANYFORMAT_EMULATOR_KEY, maxRetries: 0 });
    try {
      const workflow = await af.workflows.create({
        name: "Invoices",
        fields: [{ name: "total", description: "The invoice total", data_type: "float" }],
      });
      expect(workflow).toMatchObject({ name: "Invoices", fields: [{ name: "total", data_type: "float" }] });
      await expect(af.workflows.get(workflow.id)).resolves.toMatchObject({ id: workflow.id });

      const error = await af.workflows.get(UNKNOWN_WORKFLOW).then(
        () => expect.unreachable("an unknown workflow should not be found"),
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(NotFoundError);
      expect(error).toMatchObject({ status: 404, code: "NOT_FOUND", url: `https://api.anyformat.ai/v2/workflows/${UNKNOWN_WORKFLOW}/` });
    } finally {
      await af.close();
    }
    // All three came from the handlers: none went out to api.anyformat.ai.
    expect(mocked).toEqual([
      "POST https://api.anyformat.ai/v2/workflows/ 201",
      expect.stringMatching(/^GET https:\/\/api\.anyformat\.ai\/v2\/workflows\/[0-9a-f-]{36}\/ 200$/),
      `GET https://api.anyformat.ai/v2/workflows/${UNKNOWN_WORKFLOW}/ 404`,
    ]);
  });

  test("a Roboflow client on its default base URL lists the emulated workspace's projects", async () => {
    const rf = new Roboflow({ apiKey: ROBOFLOW_EMULATOR_KEY, workspace: ROBOFLOW_EMULATOR_WORKSPACE, maxRetries: 0 });
    try {
      const projects = await rf.projects.list();
      expect(projects.map((p) => p.id)).toContain(`${ROBOFLOW_EMULATOR_WORKSPACE}/widgets`);
    } finally {
      await rf.close();
    }
    expect(mocked).toEqual([`GET https://api.roboflow.com/${ROBOFLOW_EMULATOR_WORKSPACE}?api_key=${ROBOFLOW_EMULATOR_KEY} 200`]);
  });

  test("a Roboflow client reaches the emulated deployments service on its default URL too", async () => {
    const rf = new Roboflow({ apiKey: ROBOFLOW_EMULATOR_KEY, workspace: ROBOFLOW_EMULATOR_WORKSPACE, maxRetries: 0 });
    try {
      const machines = await rf.deployments.machineTypes();
      expect(machines.length).toBeGreaterThan(0);
      await expect(rf.deployments.list()).resolves.toEqual([]);
    } finally {
      await rf.close();
    }
    expect(mocked.map((line) => line.replace(/\?.*? /, " "))).toEqual([
      "GET https://roboflow.cloud/machine_types 200",
      "GET https://roboflow.cloud/list 200",
    ]);
  });

  test("a Roboflow client runs a model and a Workflow on the emulated inference host at its default URL", async () => {
    const rf = new Roboflow({ apiKey: ROBOFLOW_EMULATOR_KEY, workspace: ROBOFLOW_EMULATOR_WORKSPACE, maxRetries: 0 });
    const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xd9]);
    try {
      await expect(rf.models.predict("gadgets/1", jpeg)).resolves.toMatchObject({ kind: "classification" });
      await expect(rf.workflows.run("detect-widgets", { image: { file: jpeg } })).resolves.toMatchObject({ outputs: [{}] });
    } finally {
      await rf.close();
    }
    expect(mocked.map((line) => line.replace(/\?.*? /, " "))).toEqual([
      "POST https://serverless.roboflow.com/gadgets/1 200",
      `POST https://serverless.roboflow.com/${ROBOFLOW_EMULATOR_WORKSPACE}/workflows/detect-widgets 200`,
    ]);
  });

  test("a request no handler matches fails with a ConnectionError instead of reaching the network", async () => {
    const complaints: string[] = [];
    const spy = vi.spyOn(console, "error").mockImplementation((message: unknown) => void complaints.push(String(message)));
    const af = new Anyformat({ apiKey: ANYFORMAT_EMULATOR_KEY, baseUrl: "https://elsewhere.example", maxRetries: 0 });
    try {
      await expect(af.workflows.list()).rejects.toBeInstanceOf(ConnectionError);
    } finally {
      await af.close();
      spy.mockRestore();
    }
    expect(mocked).toEqual([]);
    expect(complaints.join("\n")).toContain("GET https://elsewhere.example/v2/workflows/");
  });
});

describe("msw handlers for a base URL with a path", () => {
  const network = defineNetwork({
    sources: [new InterceptorSource({ interceptors: [new HttpRequestInterceptor()] })],
    onUnhandledFrame: "error",
    context: { quiet: true },
  });
  afterAll(async () => {
    await network.disable();
  });

  test("answer the API below that path, as behind a gateway", async () => {
    const baseUrl = "https://gateway.example/anyformat/";
    network.resetHandlers(...(await createMswHandlers({ api: "anyformat", baseUrl })));
    await network.enable();
    const af = new Anyformat({ apiKey: ANYFORMAT_EMULATOR_KEY, baseUrl, maxRetries: 0 });
    try {
      await expect(af.workflows.list()).resolves.toMatchObject({ count: 0 });
      await expect(af.workflows.get(UNKNOWN_WORKFLOW)).rejects.toBeInstanceOf(NotFoundError);
    } finally {
      await af.close();
    }
  });
});

describe("msw's setupServer", () => {
  test("does not see faultline's requests, which is why the handlers need the network above", async () => {
    const server = setupServer(...(await createMswHandlers({ api: "anyformat", baseUrl: "http://anyformat.invalid" })));
    server.listen({ onUnhandledFrame: "error" });
    const af = new Anyformat({ apiKey: ANYFORMAT_EMULATOR_KEY, baseUrl: "http://anyformat.invalid", maxRetries: 0 });
    try {
      // undici's request() goes past setupServer's interceptors to a DNS lookup that fails.
      await expect(af.workflows.list()).rejects.toBeInstanceOf(ConnectionError);
    } finally {
      await af.close();
      server.close();
    }
  });
});
