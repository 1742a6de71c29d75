// Workervisor SDK: a typed client of a VMM's REST API, and launch() to run a VMM child process.
export { connect, VmmClient, API_PREFIX, type ConnectOptions, type HttpMethod } from './client.js';
export { launch, Vm, bootFlags, resolveCliBinary, type LaunchOptions, type VmExit } from './launch.js';
export {
  ResponseError,
  ConnectionError,
  LaunchError,
  SerialWaitError,
  parseErrorBody,
  type ResponseErrorKind,
  type ConnectionErrorKind,
  type LaunchErrorKind,
  type SerialWaitErrorKind,
  type ServerErrorBody,
} from './errors.js';
// The API body types, from @workervisor/api.
export type * from './api-types.js';
