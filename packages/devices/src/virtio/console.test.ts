import { describe, expect, it } from 'vitest';
import { FakeGuestMemory, MockVirtqueue, RecordingIrq, RecordingOutput, mmioInitialize, mmioRead32, mmioWrite32 } from '../testing/index.js';
import {
  CONSOLE_RECEIVEQ,
  CONSOLE_TRANSMITQ,
  VIRTIO_CONSOLE_F_EMERG_WRITE,
  VIRTIO_CONSOLE_F_MULTIPORT,
  VIRTIO_CONSOLE_F_SIZE,
  MAX_CONSOLE_TX_CHAIN_BYTES,
  VirtioConsole,
  type VirtioConsoleOptions,
} from './console.js';
import { VIRTIO_F_VERSION_1, VIRTIO_ID_CONSOLE } from './device.js';
import { MmioTransport } from './mmio.js';

const text = (s: string) => new TextEncoder().encode(s);

function setup(options: VirtioConsoleOptions = {}, features?: bigint) {
  const mem = new FakeGuestMemory(0x40_0000);
  const output = new RecordingOutput();
  let drained = 0;
  const device = new VirtioConsole({ name: 'console0', queueSize: 16, output, onInputDrained: () => drained++, ...options });
  const irq = new RecordingIrq();
  const transport = new MmioTransport({ device, mem, irq });
  const rx = new MockVirtqueue(mem, { size: 16, ringBase: 0x1000, dataBase: 0x10_0000 });
  const tx = new MockVirtqueue(mem, { size: 16, ringBase: 0x8000, dataBase: 0x20_0000 });
  const status = mmioInitialize(transport, [rx, tx], features);
  return { mem, output, device, irq, transport, rx, tx, status, drained: () => drained };
}

function ready(options: VirtioConsoleOptions = {}) {
  const s = setup(options);
  if (s.status !== 0x0f) throw new Error(`handshake ended in status 0x${s.status.toString(16)}`);
  return s;
}

describe('VirtioConsole', () => {
  it('is device type 3 with two queues, offering EMERG_WRITE and never MULTIPORT or SIZE', () => {
    const { transport } = ready();
    expect(mmioRead32(transport, 0x008)).toBe(VIRTIO_ID_CONSOLE);
    const c = new VirtioConsole();
    expect(c.queueMaxSizes).toEqual([256, 256]);
    expect(c.features & VIRTIO_F_VERSION_1).toBe(VIRTIO_F_VERSION_1);
    expect(c.features & VIRTIO_CONSOLE_F_EMERG_WRITE).toBe(VIRTIO_CONSOLE_F_EMERG_WRITE);
    expect(c.features & (VIRTIO_CONSOLE_F_MULTIPORT | VIRTIO_CONSOLE_F_SIZE)).toBe(0n);
  });

  it('refuses a driver that asks for MULTIPORT at FEATURES_OK', () => {
    const { status, transport } = setup({}, VIRTIO_F_VERSION_1 | VIRTIO_CONSOLE_F_MULTIPORT);
    expect(status & 0x08).toBe(0);
    expect(transport.metrics.rejectedFeatures).toBe(1);
  });

  it('reads zeros from config space (no size, no ports)', () => {
    const { transport } = ready();
    expect([0x100, 0x104, 0x108].map((o) => mmioRead32(transport, o))).toEqual([0, 0, 0]);
  });

  it('sends transmitq buffers to the output sink in order, with used length 0', () => {
    const { tx, transport, output, device, irq } = ready();
    tx.addChain([{ data: text('hello ') }]);
    tx.addChain([{ data: text('wor') }, { data: text('ld\n') }]);
    transport.queueNotify(CONSOLE_TRANSMITQ);
    expect(output.text()).toBe('hello world\n');
    expect(tx.takeUsed()).toEqual([
      { id: 0, len: 0 },
      { id: 1, len: 0 },
    ]);
    expect(device.metrics.txBytes).toBe(12);
    expect(irq.take()).toBe(1);
  });

  it('gives the sink its own copy of the bytes', () => {
    const { tx, transport, output, mem } = ready();
    const { buffers } = tx.addChain([{ data: text('abc') }]);
    transport.queueNotify(CONSOLE_TRANSMITQ);
    mem.write(buffers[0]?.addr ?? 0, text('xyz'));
    expect(output.text()).toBe('abc');
  });

  it('writes emerg_wr characters to the sink', () => {
    const { transport, output, device } = ready();
    transport.write(0x108, Uint8Array.of(0x41));
    mmioWrite32(transport, 0x108, 0x42);
    expect(output.text()).toBe('AB');
    expect(device.metrics.emergencyWrites).toBe(2);
    transport.write(0x100, Uint8Array.of(1, 0));
    expect(device.metrics.ignoredConfigWrites).toBe(1);
  });

  it('counts a failing sink and keeps serving', () => {
    const { tx, transport, output, device } = ready();
    output.failNext = new Error('EPIPE');
    tx.addChain([{ data: text('lost') }]);
    tx.addChain([{ data: text('kept') }]);
    transport.queueNotify(CONSOLE_TRANSMITQ);
    expect(output.text()).toBe('kept');
    expect(device.metrics.outputErrors).toBe(1);
    expect(tx.takeUsed()).toHaveLength(2);
  });

  it('delivers host input into posted receive buffers', () => {
    const { rx, transport, device, mem, irq } = ready();
    const { buffers } = rx.addChain([{ len: 64, writable: true }]);
    transport.queueNotify(CONSOLE_RECEIVEQ);
    expect(device.enqueueInput(text('ls\n'))).toBe(3);
    expect(rx.takeUsed()).toEqual([{ id: 0, len: 3 }]);
    expect(new TextDecoder().decode(mem.dump(buffers[0]?.addr ?? 0, 3))).toBe('ls\n');
    expect(device.metrics).toMatchObject({ inputBytes: 3, rxBytes: 3 });
    expect(irq.take()).toBe(1);
  });

  it('buffers input until the guest posts receive buffers, then splits it across them', () => {
    const { rx, transport, device, mem } = ready();
    expect(device.enqueueInput(text('0123456789'))).toBe(10);
    expect(device.pendingInput).toBe(10);
    const a = rx.addChain([{ len: 4, writable: true }]);
    const b = rx.addChain([{ len: 2, writable: true }, { len: 8, writable: true }]);
    transport.queueNotify(CONSOLE_RECEIVEQ);
    expect(rx.takeUsed()).toEqual([
      { id: a.head, len: 4 },
      { id: b.head, len: 6 },
    ]);
    const got = [...mem.dump(a.buffers[0]?.addr ?? 0, 4), ...mem.dump(b.buffers[0]?.addr ?? 0, 2), ...mem.dump(b.buffers[1]?.addr ?? 0, 4)];
    expect(new TextDecoder().decode(Uint8Array.from(got))).toBe('0123456789');
    expect(device.pendingInput).toBe(0);
  });

  it('keeps receive buffers posted while there is no input', () => {
    const { rx, transport } = ready();
    rx.addChain([{ len: 4, writable: true }]);
    transport.queueNotify(CONSOLE_RECEIVEQ);
    expect(rx.takeUsed()).toEqual([]);
  });

  it('bounds buffered input, counts what it refuses, and says when it drained', () => {
    const { rx, transport, device, drained, mem } = ready({ inputCapacity: 8 });
    expect(device.enqueueInput(text('abcdefghijkl'))).toBe(8);
    expect(device.metrics.inputRefused).toBe(4);
    expect(device.enqueueInput(text('z'))).toBe(0);
    expect(drained()).toBe(0);
    rx.addChain([{ len: 5, writable: true }]);
    transport.queueNotify(CONSOLE_RECEIVEQ);
    expect(drained()).toBe(1);
    expect(device.inputSpace).toBe(5);
    // The ring wraps: 3 old bytes + 5 new.
    expect(device.enqueueInput(text('12345'))).toBe(5);
    const { buffers } = rx.addChain([{ len: 16, writable: true }]);
    transport.queueNotify(CONSOLE_RECEIVEQ);
    expect(rx.takeUsed().map((u) => u.len)).toEqual([5, 8]);
    expect(new TextDecoder().decode(mem.dump(buffers[0]?.addr ?? 0, 8))).toBe('fgh12345');
  });

  it('takes more than its capacity in one call when the guest has buffers posted', () => {
    const { rx, transport, device } = ready({ inputCapacity: 4 });
    for (let i = 0; i < 3; i++) rx.addChain([{ len: 4, writable: true }]);
    transport.queueNotify(CONSOLE_RECEIVEQ);
    expect(device.enqueueInput(text('0123456789'))).toBe(10);
    expect(rx.takeUsed().map((u) => u.len)).toEqual([4, 4, 2]);
  });

  it('keeps input across a driver reset and delivers it to the next driver', () => {
    const { rx, transport, device, tx } = ready();
    device.enqueueInput(text('early'));
    mmioWrite32(transport, 0x70, 0);
    expect(mmioInitialize(transport, [rx, tx])).toBe(0x0f);
    rx.addChain([{ len: 16, writable: true }]);
    transport.queueNotify(CONSOLE_RECEIVEQ);
    expect(rx.takeUsed().map((u) => u.len)).toEqual([5]);
  });

  describe('hostile chains', () => {
    it('answers a transmit chain with a writable buffer with 0 and sends nothing', () => {
      const { tx, transport, output, device } = ready();
      tx.addChain([{ data: text('x') }, { len: 4, writable: true }]);
      transport.queueNotify(CONSOLE_TRANSMITQ);
      expect(tx.takeUsed()).toEqual([{ id: 0, len: 0 }]);
      expect(output.text()).toBe('');
      expect(device.metrics.errors).toBe(1);
    });

    it('answers read-only and zero-length receive chains with 0 and keeps the input for the next', () => {
      const { rx, transport, device } = ready();
      device.enqueueInput(text('hi'));
      rx.addChain([{ data: text('ro') }]);
      rx.addChain([{ len: 0, writable: true }]);
      rx.addChain([{ len: 8, writable: true }]);
      transport.queueNotify(CONSOLE_RECEIVEQ);
      expect(rx.takeUsed()).toEqual([
        { id: 0, len: 0 },
        { id: 1, len: 0 },
        { id: 2, len: 2 },
      ]);
      expect(device.metrics.errors).toBe(2);
    });

    it('hands back loops and out-of-RAM buffers on either queue', () => {
      const { tx, rx, transport, output, device } = ready();
      tx.writeDescriptor(5, { addr: 0x20_0000, len: 4, flags: 1, next: 5 });
      tx.publish(5);
      tx.writeDescriptor(6, { addr: 0x1_0000_0000, len: 4 });
      tx.publish(6);
      transport.queueNotify(CONSOLE_TRANSMITQ);
      expect(tx.takeUsed()).toEqual([
        { id: 5, len: 0 },
        { id: 6, len: 0 },
      ]);
      expect(output.text()).toBe('');
      expect(transport.queues[CONSOLE_TRANSMITQ]?.metrics.badChains).toBe(2);
      // A receive buffer outside RAM is found (and handed back) once there is input to deliver.
      rx.writeDescriptor(3, { addr: 0xffff_ffff_0000n, len: 64, flags: 2 });
      rx.publish(3);
      expect(device.enqueueInput(text('ok'))).toBe(2);
      expect(rx.takeUsed()).toEqual([{ id: 3, len: 0 }]);
      expect(device.pendingInput).toBe(2);
      expect(transport.queues[CONSOLE_RECEIVEQ]?.metrics.badChains).toBe(1);
    });

    it('drops transmit bytes past the per-chain bound', () => {
      const { tx, transport, output, device } = ready();
      tx.addChain([{ len: MAX_CONSOLE_TX_CHAIN_BYTES + 10 }]);
      transport.queueNotify(CONSOLE_TRANSMITQ);
      expect(output.bytes.length).toBe(MAX_CONSOLE_TX_CHAIN_BYTES);
      expect(device.metrics.txDropped).toBe(10);
    });
  });

  it('ignores notifications before activation and of unknown queues, buffering input meanwhile', () => {
    const device = new VirtioConsole();
    device.queueNotify(0);
    device.queueNotify(1);
    device.queueNotify(7);
    expect(device.enqueueInput(text('x'))).toBe(1);
    expect(device.pendingInput).toBe(1);
  });

  it('saves and restores undelivered input as JSON', () => {
    const a = new VirtioConsole({ inputCapacity: 8 });
    a.enqueueInput(text('abcdef'));
    const state = JSON.parse(JSON.stringify(a.save())) as ReturnType<VirtioConsole['save']>;
    expect(state).toEqual({ input: [97, 98, 99, 100, 101, 102] });
    const b = ready({ inputCapacity: 8 });
    b.device.restore(state);
    expect(b.device.pendingInput).toBe(6);
    b.rx.addChain([{ len: 16, writable: true }]);
    b.transport.queueNotify(CONSOLE_RECEIVEQ);
    expect(b.rx.takeUsed().map((u) => u.len)).toEqual([6]);
    expect(() => b.device.restore({ input: new Array(9).fill(0) })).toThrow(expect.objectContaining({ code: 'ERR_VMM_VIRTIO_INVALID_CONFIG' }));
    expect(() => b.device.restore({ input: [256] })).toThrow(/non-byte/);
  });
});
