import { createAnyformatApp, type AnyformatEmulatorOptions } from "./anyformat/app.js";
import { createRoboflowApp, type RoboflowEmulatorOptions } from "./roboflow/app.js";
import type { EmulatorApp, EmulatorResponse } from "./types.js";

/** Options for `createMswHandlers`: which API, where it is mocked, and the app's own options. */
export type MswHandlersOptions =
  | ({ readonly api: "anyformat"; readonly baseUrl?: string | undefined } & AnyformatEmulatorOptions)
  | ({ readonly api: "roboflow"; readonly baseUrl?: string | undefined } & RoboflowEmulatorOptions);

/** The slice of msw this module uses; msw stays an optional peer of faultline. */
interface MswModule {
  http: { all(path: string, resolver: (info: { request: Request }) => Promise<Response>): unknown };
}

const DEFAULT_BASE: Readonly<Record<"anyformat" | "roboflow", string>> = {
  anyformat: "https://api.anyformat.ai",
  roboflow: "https://api.roboflow.com",
};

/**
 * msw request handlers backed by the same in-memory emulator that `startEmulator` serves, for users
 * who mock with msw. msw is imported lazily, so it is needed only by those who call this.
 *
 * undici's `request()` (which faultline uses) is not seen by msw's `setupServer`: register the
 * handlers with `defineNetwork` from `msw/experimental` and `HttpRequestInterceptor` from
 * `@mswjs/interceptors/http`, or point the client at `startEmulator()` instead.
 *
 * @example
 * ```ts
 * import { defineNetwork, InterceptorSource } from "msw/experimental";
 * import { HttpRequestInterceptor } from "@mswjs/interceptors/http";
 * const handlers = await createMswHandlers({ api: "anyformat" });
 * const network = defineNetwork({ sources: [new InterceptorSource({ interceptors: [new HttpRequestInterceptor()] })], handlers });
 * await network.enable();
 * ```
 */
export async function createMswHandlers(options: MswHandlersOptions): Promise<unknown[]> {
  const msw = (await import("msw")) as unknown as MswModule;
  const { api, baseUrl, ...appOptions } = options;
  const base = (baseUrl ?? DEFAULT_BASE[api]).replace(/\/+$/, "");
  const app: EmulatorApp =
    api === "anyformat"
      ? createAnyformatApp(appOptions as AnyformatEmulatorOptions)
      : createRoboflowApp({ ...(appOptions as RoboflowEmulatorOptions), baseUrl: base });
  return [
    msw.http.all(`${base}/*`, async ({ request }) => {
      const url = new URL(request.url);
      const headers: Record<string, string> = {};
      request.headers.forEach((value, name) => {
        headers[name.toLowerCase()] = value;
      });
      const answer = await app.handle({
        method: request.method.toUpperCase(),
        path: url.pathname,
        query: url.searchParams,
        headers,
        body: new Uint8Array(await request.arrayBuffer()),
      });
      return toResponse(answer);
    }),
  ];
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
