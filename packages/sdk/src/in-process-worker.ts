// The worker thread of createVmm(): the VMM core (vmm-core's Vmm, with its vCPU workers nested
// under this one) exposed over comlink. A guest exit is reported on the exit port, never by ending
// the caller's process.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { Vmm, type VmmAction } from '@workervisor/vmm-core';
import { portEndpoint } from './comlink-port.js';

interface InProcessWorkerData {
  reboot: 'exit' | 'restart';
  exitPort: MessagePort;
}

const data = workerData as InProcessWorkerData;
const vmm = new Vmm({ reboot: data.reboot, onExit: (code) => data.exitPort.postMessage(code) });

/** What the caller's side calls (types in in-process.ts). */
const api = {
  handle: (action: VmmAction) => vmm.handle(action),
  /** Stops the VM, then lets this thread end by itself (terminate() under live addon handles is not safe). */
  close: async () => {
    await vmm.close();
    setImmediate(() => {
      parentPort?.close();
      data.exitPort.close();
    });
  },
};
export type InProcessApi = typeof api;

if (parentPort === null) throw new Error('in-process-worker.js runs only as a worker thread (createVmm)');
Comlink.expose(api, portEndpoint(parentPort));
