// ExitHub and ExitPort: the native exit hand-off (native/src/exit-hub.cc). The core's ExitHub runs
// each access a vCPU posts on its own thread; a vCPU thread posts through VcpuFd.runForwarding
// (no JS per exit) or, from JS, through an ExitPort on its slot.
import { binding, type NativeExitHub, type NativeExitPort } from './binding.js';

/** Runs one forwarded access on the core: kind 0 PIO read, 1 PIO write, 2 MMIO read, 3 MMIO write; fill `data` for reads. */
export type ExitAccessCallback = (kind: number, addr: number, data: Uint8Array) => void;

export class ExitHub {
  private readonly raw: NativeExitHub;
  /** Process-wide id a vCPU thread names the hub by (attachExitHub, ExitPort). */
  readonly id: number;

  /**
   * `slots`: one per vCPU. `spin`: pause-instruction polls a vCPU makes before sleeping on its futex.
   * `onAccess` runs on this thread's event loop, one access at a time; it must not throw.
   */
  constructor(slots: number, spin: number, onAccess: ExitAccessCallback) {
    this.raw = new (binding().ExitHub)(slots, spin, onAccess);
    this.id = this.raw.id;
  }

  /** Refuses further accesses and releases every vCPU waiting on one (VM teardown). Idempotent. */
  close(): void {
    this.raw.close();
  }
}

/** A JS thread's handle on one slot of an ExitHub. */
export class ExitPort {
  private readonly raw: NativeExitPort;
  constructor(hubId: number, index: number) {
    this.raw = new (binding().ExitPort)(hubId, index);
  }

  /** Sends one access (1..8 bytes; filled for reads) and waits; false when the hub closed (dropped). */
  call(kind: number, addr: number, data: Uint8Array): boolean {
    return this.raw.call(kind, addr, data);
  }
}
