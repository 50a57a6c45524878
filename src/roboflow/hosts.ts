/**
 * Where Roboflow's three services live, and how the two secondary ones follow a custom `baseUrl`.
 * A module of its own: the emulator's msw handlers apply the same rule without pulling in the client.
 */

/** Where the main API lives unless `baseUrl` or `ROBOFLOW_BASE_URL` says otherwise. */
export const ROBOFLOW_BASE_URL = "https://api.roboflow.com";
/** Where dedicated deployments live unless `deploymentsUrl` or `ROBOFLOW_DEPLOYMENTS_URL` says otherwise. */
export const ROBOFLOW_DEPLOYMENTS_URL = "https://roboflow.cloud";
/**
 * Where hosted models and Workflows run unless `inferenceUrl` or `ROBOFLOW_INFERENCE_URL` says otherwise.
 *
 * @example
 * ```ts
 * const local = new Roboflow({ inferenceUrl: "http://localhost:9001" }); // a self-hosted inference server
 * ```
 */
export const ROBOFLOW_INFERENCE_URL = "https://serverless.roboflow.com";

/** The services' base URLs, as far as they were given. */
export interface RoboflowHosts {
  readonly baseUrl: string;
  readonly deploymentsUrl: string;
  readonly inferenceUrl: string;
}

/**
 * Fills in the URLs not given. With Roboflow's own `baseUrl`, the others are Roboflow's own too. With
 * any other `baseUrl` (an emulator, a recording proxy), they follow it, at `{baseUrl}/deployments` and
 * `{baseUrl}/inference`, the layout of faultline's emulator: a client pointed away from Roboflow never
 * sends its key to a real Roboflow host it was not told to use.
 */
export function resolveHosts(given: {
  readonly baseUrl?: string | undefined;
  readonly deploymentsUrl?: string | undefined;
  readonly inferenceUrl?: string | undefined;
}): RoboflowHosts {
  const baseUrl = given.baseUrl ?? ROBOFLOW_BASE_URL;
  const root = baseUrl.replace(/\/+$/, "");
  const own = root === ROBOFLOW_BASE_URL;
  return {
    baseUrl,
    deploymentsUrl: given.deploymentsUrl ?? (own ? ROBOFLOW_DEPLOYMENTS_URL : `${root}/deployments`),
    inferenceUrl: given.inferenceUrl ?? (own ? ROBOFLOW_INFERENCE_URL : `${root}/inference`),
  };
}
