// The light half of @workervisor/api for the VMM's main thread: errors, the request protocol and
// the server (whose HTTP side runs in its own worker). No TypeBox schemas here: loading them costs
// ~190 ms of start-up, so the core imports them (withDefaults, the Firecracker translator) on demand.
export { ApiError, apiErrorCode, statusForCode, STATUS_BY_CODE, errorBody, type ApiErrorKind, type ErrorBody } from './errors.js';
export { failure, type ApiBackend } from './protocol.js';
export { startApiServer, type ApiServerOptions, type ApiServerHandle } from './server/server.js';
export type { ApiSeccomp } from './server/messages.js';
export { ApiServerError, type ApiServerErrorKind } from './server/errors.js';
export type { VmConfig, VmInfo, VmState, VmCounters, VmmPingResponse } from '@workervisor/schema';
export { describeJsonError, jsonErrorLocation, jsonErrorOffset, type JsonErrorLocation } from './json-error.js';
