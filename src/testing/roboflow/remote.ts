/**
 * The web as the Roboflow emulator sees it. Roboflow fetches an `image=` URL itself; the emulator never
 * goes out to the network, so a test lists what each URL serves (and how its host fails first).
 */

/** What one URL serves. */
export interface RoboflowRemoteImage {
  /** The image, once `failures` are spent. Without it the host answers 404. */
  bytes?: Uint8Array | undefined;
  /**
   * How the host answers the next fetches, one entry each, before it serves `bytes`: a status (a 4xx makes
   * Roboflow answer 400, a 5xx 502 with `retryable: true`) or `"unreachable"` (502 too). Consumed as fetched.
   */
  failures?: Array<number | "unreachable"> | undefined;
}

/** The outcome of one fetch: the bytes, or why not, as Roboflow reports it. */
export type RemoteFetch =
  | { readonly ok: true; readonly bytes: Uint8Array }
  | { readonly ok: false; readonly retryable: boolean; readonly reason: string };

/** Hosts Roboflow refuses to fetch from: loopback, private, link-local and unspecified addresses. */
const PRIVATE_HOST = [
  /^localhost$/i,
  /\.localhost$/i,
  /^127\./,
  /^10\./,
  /^192\.168\./,
  /^172\.(1[6-9]|2\d|3[01])\./,
  /^169\.254\./,
  /^0\.0\.0\.0$/,
  /^\[(::1?|f[cd][0-9a-f]{0,2}:.*|fe80:.*)\]$/i,
];

/** Fetches `url` from `web`, as Roboflow would: refusing private addresses and malformed URLs. */
export function fetchRemote(url: string, web: ReadonlyMap<string, RoboflowRemoteImage>): RemoteFetch {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, retryable: false, reason: "not a valid URL" };
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return { ok: false, retryable: false, reason: "only http and https URLs are fetched" };
  if (PRIVATE_HOST.some((p) => p.test(parsed.hostname))) return { ok: false, retryable: false, reason: "private addresses are not fetched" };
  const entry = web.get(url);
  const failure = entry?.failures?.shift();
  if (failure === "unreachable") return { ok: false, retryable: true, reason: `could not connect to ${parsed.host}` };
  if (failure !== undefined) return { ok: false, retryable: failure >= 500, reason: `${parsed.host} answered ${failure}` };
  if (entry?.bytes === undefined) return { ok: false, retryable: false, reason: `${parsed.host} answered 404` };
  return { ok: true, bytes: entry.bytes };
}
