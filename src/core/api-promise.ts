import type { RateLimit } from "./errors.js";

/** A successful response with its metadata, from `.withResponse()`. */
export interface ApiResponse<T> {
  readonly data: T;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly requestId: string | undefined;
  readonly rateLimit: RateLimit | undefined;
  /** How many requests the call sent. */
  readonly attempts: number;
  /** Ms the call waited for rate-limit slots before sending, over all its attempts. */
  readonly queuedMs: number;
}

/**
 * What every call returns: a promise of the data that can also give the response around it.
 *
 * @example
 * ```ts
 * const wf = await af.workflows.get(id);
 * const { data, rateLimit, requestId } = await af.workflows.get(id).withResponse();
 * ```
 */
export class APIPromise<T> extends Promise<T> {
  readonly #response: Promise<ApiResponse<T>>;
  #data: Promise<T> | undefined;

  constructor(response: Promise<ApiResponse<T>>) {
    // The base promise is never used: `then` reads from `response`, so nothing settles twice.
    super((resolve) => resolve(undefined as T));
    this.#response = response;
  }

  // `then` on a subclass would otherwise build more APIPromises through the species constructor.
  static override get [Symbol.species](): PromiseConstructor {
    return Promise;
  }

  /** Resolves to the data with its status, headers, request id, rate-limit state and attempt count. */
  withResponse(): Promise<ApiResponse<T>> {
    return this.#response;
  }

  override then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    this.#data ??= this.#response.then((r) => r.data);
    return this.#data.then(onfulfilled, onrejected);
  }
}
