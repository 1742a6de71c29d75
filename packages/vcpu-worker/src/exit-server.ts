// ExitServer: the core's end of the exit path. Every vCPU forwards its port/MMIO accesses through
// one native ExitHub slot (native/src/exit-hub.cc: futex hand-off, woken through uv_async); the
// hub runs them here, on the core's thread, one at a time, onto the device buses.
import { createLogger, RateLimitedLog } from '@workervisor/base';
import { ExitHub } from '@workervisor/native';
import type { AccessHandler, AccessKind } from './access.js';

const failureLog = new RateLimitedLog(createLogger('exit-server'));

/**
 * Pause-instruction polls a vCPU makes before sleeping on its futex (0: sleep at once). Measured
 * (README "Performance"): here the vCPU thread and the core mostly share one CPU, so a spin only
 * delays the core it waits for; 0 cost the least CPU per hand-off.
 */
export const EXIT_SPIN = Number(process.env.WORKERVISOR_EXIT_SPIN ?? 0);

export class ExitServer {
  private readonly hub: ExitHub;
  /** Accesses run on the buses. */
  served = 0;
  /** Accesses whose handler threw (completed anyway: reads see zeros). */
  failures = 0;

  /** `vcpus`: one slot each, slot i for vCPU i. */
  constructor(vcpus: number, handler: AccessHandler, spin = EXIT_SPIN) {
    this.hub = new ExitHub(vcpus, spin, (kind, addr, data) => {
      this.served++;
      try {
        handler(kind as AccessKind, addr, data);
      } catch (err) {
        // A host-side failure inside a device must not strand this vCPU or another: the access
        // completes (reads see zeros), the failure is counted and logged.
        data.fill(0);
        this.failures++;
        failureLog.warn(`device failed on a forwarded access at 0x${addr.toString(16)}`, { error: err instanceof Error ? err.message : String(err) });
      }
    });
  }

  /** The id vCPU threads attach to (VcpuFd.attachExitHub, ExitPort). */
  get hubId(): number {
    return this.hub.id;
  }

  /** Releases every waiting vCPU and refuses further accesses (VM teardown). Idempotent. */
  close(): void {
    this.hub.close();
  }
}
