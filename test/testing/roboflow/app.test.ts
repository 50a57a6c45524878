import { describe, expect, it } from "vitest";
import {
  ROBOFLOW_EMULATOR_KEY,
  ROBOFLOW_EMULATOR_WORKSPACE,
  ROBOFLOW_HTML_502,
  ROBOFLOW_SCOPELESS_KEY,
  createRoboflowApp,
  type RoboflowApp,
  type RoboflowEmulatorOptions,
} from "../../../src/testing/roboflow/app.js";
import type { EmulatorRequest, EmulatorResponse } from "../../../src/testing/types.js";

const KEY = ROBOFLOW_EMULATOR_KEY;
const START = Date.parse("2026-01-01T00:00:00Z");
const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

interface RequestParts {
  /** The api_key query parameter [the emulator key]; `null` sends none. */
  readonly key?: string | null;
  readonly query?: Readonly<Record<string, string>>;
  readonly json?: unknown;
  readonly raw?: string;
}

function request(method: string, path: string, parts: RequestParts = {}): EmulatorRequest {
  const query = new URLSearchParams(parts.query);
  const key = parts.key === undefined ? KEY : parts.key;
  if (key !== null) query.set("api_key", key);
  const text = parts.raw ?? (parts.json === undefined ? "" : JSON.stringify(parts.json));
  const headers: Record<string, string> = text === "" ? {} : { "content-type": "application/json" };
  return { method, path, query, headers, body: new TextEncoder().encode(text) };
}

/** A request to the deployments service: the key in the query of a GET, in the JSON body of a POST. */
function deployment(method: "GET" | "POST", route: string, params: Record<string, unknown> = {}, key: string = KEY): EmulatorRequest {
  const path = `/deployments/${route}`;
  if (method === "GET") {
    const query = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)]));
    return request("GET", path, { key, query });
  }
  return request("POST", path, { key: null, json: { api_key: key, ...params } });
}

function setup(options: RoboflowEmulatorOptions = {}): { app: RoboflowApp; clock: { now: () => number }; advance: (ms: number) => void } {
  let t = START;
  const clock = { now: () => t };
  const app = createRoboflowApp({ clock, ...options });
  return { app, clock, advance: (ms) => (t += ms) };
}

async function call(app: RoboflowApp, req: EmulatorRequest): Promise<EmulatorResponse> {
  return app.handle(req);
}

/** The body as a loose record, for reading fields in assertions. */
function body(response: EmulatorResponse): Record<string, any> {
  return response.json as Record<string, any>;
}

const DEPLOY = { deployment_name: "dev", machine_type: "dev-gpu", creator_email: "ops@acme.io", duration: 2 };

describe("Roboflow emulator: keys and workspaces", () => {
  it("answers 401 OAuthException with a hint when no api_key is sent", async () => {
    const { app } = setup();
    const res = await call(app, request("GET", "/acme", { key: null }));
    expect(res.status).toBe(401);
    expect(res.json).toEqual({
      error: {
        message: "This API key does not exist (or has been revoked).",
        status: 401,
        type: "OAuthException",
        hint: "You may retrieve your API key via the Roboflow Dashboard. Go to Account > Roboflow Keys to retrieve yours.",
      },
    });
  });

  it("answers 401 for an unknown key, even on POST /", async () => {
    const { app } = setup();
    expect((await call(app, request("GET", "/acme", { key: "rf-nope" }))).status).toBe(401);
    expect((await call(app, request("POST", "/", { key: "rf-nope" }))).status).toBe(401);
  });

  it("validates a key with POST / and names the key's workspace", async () => {
    const { app } = setup();
    const res = await call(app, request("POST", "/"));
    expect(res.status).toBe(200);
    expect(body(res)).toMatchObject({ workspace: "acme" });
    expect(Object.keys(body(res)).sort()).toEqual(["docs", "instructions", "welcome", "workspace"]);
  });

  it("accepts the scopeless key on POST / only, answering 404 GraphMethodException everywhere else", async () => {
    const { app } = setup();
    expect((await call(app, request("POST", "/", { key: ROBOFLOW_SCOPELESS_KEY }))).status).toBe(200);
    for (const [method, path] of [
      ["GET", "/acme"],
      ["GET", "/acme/widgets"],
      ["GET", "/acme/widgets/1/coco"],
      ["GET", "/acme/trash"],
      ["POST", "/acme/projects"],
      ["DELETE", "/acme/widgets"],
    ] as const) {
      const res = await call(app, request(method, path, { key: ROBOFLOW_SCOPELESS_KEY }));
      expect(res.status).toBe(404);
      expect(body(res)["error"]).toEqual({
        message: `Unsupported ${method.toLowerCase()} request. Object with ID 'acme' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
        status: 404,
        type: "GraphMethodException",
        hint: "You can see your available workspaces by issuing a GET request to /workspaces",
      });
    }
    expect(app.projects.get("widgets")?.deletedAt).toBeUndefined();
  });

  it("answers 403 ForbiddenException for the workspace the key cannot access", async () => {
    const { app } = setup();
    const res = await call(app, request("GET", "/other"));
    expect(res.status).toBe(403);
    expect(body(res)["error"]).toMatchObject({ status: 403, type: "ForbiddenException" });
    expect((await call(app, request("GET", "/other/widgets"))).status).toBe(403);
  });

  it("answers 403 in the flat Trash form for the Trash of a workspace the key cannot access", async () => {
    const { app } = setup();
    const res = await call(app, request("GET", "/other/trash"));
    expect(res).toMatchObject({ status: 403, json: { error: "Not authorized to view trash" } });
  });

  it("answers 404 GraphMethodException with the hint for an unknown workspace or project", async () => {
    const { app } = setup();
    for (const path of ["/nowhere", "/acme/nope", "/acme/nope/1"]) {
      const res = await call(app, request("GET", path));
      expect(res.status).toBe(404);
      expect(body(res)["error"]).toMatchObject({ status: 404, type: "GraphMethodException", hint: expect.stringMatching(/workspaces/) });
    }
  });

  it("answers 404 for an unknown route or a method a path does not support", async () => {
    const { app } = setup();
    expect((await call(app, request("GET", "/acme/widgets/1/coco/extra"))).status).toBe(404);
    expect((await call(app, request("PUT", "/acme/widgets"))).status).toBe(404);
    expect((await call(app, request("GET", "/acme/projects"))).status).toBe(404);
    expect((await call(app, request("GET", "/"))).status).toBe(404);
  });

  it("decodes each path segment, so an encoded name stays one segment and misses", async () => {
    const { app } = setup();
    const res = await call(app, request("GET", "/acme/wid%20gets%3Fx%3D1%23y"));
    expect(res.status).toBe(404);
    expect(body(res)["error"].message).toContain("'acme/wid gets?x=1#y'");
    expect((await call(app, request("GET", "/acme/%E0%A4%A"))).status).toBe(404);
  });

  it("sends no rate-limit headers on a success", async () => {
    const { app } = setup();
    const res = await call(app, request("GET", "/acme"));
    expect(Object.keys(res.headers ?? {})).toEqual([]);
  });
});

describe("Roboflow emulator: locked workspaces", () => {
  it("answers 423 WorkspaceLockedException for a workspace locked from the start", async () => {
    const { app } = setup({ lockedWorkspaces: ["acme"] });
    const res = await call(app, request("GET", "/acme/widgets"));
    expect(res.status).toBe(423);
    expect(body(res)["error"]).toMatchObject({
      message: "Workspace acme is locked: billing is paused. Update your payment method to resume.",
      status: 423,
      type: "WorkspaceLockedException",
      hint: expect.any(String),
    });
  });

  it("answers 423 once a workspace is locked while in use, and 200 again once unlocked", async () => {
    const { app } = setup();
    expect((await call(app, request("GET", "/acme"))).status).toBe(200);
    app.lock("acme");
    expect((await call(app, request("POST", "/acme/widgets/generate", { json: { augmentation: {}, preprocessing: {} } }))).status).toBe(423);
    expect(app.lockedWorkspaces.has("acme")).toBe(true);
    app.unlock("acme");
    expect((await call(app, request("GET", "/acme"))).status).toBe(200);
  });

  it("still validates a key with POST / while its workspace is locked", async () => {
    const { app } = setup({ lockedWorkspaces: ["acme"] });
    expect((await call(app, request("POST", "/"))).status).toBe(200);
  });
});

describe("Roboflow emulator: workspace and projects", () => {
  it("gives the workspace with its projects, ids as ws/proj", async () => {
    const { app } = setup();
    const res = await call(app, request("GET", "/acme"));
    expect(res.status).toBe(200);
    const ws = body(res)["workspace"];
    expect(ws).toMatchObject({ name: "Acme", url: "acme", members: expect.any(Number) });
    expect(ws.projects.map((p: { id: string }) => p.id).sort()).toEqual(["acme/gadgets", "acme/widgets"]);
    const widgets = ws.projects.find((p: { id: string }) => p.id === "acme/widgets");
    expect(widgets).toMatchObject({ type: "object-detection", name: "Widgets", versions: 2, public: false });
    for (const field of ["created", "updated", "images", "unannotated", "annotation", "splits", "classes"]) {
      expect(widgets).toHaveProperty(field);
    }
  });

  it("gives a project with its versions", async () => {
    const { app } = setup();
    const res = await call(app, request("GET", "/acme/widgets"));
    expect(res.status).toBe(200);
    expect(body(res)["workspace"]).toMatchObject({ url: "acme" });
    expect(body(res)["project"]).toMatchObject({ id: "acme/widgets" });
    const versions = body(res)["versions"];
    expect(versions.map((v: { id: string }) => v.id)).toEqual(["acme/widgets/1", "acme/widgets/2"]);
    for (const field of ["name", "created", "images", "splits", "preprocessing", "augmentation", "exports"]) {
      expect(versions[0]).toHaveProperty(field);
    }
    const gadgets = await call(app, request("GET", "/acme/gadgets"));
    expect(body(gadgets)["project"]).toMatchObject({ type: "classification", versions: 1 });
  });

  it("creates a project that can then be fetched and is listed", async () => {
    const { app } = setup();
    const res = await call(app, request("POST", "/acme/projects", { json: { name: "Bolts", type: "object-detection", license: "MIT", annotation: "bolts" } }));
    expect(res.status).toBe(200);
    expect(body(res)).toMatchObject({ id: "acme/bolts", name: "Bolts", type: "object-detection", versions: 0 });
    expect((await call(app, request("GET", "/acme/bolts"))).status).toBe(200);
    const list = body(await call(app, request("GET", "/acme")))["workspace"].projects;
    expect(list).toHaveLength(3);
    expect(app.projects.get("bolts")?.license).toBe("MIT");
  });

  it("answers 400 ValidationException creating a project without a name, with a bad type, or with malformed JSON", async () => {
    const { app } = setup();
    for (const req of [
      request("POST", "/acme/projects", { json: { type: "object-detection" } }),
      request("POST", "/acme/projects", { json: { name: "X", type: "shapes" } }),
      request("POST", "/acme/projects", { json: { name: "X" } }),
      request("POST", "/acme/projects", { raw: "{name: 'X'" }),
      request("POST", "/acme/projects"),
      request("POST", "/acme/projects", { json: { name: "Trash", type: "object-detection" } }),
    ]) {
      const res = await call(app, req);
      expect(res.status).toBe(400);
      expect(body(res)["error"]).toMatchObject({ message: expect.any(String), type: "ValidationException", status: 400 });
    }
    expect(app.projects.size).toBe(2);
  });

  it("answers 409 creating a project whose name is taken, in use or in Trash", async () => {
    const { app } = setup();
    const taken = await call(app, request("POST", "/acme/projects", { json: { name: "Widgets", type: "object-detection" } }));
    expect(taken.status).toBe(409);
    expect(body(taken)["error"]).toMatchObject({ status: 409 });
    await call(app, request("DELETE", "/acme/gadgets"));
    const trashed = await call(app, request("POST", "/acme/projects", { json: { name: "gadgets", type: "classification" } }));
    expect(trashed.status).toBe(409);
    expect(body(trashed)["error"].message).toMatch(/Trash/);
  });

  it("moves a deleted project to Trash, hiding it and its versions until restored", async () => {
    const { app } = setup();
    const res = await call(app, request("DELETE", "/acme/gadgets"));
    expect(res).toMatchObject({ status: 200, json: { success: true } });
    expect((await call(app, request("GET", "/acme/gadgets"))).status).toBe(404);
    expect((await call(app, request("GET", "/acme/gadgets/1"))).status).toBe(404);
    expect((await call(app, request("DELETE", "/acme/gadgets"))).status).toBe(404);
    const list = body(await call(app, request("GET", "/acme")))["workspace"].projects;
    expect(list.map((p: { id: string }) => p.id)).toEqual(["acme/widgets"]);
    expect(app.trash).toEqual([expect.objectContaining({ type: "project", id: "gadgets", parentId: null })]);
  });

  it("answers 404 deleting a project that does not exist", async () => {
    const { app } = setup();
    expect((await call(app, request("DELETE", "/acme/nope"))).status).toBe(404);
  });
});

describe("Roboflow emulator: versions", () => {
  it("gives a version with its generation state, exports, models and classes", async () => {
    const { app } = setup();
    const res = await call(app, request("GET", "/acme/widgets/2"));
    expect(res.status).toBe(200);
    expect(body(res)["workspace"]).toMatchObject({ url: "acme" });
    expect(body(res)["project"]).toMatchObject({ id: "acme/widgets" });
    expect(body(res)["version"]).toMatchObject({ id: "acme/widgets/2", generating: false, progress: 1, exports: [] });
    expect(body(res)["version"]).toHaveProperty("models");
    expect(body(res)["version"]["classes"]).toMatchObject({ widget: expect.any(Number) });
  });

  it("answers 404 for a version that does not exist or is not a number", async () => {
    const { app } = setup();
    for (const path of ["/acme/widgets/99", "/acme/widgets/two", "/acme/widgets/0", "/acme/widgets/01"]) {
      expect((await call(app, request("GET", path))).status).toBe(404);
    }
  });

  it("generates the next version, which reports generating until exportMs has passed", async () => {
    const { app, advance } = setup({ exportMs: 1000 });
    const res = await call(
      app,
      request("POST", "/acme/widgets/generate", { json: { augmentation: { flip: { horizontal: true } }, preprocessing: { resize: { width: 416, height: 416 } } } }),
    );
    expect(res.status).toBe(200);
    expect(body(res)).toMatchObject({ message: expect.any(String), version: 3 });
    const during = body(await call(app, request("GET", "/acme/widgets/3")))["version"];
    expect(during).toMatchObject({ id: "acme/widgets/3", name: "augmented-416x416", generating: true, progress: 0 });
    advance(500);
    expect(body(await call(app, request("GET", "/acme/widgets/3")))["version"]["progress"]).toBe(0.5);
    advance(500);
    expect(body(await call(app, request("GET", "/acme/widgets/3")))["version"]).toMatchObject({ generating: false, progress: 1 });
    expect(body(await call(app, request("GET", "/acme/widgets")))["versions"]).toHaveLength(3);
  });

  it("numbers a generated version past versions in Trash", async () => {
    const { app } = setup();
    await call(app, request("DELETE", "/acme/widgets/2"));
    const res = await call(app, request("POST", "/acme/widgets/generate", { json: { augmentation: {}, preprocessing: {} } }));
    expect(body(res)["version"]).toBe(3);
  });

  it("answers 400 flat when generate lacks augmentation or preprocessing, or its JSON is malformed", async () => {
    const { app } = setup();
    for (const req of [
      request("POST", "/acme/widgets/generate", { json: { preprocessing: {} } }),
      request("POST", "/acme/widgets/generate", { json: { augmentation: {} } }),
      request("POST", "/acme/widgets/generate", { json: { augmentation: [], preprocessing: {} } }),
      request("POST", "/acme/widgets/generate", { raw: "{" }),
      request("POST", "/acme/widgets/generate"),
    ]) {
      const res = await call(app, req);
      expect(res.status).toBe(400);
      expect(typeof body(res)["error"]).toBe("string");
    }
    expect(app.versions.size).toBe(3);
  });

  it("moves a deleted version to Trash with its project as parentId", async () => {
    const { app } = setup();
    expect(await call(app, request("DELETE", "/acme/widgets/2"))).toMatchObject({ status: 200, json: { success: true } });
    expect((await call(app, request("GET", "/acme/widgets/2"))).status).toBe(404);
    expect(body(await call(app, request("GET", "/acme/widgets")))["versions"]).toHaveLength(1);
    expect(app.trash).toEqual([expect.objectContaining({ type: "version", id: "2", parentId: "widgets" })]);
  });
});

describe("Roboflow emulator: exports", () => {
  it("answers 202 with growing progress until exportMs has passed, then 200 with a signed link", async () => {
    const { app, advance } = setup({ exportMs: 1000, baseUrl: "http://127.0.0.1:4010/" });
    const first = await call(app, request("GET", "/acme/widgets/1/coco"));
    expect(first).toMatchObject({ status: 202, json: { progress: 0 } });
    advance(400);
    expect(await call(app, request("GET", "/acme/widgets/1/coco"))).toMatchObject({ status: 202, json: { progress: 0.4 } });
    advance(599);
    const late = await call(app, request("GET", "/acme/widgets/1/coco"));
    expect(late.status).toBe(202);
    expect(body(late)["progress"]).toBeLessThan(1);
    advance(1);
    const ready = await call(app, request("GET", "/acme/widgets/1/coco"));
    expect(ready.status).toBe(200);
    expect(body(ready)["export"]["link"]).toMatch(/^http:\/\/127\.0\.0\.1:4010\/downloads\/acme\/widgets\/1\/coco\.zip\?signature=[0-9a-f]+$/);
    expect(body(await call(app, request("GET", "/acme/widgets/1")))["version"]["exports"]).toEqual(["coco"]);
  });

  it("prepares each format on its own clock", async () => {
    const { app, advance } = setup({ exportMs: 1000 });
    await call(app, request("GET", "/acme/widgets/1/coco"));
    advance(1000);
    expect((await call(app, request("GET", "/acme/widgets/1/coco"))).status).toBe(200);
    expect((await call(app, request("GET", "/acme/widgets/1/yolov8"))).status).toBe(202);
  });

  it("answers 200 at once when exportMs is 0", async () => {
    const { app } = setup({ exportMs: 0 });
    expect((await call(app, request("GET", "/acme/gadgets/1/multiclass"))).status).toBe(200);
  });

  it("answers 400 flat for an unknown format, and knows every documented one", async () => {
    const { app } = setup({ exportMs: 0 });
    const res = await call(app, request("GET", "/acme/widgets/1/yolov99"));
    expect(res.status).toBe(400);
    expect(typeof body(res)["error"]).toBe("string");
    for (const format of ["coco", "yolov5", "yolov7", "yolov8", "yolov9", "yolov11", "voc", "createml", "tfrecord", "darknet", "multiclass", "clip", "png-mask-semantic"]) {
      expect((await call(app, request("GET", `/acme/widgets/1/${format}`))).status).toBe(200);
    }
  });

  it("answers 404 exporting a version that does not exist or is in Trash", async () => {
    const { app } = setup({ exportMs: 0 });
    expect((await call(app, request("GET", "/acme/widgets/42/coco"))).status).toBe(404);
    await call(app, request("DELETE", "/acme/widgets/2"));
    expect((await call(app, request("GET", "/acme/widgets/2/coco"))).status).toBe(404);
  });

  it("serves the signed link as a zip, and refuses a link whose signature was changed", async () => {
    const { app } = setup({ exportMs: 0, baseUrl: "http://emulator" });
    const link = new URL(body(await call(app, request("GET", "/acme/widgets/1/voc")))["export"]["link"]);
    const download = await call(app, { method: "GET", path: link.pathname, query: link.searchParams, headers: {}, body: new Uint8Array() });
    expect(download.status).toBe(200);
    expect(download.headers?.["content-type"]).toBe("application/zip");
    expect(download.text?.startsWith("PK")).toBe(true);
    const forged = new URLSearchParams({ signature: "0".repeat(32) });
    expect((await call(app, { method: "GET", path: link.pathname, query: forged, headers: {}, body: new Uint8Array() })).status).toBe(403);
  });
});

describe("Roboflow emulator: Trash", () => {
  it("lists nothing, with empty sections, in a fresh workspace", async () => {
    const { app } = setup();
    const res = await call(app, request("GET", "/acme/trash"));
    expect(res).toMatchObject({ status: 200, json: { items: [], sections: { projects: [], versions: [], workflows: [] } } });
  });

  it("lists deleted items newest first, each with deletedAt, scheduledCleanupAt 30 days later, and parentId", async () => {
    const { app, advance } = setup();
    await call(app, request("DELETE", "/acme/widgets/1"));
    advance(1000);
    await call(app, request("DELETE", "/acme/workflows/detect-widgets"));
    const res = body(await call(app, request("GET", "/acme/trash")));
    expect(res["items"]).toEqual([
      {
        id: "detect-widgets",
        type: "workflow",
        name: "Detect widgets",
        deletedAt: new Date(START + 1000).toISOString(),
        scheduledCleanupAt: new Date(START + 1000 + 30 * DAY).toISOString(),
        parentId: null,
      },
      expect.objectContaining({ id: "1", type: "version", parentId: "widgets", deletedAt: new Date(START).toISOString() }),
    ]);
    expect(res["sections"]["versions"]).toHaveLength(1);
    expect(res["sections"]["workflows"]).toHaveLength(1);
    expect(res["sections"]["projects"]).toHaveLength(0);
  });

  it("restores a project, a version and a workflow as the Trash list gives them", async () => {
    const { app } = setup();
    await call(app, request("DELETE", "/acme/widgets/2"));
    await call(app, request("DELETE", "/acme/gadgets"));
    await call(app, request("DELETE", "/acme/workflows/detect-widgets"));
    const items = body(await call(app, request("GET", "/acme/trash")))["items"] as Array<Record<string, unknown>>;
    expect(items).toHaveLength(3);
    for (const { type, id, parentId } of items) {
      const json = parentId === null ? { type, id } : { type, id, parentId };
      expect(await call(app, request("POST", "/acme/trash/restore", { json }))).toMatchObject({ status: 200, json: { success: true } });
    }
    expect(app.trash).toEqual([]);
    expect((await call(app, request("GET", "/acme/widgets/2"))).status).toBe(200);
    expect((await call(app, request("GET", "/acme/gadgets/1"))).status).toBe(200);
    expect((await call(app, request("GET", "/acme/workflows/detect-widgets"))).status).toBe(200);
  });

  it("restores a version named by its full id without a parentId", async () => {
    const { app } = setup();
    await call(app, request("DELETE", "/acme/widgets/2"));
    const res = await call(app, request("POST", "/acme/trash/restore", { json: { type: "version", id: "acme/widgets/2" } }));
    expect(res.status).toBe(200);
  });

  it("answers 409 when restoring a version whose project is in Trash", async () => {
    const { app } = setup();
    await call(app, request("DELETE", "/acme/widgets/1"));
    await call(app, request("DELETE", "/acme/widgets"));
    const res = await call(app, request("POST", "/acme/trash/restore", { json: { type: "version", id: "1", parentId: "widgets" } }));
    expect(res.status).toBe(409);
    expect(body(res)["error"]).toMatch(/project widgets is in Trash/);
    expect(app.versions.get("widgets/1")?.deletedAt).toBeDefined();
    await call(app, request("POST", "/acme/trash/restore", { json: { type: "project", id: "widgets" } }));
    const again = await call(app, request("POST", "/acme/trash/restore", { json: { type: "version", id: "1", parentId: "widgets" } }));
    expect(again.status).toBe(200);
  });

  it("answers 404 restoring an item that is not in Trash", async () => {
    const { app } = setup();
    for (const json of [
      { type: "project", id: "widgets" },
      { type: "project", id: "nope" },
      { type: "version", id: "1", parentId: "widgets" },
      { type: "workflow", id: "detect-widgets" },
    ]) {
      const res = await call(app, request("POST", "/acme/trash/restore", { json }));
      expect(res.status).toBe(404);
      expect(typeof body(res)["error"]).toBe("string");
    }
  });

  it("answers 400 restoring with an unknown type, no id, a version without its project, or malformed JSON", async () => {
    const { app } = setup();
    for (const req of [
      request("POST", "/acme/trash/restore", { json: { type: "model", id: "x" } }),
      request("POST", "/acme/trash/restore", { json: { type: "project" } }),
      request("POST", "/acme/trash/restore", { json: { type: "version", id: "1" } }),
      request("POST", "/acme/trash/restore", { raw: "nope" }),
    ]) {
      expect((await call(app, req)).status).toBe(400);
    }
  });

  it("empties Trash for good 30 days after a deletion", async () => {
    const { app, advance } = setup();
    await call(app, request("DELETE", "/acme/gadgets"));
    advance(30 * DAY - 1);
    expect(app.trash).toHaveLength(1);
    advance(1);
    expect(app.trash).toEqual([]);
    expect(app.projects.has("gadgets")).toBe(false);
    const res = await call(app, request("POST", "/acme/trash/restore", { json: { type: "project", id: "gadgets" } }));
    expect(res.status).toBe(404);
  });
});

describe("Roboflow emulator: workflows", () => {
  it("lists the seeded workflow with name, url and status", async () => {
    const { app } = setup();
    const res = await call(app, request("GET", "/acme/workflows"));
    expect(res.status).toBe(200);
    expect(body(res)["workflows"]).toEqual([expect.objectContaining({ name: "Detect widgets", url: "detect-widgets", status: "active" })]);
  });

  it("gives a workflow with id, name, url and its config as JSON text", async () => {
    const { app } = setup();
    const res = await call(app, request("GET", "/acme/workflows/detect-widgets"));
    const workflow = body(res)["workflow"];
    expect(workflow).toMatchObject({ id: expect.any(String), name: "Detect widgets", url: "detect-widgets" });
    expect(JSON.parse(workflow.config as string)).toHaveProperty("specification");
    expect((await call(app, request("GET", "/acme/workflows/nope"))).status).toBe(404);
  });

  it("creates a workflow with a url derived from its name, then answers 409 for the same url", async () => {
    const { app } = setup();
    const json = { name: "Count Bolts", config: { version: "1.0", steps: [] } };
    const res = await call(app, request("POST", "/acme/createWorkflow", { json }));
    expect(res.status).toBe(200);
    expect(body(res)["workflow"]).toMatchObject({ name: "Count Bolts", url: "count-bolts", config: JSON.stringify(json.config) });
    expect((await call(app, request("GET", "/acme/workflows/count-bolts"))).status).toBe(200);
    const again = await call(app, request("POST", "/acme/createWorkflow", { json }));
    expect(again.status).toBe(409);
  });

  it("answers 400 ValidationException creating a workflow without a name or with a config that is not JSON", async () => {
    const { app } = setup();
    for (const json of [{ config: {} }, { name: "X", config: "{not json" }, { name: "X", url: "Not A Slug" }]) {
      const res = await call(app, request("POST", "/acme/createWorkflow", { json }));
      expect(res.status).toBe(400);
      expect(body(res)["error"]).toMatchObject({ type: "ValidationException" });
    }
  });

  it("updates a workflow's name and config, and answers 404 for one that does not exist", async () => {
    const { app } = setup();
    const res = await call(app, request("POST", "/acme/updateWorkflow", { json: { url: "detect-widgets", name: "Find widgets", config: '{"version":"1.1"}' } }));
    expect(res.status).toBe(200);
    expect(body(res)["workflow"]).toMatchObject({ name: "Find widgets", url: "detect-widgets", config: '{"version":"1.1"}' });
    const missing = await call(app, request("POST", "/acme/updateWorkflow", { json: { url: "nope", name: "X" } }));
    expect(missing.status).toBe(404);
    expect((await call(app, request("POST", "/acme/updateWorkflow", { json: { name: "X" } }))).status).toBe(400);
  });

  it("moves a deleted workflow to Trash, invisible to get and list until restored", async () => {
    const { app } = setup();
    expect(await call(app, request("DELETE", "/acme/workflows/detect-widgets"))).toMatchObject({ status: 200, json: { success: true } });
    expect((await call(app, request("GET", "/acme/workflows/detect-widgets"))).status).toBe(404);
    expect(body(await call(app, request("GET", "/acme/workflows")))["workflows"]).toEqual([]);
    expect((await call(app, request("DELETE", "/acme/workflows/detect-widgets"))).status).toBe(404);
    await call(app, request("POST", "/acme/trash/restore", { json: { type: "workflow", id: "detect-widgets" } }));
    expect(body(await call(app, request("GET", "/acme/workflows")))["workflows"]).toHaveLength(1);
  });
});

describe("Roboflow emulator: dedicated deployments", () => {
  it("answers 401 flat for a wrong or missing key, in the query of a GET and in the body of a POST", async () => {
    const { app } = setup();
    for (const req of [
      deployment("GET", "list", {}, "rf-nope"),
      request("GET", "/deployments/list", { key: null }),
      deployment("POST", "add", DEPLOY, "rf-nope"),
      deployment("GET", "list", {}, ROBOFLOW_SCOPELESS_KEY),
    ]) {
      const res = await call(app, req);
      expect(res.status).toBe(401);
      expect(typeof body(res)["error"]).toBe("string");
    }
  });

  it("does not take the key from the query of a POST", async () => {
    const { app } = setup();
    const res = await call(app, request("POST", "/deployments/add", { json: DEPLOY }));
    expect(res.status).toBe(401);
  });

  it("creates a deployment that is pending, then running once exportMs has passed", async () => {
    const { app, advance } = setup({ exportMs: 1000 });
    const res = await call(app, deployment("POST", "add", { ...DEPLOY, delete_on_expiration: true, inference_version: "0.50.0" }));
    expect(res.status).toBe(200);
    expect(body(res)).toMatchObject({
      deployment_name: "dev",
      machine_type: "dev-gpu",
      status: "pending",
      domain: "dev.roboflow.cloud",
      duration: 2,
      delete_on_expiration: true,
      inference_version: "0.50.0",
    });
    advance(999);
    expect(body(await call(app, deployment("GET", "get", { deployment_name: "dev" })))["status"]).toBe("pending");
    advance(1);
    expect(body(await call(app, deployment("GET", "get", { deployment_name: "dev" })))["status"]).toBe("running");
    expect(app.deployments.get("dev")?.status).toBe("running");
  });

  it("lists deployments and machine types as arrays", async () => {
    const { app } = setup();
    await call(app, deployment("POST", "add", DEPLOY));
    await call(app, deployment("POST", "add", { ...DEPLOY, deployment_name: "prod", machine_type: "prod-cpu" }));
    const list = await call(app, deployment("GET", "list"));
    expect((list.json as Array<{ deployment_name: string }>).map((d) => d.deployment_name)).toEqual(["dev", "prod"]);
    const types = await call(app, deployment("GET", "machine_types"));
    expect(types.json).toEqual(expect.arrayContaining([expect.objectContaining({ name: "dev-gpu" })]));
  });

  it("answers 400 flat for a bad machine type, a bad name or duration, or a body that is not JSON", async () => {
    const { app } = setup();
    for (const req of [
      deployment("POST", "add", { ...DEPLOY, machine_type: "quantum" }),
      deployment("POST", "add", { ...DEPLOY, deployment_name: "Dev Box" }),
      deployment("POST", "add", { ...DEPLOY, duration: -1 }),
      request("POST", "/deployments/add", { key: null, raw: "{" }),
    ]) {
      const res = await call(app, req);
      expect(res.status).toBe(400);
      expect(typeof body(res)["error"]).toBe("string");
    }
    expect(app.deployments.size).toBe(0);
  });

  it("answers 409 flat when the deployment name is taken", async () => {
    const { app } = setup();
    await call(app, deployment("POST", "add", DEPLOY));
    const res = await call(app, deployment("POST", "add", DEPLOY));
    expect(res.status).toBe(409);
    expect(typeof body(res)["error"]).toBe("string");
  });

  it("pauses a deployment to paused and resumes it to running", async () => {
    const { app } = setup({ exportMs: 0 });
    await call(app, deployment("POST", "add", DEPLOY));
    expect((await call(app, deployment("POST", "pause", { deployment_name: "dev" }))).status).toBe(200);
    expect(body(await call(app, deployment("GET", "get", { deployment_name: "dev" })))["status"]).toBe("paused");
    expect((await call(app, deployment("POST", "resume", { deployment_name: "dev" }))).status).toBe(200);
    expect(body(await call(app, deployment("GET", "get", { deployment_name: "dev" })))["status"]).toBe("running");
  });

  it("answers 404 'deployment not found' for a name it does not know, and after a delete", async () => {
    const { app } = setup();
    for (const [method, route] of [["GET", "get"], ["GET", "get_log"], ["POST", "pause"], ["POST", "resume"], ["POST", "delete"]] as const) {
      expect(await call(app, deployment(method, route, { deployment_name: "ghost" }))).toMatchObject({ status: 404, json: { error: "deployment not found" } });
    }
    await call(app, deployment("POST", "add", DEPLOY));
    expect((await call(app, deployment("POST", "delete", { deployment_name: "dev" }))).status).toBe(200);
    expect((await call(app, deployment("GET", "get", { deployment_name: "dev" }))).status).toBe(404);
  });

  it("gives the log oldest first, the last max_entries of it when asked, and 400 for a bad max_entries", async () => {
    const { app, advance } = setup({ exportMs: 1000 });
    await call(app, deployment("POST", "add", DEPLOY));
    advance(2000);
    await call(app, deployment("POST", "pause", { deployment_name: "dev" }));
    const all = (await call(app, deployment("GET", "get_log", { deployment_name: "dev" }))).json as Array<{ payload: string; timestamp: string }>;
    expect(all.map((e) => e.payload)).toEqual([
      expect.stringMatching(/created/),
      expect.stringMatching(/running/),
      expect.stringMatching(/paused/),
    ]);
    expect(all[1]?.timestamp).toBe(new Date(START + 1000).toISOString());
    const last = (await call(app, deployment("GET", "get_log", { deployment_name: "dev", max_entries: 1 }))).json as unknown[];
    expect(last).toEqual([all[2]]);
    expect((await call(app, deployment("GET", "get_log", { deployment_name: "dev", max_entries: "lots" }))).status).toBe(400);
  });

  it("deletes a deployment when it expires with delete_on_expiration, and keeps it expired otherwise", async () => {
    const { app, advance } = setup({ exportMs: 0 });
    await call(app, deployment("POST", "add", { ...DEPLOY, deployment_name: "temp", delete_on_expiration: true }));
    await call(app, deployment("POST", "add", { ...DEPLOY, deployment_name: "keep", delete_on_expiration: false }));
    advance(2 * HOUR);
    expect((await call(app, deployment("GET", "get", { deployment_name: "temp" }))).status).toBe(404);
    expect(body(await call(app, deployment("GET", "get", { deployment_name: "keep" })))["status"]).toBe("expired");
    expect((await call(app, deployment("POST", "pause", { deployment_name: "keep" }))).status).toBe(409);
  });

  it("answers 405 for the wrong method and 404 for an unknown route, flat", async () => {
    const { app } = setup();
    expect((await call(app, request("GET", "/deployments/add"))).status).toBe(405);
    expect(await call(app, deployment("GET", "nope"))).toMatchObject({ status: 404, json: { error: "Not found" } });
  });

  it("keeps serving deployments while the workspace is locked", async () => {
    const { app } = setup({ lockedWorkspaces: ["acme"] });
    expect((await call(app, deployment("GET", "list"))).status).toBe(200);
  });
});

describe("Roboflow emulator: injected faults", () => {
  const get = request("GET", "/acme/widgets");

  it("phrases a rate limit as a nested 429 RateLimitException with Retry-After: 1", () => {
    const { app } = setup();
    const res = app.fault("rateLimit", get);
    expect(res.status).toBe(429);
    expect(res.json).toEqual({ error: { message: "Rate limit exceeded", status: 429, type: "RateLimitException" } });
    expect(res.headers).toEqual({ "retry-after": "1" });
  });

  it("sends the Retry-After it is given, or none when faultRetryAfterSeconds is null", () => {
    expect(setup({ faultRetryAfterSeconds: 7 }).app.fault("rateLimit", get).headers).toEqual({ "retry-after": "7" });
    expect(setup({ faultRetryAfterSeconds: null }).app.fault("rateLimit", get).headers).toBeUndefined();
  });

  it("phrases a server error as 500 {error: 'Unknown error'} and a gateway timeout as 504 flat", () => {
    const { app } = setup();
    expect(app.fault("serverError", get)).toEqual({ status: 500, json: { error: "Unknown error" } });
    expect(app.fault("gatewayTimeout", get)).toEqual({ status: 504, json: { error: "Gateway timeout" } });
  });

  it("phrases a locked fault as the 423 body of the workspace in the path", () => {
    const { app } = setup();
    const res = app.fault("locked", get);
    expect(res.status).toBe(423);
    expect(body(res)["error"]).toMatchObject({
      message: "Workspace acme is locked: billing is paused. Update your payment method to resume.",
      type: "WorkspaceLockedException",
    });
  });

  it("phrases faults on the deployments service in its flat form", () => {
    const { app } = setup();
    const list = deployment("GET", "list");
    expect(app.fault("rateLimit", list)).toMatchObject({ status: 429, json: { error: "Rate limit exceeded" }, headers: { "retry-after": "1" } });
    expect(app.fault("locked", list)).toMatchObject({ status: 423, json: { error: expect.stringMatching(/locked/) } });
  });

  it("leaves state untouched when a fault is phrased", () => {
    const { app } = setup();
    app.fault("serverError", request("DELETE", "/acme/widgets"));
    expect(app.projects.get("widgets")?.deletedAt).toBeUndefined();
  });

  it("exports an HTML 502 page for the server layer to send", () => {
    expect(ROBOFLOW_HTML_502).toMatch(/^<!DOCTYPE html>/);
    expect(ROBOFLOW_HTML_502).toContain("502 Bad Gateway");
    expect(() => JSON.parse(ROBOFLOW_HTML_502)).toThrow();
  });
});

describe("Roboflow emulator: options and state", () => {
  it("uses the key and workspace it is given", async () => {
    const { app } = setup({ apiKey: "my-key", workspace: "beta" });
    expect(ROBOFLOW_EMULATOR_WORKSPACE).toBe("acme");
    expect((await call(app, request("GET", "/beta", { key: "my-key" }))).status).toBe(200);
    expect((await call(app, request("GET", "/beta"))).status).toBe(401);
    expect((await call(app, request("GET", "/acme", { key: "my-key" }))).status).toBe(404);
    expect(body(await call(app, request("POST", "/", { key: "my-key" })))["workspace"]).toBe("beta");
  });

  it("reads Date.now() when no clock is given", async () => {
    const app = createRoboflowApp({ exportMs: 60_000 });
    const before = Date.now();
    await app.handle(request("GET", "/acme/widgets/1/coco"));
    const requestedAt = app.exports.get("widgets/1/coco")?.requestedAt ?? 0;
    expect(requestedAt).toBeGreaterThanOrEqual(before);
    expect(requestedAt).toBeLessThanOrEqual(Date.now());
  });

  it("exposes its state, which a test may seed", async () => {
    const { app } = setup();
    expect([...app.projects.keys()].sort()).toEqual(["gadgets", "widgets"]);
    expect([...app.versions.keys()].sort()).toEqual(["gadgets/1", "widgets/1", "widgets/2"]);
    expect([...app.workflows.keys()]).toEqual(["detect-widgets"]);
    const widgets = app.projects.get("widgets");
    if (widgets === undefined) throw new Error("seed project missing");
    app.projects.set("sprockets", { ...widgets, slug: "sprockets", name: "Sprockets" });
    expect(body(await call(app, request("GET", "/acme/sprockets")))["project"]).toMatchObject({ id: "acme/sprockets" });
  });

  it("goes back to its seed data, without deployments, exports or later locks, on reset()", async () => {
    const { app } = setup({ lockedWorkspaces: ["elsewhere"], exportMs: 0 });
    app.unlock("acme");
    await call(app, request("DELETE", "/acme/widgets"));
    await call(app, request("GET", "/acme/gadgets/1/coco"));
    await call(app, deployment("POST", "add", DEPLOY));
    app.lock("acme");
    app.reset();
    expect(app.trash).toEqual([]);
    expect(app.deployments.size).toBe(0);
    expect(app.exports.size).toBe(0);
    expect([...app.lockedWorkspaces]).toEqual(["elsewhere"]);
    expect((await call(app, request("GET", "/acme/widgets"))).status).toBe(200);
  });

  it("has the api name roboflow", () => {
    expect(setup().app.api).toBe("roboflow");
  });
});
