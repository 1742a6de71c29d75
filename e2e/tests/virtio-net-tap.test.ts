// virtio-net's host end on real KVM: `--net` makes the VMM create (or attach to) a tap with
// TUNSETIFF, give it the address, netmask and MAC asked for and set it UP; a tap the VMM created
// goes away with it, one created beforehand stays; the virtio-net test guest's ARP request gets the
// host kernel's reply through the device. Needs root (CAP_NET_ADMIN) for /dev/net/tun.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterEach, expect, it } from 'vitest';
import { describeKvm, guestPath, Microvm } from '../framework/index.js';

const canTap = process.getuid?.() === 0 && existsSync('/dev/net/tun');
if (!canTap) console.log('virtio-net tap tests skipped: they need root and /dev/net/tun');

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function linkExists(name: string): boolean {
  try {
    ip('link', 'show', 'dev', name);
    return true;
  } catch {
    return false;
  }
}

describeKvm('virtio-net on a host tap', () => {
  let vm: Microvm | undefined;
  const taps: string[] = [];
  afterEach(async () => {
    await vm?.kill();
    vm = undefined;
    for (const t of taps.splice(0)) if (linkExists(t)) ip('link', 'del', t);
  });

  it.runIf(canTap)('creates the tap, gives it ip, mask and host_mac, sets it UP, and removes it at exit', async () => {
    const tap = `wvn${process.pid % 100000}a`;
    taps.push(tap);
    vm = Microvm.spawn({ kernel: guestPath('echo.elf'), memory: 64, extraArgs: ['--net', `tap=${tap},ip=10.213.7.1,mask=255.255.255.0,host_mac=02:00:00:aa:bb:cc,mac=52:54:00:12:34:56`] });
    await vm.expectSerial(/ECHO-READY/);
    const link = ip('-o', 'link', 'show', 'dev', tap);
    expect(link).toMatch(/<[^>]*\bUP\b[^>]*>/);
    expect(link).toContain('link/ether 02:00:00:aa:bb:cc');
    expect(ip('-o', '-4', 'addr', 'show', 'dev', tap)).toContain('inet 10.213.7.1/24');
    // A tun fd in the VMM with the vnet header: the kernel reports the tap's flags.
    expect(ip('-d', 'link', 'show', 'dev', tap)).toMatch(/tun type tap .*vnet_hdr on/s);
    vm.writeSerial('quit\n');
    await vm.waitExit();
    vm = undefined;
    // Not persistent: the kernel removes the tap when its last fd closes.
    expect(linkExists(tap)).toBe(false);
  });

  it.runIf(canTap)("carries a guest's ARP request to the host kernel and its reply back (virtio-net guest)", async () => {
    const tap = `wvn${process.pid % 100000}c`;
    taps.push(tap);
    vm = Microvm.spawn({ kernel: guestPath('virtio-net.elf'), memory: 64, extraArgs: ['--net', `tap=${tap},ip=10.213.7.1,mask=255.255.255.0,host_mac=02:00:00:aa:bb:cc,mac=52:54:00:12:34:56`] });
    await vm.expectSerial(/NET mac=52:54:00:12:34:56 status=1\n/);
    await vm.expectSerial(/NET tx done\n/);
    await vm.expectSerial(/NET arp-reply from 02:00:00:aa:bb:cc num_buffers=1 len=\d+\n/);
    expect(await vm.waitExit()).toEqual({ code: 0, signal: null });
    expect(vm.serial).not.toContain('FAIL');
  });

  it.runIf(canTap)('attaches to an existing tap and leaves it in place', async () => {
    const tap = `wvn${process.pid % 100000}b`;
    taps.push(tap);
    ip('tuntap', 'add', 'dev', tap, 'mode', 'tap', 'vnet_hdr');
    vm = Microvm.spawn({ kernel: guestPath('echo.elf'), memory: 64, extraArgs: ['--net', `tap=${tap}`] });
    await vm.expectSerial(/ECHO-READY/);
    expect(ip('-o', 'link', 'show', 'dev', tap)).toMatch(/<[^>]*\bUP\b[^>]*>/);
    // No ip given for a named tap: its addresses are left alone.
    expect(ip('-o', '-4', 'addr', 'show', 'dev', tap)).toBe('');
    vm.writeSerial('quit\n');
    await vm.waitExit();
    vm = undefined;
    expect(linkExists(tap)).toBe(true);
  });

  it.runIf(canTap)('fails the boot with the ioctl and errno when the tap cannot be opened', async () => {
    // `lo` exists and is no tap: TUNSETIFF refuses it.
    vm = Microvm.spawn({ kernel: guestPath('echo.elf'), memory: 64, extraArgs: ['--net', 'tap=lo'] });
    const status = await vm.waitExit();
    expect(status.code).not.toBe(0);
    expect(vm.stderr).toMatch(/tap "lo".*TUNSETIFF failed with E[A-Z]+/);
  });
});
