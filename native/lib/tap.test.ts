// Tap through the addon on a real /dev/net/tun (root only): TUNSETIFF, the vnet header size,
// offload probing, the SIOCSIF* configuration, and readv/writev straight into and out of
// SharedArrayBuffer views (guest RAM's kind of buffer).
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { KvmError } from './errors.js';
import { Tap, TUN_F, VNET_HDR_V1_SIZE } from './tap.js';

const canTap = process.getuid?.() === 0 && existsSync('/dev/net/tun');
if (!canTap) console.log('Tap tests skipped: they need root and /dev/net/tun');

const opened: Tap[] = [];
afterEach(() => {
  for (const t of opened.splice(0)) t.close();
});

function open(name: string): Tap {
  const tap = Tap.open({ name });
  opened.push(tap);
  return tap;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.runIf(canTap)('Tap', () => {
  it('creates a tap, probes its offloads and configures address, netmask, MAC and UP', () => {
    const tap = open(`wvt${process.pid % 100000}a`);
    expect(tap.name).toBe(`wvt${process.pid % 100000}a`);
    expect(tap.offloads & TUN_F.CSUM).toBe(TUN_F.CSUM);
    tap.setMac(Uint8Array.of(0x02, 0, 0, 0x11, 0x22, 0x33));
    tap.setIpv4('10.213.9.1', '255.255.255.0');
    tap.up();
    const link = execFileSync('ip', ['-o', 'link', 'show', 'dev', tap.name], { encoding: 'utf8' });
    expect(link).toMatch(/<[^>]*\bUP\b/);
    expect(link).toContain('02:00:00:11:22:33');
    expect(execFileSync('ip', ['-o', '-4', 'addr', 'show', 'dev', tap.name], { encoding: 'utf8' })).toContain('10.213.9.1/24');
  });

  it('lets the kernel name a tap, and reads -1 when no frame waits', () => {
    const tap = open('');
    expect(tap.name).toMatch(/^tap\d+$/);
    expect(tap.read([new Uint8Array(2048)])).toBe(-1);
  });

  it('reads a frame the kernel sends (an ARP request) into SharedArrayBuffer views, header first', async () => {
    const tap = open(`wvt${process.pid % 100000}b`);
    tap.setIpv4('10.213.10.1', '255.255.255.0');
    tap.up();
    const sock = createSocket('udp4');
    await new Promise<void>((resolve) => sock.send('x', 9, '10.213.10.2', () => resolve()));
    sock.close();
    const ram = new Uint8Array(new SharedArrayBuffer(4096));
    const hdr = ram.subarray(100, 100 + VNET_HDR_V1_SIZE);
    const body = ram.subarray(1000, 2600);
    let n = -1;
    for (let i = 0; i < 50 && n < 0; i++) {
      n = tap.read([hdr, body]);
      // Frames other than the ARP (IPv6 router solicitations) may come first.
      if (n > 0 && !(body[12] === 0x08 && body[13] === 0x06)) n = -1;
      if (n < 0) await sleep(20);
    }
    expect(n).toBeGreaterThan(VNET_HDR_V1_SIZE + 14 + 28 - 1);
    expect(Array.from(body.subarray(0, 6))).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    // ARP target protocol address (offset 24 of the ARP payload) is the one we sent to.
    expect(Array.from(body.subarray(14 + 24, 14 + 28))).toEqual([10, 213, 10, 2]);
  });

  it('writes a frame gathered from several views: the kernel counts it received', () => {
    const tap = open(`wvt${process.pid % 100000}c`);
    tap.up();
    const stats = `/sys/class/net/${tap.name}/statistics/rx_packets`;
    const before = Number(readFileSync(stats, 'utf8'));
    const ram = new Uint8Array(new SharedArrayBuffer(4096));
    const hdr = ram.subarray(0, VNET_HDR_V1_SIZE); // all zero: no offload
    const eth = ram.subarray(512, 512 + 14);
    eth.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x88, 0xb5]); // local experimental ethertype
    const payload = ram.subarray(1024, 1024 + 46);
    expect(tap.write([hdr, eth, payload])).toBe(VNET_HDR_V1_SIZE + 14 + 46);
    expect(Number(readFileSync(stats, 'utf8'))).toBe(before + 1);
  });

  it('reports a failed TUNSETIFF with its errno and ioctl', () => {
    let err: unknown;
    try {
      open('lo');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KvmError);
    expect((err as KvmError).kind).toBe('tap');
    expect((err as KvmError).ioctl).toBe('TUNSETIFF');
    expect((err as KvmError).message).toMatch(/opening tap "lo": TUNSETIFF failed with E[A-Z]+/);
  });

  it('refuses an fd that is not a tap with the vnet header', () => {
    const tap = open(`wvt${process.pid % 100000}d`);
    expect(Tap.fromFd(tap.fd).name).toBe(tap.name);
    expect(() => Tap.fromFd(0)).toThrow(/TUNGETIFF/);
  });
});
