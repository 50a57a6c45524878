import { APIPromise, type ApiResponse } from "../../core/api-promise.js";
import { rejected } from "../../core/client.js";
import { AbortedError, FaultlineError, InvalidArgumentError, TimeoutError, withAttempts } from "../../core/errors.js";
import type { PollRecorder } from "../../core/tracing/trace.js";
import type { RequestOptions } from "../../core/transport.js";
import { WaitWindow, pauseBetweenPolls, renamedOption, waitOption } from "../../core/wait.js";
import type { Roboflow } from "../client.js";
import { EXPORT_FORMATS, type ExportFormat } from "../formats.js";
import { pathOf, versionOf } from "../paths.js";
import {
  Acknowledgement,
  ExportResponse,
  VersionDetail,
  VersionGenerated,
  type ExportReady,
  type ExportStatus,
} from "../schemas.js";


/** What `versions.generate` takes: both are required by Roboflow (`{}` for none). */
export interface VersionGenerateParams {
  readonly augmentation: Readonly<Record<string, unknown>>;
  readonly preprocessing: Readonly<Record<string, unknown>>;
}

/** How `versions.export` waits, if it does. */
export interface ExportOptions {
  /** Poll through the 202 answers until the link [false: return the first answer]. */
  readonly wait?: boolean | undefined;
  /** Ms between polls [1000]. */
  readonly pollInterval?: number | undefined;
  /**
   * Ms to keep polling for the export [600000]. The wait polls until this time is really spent (its last
   * sleep shortened to end with it, and one last poll sent then), then throws `TimeoutError`. The call's
   * `deadline`, a hard bound, ends it first when shorter.
   */
  readonly waitTimeout?: number | undefined;
  /**
   * @deprecated The old name of `waitTimeout` (here it always meant the whole wait; each request's own
   * limit is `timeout` in the call's options). Passing both is an `InvalidArgumentError`.
   */
  readonly timeout?: number | undefined;
  /** Called with Roboflow's `progress` (0 to 1) for each "still preparing" answer. */
  readonly onProgress?: ((progress: number) => void) | undefined;
}

const DEFAULT_POLL_INTERVAL = 1_000;
const DEFAULT_EXPORT_TIMEOUT = 600_000;

/**
 * Dataset versions. A `project` is `"proj"` or `"ws/proj"`; a `version` is its number.
 *
 * @example
 * ```ts
 * const { version } = await rf.versions.get("widgets", 2);
 * const { link } = await rf.versions.export("widgets", 2, "coco", { wait: true });
 * ```
 */
export class VersionsResource {
  constructor(private readonly client: Roboflow) {}

  /** `GET /{ws}/{proj}/{version}`. */
  get(project: string, version: number | string, options?: RequestOptions): APIPromise<VersionDetail> {
    return this.client.call(() => {
      const ref = this.client.projectRef(project);
      return { operation: "versions.get", method: "GET", path: pathOf(ref.workspace, ref.project, versionOf(version)), schema: VersionDetail };
    }, options);
  }

  /** `POST /{ws}/{proj}/generate`: starts a new version; answers `{message, version}`. */
  generate(project: string, params: VersionGenerateParams, options?: RequestOptions): APIPromise<VersionGenerated> {
    return this.client.call(() => {
      const ref = this.client.projectRef(project);
      const json = { augmentation: params.augmentation, preprocessing: params.preprocessing };
      return { operation: "versions.generate", method: "POST", path: pathOf(ref.workspace, ref.project, "generate"), json, schema: VersionGenerated };
    }, options);
  }

  /**
   * `GET /{ws}/{proj}/{version}/{format}`. Without `wait`, resolves to the first answer: `{status: "ready", link}`
   * (200) or `{status: "preparing", progress}` (202). With `wait: true`, polls every `pollInterval` ms through
   * the 202s, calling `onProgress`, and resolves to the ready export; once `waitTimeout` is really spent it throws `TimeoutError`.
   * Each poll is its own call under the retry policy; `options.signal` stops the polling too.
   */
  export(
    project: string,
    version: number | string,
    format: ExportFormat | (string & {}),
    exportOptions: ExportOptions & { readonly wait: true },
    options?: RequestOptions,
  ): APIPromise<ExportReady>;
  export(
    project: string,
    version: number | string,
    format: ExportFormat | (string & {}),
    exportOptions?: ExportOptions,
    options?: RequestOptions,
  ): APIPromise<ExportStatus>;
  export(
    project: string,
    version: number | string,
    format: ExportFormat | (string & {}),
    exportOptions: ExportOptions = {},
    options?: RequestOptions,
  ): APIPromise<ExportStatus> {
    if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
      return rejected(
        new InvalidArgumentError(`Unknown export format ${JSON.stringify(format)}`, {
          hint: `Use one of: ${EXPORT_FORMATS.join(", ")}.`,
        }),
      );
    }
    const once = (callOptions: RequestOptions | undefined): APIPromise<ExportStatus> =>
      this.client.call(() => {
        const ref = this.client.projectRef(project);
        const path = pathOf(ref.workspace, ref.project, versionOf(version), format);
        return { operation: "versions.export", method: "GET", path, schema: ExportResponse };
      }, callOptions);
    if (exportOptions.wait !== true) return once(options);
    const effective = this.client.effectiveOptions(options);
    return new APIPromise(this.client.traced("versions.export", (trace) => this.#poll(once, exportOptions, effective, trace)));
  }

  /** `DELETE /{ws}/{proj}/{version}`: moves the version to Trash. */
  delete(project: string, version: number | string, options?: RequestOptions): APIPromise<Acknowledgement> {
    return this.client.call(() => {
      const ref = this.client.projectRef(project);
      return { operation: "versions.delete", method: "DELETE", path: pathOf(ref.workspace, ref.project, versionOf(version)), schema: Acknowledgement };
    }, options);
  }

  /**
   * `POST /{ws}/trash/restore` `{type: "version", id, parentId}`: takes the version back out of Trash.
   * A version whose project is itself in Trash cannot come back first: `ConflictError`.
   */
  restore(project: string, version: number | string, options?: RequestOptions): APIPromise<Acknowledgement> {
    return this.client.call(() => {
      const ref = this.client.projectRef(project);
      const json = { type: "version", id: String(versionOf(version)), parentId: ref.project };
      return { operation: "versions.restore", method: "POST", path: pathOf(ref.workspace, "trash", "restore"), json, schema: Acknowledgement };
    }, options);
  }

  /**
   * Polls until the export is ready. The call's `deadline` bounds the whole wait (each poll gets what is
   * left of it); `waitTimeout` in the export options is the export's own limit; the signal cuts sleeps short.
   */
  async #poll(
    once: (options: RequestOptions) => APIPromise<ExportStatus>,
    exportOptions: ExportOptions,
    options: RequestOptions,
    trace: PollRecorder | undefined,
  ): Promise<ApiResponse<ExportReady>> {
    const interval = waitOption("pollInterval", exportOptions.pollInterval, DEFAULT_POLL_INTERVAL);
    const waitTimeout = waitOption(
      "waitTimeout",
      renamedOption(exportOptions.waitTimeout, exportOptions.timeout, { current: "waitTimeout", deprecated: "timeout" }),
      DEFAULT_EXPORT_TIMEOUT,
      Number.MIN_VALUE,
    );
    const deadline = options.deadline !== undefined && options.deadline > 0 ? options.deadline : undefined;
    const window = new WaitWindow(waitTimeout, deadline);
    let progress: number | undefined;
    for (;;) {
      const began = Date.now();
      let response: ApiResponse<ExportStatus>;
      try {
        response = await once({ ...options, deadline: window.pollDeadline() }).withResponse();
      } catch (error) {
        if (!(error instanceof FaultlineError)) throw error;
        window.polled(began, error.attempts);
        if (window.endedBy(error)) throw notReady(window, progress, error);
        throw withAttempts(error, window.requests);
      }
      window.polled(began, response.attempts);
      const data = response.data;
      if (data.status === "ready") return { ...response, data, attempts: window.requests };
      progress = data.progress;
      exportOptions.onProgress?.(data.progress);
      const pause = window.nextSleep(interval, undefined);
      if (pause === undefined) throw notReady(window, progress);
      await pauseBetweenPolls(pause, options.signal, trace, window.polls).catch(() => {
        throw withAttempts(new AbortedError("Waiting for the export was aborted"), window.requests);
      });
    }
  }
}

/** The wait's own `TimeoutError`: how long it waited, how many polls, and which limit ended it. */
function notReady(window: WaitWindow, progress: number | undefined, cause?: FaultlineError): TimeoutError {
  const prepared = progress === undefined ? "" : `, progress ${progress}`;
  return new TimeoutError(`The export was not ready after ${window.describe().replace(/\)$/, `${prepared})`)}`, {
    method: "GET",
    url: cause?.url,
    attempts: window.requests,
    retryable: true,
    cause,
    hint:
      window.boundBy === "waitTimeout"
        ? "Wait longer (`waitTimeout`), or call export again later: Roboflow keeps preparing it."
        : "Give the call a longer `deadline`, or call export again later: Roboflow keeps preparing it.",
  });
}
