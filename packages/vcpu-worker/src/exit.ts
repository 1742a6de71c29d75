// Decodes struct kvm_run exits (linux/kvm.h, x86) and moves port/MMIO data between the kvm_run
// page and a handler: the exit -> bus step of the run loop.
import { KVM_EXIT, KVM_EXIT_IO_OUT, KVM_RUN_OFFSETS as O } from '@workervisor/native';
import { AccessKind } from './access.js';

/** Handles one guest access; returns false when it could not be delivered (VM going away). */
export type AccessSink = (kind: AccessKind, addr: number, data: Uint8Array) => boolean;

/** Views over one vCPU's kvm_run page. */
export class RunPage {
  readonly view: DataView;
  readonly bytes: Uint8Array;
  constructor(buffer: ArrayBuffer) {
    this.view = new DataView(buffer);
    this.bytes = new Uint8Array(buffer);
  }

  get exitReason(): number {
    return this.view.getUint32(O.exitReason, true);
  }

  /**
   * KVM_EXIT_IO: one access per `count` (string instructions), data at data_offset inside the page.
   * A data_offset KVM never produces (outside the page) is ignored rather than trusted.
   */
  handleIo(sink: AccessSink): void {
    const v = this.view;
    const out = v.getUint8(O.ioDirection) === KVM_EXIT_IO_OUT;
    const size = v.getUint8(O.ioSize);
    const port = v.getUint16(O.ioPort, true);
    const count = v.getUint32(O.ioCount, true);
    const offset = Number(v.getBigUint64(O.ioDataOffset, true));
    if (offset + size * count > this.bytes.length) return;
    for (let i = 0; i < count; i++) {
      const data = this.bytes.subarray(offset + i * size, offset + (i + 1) * size);
      if (!sink(out ? AccessKind.PioWrite : AccessKind.PioRead, port, data)) return;
    }
  }

  /** KVM_EXIT_MMIO: one access of len (1..8) bytes; read data goes back into mmio.data. */
  handleMmio(sink: AccessSink): void {
    const v = this.view;
    const addr = Number(v.getBigUint64(O.mmioPhysAddr, true));
    const len = Math.min(v.getUint32(O.mmioLen, true), 8);
    const write = v.getUint8(O.mmioIsWrite) !== 0;
    const data = this.bytes.subarray(O.mmioData, O.mmioData + len);
    sink(write ? AccessKind.MmioWrite : AccessKind.MmioRead, addr, data);
  }

  /** KVM_EXIT_SYSTEM_EVENT type (1 shutdown, 2 reset, 3 crash). */
  get systemEventType(): number {
    return this.view.getUint32(O.systemEventType, true);
  }

  get failEntryReason(): bigint {
    return this.view.getBigUint64(O.failEntryReason, true);
  }

  get internalSuberror(): number {
    return this.view.getUint32(O.internalSuberror, true);
  }
}

export const KVM_SYSTEM_EVENT = { SHUTDOWN: 1, RESET: 2, CRASH: 3 } as const;

/** A name for an exit reason, for logs and metrics. */
export function exitName(reason: number): string {
  for (const [name, value] of Object.entries(KVM_EXIT)) if (value === reason) return name;
  return `UNKNOWN(${reason})`;
}
