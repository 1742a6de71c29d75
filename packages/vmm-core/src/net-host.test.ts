// The virtio-net device on a real tap (root only): the host kernel's ARP request reaches the
// guest's receive buffers through the FdWatcher on the tap fd and one readv into (shared) guest
// RAM; a frame the guest transmits reaches the kernel; a deleted tap is counted, not fatal.
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { MmioTransport, NET_HDR_SIZE, type VirtioNet } from '@workervisor/devices';
import { FakeGuestMemory, MockVirtqueue, RecordingIrq, mmioInitialize } from '@workervisor/devices/testing';
import { afterEach, describe, expect, it } from 'vitest';
import type { NetSpec } from './machine-config.js';
import { createNetDevice, openNets, type OpenedNet } from './net-host.js';

const canTap = process.getuid?.() === 0 && existsSync('/dev/net/tun');
if (!canTap) console.log('net-host tests skipped: they need root and /dev/net/tun');

const opened: OpenedNet[] = [];
const devices: VirtioNet[] = [];
afterEach(() => {
  for (const d of devices.splice(0)) d.reset();
  for (const n of opened.splice(0)) n.backend.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(10);
  }
}

function setup(name: string, hostIp: string) {
  const spec: NetSpec = { tap: { kind: 'name', name }, ipv4: { address: hostIp, netmask: '255.255.255.0' }, mac: '52:54:00:00:00:02', queueSize: 64, offloads: { tso: true, ufo: true, csum: true } };
  const [net] = openNets([spec]);
  if (net === undefined) throw new Error('no tap');
  opened.push(net);
  const { device } = createNetDevice(net, 0);
  devices.push(device);
  const mem = new FakeGuestMemory(0x80_0000, { shared: true });
  const transport = new MmioTransport({ device, mem, irq: new RecordingIrq() });
  const rxq = new MockVirtqueue(mem, { size: 64, ringBase: 0x1000, dataBase: 0x1_0000 });
  const txq = new MockVirtqueue(mem, { size: 64, ringBase: 0x8000, dataBase: 0x40_0000 });
  expect(mmioInitialize(transport, [rxq, txq])).toBe(0x0f);
  return { net, device, mem, transport, rxq, txq };
}

describe.runIf(canTap)('virtio-net on a real tap', () => {
  it('receives the kernel ARP request into guest buffers and transmits a guest frame to the kernel', async () => {
    const name = `wvh${process.pid % 100000}a`;
    const { net, device, mem, transport, rxq, txq } = setup(name, '10.213.12.1');
    expect(execFileSync('ip', ['-o', '-4', 'addr', 'show', 'dev', name], { encoding: 'utf8' })).toContain('10.213.12.1/24');
    const posted = Array.from({ length: 40 }, () => rxq.addChain([{ len: 2048, writable: true }]));
    transport.queueNotify(0);
    const sock = createSocket('udp4');
    await new Promise<void>((resolve) => sock.send('x', 9, '10.213.12.2', () => resolve()));
    sock.close();
    const used: Array<{ id: number; len: number }> = [];
    let arp: Uint8Array | undefined;
    await until(() => {
      used.push(...rxq.takeUsed());
      for (const u of used) {
        const addr = posted.find((p) => p.head === u.id)?.buffers[0]?.addr ?? 0;
        const frame = mem.dump(addr, u.len);
        if (frame[NET_HDR_SIZE + 12] === 0x08 && frame[NET_HDR_SIZE + 13] === 0x06) arp = frame;
      }
      return arp !== undefined;
    });
    const a = arp as Uint8Array;
    expect(a[10]).toBe(1); // num_buffers
    expect(Array.from(a.subarray(NET_HDR_SIZE + 14 + 24, NET_HDR_SIZE + 14 + 28))).toEqual([10, 213, 12, 2]);
    expect(device.metrics.rxFrames).toBeGreaterThanOrEqual(1);

    const stats = `/sys/class/net/${net.backend.name}/statistics/rx_packets`;
    const before = Number(readFileSync(stats, 'utf8'));
    const frame = new Uint8Array(NET_HDR_SIZE + 60);
    frame.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0, 0, 0, 2, 0x88, 0xb5], NET_HDR_SIZE);
    txq.addChain([{ data: frame.subarray(0, NET_HDR_SIZE) }, { data: frame.subarray(NET_HDR_SIZE) }]);
    transport.queueNotify(1);
    expect(txq.takeUsed()).toHaveLength(1);
    expect(device.metrics.txFrames).toBe(1);
    expect(Number(readFileSync(stats, 'utf8'))).toBe(before + 1);
  });

  it('counts a deleted tap as tap errors and keeps the device alive', async () => {
    const name = `wvh${process.pid % 100000}b`;
    const { device, transport, rxq, txq } = setup(name, '10.213.13.1');
    for (let i = 0; i < 40; i++) rxq.addChain([{ len: 2048, writable: true }]);
    transport.queueNotify(0);
    execFileSync('ip', ['link', 'del', name]);
    await until(() => device.metrics.rxTapErrors >= 1);
    expect(device.rxPaused).toBe('retry');
    txq.addChain([{ data: new Uint8Array(NET_HDR_SIZE + 60) }]);
    transport.queueNotify(1);
    expect(txq.takeUsed()).toHaveLength(1);
    expect(device.metrics.txTapErrors + device.metrics.txDropped).toBeGreaterThanOrEqual(1);
  });
});
