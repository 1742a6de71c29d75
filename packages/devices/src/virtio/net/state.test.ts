// virtio-net's snapshot state: the MAC the guest read and the receive chains it had handed over,
// brought back into a new device on the same guest RAM, so the next frame lands where it would have.
import { describe, expect, it } from 'vitest';
import { FakeGuestMemory, FakeTap, MockVirtqueue, RecordingIrq, mmioInitialize } from '../../testing/index.js';
import { MmioTransport, type MmioTransportState } from '../mmio.js';
import { VirtioNet, type VirtioNetState } from './device.js';
import { NET_HDR_SIZE } from './header.js';

const MAC = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56);

/** A device live on rxq/txq in `mem` (the default features include MRG_RXBUF). */
function live(mem: FakeGuestMemory, mac = MAC) {
  const tap = new FakeTap();
  const device = new VirtioNet({ backend: tap, mac, name: 'net0', queueSize: 32 });
  const transport = new MmioTransport({ device, mem, irq: new RecordingIrq() });
  return { tap, device, transport };
}

/** Save, through JSON as a snapshot does, and restore into a fresh device (another random MAC) on the same RAM. */
function snapshotAndRestore(mem: FakeGuestMemory, transport: MmioTransport, device: VirtioNet) {
  const saved = JSON.parse(JSON.stringify({ transport: transport.save(), device: device.save() })) as { transport: MmioTransportState; device: VirtioNetState };
  const next = live(mem, Uint8Array.of(2, 9, 9, 9, 9, 9));
  next.transport.restore(saved.transport);
  next.device.restore(saved.device);
  return { ...next, saved };
}

describe('VirtioNet snapshot state', () => {
  it('keeps the receive chains it held, so the next frame after a restore goes into the first of them', () => {
    const mem = new FakeGuestMemory(0x40_0000);
    const a = live(mem);
    const rxq = new MockVirtqueue(mem, { size: 32, ringBase: 0x1000, dataBase: 0x1_0000 });
    const txq = new MockVirtqueue(mem, { size: 32, ringBase: 0x8000, dataBase: 0x20_0000 });
    mmioInitialize(a.transport, [rxq, txq]);
    const first = rxq.addChain([{ len: 4096, writable: true }]);
    rxq.addChain([{ len: 4096, writable: true }]);
    // Two pages cannot take a 64 KiB frame: the device pops and holds them, waiting for more.
    a.tap.deliver(new Uint8Array(NET_HDR_SIZE + 60));
    expect(a.device.heldRxBuffers).toBe(2);
    expect(a.device.rxPaused).toBe('buffers');

    const b = snapshotAndRestore(mem, a.transport, a.device);
    expect(b.saved.device).toEqual({ mac: '52:54:00:12:34:56', heldRx: [first.head, first.head + 1] });
    expect(b.device.heldRxBuffers).toBe(2);
    for (let i = 0; i < 16; i++) rxq.addChain([{ len: 4096, writable: true }]);
    b.transport.queueNotify(0);
    b.tap.deliver(new Uint8Array(NET_HDR_SIZE + 60));
    expect(rxq.takeUsed()).toEqual([{ id: first.head, len: NET_HDR_SIZE + 60 }]);
  });

  it('presents the MAC the guest read before the snapshot, not the new device one', () => {
    const mem = new FakeGuestMemory(0x40_0000);
    const a = live(mem);
    mmioInitialize(a.transport, [new MockVirtqueue(mem, { size: 32, ringBase: 0x1000 }), new MockVirtqueue(mem, { size: 32, ringBase: 0x8000 })]);
    const b = snapshotAndRestore(mem, a.transport, a.device);
    const config = new Uint8Array(6);
    b.device.readConfig(0, config);
    expect(Array.from(config)).toEqual(Array.from(MAC));
  });

  it('refuses a state without a MAC or with held buffers that are not descriptor indices', () => {
    const { device } = live(new FakeGuestMemory(0x10_0000));
    expect(() => device.restore({ heldRx: [] } as never)).toThrow('net0: the snapshot state has no valid MAC');
    expect(() => device.restore({ mac: '52:54:00:12:34:56', heldRx: [-1] })).toThrow("net0: the snapshot state's held receive buffers are not descriptor indices");
    expect(() => device.restore({ mac: '52:54:00:12:34:56', heldRx: [1] })).toThrow('net0: the snapshot state holds 1 receive buffers but the receive queue is not live');
  });
  it('reads no frame and sends none while quiesced for a snapshot, and serves both after', () => {
    const mem = new FakeGuestMemory(0x40_0000);
    const a = live(mem);
    const rxq = new MockVirtqueue(mem, { size: 32, ringBase: 0x1000, dataBase: 0x1_0000 });
    const txq = new MockVirtqueue(mem, { size: 32, ringBase: 0x8000, dataBase: 0x20_0000 });
    mmioInitialize(a.transport, [rxq, txq]);
    for (let i = 0; i < 17; i++) rxq.addChain([{ len: 4096, writable: true }]);
    a.device.quiesce();
    expect(a.tap.handler).toBeUndefined();
    a.tap.incoming.push(new Uint8Array(NET_HDR_SIZE + 60));
    txq.addChain([{ len: NET_HDR_SIZE + 20 }]);
    a.transport.queueNotify(1);
    a.transport.queueNotify(0);
    expect(a.tap.written).toHaveLength(0);
    expect(rxq.takeUsed()).toEqual([]);
    expect(txq.takeUsed()).toEqual([]);

    a.device.unquiesce();
    expect(a.tap.written).toHaveLength(1);
    expect(txq.takeUsed()).toHaveLength(1);
    // Watching the tap again: the level-triggered fd fires for the waiting frame.
    expect(a.tap.handler).toBeDefined();
    a.tap.handler!();
    expect(rxq.takeUsed()).toEqual([{ id: 0, len: NET_HDR_SIZE + 60 }]);
  });
});
