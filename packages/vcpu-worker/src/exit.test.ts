import { describe, expect, it } from 'vitest';
import { KVM_EXIT, KVM_EXIT_IO_IN, KVM_EXIT_IO_OUT, KVM_RUN_OFFSETS as O } from '@workervisor/native';
import { exitName, RunPage } from './exit.js';
import { AccessKind } from './access.js';

/** One sink call, with a copy of the bytes it saw (the real `data` is a live view of the page). */
interface SeenAccess {
  kind: AccessKind;
  addr: number;
  bytes: number[];
}

const PAGE_BYTES = 4096;

/** A fake kvm_run page: a plain ArrayBuffer laid out as struct kvm_run. */
function page(): { buffer: ArrayBuffer; view: DataView; bytes: Uint8Array; run: RunPage } {
  const buffer = new ArrayBuffer(PAGE_BYTES);
  return { buffer, view: new DataView(buffer), bytes: new Uint8Array(buffer), run: new RunPage(buffer) };
}

function setIo(view: DataView, io: { direction: number; size: number; port: number; count: number; dataOffset: bigint }): void {
  view.setUint32(O.exitReason, KVM_EXIT.IO, true);
  view.setUint8(O.ioDirection, io.direction);
  view.setUint8(O.ioSize, io.size);
  view.setUint16(O.ioPort, io.port, true);
  view.setUint32(O.ioCount, io.count, true);
  view.setBigUint64(O.ioDataOffset, io.dataOffset, true);
}

function setMmio(view: DataView, mmio: { physAddr: bigint; len: number; isWrite: boolean }): void {
  view.setUint32(O.exitReason, KVM_EXIT.MMIO, true);
  view.setBigUint64(O.mmioPhysAddr, mmio.physAddr, true);
  view.setUint32(O.mmioLen, mmio.len, true);
  view.setUint8(O.mmioIsWrite, mmio.isWrite ? 1 : 0);
}

/** A sink that records every access and answers reads with `answer(i)` for the i-th call. */
function recordingSink(answer: (i: number, data: Uint8Array) => void = () => {}, result = true) {
  const seen: SeenAccess[] = [];
  const sink = (kind: AccessKind, addr: number, data: Uint8Array): boolean => {
    answer(seen.length, data);
    seen.push({ kind, addr, bytes: [...data] });
    return result;
  };
  return { seen, sink };
}

describe('RunPage', () => {
  it('reads the exit reason from offset 8', () => {
    const p = page();
    p.view.setUint32(O.exitReason, KVM_EXIT.HLT, true);
    expect(p.run.exitReason).toBe(KVM_EXIT.HLT);
  });

  it('forwards a single-byte OUT as one PIO write with the byte at data_offset', () => {
    const p = page();
    setIo(p.view, { direction: KVM_EXIT_IO_OUT, size: 1, port: 0x3f8, count: 1, dataOffset: 0x1000n - 0x100n });
    p.bytes[0xf00] = 0x41;
    const { seen, sink } = recordingSink();
    p.run.handleIo(sink);
    expect(seen).toEqual([{ kind: AccessKind.PioWrite, addr: 0x3f8, bytes: [0x41] }]);
  });

  it('forwards a string OUT (count > 1) as one PIO write per element, in order', () => {
    const p = page();
    setIo(p.view, { direction: KVM_EXIT_IO_OUT, size: 2, port: 0x1f0, count: 3, dataOffset: 0x200n });
    p.bytes.set([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0xee], 0x200);
    const { seen, sink } = recordingSink();
    p.run.handleIo(sink);
    expect(seen).toEqual([
      { kind: AccessKind.PioWrite, addr: 0x1f0, bytes: [0x01, 0x02] },
      { kind: AccessKind.PioWrite, addr: 0x1f0, bytes: [0x03, 0x04] },
      { kind: AccessKind.PioWrite, addr: 0x1f0, bytes: [0x05, 0x06] },
    ]);
  });

  it('hands each sink call a view of exactly one element at its place in the page', () => {
    const p = page();
    setIo(p.view, { direction: KVM_EXIT_IO_OUT, size: 4, port: 0xcfc, count: 2, dataOffset: 0x300n });
    const views: Uint8Array[] = [];
    p.run.handleIo((_kind, _addr, data) => {
      views.push(data);
      return true;
    });
    expect(views.map((v) => [v.byteOffset, v.length, v.buffer === p.buffer])).toEqual([
      [0x300, 4, true],
      [0x304, 4, true],
    ]);
  });

  it('writes the answers of a string IN back into the page, one element each', () => {
    const p = page();
    setIo(p.view, { direction: KVM_EXIT_IO_IN, size: 4, port: 0x60, count: 2, dataOffset: 0x400n });
    const { seen, sink } = recordingSink((i, data) => data.set(i === 0 ? [0xde, 0xad, 0xbe, 0xef] : [0x11, 0x22, 0x33, 0x44]));
    p.run.handleIo(sink);
    expect(seen.map((s) => [s.kind, s.addr])).toEqual([
      [AccessKind.PioRead, 0x60],
      [AccessKind.PioRead, 0x60],
    ]);
    expect([...p.bytes.subarray(0x400, 0x408)]).toEqual([0xde, 0xad, 0xbe, 0xef, 0x11, 0x22, 0x33, 0x44]);
    expect(p.bytes[0x408]).toBe(0);
  });

  it('stops a string access at the first element the sink could not deliver', () => {
    const p = page();
    setIo(p.view, { direction: KVM_EXIT_IO_OUT, size: 1, port: 0x80, count: 5, dataOffset: 0x100n });
    const { seen, sink } = recordingSink(() => {}, false);
    p.run.handleIo(sink);
    expect(seen).toHaveLength(1);
  });

  it('accepts a string access that ends exactly at the end of the page', () => {
    const p = page();
    setIo(p.view, { direction: KVM_EXIT_IO_OUT, size: 4, port: 0x80, count: 2, dataOffset: BigInt(PAGE_BYTES - 8) });
    const { seen, sink } = recordingSink();
    p.run.handleIo(sink);
    expect(seen).toHaveLength(2);
  });

  it.each([
    ['starts past the page', { size: 1, count: 1, dataOffset: BigInt(PAGE_BYTES) }],
    ['starts inside but runs past the page', { size: 4, count: 2, dataOffset: BigInt(PAGE_BYTES - 4) }],
    ['is a huge u64', { size: 1, count: 1, dataOffset: 0xffff_ffff_ffff_fff0n }],
  ])('ignores an I/O exit whose data_offset %s (sink never called)', (_name, io) => {
    for (const direction of [KVM_EXIT_IO_IN, KVM_EXIT_IO_OUT]) {
      const p = page();
      setIo(p.view, { direction, port: 0x3f8, ...io });
      const { seen, sink } = recordingSink((_i, data) => data.fill(0xff));
      p.run.handleIo(sink);
      expect(seen).toEqual([]);
      expect(p.bytes.every((b, i) => i < 48 || b === 0)).toBe(true);
    }
  });

  it('forwards an MMIO write with its 64-bit address and len bytes of mmio.data', () => {
    const p = page();
    setMmio(p.view, { physAddr: 0x1_d000_0010n, len: 4, isWrite: true });
    p.bytes.set([1, 2, 3, 4, 5, 6, 7, 8], O.mmioData);
    const { seen, sink } = recordingSink();
    p.run.handleMmio(sink);
    expect(seen).toEqual([{ kind: AccessKind.MmioWrite, addr: 0x1_d000_0010, bytes: [1, 2, 3, 4] }]);
  });

  it.each([1, 2, 4, 8])('answers a %i-byte MMIO read by writing the sink bytes into mmio.data', (len) => {
    const p = page();
    setMmio(p.view, { physAddr: 0xfee0_0020n, len, isWrite: false });
    const answer = [0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8].slice(0, len);
    const { seen, sink } = recordingSink((_i, data) => data.set(answer));
    p.run.handleMmio(sink);
    expect(seen).toEqual([{ kind: AccessKind.MmioRead, addr: 0xfee0_0020, bytes: answer }]);
    expect([...p.bytes.subarray(O.mmioData, O.mmioData + len)]).toEqual(answer);
    // The bytes after mmio.data belong to len and is_write and must stay untouched.
    expect(p.view.getUint32(O.mmioLen, true)).toBe(len);
  });

  it('clamps an MMIO len above 8 to the 8 bytes of mmio.data', () => {
    const p = page();
    setMmio(p.view, { physAddr: 0xd000_0000n, len: 64, isWrite: false });
    const lengths: number[] = [];
    p.run.handleMmio((_kind, _addr, data) => {
      lengths.push(data.length);
      data.fill(0x5a);
      return true;
    });
    expect(lengths).toEqual([8]);
    expect(p.view.getUint32(O.mmioLen, true)).toBe(64);
  });

  it('decodes system_event type, fail_entry reason and internal suberror', () => {
    const p = page();
    p.view.setUint32(O.systemEventType, 2, true);
    expect(p.run.systemEventType).toBe(2);
    p.view.setBigUint64(O.failEntryReason, 0x8000_0021n, true);
    expect(p.run.failEntryReason).toBe(0x8000_0021n);
    p.view.setUint32(O.internalSuberror, 3, true);
    expect(p.run.internalSuberror).toBe(3);
  });
});

describe('exitName', () => {
  it('names known exit reasons after KVM_EXIT_*', () => {
    expect(exitName(KVM_EXIT.IO)).toBe('IO');
    expect(exitName(KVM_EXIT.MMIO)).toBe('MMIO');
    expect(exitName(KVM_EXIT.SYSTEM_EVENT)).toBe('SYSTEM_EVENT');
    expect(exitName(0)).toBe('UNKNOWN');
  });

  it('says UNKNOWN(n) for a reason it does not know', () => {
    expect(exitName(99)).toBe('UNKNOWN(99)');
    expect(exitName(-1)).toBe('UNKNOWN(-1)');
  });
});
