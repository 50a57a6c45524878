import { createServer } from "node:net";
import { MockAgent } from "undici";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  AccessDeniedError,
  ApiError,
  AuthFailedError,
  BadRequestError,
  ConnectionError,
  CredentialsError,
  FaultlineError,
  InvalidArgumentError,
  LockedError,
  NotFoundError,
  RateLimitedError,
  ServerError,
} from "../../src/core/errors.js";
import { Roboflow } from "../../src/roboflow/client.js";
import { ROBOFLOW_SCOPELESS_KEY } from "../../src/testing/roboflow/app.js";
import { KEY, expectMasked, failure, setup } from "./support.js";

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("Roboflow client: credentials", () => {
  it("throws CredentialsError for a missing key and sends no request", async () => {
    vi.stubEnv("ROBOFLOW_API_KEY", "");
    const { emu, rf } = await setup({ apiKey: undefined });
    const error = await failure(rf.projects.list());
    expect(error).toBeInstanceOf(CredentialsError);
    expect((error as CredentialsError).code).toBe("MISSING_CREDENTIALS");
    expect((error as CredentialsError).hint).toMatch(/ROBOFLOW_API_KEY/);
    expect(emu.requests.length).toBe(0);
  });

  it("throws CredentialsError for a missing key on the deployments service too, and sends no request", async () => {
    vi.stubEnv("ROBOFLOW_API_KEY", "");
    const { emu, rf } = await setup({ apiKey: undefined });
    expect(await failure(rf.deployments.list())).toBeInstanceOf(CredentialsError);
    expect(await failure(rf.deployments.pause("dev"))).toBeInstanceOf(CredentialsError);
    expect(emu.requests.length).toBe(0);
  });

  it("throws CredentialsError saying no workspace is selected when neither the call nor the client names one", async () => {
    vi.stubEnv("ROBOFLOW_WORKSPACE", "");
    const { emu, rf } = await setup({ workspace: undefined });
    for (const call of [
      () => rf.workspace.get(),
      () => rf.projects.list(),
      () => rf.projects.get("widgets"),
      () => rf.versions.export("widgets", 1, "coco"),
      () => rf.trash.list(),
      () => rf.workflows.list(),
    ]) {
      const error = await failure(call());
      expect(error).toBeInstanceOf(CredentialsError);
      expect((error as CredentialsError).message).toMatch(/no workspace selected/i);
      expect((error as CredentialsError).hint).toMatch(/workspace/);
    }
    expect(emu.requests.length).toBe(0);
  });

  it("needs no default workspace when the call names one, as an argument or as ws/project", async () => {
    vi.stubEnv("ROBOFLOW_WORKSPACE", "");
    const { rf } = await setup({ workspace: undefined });
    expect((await rf.workspace.get("acme")).url).toBe("acme");
    expect((await rf.projects.get("acme/widgets")).project.id).toBe("acme/widgets");
  });

  it("reads the key, workspace and base URL from the environment", async () => {
    const { emu } = await setup();
    vi.stubEnv("ROBOFLOW_API_KEY", KEY);
    vi.stubEnv("ROBOFLOW_WORKSPACE", "acme");
    vi.stubEnv("ROBOFLOW_BASE_URL", emu.url);
    const rf = new Roboflow();
    try {
      expect(rf.baseUrl).toBe(emu.url);
      expect(rf.defaultWorkspace).toBe("acme");
      expect((await rf.workspace.get()).url).toBe("acme");
    } finally {
      await rf.close();
    }
  });

  it("defaults to api.roboflow.com and roboflow.cloud", () => {
    vi.stubEnv("ROBOFLOW_BASE_URL", "");
    vi.stubEnv("ROBOFLOW_DEPLOYMENTS_URL", "");
    const rf = new Roboflow({ apiKey: "k" });
    expect(rf.baseUrl).toBe("https://api.roboflow.com");
    expect(rf.deploymentsUrl).toBe("https://roboflow.cloud");
  });

  it("never hands the key to its logger", async () => {
    const lines: string[] = [];
    const logger = { debug: (message: string, fields?: Record<string, unknown>) => lines.push(message + JSON.stringify(fields ?? {})) };
    const { emu, rf } = await setup({ logger, maxRetries: 1 });
    emu.inject("serverError");
    await rf.projects.list();
    await failure(rf.projects.get("nope"));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).not.toContain(KEY);
    expect(lines.join("\n")).toContain("api_key=***");
  });

  it("sends the key as the api_key query parameter", async () => {
    const { emu, rf } = await setup();
    await rf.projects.list();
    expect(emu.requests).toHaveLength(1);
    expect(emu.requests[0]?.query).toContain("api_key=***");
  });
});

describe("Roboflow client: where its three services live", () => {
  const clear = (): void => {
    vi.stubEnv("ROBOFLOW_BASE_URL", "");
    vi.stubEnv("ROBOFLOW_DEPLOYMENTS_URL", "");
    vi.stubEnv("ROBOFLOW_INFERENCE_URL", "");
  };

  it("uses Roboflow's own three hosts by default, and with Roboflow's own baseUrl however it is written", () => {
    clear();
    for (const baseUrl of [undefined, "https://api.roboflow.com", "https://api.roboflow.com/"]) {
      const rf = new Roboflow({ apiKey: "k", baseUrl });
      expect([rf.deploymentsUrl, rf.inferenceUrl]).toEqual(["https://roboflow.cloud", "https://serverless.roboflow.com"]);
    }
  });

  it("derives the other two from any other baseUrl (an emulator, a proxy), so nothing goes to a real host unasked", () => {
    clear();
    const local = new Roboflow({ apiKey: "k", baseUrl: "http://127.0.0.1:4010/" });
    expect([local.deploymentsUrl, local.inferenceUrl]).toEqual(["http://127.0.0.1:4010/deployments", "http://127.0.0.1:4010/inference"]);
    vi.stubEnv("ROBOFLOW_BASE_URL", "https://roboflow-proxy.internal/api");
    const proxied = new Roboflow({ apiKey: "k" });
    expect([proxied.deploymentsUrl, proxied.inferenceUrl]).toEqual([
      "https://roboflow-proxy.internal/api/deployments",
      "https://roboflow-proxy.internal/api/inference",
    ]);
  });

  it("takes each URL given, as an option or from the environment, over the derived one", () => {
    clear();
    vi.stubEnv("ROBOFLOW_INFERENCE_URL", "http://localhost:9001");
    const rf = new Roboflow({ apiKey: "k", baseUrl: "http://127.0.0.1:4010", deploymentsUrl: "https://deploy.example.com" });
    expect([rf.deploymentsUrl, rf.inferenceUrl]).toEqual(["https://deploy.example.com", "http://localhost:9001"]);
    const given = new Roboflow({ apiKey: "k", inferenceUrl: "https://detect.roboflow.com" });
    expect(given.inferenceUrl).toBe("https://detect.roboflow.com");
  });

  it("refuses a service URL that is not an absolute http(s) URL, naming the option or variable it came from", () => {
    clear();
    expect(() => new Roboflow({ apiKey: "k", inferenceUrl: "serverless.roboflow.com" })).toThrow(/Invalid option inferenceUrl/);
    expect(() => new Roboflow({ apiKey: "k", deploymentsUrl: "https://roboflow.cloud/?x=1" })).toThrow(/Invalid option deploymentsUrl/);
    vi.stubEnv("ROBOFLOW_INFERENCE_URL", "ftp://models.example.com");
    expect(() => new Roboflow({ apiKey: "k" })).toThrow(/Invalid option ROBOFLOW_INFERENCE_URL/);
    expect(() => new Roboflow({ apiKey: "k", inferenceUrl: "not a url" })).toThrow(InvalidArgumentError);
  });

  it("reaches every service of an emulator given only its baseUrl", async () => {
    clear();
    const { emu } = await setup();
    const rf = new Roboflow({ apiKey: KEY, workspace: "acme", baseUrl: emu.url });
    try {
      await rf.deployments.list();
      await rf.models.predict("gadgets/1", new Uint8Array([0xff, 0xd8, 0xff, 0xd9]));
      await rf.projects.list();
      expect(emu.requests.map((r) => `${r.path} ${r.status}`)).toEqual(["/deployments/list 200", "/inference/gadgets/1 200", "/acme 200"]);
    } finally {
      await rf.close();
    }
  });

  it("sends thresholds as percentages to the first hosted API's hosts, which read only those", async () => {
    // The rule hangs on the host name, so the request is answered by undici's MockAgent at that name.
    const agent = new MockAgent();
    agent.disableNetConnect();
    const paths: string[] = [];
    agent
      .get("https://detect.roboflow.com")
      .intercept({ path: (path) => (paths.push(path), path.startsWith("/widgets/2?")), method: "POST" })
      .reply(200, { predictions: [], image: { width: 1, height: 1 } });
    const rf = new Roboflow({ apiKey: KEY, inferenceUrl: "https://detect.roboflow.com", dispatcher: agent });
    try {
      await rf.models.predict("widgets/2", new Uint8Array([0xff, 0xd8, 0xff]), { confidence: 0.45, overlap: 0.3 });
      const query = new URLSearchParams(paths[0]?.split("?")[1]);
      expect([query.get("confidence"), query.get("overlap")]).toEqual(["45", "30"]);
    } finally {
      await rf.close();
      await agent.close();
    }
  });
});

describe("Roboflow client: error forms", () => {
  it("throws AuthFailedError for an invalid key, without retrying, and masks the key", async () => {
    const { emu, rf } = await setup({ apiKey: "rf-wrong-key-1234" });
    const error = await failure(rf.projects.list());
    expect(error).toBeInstanceOf(AuthFailedError);
    expect((error as AuthFailedError).status).toBe(401);
    expect((error as AuthFailedError).service).toBe("api");
    expect(emu.requests).toHaveLength(1);
    expectMasked(error, "rf-wrong-key-1234");
    expect((error as AuthFailedError).url).toContain("api_key=***");
  });

  it("throws AccessDeniedError for a workspace the key cannot see", async () => {
    const { emu, rf } = await setup();
    const error = await failure(rf.workspace.get("other"));
    expect(error).toBeInstanceOf(AccessDeniedError);
    expect((error as AccessDeniedError).code).toBe("ACCESS_DENIED");
    expect(emu.requests).toHaveLength(1);
    expectMasked(error);
  });

  it("throws NotFoundError for a project that does not exist", async () => {
    const { emu, rf } = await setup();
    const error = await failure(rf.projects.get("nope"));
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).status).toBe(404);
    expect((error as NotFoundError).message.length).toBeGreaterThan(0);
    expect(emu.requests).toHaveLength(1);
    expectMasked(error);
  });

  it("throws NotFoundError with type GraphMethodException and a hint for a key that lacks the scope", async () => {
    const { emu, rf } = await setup({ apiKey: ROBOFLOW_SCOPELESS_KEY });
    const error = await failure(rf.projects.list());
    expect(error).toBeInstanceOf(NotFoundError);
    const e = error as NotFoundError;
    expect(e.type).toBe("GraphMethodException");
    expect(e.hint).toMatch(/workspaces/);
    expect(e.retryable).toBe(false);
    expect(emu.requests).toHaveLength(1);
    expectMasked(error, ROBOFLOW_SCOPELESS_KEY);
  });

  it("throws LockedError for a locked workspace and sends one request", async () => {
    const { emu, rf } = await setup({}, { lockedWorkspaces: ["acme"] });
    const error = await failure(rf.projects.list());
    expect(error).toBeInstanceOf(LockedError);
    expect((error as LockedError).status).toBe(423);
    expect((error as LockedError).retryable).toBe(false);
    expect((error as LockedError).attempts).toBe(1);
    expect(emu.requests).toHaveLength(1);
    expectMasked(error);
  });

  it("throws LockedError once a workspace is locked while in use", async () => {
    const { emu, rf } = await setup();
    await rf.projects.list();
    emu.app.lock("acme");
    expect(await failure(rf.projects.get("widgets"))).toBeInstanceOf(LockedError);
    expect(emu.requests).toHaveLength(2);
  });

  it("retries a 429 and succeeds when the next answer is good", async () => {
    const { emu, rf } = await setup({}, { faultRetryAfterSeconds: 0.02 });
    emu.inject("rateLimit", { count: 1 });
    const retries: number[] = [];
    const projects = await rf.projects.list(undefined, { onRetry: (info) => retries.push(info.attempt) });
    expect(projects.length).toBeGreaterThan(0);
    expect(retries).toEqual([2]);
    expect(emu.requests.map((r) => r.status)).toEqual([429, 200]);
  });

  it("throws RateLimitedError after maxRetries retries of a 429", async () => {
    const { emu, rf } = await setup({ maxRetries: 1 }, { faultRetryAfterSeconds: 0.02 });
    emu.inject("rateLimit", { count: 5 });
    const error = await failure(rf.projects.list());
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBe(20);
    expect((error as RateLimitedError).type).toBe("RateLimitException");
    expect((error as RateLimitedError).attempts).toBe(2);
    expect(emu.requests).toHaveLength(2);
    expectMasked(error);
  });

  it("throws RateLimitedError at once when Retry-After is longer than maxRetryAfter", async () => {
    const { emu, rf } = await setup({ maxRetryAfter: 100 }, { faultRetryAfterSeconds: 30 });
    emu.inject("rateLimit", { count: 5 });
    const error = await failure(rf.projects.list());
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBe(30_000);
    expect(emu.requests).toHaveLength(1);
  });

  it("throws ServerError for a 500 {error: 'Unknown error'} after retrying it", async () => {
    const { emu, rf } = await setup({ maxRetries: 1 });
    emu.inject("serverError", { count: 2 });
    const error = await failure(rf.projects.list());
    expect(error).toBeInstanceOf(ServerError);
    const e = error as ServerError;
    expect(e.status).toBe(500);
    expect(e.code).toBe("INTERNAL_ERROR");
    expect(e.message).toBe("Unknown error");
    expect(e.retryable).toBe(true);
    expect(e.attempts).toBe(2);
    expect(emu.requests).toHaveLength(2);
    expectMasked(error);
  });

  it("throws ServerError for an HTML 502 with the page in body, after retrying it", async () => {
    const { emu, rf } = await setup({ maxRetries: 1 });
    emu.inject("htmlBadGateway", { count: 2 });
    const error = await failure(rf.projects.list());
    expect(error).toBeInstanceOf(ServerError);
    const e = error as ServerError;
    expect(e.status).toBe(502);
    expect(typeof e.body).toBe("string");
    expect(e.body).toContain("502 Bad Gateway");
    expect(e.message).toMatch(/502/);
    expect(emu.requests).toHaveLength(2);
    expectMasked(error);
  });

  it("recovers from one HTML 502 by retrying", async () => {
    const { emu, rf } = await setup();
    emu.inject("htmlBadGateway", { count: 1 });
    expect((await rf.workspace.get()).url).toBe("acme");
    expect(emu.requests.map((r) => r.status)).toEqual([502, 200]);
  });

  it("throws ConnectionError when nothing listens, with the key masked in its URL", async () => {
    const port = await freePort();
    const rf = new Roboflow({ apiKey: KEY, workspace: "acme", baseUrl: `http://127.0.0.1:${port}`, maxRetries: 1 });
    try {
      const error = await failure(rf.projects.list(undefined, { onRetry: () => undefined }));
      expect(error).toBeInstanceOf(ConnectionError);
      expect((error as ConnectionError).code).toBe("CONNECTION_ERROR");
      expect((error as ConnectionError).attempts).toBe(2);
      expect((error as ConnectionError).url).toContain("api_key=***");
      expectMasked(error);
    } finally {
      await rf.close();
    }
  });

  it("makes every failure a FaultlineError with a JSON form that holds no key", async () => {
    const { rf } = await setup({ maxRetries: 0 });
    const errors = await Promise.all([
      failure(rf.projects.get("nope")),
      failure(rf.workspace.get("other")),
      failure(rf.versions.export("widgets", 1, "not-a-format")),
    ]);
    for (const error of errors) {
      expect(error).toBeInstanceOf(FaultlineError);
      expectMasked(error);
    }
    expect(errors[2]).toBeInstanceOf(InvalidArgumentError);
    expect(errors[0]).toBeInstanceOf(ApiError);
  });

  it("throws BadRequestError for a malformed request", async () => {
    const { emu, rf } = await setup();
    const error = await failure(
      rf.versions.generate("widgets", { preprocessing: {} } as unknown as Parameters<typeof rf.versions.generate>[1]),
    );
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).status).toBe(400);
    expect(emu.requests).toHaveLength(1);
    expectMasked(error);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
