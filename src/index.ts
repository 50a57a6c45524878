// The public surface of `faultline`, listed name by name: anything not here is internal.

// First, before anything loads undici: a clear error on a Node older than faultline supports.
import "./node-check.js";

// Clients
export { Anyformat, ANYFORMAT_BASE_URL, ANYFORMAT_MAX_FILE_BYTES, type AnyformatOptions } from "./anyformat/client.js";
export {
  Roboflow,
  ROBOFLOW_BASE_URL,
  ROBOFLOW_DEPLOYMENTS_URL,
  ROBOFLOW_INFERENCE_URL,
  type RoboflowOptions,
} from "./roboflow/client.js";

// What every call returns and takes
export { APIPromise, type ApiResponse } from "./core/api-promise.js";
export { PagePromise, type Page, type PageData } from "./core/pagination.js";
export type { Logger, RequestOptions, ClientOptions } from "./core/transport.js";
export type { RetryInfo } from "./core/retry.js";
export type { LogLevel } from "./core/log.js";

// Pacing, outages: the options that tune them and the state they report
export type { RateLimitOptions, RateLimitWaitInfo } from "./core/governor/governor.js";
export type { RateLimitStore, RateObservation, Slot, TierPolicy } from "./core/governor/store.js";
export type { CircuitBreakerOptions, CircuitState, CircuitStateName } from "./core/breaker.js";
export type { RetryBudgetOptions, RetryBudgetState } from "./core/budget.js";
export type { FileInput, FileParam } from "./core/upload.js";

// anyformat shapes
export type { DocumentInput } from "./anyformat/document.js";
export type {
  PageQuery,
  WorkflowListQuery,
  WorkflowCreateParams as AnyformatWorkflowCreateParams,
  ExtractOptions,
} from "./anyformat/resources/workflows.js";
export type { WaitForOptions, PollInfo } from "./anyformat/resources/results.js";
export type { WebhookCreateParams } from "./anyformat/resources/webhooks.js";
export type { BatchInput } from "./anyformat/batch/inputs.js";
export type { BatchExtractOptions, BatchOutcome, BatchProgress } from "./anyformat/batch/extract.js";
export { parseWebhookEvent, type WebhookEvent, type WebhookEventType } from "./anyformat/webhook-event.js";
export { DATA_TYPES, type DataType } from "./anyformat/data-types.js";
export { fieldValue } from "./anyformat/field-value.js";
export type {
  Field,
  Workflow as AnyformatWorkflow,
  RunStatus,
  RunStarted,
  Uploaded,
  FileCollection,
  CollectionSummary,
  ExtractedField,
  Results,
  Webhook,
  WebhookCreated,
  Health,
} from "./anyformat/schemas.js";

// Roboflow shapes
export { EXPORT_FORMATS, type ExportFormat } from "./roboflow/formats.js";
export type { ExportOptions, VersionGenerateParams } from "./roboflow/resources/versions.js";
export type { ProjectCreateParams } from "./roboflow/resources/projects.js";
export type { TrashRestoreParams } from "./roboflow/resources/trash.js";
export type {
  WorkflowCreateParams as RoboflowWorkflowCreateParams,
  WorkflowUpdateParams as RoboflowWorkflowUpdateParams,
} from "./roboflow/resources/workflows.js";
export type { DeploymentCreateParams, DeploymentLogParams } from "./roboflow/resources/deployments.js";
export type {
  AnnotateParams,
  ImageMetadataParams,
  ImageSplit,
  ImageUploadOptions,
  ImageUploadParams,
} from "./roboflow/resources/images.js";
export type { PredictOptions } from "./roboflow/resources/models.js";
export type { WorkflowImage, WorkflowInputs, WorkflowRunOptions } from "./roboflow/resources/workflows.js";
export { ROBOFLOW_MAX_IMAGE_BYTES, type ImageInput } from "./roboflow/image-input.js";
export type {
  ClassificationResult,
  ClassPrediction,
  DetectionPrediction,
  DetectionResult,
  ImageSize,
  Keypoint,
  MultiLabelResult,
  PolygonPoint,
  PredictResult,
  WorkflowRunResult,
} from "./roboflow/predictions.js";
export type {
  Acknowledgement,
  Deployment,
  DeploymentLogEntry,
  ExportPreparing,
  ExportReady,
  ExportStatus,
  AnnotationBox,
  ImageDetail,
  MachineType,
  ProjectCreated,
  ProjectDetail,
  ProjectSummary,
  TrashItem,
  TrashItemType,
  TrashList,
  UploadedImage,
  Version,
  VersionDetail,
  VersionGenerated,
  VersionSummary,
  Workflow as RoboflowWorkflow,
  WorkflowSummary as RoboflowWorkflowSummary,
  Workspace,
  WorkspaceRef,
} from "./roboflow/schemas.js";

// Errors
export {
  FaultlineError,
  ApiError,
  BadRequestError,
  ValidationError,
  InvalidJsonError,
  AuthFailedError,
  AccessDeniedError,
  PaymentRequiredError,
  NotFoundError,
  ConflictError,
  PreconditionFailedError,
  ExtractionFailedError,
  LockedError,
  RateLimitedError,
  ServerError,
  GatewayTimeoutError,
  ConnectionError,
  TimeoutError,
  AbortedError,
  ResponseValidationError,
  InvalidArgumentError,
  CredentialsError,
  ResponseTooLargeError,
  CircuitOpenError,
  type KnownApiError,
  type KnownApiErrorCode,
  type ApiErrorCode,
  type FaultlineErrorCode,
  type RateLimit,
  type ValidationIssue,
  type FaultlineErrorOptions,
} from "./core/errors.js";

// Tracing: the diagnostics channels every call is published on (OpenTelemetry spans need no import)
export {
  TRACING_CHANNELS,
  type CallMessage,
  type AttemptMessage,
  type OperationMessage,
  type WaitMessage,
} from "./core/tracing/channels.js";
