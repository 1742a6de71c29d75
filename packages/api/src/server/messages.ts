// Messages between the main thread and the API worker. Requests travel as
// `{ request: VmmAction, reply: MessagePort }` (a fresh channel per request, the port transferred).
import type { MessagePort } from 'node:worker_threads';
import type { ErrorData, LogLevel } from '@workervisor/base';
import type { VmmAction } from '@workervisor/vmm-core';

/**
 * A seccomp program for the API worker's thread and the module that installs it: the API package
 * loads no part of the core or the addon itself, so the caller names an ES module exporting
 * `installSeccompFilter(program, { label })` (vmm-core's SECCOMP_INSTALLER_URL).
 */
export interface ApiSeccomp {
  /** struct sock_filter[] bytes. */
  program: Uint8Array;
  /** file: URL of the installer module. */
  installerUrl: string;
}

export interface ApiWorkerData {
  socketPath: string;
  logLevel: LogLevel;
  /** The main thread's log file; absent = stderr. */
  logFd?: number;
  maxBodyBytes: number;
  /** How long close() waits for in-flight requests before dropping connections, ms. */
  closeGraceMs: number;
  /** The api seccomp filter, installed on the worker's thread once it listens (ApiServerOptions.seccomp). */
  seccomp?: ApiSeccomp;
}

/** Worker -> main. */
export type WorkerToMain =
  | { kind: 'listening'; socketPath: string }
  | { kind: 'start-failed'; error: ErrorData }
  | { kind: 'request'; request: VmmAction; reply: MessagePort }
  | { kind: 'closed' };

/** Main -> worker. */
export type MainToWorker = { kind: 'close' };
