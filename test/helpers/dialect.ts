/**
 * What the two dialect suites share: a loopback server answering each fixture by path, a `Transport`
 * with the dialect under test (no retries, so each answer is one error), and the class and code each
 * status earns when the body says nothing of its own.
 */
import { afterAll, beforeAll, expect } from "vitest";
import * as z from "zod";
import type { Dialect } from "../../src/core/dialect.js";
import {
  AccessDeniedError,
  ApiError,
  AuthFailedError,
  BadRequestError,
  ConflictError,
  LockedError,
  NotFoundError,
  RateLimitedError,
  ServerError,
  type ApiErrorInit,
} from "../../src/core/errors.js";
import { Transport, type TransportConfig } from "../../src/core/transport.js";
import { rejectionOf, startReplyServer, type LoopbackServer, type Reply } from "./server.js";

export type ErrorClass = new (init: ApiErrorInit) => ApiError;

/** The class and code of a response whose body names no code: the status alone decides. */
export const BY_STATUS: Readonly<Record<number, { readonly Class: ErrorClass; readonly code: string }>> = {
  400: { Class: BadRequestError, code: "BAD_REQUEST" },
  401: { Class: AuthFailedError, code: "AUTH_FAILED" },
  403: { Class: AccessDeniedError, code: "ACCESS_DENIED" },
  404: { Class: NotFoundError, code: "NOT_FOUND" },
  409: { Class: ConflictError, code: "CONFLICT" },
  423: { Class: LockedError, code: "LOCKED" },
  429: { Class: RateLimitedError, code: "RATE_LIMITED" },
  500: { Class: ServerError, code: "INTERNAL_ERROR" },
  502: { Class: ServerError, code: "INTERNAL_ERROR" },
  503: { Class: ServerError, code: "INTERNAL_ERROR" },
};

export interface DialectHarness {
  /** The loopback server (set once the suite has started). */
  readonly server: LoopbackServer;
  /** Calls `path` and returns the `ApiError` it must fail with. */
  failWith(path: string, method?: "GET" | "POST" | "DELETE"): Promise<ApiError>;
}

/** Starts the server and transport before the file's tests, and closes both after them. */
export function dialectHarness(options: {
  readonly dialect: Dialect;
  readonly key: string;
  readonly auth: Pick<TransportConfig, "authHeaders" | "authQuery">;
  readonly routes: ReadonlyMap<string, Reply>;
}): DialectHarness {
  let server: LoopbackServer | undefined;
  let transport: Transport | undefined;
  beforeAll(async () => {
    server = await startReplyServer(options.routes);
    transport = new Transport({
      baseUrl: server.url,
      dialect: options.dialect,
      secrets: [options.key],
      ...options.auth,
      defaults: { maxRetries: 0 },
      userAgent: "faultline-test",
    });
  });
  afterAll(async () => {
    await transport?.close();
    await server?.close();
  });
  return {
    get server(): LoopbackServer {
      if (server === undefined) throw new Error("the dialect harness has not started yet");
      return server;
    },
    async failWith(path, method = "GET") {
      if (transport === undefined) throw new Error("the dialect harness has not started yet");
      const error = await rejectionOf(
        transport.request({
          method,
          path,
          ...(method === "POST" ? { json: { name: "invoices" } } : {}),
          schema: z.unknown(),
        }),
      );
      expect(error).toBeInstanceOf(ApiError);
      return error as ApiError;
    },
  };
}
