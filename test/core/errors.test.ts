import { describe, expect, expectTypeOf, it } from "vitest";
import {
  AbortedError,
  AccessDeniedError,
  ApiError,
  AuthFailedError,
  BadRequestError,
  ConflictError,
  ConnectionError,
  CredentialsError,
  ExtractionFailedError,
  FaultlineError,
  GatewayTimeoutError,
  InvalidArgumentError,
  InvalidJsonError,
  LockedError,
  NotFoundError,
  PreconditionFailedError,
  RateLimitedError,
  ResponseValidationError,
  ServerError,
  TimeoutError,
  ValidationError,
  codeFor,
  createApiError,
  withAttempts,
  type ApiErrorCode,
  type ApiErrorInit,
  type KnownApiError,
  type KnownApiErrorCode,
  type ValidationIssue,
} from "../../src/core/errors.js";

type AnyClass = abstract new (...args: never[]) => FaultlineError;

/** An init as a transport would build it for `status` and the code `codeFor` picked. */
function init(status: number, code: ApiErrorCode, extra: Partial<ApiErrorInit> = {}): ApiErrorInit {
  return {
    status,
    code,
    message: `status ${status}`,
    retryable: false,
    headers: { "content-type": "application/json" },
    body: { error: `status ${status}` },
    method: "GET",
    url: "https://api.example.test/v2/things/",
    attempts: 1,
    ...extra,
  };
}

/** `createApiError` exactly as the transport calls it: the code chosen by `codeFor`. */
function fromResponse(status: number, bodyCode?: string, extra: Partial<ApiErrorInit> = {}): ApiError {
  return createApiError(init(status, codeFor(status, bodyCode), extra));
}

const ISSUES: readonly ValidationIssue[] = [
  { type: "missing", loc: ["body", "name"], msg: "Field required" },
  { type: "missing", loc: ["body", "fields"], msg: "Field required" },
];

describe("the API error classes", () => {
  const table: ReadonlyArray<{
    name: string;
    Class: AnyClass;
    status: number;
    code: string;
    chain: readonly AnyClass[];
  }> = [
    { name: "BadRequestError", Class: BadRequestError, status: 400, code: "BAD_REQUEST", chain: [ApiError] },
    { name: "ValidationError", Class: ValidationError, status: 400, code: "VALIDATION_ERROR", chain: [BadRequestError, ApiError] },
    { name: "InvalidJsonError", Class: InvalidJsonError, status: 400, code: "INVALID_JSON", chain: [BadRequestError, ApiError] },
    { name: "AuthFailedError", Class: AuthFailedError, status: 401, code: "AUTH_FAILED", chain: [ApiError] },
    { name: "AccessDeniedError", Class: AccessDeniedError, status: 403, code: "ACCESS_DENIED", chain: [ApiError] },
    { name: "NotFoundError", Class: NotFoundError, status: 404, code: "NOT_FOUND", chain: [ApiError] },
    { name: "ConflictError", Class: ConflictError, status: 409, code: "CONFLICT", chain: [ApiError] },
    { name: "PreconditionFailedError", Class: PreconditionFailedError, status: 412, code: "PRECONDITION_FAILED", chain: [ApiError] },
    { name: "ExtractionFailedError", Class: ExtractionFailedError, status: 422, code: "EXTRACTION_FAILED", chain: [ApiError] },
    { name: "ExtractionFailedError", Class: ExtractionFailedError, status: 422, code: "EXTRACTION_CANCELLED", chain: [ApiError] },
    { name: "LockedError", Class: LockedError, status: 423, code: "LOCKED", chain: [ApiError] },
    { name: "RateLimitedError", Class: RateLimitedError, status: 429, code: "RATE_LIMITED", chain: [ApiError] },
    { name: "ServerError", Class: ServerError, status: 500, code: "INTERNAL_ERROR", chain: [ApiError] },
    { name: "GatewayTimeoutError", Class: GatewayTimeoutError, status: 504, code: "GATEWAY_TIMEOUT", chain: [ServerError, ApiError] },
  ];

  it.each(table)("builds $name for a $status with code $code, named after its class", ({ Class, name, status, code, chain }) => {
    const err = fromResponse(status, code);
    expect(err.constructor).toBe(Class);
    expect(err.name).toBe(name);
    expect(err.code).toBe(code);
    expect(err.status).toBe(status);
    for (const Parent of [Class, ...chain, FaultlineError, Error]) expect(err).toBeInstanceOf(Parent);
    expect(String(err)).toBe(`${name}: status ${status}`);
    expect(err.stack?.startsWith(`${name}: status ${status}\n`)).toBe(true);
  });

  it.each(table)("keeps $name out of every sibling class", ({ Class, status, code, chain }) => {
    const err = fromResponse(status, code);
    const related = new Set<AnyClass>([Class, ...chain]);
    for (const Other of table.map((row) => row.Class)) {
      if (!related.has(Other)) expect(err).not.toBeInstanceOf(Other);
    }
    for (const Other of [ConnectionError, TimeoutError, AbortedError, ResponseValidationError, InvalidArgumentError, CredentialsError]) {
      expect(err).not.toBeInstanceOf(Other);
    }
  });

  it("gives toJSON() every defined field and nothing undefined", () => {
    const err = createApiError(
      init(429, "RATE_LIMITED", {
        message: "Rate limited",
        detail: "Rate limit exceeded. Try again in 12s.",
        retryable: true,
        requestId: "req-1",
        referenceId: "err_1234",
        hint: "slow down",
        type: "RateLimit",
        service: "deployments",
        retryAfterMs: 12_000,
        rateLimit: { limit: 60, remaining: 0, resetMs: 12_000 },
        headers: { "retry-after": "12" },
        body: { error: "Rate limited" },
        method: "POST",
        attempts: 3,
      }),
    );
    expect(err.toJSON()).toEqual({
      name: "RateLimitedError",
      code: "RATE_LIMITED",
      message: "Rate limited",
      hint: "slow down",
      retryable: true,
      method: "POST",
      url: "https://api.example.test/v2/things/",
      attempts: 3,
      status: 429,
      detail: "Rate limit exceeded. Try again in 12s.",
      requestId: "req-1",
      referenceId: "err_1234",
      type: "RateLimit",
      service: "deployments",
      retryAfterMs: 12_000,
      rateLimit: { limit: 60, remaining: 0, resetMs: 12_000 },
      headers: { "retry-after": "12" },
      body: { error: "Rate limited" },
    });
    expect(JSON.parse(JSON.stringify(err))).toEqual(err.toJSON());
  });

  it("leaves absent fields out of toJSON() and undefined on the error", () => {
    const err = createApiError({ status: 404, code: "NOT_FOUND", message: "gone", retryable: false, headers: {}, body: "" });
    expect(err.toJSON()).toEqual({ name: "NotFoundError", code: "NOT_FOUND", message: "gone", retryable: false, attempts: 1, status: 404, headers: {}, body: "" });
    for (const field of ["detail", "requestId", "referenceId", "hint", "type", "retryAfterMs", "rateLimit", "method", "url"] as const) {
      expect(err[field]).toBeUndefined();
    }
  });

  it("exposes a 400 VALIDATION_ERROR body's detail array as ValidationError.issues", () => {
    const err = fromResponse(400, "VALIDATION_ERROR", { detail: ISSUES });
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).issues).toEqual(ISSUES);
    expect(err.detail).toEqual(ISSUES);
  });

  it("gives ValidationError empty issues when its detail is a string or missing", () => {
    expect((fromResponse(400, "VALIDATION_ERROR", { detail: "bad" }) as ValidationError).issues).toEqual([]);
    expect((fromResponse(400, "VALIDATION_ERROR") as ValidationError).issues).toEqual([]);
  });
});

describe("codeFor and createApiError", () => {
  it.each([
    { status: 413, bodyCode: "VALIDATION_ERROR", Class: ValidationError, code: "VALIDATION_ERROR" },
    { status: 500, bodyCode: "GATEWAY_TIMEOUT", Class: GatewayTimeoutError, code: "GATEWAY_TIMEOUT" },
    { status: 400, bodyCode: "RATE_LIMITED", Class: RateLimitedError, code: "RATE_LIMITED" },
    { status: 504, bodyCode: "INTERNAL_ERROR", Class: ServerError, code: "INTERNAL_ERROR" },
    { status: 412, bodyCode: "EXTRACTION_FAILED", Class: ExtractionFailedError, code: "EXTRACTION_FAILED" },
    { status: 422, bodyCode: "EXTRACTION_CANCELLED", Class: ExtractionFailedError, code: "EXTRACTION_CANCELLED" },
    { status: 404, bodyCode: "INVALID_JSON", Class: InvalidJsonError, code: "INVALID_JSON" },
  ])("lets a $status whose body says $bodyCode become $Class.name", ({ status, bodyCode, Class, code }) => {
    expect(codeFor(status, bodyCode)).toBe(code);
    const err = fromResponse(status, bodyCode);
    expect(err.constructor).toBe(Class);
    expect(err.status).toBe(status);
  });

  it.each([
    { status: 400, bodyCode: "MACHINE_READABLE_ERROR_CODE", Class: BadRequestError, code: "BAD_REQUEST" },
    { status: 404, bodyCode: "model_eval_not_found", Class: NotFoundError, code: "NOT_FOUND" },
    { status: 401, bodyCode: "", Class: AuthFailedError, code: "AUTH_FAILED" },
    { status: 403, bodyCode: "toString", Class: AccessDeniedError, code: "ACCESS_DENIED" },
    { status: 409, bodyCode: "__proto__", Class: ConflictError, code: "CONFLICT" },
    { status: 429, bodyCode: "rate_limited", Class: RateLimitedError, code: "RATE_LIMITED" },
  ])("ignores the unknown body code $bodyCode and lets the $status pick $Class.name", ({ status, bodyCode, Class, code }) => {
    expect(codeFor(status, bodyCode)).toBe(code);
    expect(fromResponse(status, bodyCode).constructor).toBe(Class);
  });

  it.each([418, 422, 301, 302, 405, 408, 410, 451, 600, 999, 100])(
    "maps an unknown status %i to a plain ApiError with code HTTP_<status>",
    (status) => {
      expect(codeFor(status, undefined)).toBe(`HTTP_${status}`);
      const err = fromResponse(status);
      expect(err.constructor).toBe(ApiError);
      expect(err.name).toBe("ApiError");
      expect(err.code).toBe(`HTTP_${status}`);
      expect(err.status).toBe(status);
    },
  );

  it.each([500, 501, 502, 503, 505, 507, 520, 529, 599])("maps every 5xx such as %i to ServerError INTERNAL_ERROR", (status) => {
    const err = fromResponse(status);
    expect(err.constructor).toBe(ServerError);
    expect(err.code).toBe("INTERNAL_ERROR");
  });

  it("maps a 504 without a body code to GatewayTimeoutError, which is a ServerError", () => {
    const err = fromResponse(504);
    expect(err.constructor).toBe(GatewayTimeoutError);
    expect(err.code).toBe("GATEWAY_TIMEOUT");
    expect(err).toBeInstanceOf(ServerError);
  });

  it("builds a plain ApiError for a code it does not know", () => {
    expect(createApiError(init(418, "HTTP_418")).constructor).toBe(ApiError);
    expect(createApiError(init(400, "constructor" as ApiErrorCode)).constructor).toBe(ApiError);
  });

  it("counts one attempt by default and lets withAttempts record the real count", () => {
    const err = createApiError({ status: 500, code: "INTERNAL_ERROR", message: "x", retryable: true, headers: {}, body: "" });
    expect(err.attempts).toBe(1);
    expect(withAttempts(err, 3)).toBe(err);
    expect(err.attempts).toBe(3);
    expect(err.toJSON()["attempts"]).toBe(3);
  });
});

describe("the errors without a response", () => {
  const cause = new Error("socket hang up");
  const rows = [
    { name: "ConnectionError", err: new ConnectionError("refused", { cause, method: "GET", url: "u", attempts: 2, retryable: true }), code: "CONNECTION_ERROR" },
    { name: "TimeoutError", err: new TimeoutError("too slow", { cause }), code: "TIMEOUT" },
    { name: "AbortedError", err: new AbortedError(), code: "ABORTED" },
    { name: "InvalidArgumentError", err: new InvalidArgumentError("bad format"), code: "INVALID_ARGUMENT" },
    { name: "CredentialsError", err: new CredentialsError("no key", { hint: "set ANYFORMAT_API_KEY" }), code: "MISSING_CREDENTIALS" },
    {
      name: "ResponseValidationError",
      err: new ResponseValidationError("schema", { status: 200, issues: [{ path: ["a", 0], message: "bad" }], body: { a: [1] } }),
      code: "RESPONSE_VALIDATION",
    },
  ] as const;

  it.each(rows)("makes $name a FaultlineError with code $code and its own name", ({ err, name, code }) => {
    expect(err).toBeInstanceOf(FaultlineError);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(ApiError);
    expect(err.name).toBe(name);
    expect(err.code).toBe(code);
    expect(err.toJSON()).toMatchObject({ name, code, message: err.message, retryable: err.retryable, attempts: err.attempts });
  });

  it("keeps the cause, the call and the hint it is given", () => {
    const err = rows[0].err;
    expect(err.cause).toBe(cause);
    expect(err.method).toBe("GET");
    expect(err.url).toBe("u");
    expect(err.attempts).toBe(2);
    expect(err.retryable).toBe(true);
    expect(rows[4].err.hint).toBe("set ANYFORMAT_API_KEY");
    expect(rows[4].err.toJSON()["hint"]).toBe("set ANYFORMAT_API_KEY");
  });

  it("defaults to zero attempts, not retryable, and no cause", () => {
    const err = new InvalidArgumentError("bad");
    expect(err.attempts).toBe(0);
    expect(err.retryable).toBe(false);
    expect("cause" in err).toBe(false);
    expect(new AbortedError().message).toBe("The call was aborted");
  });

  it("gives ResponseValidationError its status, issues (paths as strings in toJSON) and body", () => {
    const sym = Symbol("k");
    const err = new ResponseValidationError("schema", { status: 201, issues: [{ path: ["a", 0, sym], message: "bad" }], body: { a: [1] } });
    expect(err.status).toBe(201);
    expect(err.body).toEqual({ a: [1] });
    expect(err.toJSON()).toMatchObject({ status: 201, issues: [{ path: ["a", "0", "Symbol(k)"], message: "bad" }] });
    expect(() => JSON.stringify(err)).not.toThrow();
  });
});

describe("instanceof across copies of the classes", () => {
  const KINDS = Symbol.for("faultline.error.kinds");

  it("recognises an object made by another copy as NotFoundError, ApiError and FaultlineError but not ServerError", () => {
    const foreign = Object.assign(new Error("from the other build"), { code: "NOT_FOUND", status: 404 });
    Object.defineProperty(foreign, KINDS, { value: ["NotFoundError", "ApiError", "FaultlineError"] });
    expect(foreign).toBeInstanceOf(NotFoundError);
    expect(foreign).toBeInstanceOf(ApiError);
    expect(foreign).toBeInstanceOf(FaultlineError);
    expect(foreign).not.toBeInstanceOf(ServerError);
    expect(foreign).not.toBeInstanceOf(BadRequestError);
    expect(foreign).not.toBeInstanceOf(ConnectionError);
  });

  it("recognises a plain object carrying the kinds, as the other build's instance would", () => {
    const foreign = { [KINDS]: ["GatewayTimeoutError", "ServerError", "ApiError", "FaultlineError"] };
    expect(foreign).toBeInstanceOf(GatewayTimeoutError);
    expect(foreign).toBeInstanceOf(ServerError);
    expect(foreign).not.toBeInstanceOf(NotFoundError);
  });

  it("carries its class chain under the shared symbol, from its class, hidden from enumeration and spreads", () => {
    const err = fromResponse(400, "VALIDATION_ERROR");
    expect((err as unknown as Record<symbol, unknown>)[KINDS]).toEqual(["ValidationError", "BadRequestError", "ApiError", "FaultlineError"]);
    expect(Object.getOwnPropertyDescriptor(Object.getPrototypeOf(err), KINDS)?.enumerable).toBe(false);
    expect(Object.getOwnPropertySymbols({ ...err })).not.toContain(KINDS);
    expect(err.name).toBe("ValidationError");
  });

  it.each([null, undefined, 0, "NotFoundError", {}, { [Symbol.for("faultline.error.kinds")]: "NotFoundError" }, new Error("x")])(
    "does not take %o for a FaultlineError",
    (value) => {
      expect(value instanceof FaultlineError).toBe(false);
      expect(value instanceof NotFoundError).toBe(false);
    },
  );
});

describe("a user's own subclass of ApiError", () => {
  class MyApiError extends ApiError {
    readonly extra = "mine";
  }
  class MyNotFound extends NotFoundError {}

  it("works with plain instanceof, both ways", () => {
    const mine = new MyApiError(init(418, "HTTP_418"));
    expect(mine).toBeInstanceOf(MyApiError);
    expect(mine).toBeInstanceOf(ApiError);
    expect(mine).toBeInstanceOf(FaultlineError);
    expect(mine).not.toBeInstanceOf(NotFoundError);
    expect(mine.extra).toBe("mine");
    expect(fromResponse(418)).not.toBeInstanceOf(MyApiError);
    const foreign = { [Symbol.for("faultline.error.kinds")]: ["ApiError", "FaultlineError"] };
    expect(foreign).not.toBeInstanceOf(MyApiError);
  });

  it("keeps the chain of the class it extends", () => {
    const mine = new MyNotFound(init(404, "NOT_FOUND"));
    expect(mine).toBeInstanceOf(MyNotFound);
    expect(mine).toBeInstanceOf(NotFoundError);
    expect(mine).toBeInstanceOf(ApiError);
    expect(fromResponse(404)).not.toBeInstanceOf(MyNotFound);
  });

  it("is named after the user's class, not the one it extends", () => {
    expect(new MyApiError(init(418, "HTTP_418")).name).toBe("MyApiError");
    expect(new MyNotFound(init(404, "NOT_FOUND")).name).toBe("MyNotFound");
    expect(String(new MyNotFound(init(404, "NOT_FOUND")))).toBe("MyNotFound: status 404");
  });
});

describe("KnownApiError", () => {
  /** What a user writes: a switch over the code, each branch using its class's own fields without a cast. */
  function summarise(err: KnownApiError): string {
    switch (err.code) {
      case "VALIDATION_ERROR":
        expectTypeOf(err).toEqualTypeOf<ValidationError>();
        return err.issues.map((i) => i.loc.join(".")).join(",");
      case "RATE_LIMITED":
        expectTypeOf(err).toEqualTypeOf<RateLimitedError>();
        return `wait ${err.retryAfterMs ?? "?"}`;
      case "GATEWAY_TIMEOUT":
        expectTypeOf(err).toEqualTypeOf<GatewayTimeoutError>();
        return "gateway";
      case "INTERNAL_ERROR":
        expectTypeOf(err).toEqualTypeOf<ServerError>();
        return `ref ${err.referenceId ?? "-"}`;
      case "EXTRACTION_FAILED":
      case "EXTRACTION_CANCELLED":
        expectTypeOf(err).toEqualTypeOf<ExtractionFailedError>();
        return err.code;
      case "BAD_REQUEST":
      case "INVALID_JSON":
      case "AUTH_FAILED":
      case "ACCESS_DENIED":
      case "PAYMENT_REQUIRED":
      case "NOT_FOUND":
      case "CONFLICT":
      case "PRECONDITION_FAILED":
      case "LOCKED":
        return err.code;
      default:
        // Every code is handled above: nothing is left.
        expectTypeOf(err).toBeNever();
        return "unreachable";
    }
  }

  it("narrows in a switch over code, so ValidationError.issues needs no cast", () => {
    expect(summarise(fromResponse(400, "VALIDATION_ERROR", { detail: ISSUES }) as KnownApiError)).toBe("body.name,body.fields");
    expect(summarise(fromResponse(429, undefined, { retryAfterMs: 1500 }) as KnownApiError)).toBe("wait 1500");
    expect(summarise(fromResponse(500, undefined, { referenceId: "err_1234" }) as KnownApiError)).toBe("ref err_1234");
    expect(summarise(fromResponse(422, "EXTRACTION_CANCELLED") as KnownApiError)).toBe("EXTRACTION_CANCELLED");
  });

  it("lists exactly the codes of the contract", () => {
    expectTypeOf<KnownApiErrorCode>().toEqualTypeOf<
      | "BAD_REQUEST"
      | "VALIDATION_ERROR"
      | "INVALID_JSON"
      | "AUTH_FAILED"
      | "ACCESS_DENIED"
      | "PAYMENT_REQUIRED"
      | "NOT_FOUND"
      | "CONFLICT"
      | "PRECONDITION_FAILED"
      | "EXTRACTION_FAILED"
      | "EXTRACTION_CANCELLED"
      | "LOCKED"
      | "RATE_LIMITED"
      | "INTERNAL_ERROR"
      | "GATEWAY_TIMEOUT"
    >();
    expectTypeOf<ValidationError["issues"]>().toEqualTypeOf<readonly ValidationIssue[]>();
    expectTypeOf<NotFoundError["code"]>().toEqualTypeOf<"NOT_FOUND">();
  });

  it("narrows with instanceof as well", () => {
    const err: unknown = fromResponse(400, "VALIDATION_ERROR", { detail: ISSUES });
    if (!(err instanceof ValidationError)) throw new Error("expected a ValidationError");
    expectTypeOf(err.issues).toEqualTypeOf<readonly ValidationIssue[]>();
    expect(err.issues).toHaveLength(2);
  });
});
