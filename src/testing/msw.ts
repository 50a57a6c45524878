// The `faultline/testing/msw` entry: the only one whose types name msw, so that `faultline/testing` compiles
// without it.
import type { HttpHandler } from "msw";
import { createAnyformatApp, type AnyformatEmulatorOptions } from "./anyformat/app.js";
import { resolveHosts } from "../roboflow/hosts.js";
import { createRoboflowApp, type RoboflowEmulatorOptions } from "./roboflow/app.js";
import type { EmulatorApp, EmulatorResponse } from "./types.js";

/** Options for `createMswHandlers`: which API, where it is mocked, and the app's own options. */
export type MswHandlersOptions =
  | ({ readonly api: "anyformat"; readonly baseUrl?: string | undefined } & AnyformatEmulatorOptions)
  | ({
      readonly api: "roboflow";
      readonly baseUrl?: string | undefined;
      /**
       * Where the dedicated-deployments service is mocked [https://roboflow.cloud; `{baseUrl}/deployments`
       * when `baseUrl` is not Roboflow's, as the client derives it].
       */
      readonly deploymentsUrl?: string | undefined;
      /**
       * Where the inference host is mocked [https://serverless.roboflow.com; `{baseUrl}/inference` when
       * `baseUrl` is not Roboflow's].
       */
      readonly inferenceUrl?: string | undefined;
    } & RoboflowEmulatorOptions);

const DEFAULT_BASE: Readonly<Record<"anyformat" | "roboflow", string>> = {
  anyformat: "https://api.anyformat.ai",
  roboflow: "https://api.roboflow.com",
};
/** Where the Roboflow emulator serves its two other services, below its own root. */
const DEPLOYMENTS_PREFIX = "/deployments";
const INFERENCE_PREFIX = "/inference";

/**
 * msw request handlers backed by the same in-memory emulator that `startEmulator` serves, for users
 * who mock with msw (3 or later). msw is imported lazily, so it is needed only by those who call this.
 * Every call makes a fresh emulator; the handlers answer everything under `baseUrl` (the API's real
 * one by default; a path in it is allowed) and hold its state between requests. Roboflow's handlers also
 * answer the dedicated-deployments service at `deploymentsUrl` and the inference host at `inferenceUrl`,
 * defaulting as the client does. Faults are not injected here: for those, use `startEmulator`.
 *
 * faultline sends with undici's `request()`, which msw's `setupServer` does not see: it intercepts
 * `http`, `fetch` and `XMLHttpRequest`, not undici's own sockets. Register the handlers on a network of
 * `defineNetwork` from `msw/experimental` whose source is `HttpRequestInterceptor` from
 * `@mswjs/interceptors/http` (install `@mswjs/interceptors` next to msw), which works at the socket level
 * and so sees undici too. Or point the client at `startEmulator()`, which also injects faults.
 *
 * @example
 * ```ts
 * import { HttpRequestInterceptor } from "@mswjs/interceptors/http";
 * import { defineNetwork, InterceptorSource } from "msw/experimental";
 * import { Anyformat } from "faultline";
 * import { ANYFORMAT_EMULATOR_KEY } from "faultline/testing";
 * import { createMswHandlers } from "faultline/testing/msw";
 *
 * const network = defineNetwork({
 *   sources: [new InterceptorSource({ interceptors: [new HttpRequestInterceptor()] })],
 *   handlers: await createMswHandlers({ api: "anyformat" }),
 *   onUnhandledFrame: "error", // nothing unmatched goes out to the real network
 *   context: { quiet: true },  // msw would otherwise log each request, key included
 * });
 * await network.enable();
 * const af = new Anyformat({ apiKey: ANYFORMAT_EMULATOR_KEY }); // the default https://api.anyformat.ai
 * await af.workflows.list();
 * await network.disable();
 * ```
 */
export async function createMswHandlers(options: MswHandlersOptions): Promise<HttpHandler[]> {
  const msw = await import("msw");
  const base = trimmed(options.baseUrl ?? DEFAULT_BASE[options.api]);

  /** Answers every request under `root` from `app`, its path re-rooted at `prefix`. */
  const serve = (app: EmulatorApp, root: string, prefix = ""): HttpHandler => {
    const rootPath = new URL(root).pathname.replace(/\/+$/, "");
    return msw.http.all(`${root}/*`, async ({ request }) => {
      const url = new URL(request.url);
      const headers: Record<string, string> = {};
      request.headers.forEach((value, name) => {
        headers[name.toLowerCase()] = value;
      });
      const answer = await app.handle({
        method: request.method.toUpperCase(),
        path: prefix + url.pathname.slice(rootPath.length),
        query: url.searchParams,
        headers,
        body: new Uint8Array(await request.arrayBuffer()),
      });
      return toResponse(answer);
    });
  };

  if (options.api === "anyformat") {
    const { api: _api, baseUrl: _base, ...appOptions } = options;
    return [serve(createAnyformatApp({ ...appOptions, baseUrl: base }), base)];
  }
  const { api: _api, baseUrl, deploymentsUrl, inferenceUrl, ...appOptions } = options;
  const hosts = resolveHosts({ baseUrl, deploymentsUrl, inferenceUrl });
  const app = createRoboflowApp({ ...appOptions, baseUrl: base });
  // The other services first: their URLs may lie below the main API's.
  return [
    serve(app, trimmed(hosts.deploymentsUrl), DEPLOYMENTS_PREFIX),
    serve(app, trimmed(hosts.inferenceUrl), INFERENCE_PREFIX),
    serve(app, base),
  ];
}

function trimmed(url: string): string {
  return url.replace(/\/+$/, "");
}

function toResponse(answer: EmulatorResponse): Response {
  const headers = new Headers(answer.headers);
  let body: string | null = null;
  if (answer.json !== undefined) {
    body = JSON.stringify(answer.json);
    headers.set("content-type", "application/json");
  } else if (answer.text !== undefined) {
    body = answer.text;
    if (!headers.has("content-type")) headers.set("content-type", "text/plain; charset=utf-8");
  }
  return new Response(answer.status === 204 ? null : body, { status: answer.status, headers });
}
