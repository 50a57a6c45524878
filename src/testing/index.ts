// The public surface of `faultline/testing`. It loads and names no msw type: a project without msw (an
// optional peer) compiles it with skipLibCheck off. `createMswHandlers` lives in `faultline/testing/msw`.

// First, before anything loads undici: a clear error on a Node older than faultline supports.
import "../node-check.js";

export {
  startEmulator,
  type Emulator,
  type EmulatorLogEntry,
  type StartEmulatorOptions,
  type StartAnyformatOptions,
  type StartRoboflowOptions,
} from "./server.js";
export { FAULT_NAMES, type FaultName, type FaultRates, type InjectOptions, type OutageOptions } from "./faults.js";
export {
  ANYFORMAT_EMULATOR_KEY,
  createAnyformatApp,
  type AnyformatApp,
  type AnyformatEmulatorOptions,
  type AnyformatWebhookDelivery,
} from "./anyformat/app.js";
export {
  ROBOFLOW_EMULATOR_KEY,
  ROBOFLOW_SCOPELESS_KEY,
  ROBOFLOW_EMULATOR_WORKSPACE,
  ROBOFLOW_HTML_502,
  createRoboflowApp,
  type RoboflowAnnotationRecord,
  type RoboflowAnswerForms,
  type RoboflowApp,
  type RoboflowEmulatorOptions,
  type RoboflowImageRecord,
  type RoboflowModelFault,
  type RoboflowRemoteImage,
} from "./roboflow/app.js";
export { ManualClock } from "./clock.js";
export type { Clock, EmulatorApp, EmulatorRequest, EmulatorResponse, HttpFaultName } from "./types.js";
