// Workervisor SDK: a typed client of a VMM's REST API, launch() to run a VMM child process (and
// spawnVmm / VmmProcess / ConsoleBuffer underneath it, which the e2e framework uses too).
export { connect, VmmClient, API_PREFIX, type ConnectOptions, type HttpMethod } from './client.js';
export { launch, restore, spawnVmm, vmmArgs, Vm, bootFlags, resolveCliBinary, type LaunchOptions, type AgentLaunchOptions, type SpawnVmmOptions, type RestoreSource } from './launch.js';
export { snapshotUrl, snapshotViewWithVsock, type SnapshotOptions, type RestoreOptions } from './snapshot.js';
export { findImage, ImageError, IMAGE_CMDLINE, type GuestImage, type ImageErrorKind } from './image.js';
export { buildImage, defaultImageDir, imageCacheDir, normalisePackages, type BuildImageOptions } from './image-build.js';
export { createVmm, InProcessVmm, type CreateVmmOptions } from './in-process.js';
export { GuestAgent, type GuestAgentOptions, type GuestFiles } from './guest.js';
// The guest agent's results and errors (vm.exec, vm.spawn, vm.files), from @workervisor/agent.
export { AgentError, AgentUnavailableError, ExecTimeoutError, AgentProcess, type AgentInfo, type ExecOptions, type ExecResult, type SpawnOptions, type ProcessExit, type FileStat } from '@workervisor/agent';
export { VmmProcess, type VmmProcessOptions, type VmExit } from './vmm-process.js';
export { ConsoleBuffer, MAX_CONSOLE_CHARS, type ConsoleBufferOptions } from './console-buffer.js';
export {
  ResponseError,
  ConnectionError,
  LaunchError,
  SerialWaitError,
  parseErrorBody,
  type ResponseErrorKind,
  type ConnectionErrorKind,
  type VmmEnd,
  type LaunchErrorKind,
  type SerialWaitErrorKind,
  type ServerErrorBody,
} from './errors.js';
// The API body types, from @workervisor/schema.
export type * from './api-types.js';
