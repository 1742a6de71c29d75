import { describe, expect, it } from 'vitest';
import { le } from '@workervisor/base';
import { FakeGuestMemory, MemoryBlockBackend, MockVirtqueue, RecordingIrq, mmioInitialize, mmioRead32, mmioWrite32, type MockBuffer } from '../testing/index.js';
import { VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_RO, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VirtioBlock } from './block.js';
import { VIRTIO_F_RING_INDIRECT_DESC, VIRTIO_F_VERSION_1 } from './device.js';
import { MmioTransport } from './mmio.js';

function header(type: number, sector: bigint | number): Uint8Array {
  const h = new Uint8Array(16);
  le.putU32(h, 0, type);
  le.writeU64(h, 8, BigInt(sector));
  return h;
}

/** A disk of `sectors` sectors where byte i of sector s is (s + i) & 0xff. */
function pattern(sectors: number): Uint8Array {
  const bytes = new Uint8Array(sectors * 512);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (Math.floor(i / 512) + (i % 512)) & 0xff;
  return bytes;
}

function setup(options: { readonly?: boolean; serial?: string; sectors?: number; features?: bigint } = {}) {
  const mem = new FakeGuestMemory(0x8_0000);
  const backend = new MemoryBlockBackend(pattern(options.sectors ?? 16), { readonly: options.readonly ?? false });
  const device = new VirtioBlock({ backend, name: 'blk0', queueSize: 16, ...(options.serial === undefined ? {} : { serial: options.serial }) });
  const irq = new RecordingIrq();
  const transport = new MmioTransport({ device, mem, irq });
  const driver = new MockVirtqueue(mem, { size: 16 });
  const status = mmioInitialize(transport, [driver], options.features);
  if (status !== 0x0f) throw new Error(`handshake ended in status 0x${status.toString(16)}`);
  /** Queues a request and notifies; returns the status byte, used length and the data buffers. */
  const request = (buffers: readonly MockBuffer[], indirect = false) => {
    const placed = indirect ? driver.addIndirectChain(buffers) : driver.addChain(buffers);
    transport.queueNotify(0);
    const used = driver.takeUsed();
    const last = placed.buffers[placed.buffers.length - 1];
    return { used, status: last === undefined ? -1 : mem.readU8(last.addr + last.len - 1), buffers: placed.buffers };
  };
  return { mem, backend, device, irq, transport, driver, request };
}

describe('VirtioBlock', () => {
  it('offers FLUSH, SEG_MAX and the ring features, and RO only for read-only disks', () => {
    const rw = new VirtioBlock({ backend: new MemoryBlockBackend(4096) });
    expect(rw.features & (VIRTIO_F_VERSION_1 | VIRTIO_F_RING_INDIRECT_DESC | VIRTIO_BLK_F_FLUSH)).toBe(VIRTIO_F_VERSION_1 | VIRTIO_F_RING_INDIRECT_DESC | VIRTIO_BLK_F_FLUSH);
    expect(rw.features & VIRTIO_BLK_F_RO).toBe(0n);
    expect(new VirtioBlock({ backend: new MemoryBlockBackend(4096, { readonly: true }) }).features & VIRTIO_BLK_F_RO).toBe(VIRTIO_BLK_F_RO);
  });

  it('puts the capacity in sectors and seg_max in config space', () => {
    const { transport } = setup({ sectors: 16 });
    expect(mmioRead32(transport, 0x100)).toBe(16);
    expect(mmioRead32(transport, 0x104)).toBe(0);
    expect(mmioRead32(transport, 0x10c)).toBe(14);
    const eight = new Uint8Array(8);
    transport.read(0x100, eight);
    expect(le.readU64(eight)).toBe(16n);
    const past = Uint8Array.of(0xff);
    transport.read(0x100 + 200, past);
    expect(past[0]).toBe(0);
  });

  it('ignores config writes', () => {
    const { transport, device } = setup();
    transport.write(0x100, Uint8Array.of(0xff));
    expect(mmioRead32(transport, 0x100)).toBe(16);
    expect(device.metrics.ignoredConfigWrites).toBe(1);
  });

  it('reads sectors into a data buffer split across descriptors', () => {
    const { request, mem, device, irq } = setup();
    const r = request([{ data: header(VIRTIO_BLK_T_IN, 2) }, { len: 700, writable: true }, { len: 324, writable: true }, { len: 1, writable: true }]);
    expect(r.status).toBe(VIRTIO_BLK_S_OK);
    expect(r.used).toEqual([{ id: 0, len: 1025 }]);
    const data = new Uint8Array([...mem.dump(r.buffers[1]?.addr ?? 0, 700), ...mem.dump(r.buffers[2]?.addr ?? 0, 324)]);
    expect(data).toEqual(pattern(16).subarray(2 * 512, 4 * 512));
    expect(device.metrics.bytesRead).toBe(1024);
    expect(irq.take()).toBe(1);
  });

  it('writes sectors from the device-readable data', () => {
    const { request, backend, device } = setup();
    const data = new Uint8Array(512).fill(0x5a);
    const r = request([{ data: header(VIRTIO_BLK_T_OUT, 15) }, { data }, { len: 1, writable: true }]);
    expect(r.status).toBe(VIRTIO_BLK_S_OK);
    expect(r.used[0]?.len).toBe(1);
    expect(backend.bytes.subarray(15 * 512)).toEqual(data);
    expect(device.metrics.bytesWritten).toBe(512);
  });

  it('accepts a header and data in one descriptor and requests through an indirect table', () => {
    const { request, backend } = setup();
    const both = new Uint8Array(16 + 512);
    both.set(header(VIRTIO_BLK_T_OUT, 1));
    both.fill(7, 16);
    expect(request([{ data: both }, { len: 1, writable: true }], true).status).toBe(VIRTIO_BLK_S_OK);
    expect(backend.bytes[512]).toBe(7);
    expect(backend.bytes[1023]).toBe(7);
  });

  it('flushes the backend', () => {
    const { request, backend } = setup();
    expect(request([{ data: header(VIRTIO_BLK_T_FLUSH, 0) }, { len: 1, writable: true }]).status).toBe(VIRTIO_BLK_S_OK);
    expect(backend.flushes).toBe(1);
  });

  it('answers GET_ID with the serial, NUL padded to 20 bytes', () => {
    const { request, mem } = setup({ serial: 'disk-0' });
    const r = request([{ data: header(VIRTIO_BLK_T_GET_ID, 0) }, { len: 20, writable: true }, { len: 1, writable: true }]);
    expect(r.status).toBe(VIRTIO_BLK_S_OK);
    expect(r.used[0]?.len).toBe(21);
    expect(Buffer.from(mem.dump(r.buffers[1]?.addr ?? 0, 20)).toString('latin1')).toBe('disk-0'.padEnd(20, '\0'));
  });

  it('fails GET_ID with a buffer shorter than 20 bytes', () => {
    const { request } = setup({ serial: 'x' });
    expect(request([{ data: header(VIRTIO_BLK_T_GET_ID, 0) }, { len: 8, writable: true }, { len: 1, writable: true }]).status).toBe(VIRTIO_BLK_S_IOERR);
  });

  it('answers an unknown request type with UNSUPP', () => {
    const { request, device } = setup();
    const r = request([{ data: header(11, 0) }, { len: 16 }, { len: 1, writable: true }]);
    expect(r.status).toBe(VIRTIO_BLK_S_UNSUPP);
    expect(r.used[0]?.len).toBe(1);
    expect(device.metrics.unsupported).toBe(1);
  });

  it.each([
    ['starts past the end', 16, 512],
    ['runs past the end', 15, 1024],
    ['has a huge sector number', 0xffff_ffff_ffff_ffffn, 512],
    ['is not whole sectors', 0, 100],
  ])('fails a read that %s with IOERR and touches nothing', (_what, sector, len) => {
    const { request, device } = setup();
    const r = request([{ data: header(VIRTIO_BLK_T_IN, sector) }, { len: len + 1, writable: true }]);
    expect(r.status).toBe(VIRTIO_BLK_S_IOERR);
    expect(r.used[0]?.len).toBe(1);
    expect(device.metrics.badRequests).toBe(1);
    expect(device.metrics.bytesRead).toBe(0);
  });

  it('fails writes to a read-only disk with IOERR and leaves the image alone', () => {
    const { request, backend } = setup({ readonly: true });
    const before = backend.bytes.slice();
    const r = request([{ data: header(VIRTIO_BLK_T_OUT, 0) }, { data: new Uint8Array(512).fill(1) }, { len: 1, writable: true }]);
    expect(r.status).toBe(VIRTIO_BLK_S_IOERR);
    expect(backend.bytes).toEqual(before);
  });

  it('still reads from a read-only disk', () => {
    const { request } = setup({ readonly: true });
    expect(request([{ data: header(VIRTIO_BLK_T_IN, 0) }, { len: 513, writable: true }]).status).toBe(VIRTIO_BLK_S_OK);
  });

  it('fails a request whose header is short', () => {
    const { request } = setup();
    expect(request([{ data: new Uint8Array(8) }, { len: 1, writable: true }]).status).toBe(VIRTIO_BLK_S_IOERR);
  });

  it('completes a request with no status byte with length 0', () => {
    const { request, device } = setup();
    const r = request([{ data: header(VIRTIO_BLK_T_FLUSH, 0) }]);
    expect(r.used).toEqual([{ id: 0, len: 0 }]);
    expect(device.metrics.badRequests).toBe(1);
  });

  it('reports a host I/O failure as IOERR', () => {
    const { request, backend, device } = setup();
    backend.failNext = new Error('EIO');
    expect(request([{ data: header(VIRTIO_BLK_T_IN, 0) }, { len: 513, writable: true }]).status).toBe(VIRTIO_BLK_S_IOERR);
    expect(device.metrics.ioErrors).toBe(1);
  });

  it('serves every available request on one notification and raises one interrupt', () => {
    const { driver, transport, irq, device } = setup();
    for (let i = 0; i < 5; i++) driver.addChain([{ data: header(VIRTIO_BLK_T_IN, i) }, { len: 513, writable: true }]);
    mmioWrite32(transport, 0x50, 0);
    expect(driver.takeUsed()).toHaveLength(5);
    expect(irq.take()).toBe(1);
    expect(device.metrics.requests).toBe(5);
  });

  it('hands back a malformed chain and keeps serving the queue', () => {
    const { driver, transport, device } = setup();
    driver.writeDescriptor(9, { addr: 0x100_0000, len: 16 });
    driver.publish(9);
    driver.addChain([{ data: header(VIRTIO_BLK_T_FLUSH, 0) }, { len: 1, writable: true }]);
    transport.queueNotify(0);
    expect(driver.takeUsed()).toEqual([
      { id: 9, len: 0 },
      { id: 0, len: 1 },
    ]);
    expect(transport.queues[0]?.metrics.badChains).toBe(1);
    expect(device.metrics.requests).toBe(1);
  });

  it('does nothing after a reset', () => {
    const { driver, transport, device } = setup();
    mmioWrite32(transport, 0x70, 0);
    driver.addChain([{ data: header(VIRTIO_BLK_T_FLUSH, 0) }, { len: 1, writable: true }]);
    device.queueNotify(0);
    expect(driver.takeUsed()).toEqual([]);
  });
});
