// The guest side of a virtio-vsock device for tests: a virtio-mmio driver with rx, tx and event
// queues in fake guest memory that sends vsock packets and reads back what the device delivered,
// the way Linux's vmw_vsock_virtio_transport would.
import type { IrqTrigger } from '../bus-device.js';
import { MmioTransport } from '../virtio/mmio.js';
import { decodeHeader, encodeHeader, VSOCK_HDR_SIZE, VSOCK_OP_RW, VSOCK_TYPE_STREAM, type VsockHeader } from '../virtio/vsock/packet.js';
import type { VirtioVsock } from '../virtio/vsock/vsock.js';
import { FakeGuestMemory } from './fake-guest-memory.js';
import { MockVirtqueue, mmioInitialize } from './mock-virtqueue.js';

/** A packet the device delivered to the guest. */
export interface ReceivedVsockPacket {
  readonly hdr: VsockHeader;
  readonly payload: Uint8Array;
}

/** Drives `device` as the guest with CID `device.guestCid`. Queues of 256 entries; payload buffers of `rxBufferSize`. */
export class MockVsockGuest {
  readonly mem = new FakeGuestMemory(0x400_0000);
  readonly transport: MmioTransport;
  readonly rx: MockVirtqueue;
  readonly tx: MockVirtqueue;
  readonly ev: MockVirtqueue;
  private readonly rxBuffers = new Map<number, number>();
  private posted = 0;

  constructor(
    readonly device: VirtioVsock,
    readonly rxBufferSize = 4096,
  ) {
    const irq: IrqTrigger = { trigger: () => {} };
    this.transport = new MmioTransport({ device, mem: this.mem, irq });
    // Rings far apart; each queue's bump allocator gets its own 16 MiB of buffers (recycled below).
    this.rx = new MockVirtqueue(this.mem, { size: 256, ringBase: 0x1_0000, dataBase: 0x100_0000 });
    this.tx = new MockVirtqueue(this.mem, { size: 256, ringBase: 0x2_0000, dataBase: 0x200_0000 });
    this.ev = new MockVirtqueue(this.mem, { size: 256, ringBase: 0x3_0000, dataBase: 0x300_0000 });
    const status = mmioInitialize(this.transport, [this.rx, this.tx, this.ev]);
    if (status !== 0x0f) throw new Error(`vsock handshake ended in status 0x${status.toString(16)}`);
  }

  /** Posts rx buffers until `count` are outstanding (at most 128), then kicks the device. */
  fillRx(count = 128): void {
    while (this.posted < Math.min(count, 128)) {
      const { head, buffers } = this.rx.addChain([{ addr: this.rxAddr(), len: VSOCK_HDR_SIZE + this.rxBufferSize, writable: true }]);
      this.rxBuffers.set(head, buffers[0]?.addr ?? 0);
      this.posted++;
    }
    this.transport.queueNotify(0);
  }

  /** Packets delivered since the previous call (their buffers are re-posted by the next fillRx). */
  received(): ReceivedVsockPacket[] {
    return this.rx.takeUsed().map((u) => {
      this.posted--;
      const bytes = this.mem.slice(this.rxBuffers.get(u.id) ?? 0, u.len).slice();
      return { hdr: decodeHeader(bytes), payload: bytes.subarray(VSOCK_HDR_SIZE) };
    });
  }

  /** Sends one packet from the guest (header and payload as two descriptors); `len` follows the payload. */
  send(h: Partial<VsockHeader> & { srcPort: number; dstPort: number; op: number }, payload?: Uint8Array): void {
    const hdr: VsockHeader = { srcCid: BigInt(this.device.guestCid), dstCid: 2n, len: payload?.length ?? 0, type: VSOCK_TYPE_STREAM, flags: 0, bufAlloc: 1 << 20, fwdCnt: 0, ...h };
    const slot = this.txSlot++ % 128;
    const base = 0x200_0000 + slot * 0x1_1000;
    const buffers = [{ addr: base, data: encodeHeader(hdr) }];
    if (payload !== undefined && payload.length > 0) buffers.push({ addr: base + 0x100, data: payload });
    this.tx.addChain(buffers);
    this.transport.queueNotify(1);
    this.tx.takeUsed();
  }

  /** Sends `data` as RW packets of at most 4 KiB. */
  sendData(h: Partial<VsockHeader> & { srcPort: number; dstPort: number }, data: Uint8Array): void {
    for (let at = 0; at < data.length; at += 4096) this.send({ ...h, op: VSOCK_OP_RW }, data.subarray(at, at + 4096));
  }

  private txSlot = 0;
  private rxSlot = 0;

  private rxAddr(): number {
    const slot = this.rxSlot++ % 256;
    return 0x100_0000 + slot * (VSOCK_HDR_SIZE + this.rxBufferSize + 64);
  }
}
