// Messages between the main thread and the API worker. Requests travel as
// `{ request: VmmAction, reply: MessagePort }` (a fresh channel per request, the port transferred).
import type { MessagePort } from 'node:worker_threads';
import type { ErrorData, LogLevel } from '@workervisor/base';
import type { VmmAction } from '@workervisor/vmm-core';

export interface ApiWorkerData {
  socketPath: string;
  logLevel: LogLevel;
  /** The main thread's log file; absent = stderr. */
  logFd?: number;
  maxBodyBytes: number;
  /** How long close() waits for in-flight requests before dropping connections, ms. */
  closeGraceMs: number;
}

/** Worker -> main. */
export type WorkerToMain =
  | { kind: 'listening'; socketPath: string }
  | { kind: 'start-failed'; error: ErrorData }
  | { kind: 'request'; request: VmmAction; reply: MessagePort }
  | { kind: 'closed' };

/** Main -> worker. */
export type MainToWorker = { kind: 'close' };
