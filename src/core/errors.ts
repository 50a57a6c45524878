/**
 * The error family. Every error the package throws is a `FaultlineError`.
 *
 * `instanceof` must hold across the ESM and CommonJS builds, which each carry their own copy of these
 * classes. Each instance therefore carries the names of its class chain under a registry symbol, and each
 * class answers `instanceof` from those names rather than from prototype identity.
 */

const KINDS = Symbol.for("faultline.error.kinds");

/** Validation issue as the APIs send it (pydantic style). */
export interface ValidationIssue {
  readonly type: string;
  readonly loc: ReadonlyArray<string | number>;
  readonly msg: string;
  readonly [key: string]: unknown;
}

/** Rate-limit state read from `x-ratelimit-*` headers. `resetMs` is the time until the window resets. */
export interface RateLimit {
  readonly limit: number | undefined;
  readonly remaining: number | undefined;
  readonly resetMs: number | undefined;
}

/** What every `FaultlineError` may carry beyond its message. */
export interface FaultlineErrorOptions {
  readonly cause?: unknown;
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly attempts?: number | undefined;
  readonly retryable?: boolean | undefined;
  readonly hint?: string | undefined;
}

function collectKinds(target: Function): string[] {
  const kinds: string[] = [];
  for (let ctor: unknown = target; typeof ctor === "function"; ctor = Object.getPrototypeOf(ctor)) {
    if (Object.hasOwn(ctor, "kind")) kinds.push((ctor as unknown as { kind: string }).kind);
  }
  return kinds;
}

/**
 * Gives a class's prototype, once, the kinds its instances answer `instanceof` by and its `name`. On the
 * prototype rather than on each error: building an error stays cheap on the error path.
 */
function brand(target: Function): void {
  const prototype = target.prototype as object;
  if (Object.hasOwn(prototype, KINDS)) return;
  Object.defineProperty(prototype, KINDS, { value: collectKinds(target), enumerable: false });
  Object.defineProperty(prototype, "name", {
    // Our classes name themselves by `kind` (safe from minifiers); a user's subclass has none of its own
    // and would otherwise inherit its parent's, so it keeps its own class name.
    value: Object.hasOwn(target, "kind") ? (target as unknown as { kind: string }).kind : target.name,
    enumerable: false,
    configurable: true,
    writable: true,
  });
}

/**
 * The root of every error faultline throws.
 *
 * @example
 * ```ts
 * try {
 *   await af.workflows.get(id);
 * } catch (err) {
 *   if (err instanceof FaultlineError) console.error(err.code, err.message);
 * }
 * ```
 */
export class FaultlineError extends Error {
  static readonly kind: string = "FaultlineError";

  static override [Symbol.hasInstance](value: unknown): boolean {
    // A user's own subclass has no `kind` of its own: plain prototype identity is the right answer there.
    if (!Object.hasOwn(this, "kind")) return Function.prototype[Symbol.hasInstance].call(this, value);
    if (typeof value !== "object" || value === null) return false;
    const kinds = (value as { [KINDS]?: unknown })[KINDS];
    if (!Array.isArray(kinds)) return false;
    return kinds.includes((this as unknown as { kind: string }).kind);
  }

  /** A stable, machine-readable code: `switch` on it. */
  declare readonly code: FaultlineErrorCode;
  /** The HTTP method of the call, when there was one. */
  declare readonly method: string | undefined;
  /** The URL of the call, secrets masked. */
  declare readonly url: string | undefined;
  /** How many requests were sent for this call (0 when the error came before any). */
  declare readonly attempts: number;
  /** Whether trying the same call again may succeed. */
  declare readonly retryable: boolean;
  /** What to do about it, when the API or faultline knows. */
  declare readonly hint: string | undefined;
  declare readonly [KINDS]: readonly string[];

  constructor(code: FaultlineErrorCode, message: string, options: FaultlineErrorOptions = {}) {
    brand(new.target);
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.method = options.method;
    this.url = options.url;
    this.attempts = options.attempts ?? 0;
    this.retryable = options.retryable ?? false;
    this.hint = options.hint;
  }

  /** A plain object for logs and JSON output; never holds a secret. */
  toJSON(): Record<string, unknown> {
    return dropUndefined({
      name: this.name,
      code: this.code,
      message: this.message,
      hint: this.hint,
      retryable: this.retryable,
      method: this.method,
      url: this.url,
      attempts: this.attempts,
    });
  }
}

/** Everything an `ApiError` is built from. Dialects fill the body-derived part. */
export interface ApiErrorInit {
  readonly status: number;
  readonly code: ApiErrorCode;
  readonly message: string;
  readonly detail?: string | readonly ValidationIssue[] | undefined;
  readonly retryable: boolean;
  readonly requestId?: string | undefined;
  readonly referenceId?: string | undefined;
  readonly hint?: string | undefined;
  readonly type?: string | undefined;
  readonly service?: string | undefined;
  readonly retryAfterMs?: number | undefined;
  readonly rateLimit?: RateLimit | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: unknown;
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly attempts?: number | undefined;
}

/**
 * Any non-2xx response. Subclasses name the statuses and codes callers branch on.
 *
 * @example
 * ```ts
 * catch (err) {
 *   if (err instanceof ApiError) console.error(err.status, err.code, err.requestId);
 * }
 * ```
 */
export class ApiError extends FaultlineError {
  static override readonly kind: string = "ApiError";

  /** A known code, or `HTTP_<status>` for a status faultline has no class for. */
  declare readonly code: ApiErrorCode;
  declare readonly status: number;
  /** The body's longer explanation, or the validation issues. */
  declare readonly detail: string | readonly ValidationIssue[] | undefined;
  declare readonly requestId: string | undefined;
  declare readonly referenceId: string | undefined;
  /** Roboflow's error type (`GraphMethodException`, ...). */
  declare readonly type: string | undefined;
  /** Which service answered, where an API has more than one (Roboflow's deployments). */
  declare readonly service: string | undefined;
  /** How long the server asked us to wait, from `Retry-After` / `retry-after-ms`. */
  declare readonly retryAfterMs: number | undefined;
  declare readonly rateLimit: RateLimit | undefined;
  /** Response headers, secrets masked. */
  declare readonly headers: Readonly<Record<string, string>>;
  /** The parsed body, or its text (at most 64 KiB read), secrets masked. */
  declare readonly body: unknown;
  declare readonly method: string | undefined;

  constructor(init: ApiErrorInit) {
    super(init.code, init.message, {
      method: init.method,
      url: init.url,
      attempts: init.attempts ?? 1,
      retryable: init.retryable,
      hint: init.hint,
    });
    this.status = init.status;
    this.detail = init.detail;
    this.requestId = init.requestId;
    this.referenceId = init.referenceId;
    this.type = init.type;
    this.service = init.service;
    this.retryAfterMs = init.retryAfterMs;
    this.rateLimit = init.rateLimit;
    this.headers = init.headers;
    this.body = init.body;
  }

  override toJSON(): Record<string, unknown> {
    return dropUndefined({
      ...super.toJSON(),
      status: this.status,
      detail: this.detail,
      requestId: this.requestId,
      referenceId: this.referenceId,
      type: this.type,
      service: this.service,
      retryAfterMs: this.retryAfterMs,
      rateLimit: this.rateLimit,
      headers: this.headers,
      body: this.body,
    });
  }
}

/** 400. @example `if (err instanceof BadRequestError) showForm(err.detail)` */
export class BadRequestError<C extends ApiErrorCode = "BAD_REQUEST"> extends ApiError {
  static override readonly kind: string = "BadRequestError";
  declare readonly code: C;
}

/** 400 `VALIDATION_ERROR`; `issues` lists what was wrong. @example `err.issues.map((i) => i.loc.join("."))` */
export class ValidationError extends BadRequestError<"VALIDATION_ERROR"> {
  static override readonly kind: string = "ValidationError";
  /** The validation array from the body's `detail` (empty when the body had none). */
  declare readonly issues: readonly ValidationIssue[];

  constructor(init: ApiErrorInit) {
    super(init);
    this.issues = Array.isArray(init.detail) ? init.detail : [];
  }
}

/** 400 `INVALID_JSON`: the request body was not valid JSON. @example `err instanceof InvalidJsonError` */
export class InvalidJsonError extends BadRequestError<"INVALID_JSON"> {
  static override readonly kind: string = "InvalidJsonError";
}

/** 401: the key was rejected. @example `if (err instanceof AuthFailedError) askForNewKey()` */
export class AuthFailedError extends ApiError {
  static override readonly kind: string = "AuthFailedError";
  declare readonly code: "AUTH_FAILED";
}

/** 403: missing key or not allowed. @example `err instanceof AccessDeniedError` */
export class AccessDeniedError extends ApiError {
  static override readonly kind: string = "AccessDeniedError";
  declare readonly code: "ACCESS_DENIED";
}

/**
 * 402: the account's credits or usage cap are spent (Roboflow's hosted inference). Never retried: a
 * retry spends nothing the account has.
 *
 * @example
 * ```ts
 * if (err instanceof PaymentRequiredError) alertBilling(err.message);
 * ```
 */
export class PaymentRequiredError extends ApiError {
  static override readonly kind: string = "PaymentRequiredError";
  declare readonly code: "PAYMENT_REQUIRED";
}

/** 404. @example `if (err instanceof NotFoundError) return null` */
export class NotFoundError extends ApiError {
  static override readonly kind: string = "NotFoundError";
  declare readonly code: "NOT_FOUND";
}

/** 409: the resource's state forbids the operation. @example `err instanceof ConflictError` */
export class ConflictError extends ApiError {
  static override readonly kind: string = "ConflictError";
  declare readonly code: "CONFLICT";
}

/** 412: not ready yet (anyformat results while processing). @example `if (err.retryable) pollAgain()` */
export class PreconditionFailedError extends ApiError {
  static override readonly kind: string = "PreconditionFailedError";
  declare readonly code: "PRECONDITION_FAILED";
}

/**
 * An extraction that ended in error or was cancelled: 422 `EXTRACTION_FAILED`/`EXTRACTION_CANCELLED`,
 * or the terminal 412 (`retryable: false`) that `results.waitFor` meets, reported as `EXTRACTION_FAILED`.
 *
 * @example
 * ```ts
 * if (err instanceof ExtractionFailedError && err.code === "EXTRACTION_CANCELLED") resubmit();
 * ```
 */
export class ExtractionFailedError extends ApiError {
  static override readonly kind: string = "ExtractionFailedError";
  declare readonly code: "EXTRACTION_FAILED" | "EXTRACTION_CANCELLED";
}

/** 423: locked (Roboflow workspace billing paused). Never retried. @example `err instanceof LockedError` */
export class LockedError extends ApiError {
  static override readonly kind: string = "LockedError";
  declare readonly code: "LOCKED";
}

/** 429. `retryAfterMs` says when to come back. @example `schedule(job, err.retryAfterMs ?? 60_000)` */
export class RateLimitedError extends ApiError {
  static override readonly kind: string = "RateLimitedError";
  declare readonly code: "RATE_LIMITED";
}

/** Any 5xx. @example `if (err instanceof ServerError) report(err.requestId, err.referenceId)` */
export class ServerError<C extends ApiErrorCode = "INTERNAL_ERROR"> extends ApiError {
  static override readonly kind: string = "ServerError";
  declare readonly code: C;
}

/** 504. @example `err instanceof GatewayTimeoutError` */
export class GatewayTimeoutError extends ServerError<"GATEWAY_TIMEOUT"> {
  static override readonly kind: string = "GatewayTimeoutError";
}

/** No response: refused, reset, DNS, TLS. @example `if (err instanceof ConnectionError) checkNetwork()` */
export class ConnectionError extends FaultlineError {
  static override readonly kind: string = "ConnectionError";
  declare readonly code: "CONNECTION_ERROR";

  constructor(message: string, options: FaultlineErrorOptions = {}) {
    super("CONNECTION_ERROR", message, options);
  }
}

/** An attempt's `timeout` or the call's `deadline` ran out. @example `err instanceof TimeoutError` */
export class TimeoutError extends FaultlineError {
  static override readonly kind: string = "TimeoutError";
  declare readonly code: "TIMEOUT";

  constructor(message: string, options: FaultlineErrorOptions = {}) {
    super("TIMEOUT", message, options);
  }
}

/** The caller's `signal` aborted. @example `if (err instanceof AbortedError) return` */
export class AbortedError extends FaultlineError {
  static override readonly kind: string = "AbortedError";
  declare readonly code: "ABORTED";

  constructor(message = "The call was aborted", options: FaultlineErrorOptions = {}) {
    super("ABORTED", message, options);
  }
}

/** A 2xx body that does not match its schema; `issues` are zod's. @example `console.error(err.issues)` */
export class ResponseValidationError extends FaultlineError {
  static override readonly kind: string = "ResponseValidationError";
  declare readonly code: "RESPONSE_VALIDATION";
  declare readonly status: number;
  declare readonly issues: readonly { readonly path: readonly PropertyKey[]; readonly message: string }[];
  declare readonly body: unknown;

  constructor(
    message: string,
    init: {
      status: number;
      issues: readonly { readonly path: readonly PropertyKey[]; readonly message: string }[];
      body: unknown;
    } & FaultlineErrorOptions,
  ) {
    super("RESPONSE_VALIDATION", message, init);
    this.status = init.status;
    this.issues = init.issues;
    this.body = init.body;
  }

  override toJSON(): Record<string, unknown> {
    return {
      ...super.toJSON(),
      status: this.status,
      issues: this.issues.map((i) => ({ path: i.path.map(String), message: i.message })),
    };
  }
}

/** Bad arguments, caught before any request. @example `err instanceof InvalidArgumentError` */
export class InvalidArgumentError extends FaultlineError {
  static override readonly kind: string = "InvalidArgumentError";
  declare readonly code: "INVALID_ARGUMENT";

  constructor(message: string, options: FaultlineErrorOptions = {}) {
    super("INVALID_ARGUMENT", message, options);
  }
}

/** No API key, or no workspace where one is needed. @example `err instanceof CredentialsError` */
export class CredentialsError extends FaultlineError {
  static override readonly kind: string = "CredentialsError";
  declare readonly code: "MISSING_CREDENTIALS";

  constructor(message: string, options: FaultlineErrorOptions = {}) {
    super("MISSING_CREDENTIALS", message, options);
  }
}

/**
 * A 2xx body larger than `maxResponseBytes`: faultline stopped reading at the limit and never retries it,
 * since the same request would bring the same body.
 *
 * @example
 * ```ts
 * if (err instanceof ResponseTooLargeError) console.error(`over ${err.limit} bytes`);
 * ```
 */
export class ResponseTooLargeError extends FaultlineError {
  static override readonly kind: string = "ResponseTooLargeError";
  declare readonly code: "RESPONSE_TOO_LARGE";
  declare readonly status: number;
  /** The `maxResponseBytes` the body went past, in (decoded) bytes. */
  declare readonly limit: number;

  constructor(message: string, init: { status: number; limit: number } & FaultlineErrorOptions) {
    super("RESPONSE_TOO_LARGE", message, { ...init, retryable: false });
    this.status = init.status;
    this.limit = init.limit;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), status: this.status, limit: this.limit };
  }
}

/**
 * The service has been failing and the circuit breaker is open: nothing was sent. `retryAfterMs` says
 * when the breaker lets the next probe through.
 *
 * @example
 * ```ts
 * if (err instanceof CircuitOpenError) setTimeout(retryLater, err.retryAfterMs);
 * ```
 */
export class CircuitOpenError extends FaultlineError {
  static override readonly kind: string = "CircuitOpenError";
  declare readonly code: "CIRCUIT_OPEN";
  /** Ms until the breaker lets a probe through. */
  declare readonly retryAfterMs: number;

  constructor(message: string, init: { retryAfterMs: number } & FaultlineErrorOptions) {
    super("CIRCUIT_OPEN", message, { retryable: true, ...init });
    this.retryAfterMs = init.retryAfterMs;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), retryAfterMs: this.retryAfterMs };
  }
}

/**
 * Every `ApiError` subclass, discriminated by `code`: a `switch (err.code)` narrows it.
 *
 * @example
 * ```ts
 * const e = err as KnownApiError;
 * switch (e.code) {
 *   case "VALIDATION_ERROR": return e.issues;
 *   case "RATE_LIMITED": return e.retryAfterMs;
 * }
 * ```
 */
export type KnownApiError =
  | BadRequestError
  | ValidationError
  | InvalidJsonError
  | AuthFailedError
  | AccessDeniedError
  | PaymentRequiredError
  | NotFoundError
  | ConflictError
  | PreconditionFailedError
  | ExtractionFailedError
  | LockedError
  | RateLimitedError
  | ServerError
  | GatewayTimeoutError;

/** Every code a `KnownApiError` can carry. */
export type KnownApiErrorCode = KnownApiError["code"];

/** What an `ApiError` may carry: a known code, or `HTTP_<status>` for a status with no class of its own. */
export type ApiErrorCode = KnownApiErrorCode | `HTTP_${number}`;

/**
 * Every code a faultline error can carry: `switch (err.code)` on any caught `FaultlineError` autocompletes.
 *
 * @example
 * ```ts
 * catch (err) {
 *   if (!(err instanceof FaultlineError)) throw err;
 *   switch (err.code) {
 *     case "RATE_LIMITED": return later();
 *     case "CIRCUIT_OPEN": return degrade();
 *     default: throw err;
 *   }
 * }
 * ```
 */
export type FaultlineErrorCode =
  | ApiErrorCode
  | "CONNECTION_ERROR"
  | "TIMEOUT"
  | "ABORTED"
  | "RESPONSE_VALIDATION"
  | "INVALID_ARGUMENT"
  | "MISSING_CREDENTIALS"
  | "RESPONSE_TOO_LARGE"
  | "CIRCUIT_OPEN";

type ApiErrorClass = new (init: ApiErrorInit) => ApiError;

const CLASS_BY_CODE: Readonly<Record<string, ApiErrorClass>> = {
  BAD_REQUEST: BadRequestError,
  VALIDATION_ERROR: ValidationError,
  INVALID_JSON: InvalidJsonError,
  AUTH_FAILED: AuthFailedError,
  ACCESS_DENIED: AccessDeniedError,
  PAYMENT_REQUIRED: PaymentRequiredError,
  NOT_FOUND: NotFoundError,
  CONFLICT: ConflictError,
  PRECONDITION_FAILED: PreconditionFailedError,
  EXTRACTION_FAILED: ExtractionFailedError,
  EXTRACTION_CANCELLED: ExtractionFailedError,
  LOCKED: LockedError,
  RATE_LIMITED: RateLimitedError,
  INTERNAL_ERROR: ServerError,
  GATEWAY_TIMEOUT: GatewayTimeoutError,
};

const CODE_BY_STATUS: Readonly<Record<number, KnownApiErrorCode>> = {
  400: "BAD_REQUEST",
  401: "AUTH_FAILED",
  402: "PAYMENT_REQUIRED",
  403: "ACCESS_DENIED",
  404: "NOT_FOUND",
  409: "CONFLICT",
  412: "PRECONDITION_FAILED",
  423: "LOCKED",
  429: "RATE_LIMITED",
  504: "GATEWAY_TIMEOUT",
};

/** The code a response earns: the body's own code when it is a known one, else the status's. */
export function codeFor(status: number, bodyCode: string | undefined): ApiErrorCode {
  if (bodyCode !== undefined && Object.hasOwn(CLASS_BY_CODE, bodyCode)) return bodyCode as KnownApiErrorCode;
  return CODE_BY_STATUS[status] ?? (status >= 500 && status <= 599 ? "INTERNAL_ERROR" : `HTTP_${status}`);
}

/** Builds the right `ApiError` subclass for `init.code` (as chosen by `codeFor`). */
export function createApiError(init: ApiErrorInit): ApiError {
  const Class = Object.hasOwn(CLASS_BY_CODE, init.code) ? CLASS_BY_CODE[init.code] : undefined;
  return Class === undefined ? new ApiError(init) : new Class(init);
}

/** Records how many requests a call sent; the field is readonly to users. */
export function withAttempts<E extends FaultlineError>(error: E, attempts: number): E {
  Object.defineProperty(error, "attempts", { value: attempts, enumerable: true, configurable: true });
  return error;
}

function dropUndefined(record: Record<string, unknown>): Record<string, unknown> {
  for (const key of Object.keys(record)) if (record[key] === undefined) delete record[key];
  return record;
}
