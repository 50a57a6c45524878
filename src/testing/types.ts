/**
 * The shape every emulator shares: an app is a function from a fully read request to a response,
 * so the same app can sit behind a real loopback server (`startEmulator`) or behind msw handlers.
 * Socket-level faults (resets, slow headers, truncated bodies) live in the server, not in apps.
 */

/** A request as an emulator app sees it: already read, headers lower-cased. */
export interface EmulatorRequest {
  readonly method: string;
  /** The raw path, without the query string, not percent-decoded. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

/** What an app answers. `json` is serialised; `text` is sent as is. */
export interface EmulatorResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly json?: unknown;
  readonly text?: string;
}

/** The faults an app knows how to phrase in its own API's error dialect. */
export type HttpFaultName = "rateLimit" | "serverError" | "gatewayTimeout" | "locked" | "serviceUnavailable";

/** A clock the emulators read instead of `Date.now()`, so tests can move time by hand. */
export interface Clock {
  now(): number;
}

export interface EmulatorApp {
  readonly api: "anyformat" | "roboflow";
  handle(request: EmulatorRequest): EmulatorResponse | Promise<EmulatorResponse>;
  /** The response this API gives for an injected HTTP-level fault, in its own body form. */
  fault(name: HttpFaultName, request: EmulatorRequest): EmulatorResponse;
  /** Ends what the app runs on its own (the anyformat emulator's webhook deliveries). */
  close?(): Promise<void>;
}
