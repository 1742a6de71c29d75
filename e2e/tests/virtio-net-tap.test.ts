// virtio-net's host end on real KVM: `--net` makes the VMM create (or attach to) a tap with
// TUNSETIFF, give it the address, netmask and MAC asked for and set it UP; a tap the VMM created
// goes away with it, one created beforehand stays; the virtio-net test guest's ARP request gets the
// host kernel's reply through the device. Needs root (CAP_NET_ADMIN) for /dev/net/tun.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { launch, type Vm } from '@workervisor/sdk';
import { cliPath, describeKvm, guestPath, Microvm } from '../framework/index.js';

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
  let dir: string | undefined;
  const taps: string[] = [];
  afterEach(async () => {
    await vm?.kill();
    vm = undefined;
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
    for (const t of taps.splice(0)) if (linkExists(t)) ip('link', 'del', t);
  });

  it.runIf(canTap)('creates the tap, gives it ip, mask and host_mac, sets it UP, and removes it at exit', async () => {
    const tap = `wvn${process.pid % 100000}a`;
    taps.push(tap);
    vm = Microvm.spawn({ kernel: guestPath('echo.elf'), memory: '64M', extraArgs: ['--net', `tap=${tap},ip=10.213.7.1,mask=255.255.255.0,host_mac=02:00:00:aa:bb:cc,mac=52:54:00:12:34:56`] });
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
    vm = Microvm.spawn({ kernel: guestPath('virtio-net.elf'), memory: '64M', extraArgs: ['--net', `tap=${tap},ip=10.213.7.1,mask=255.255.255.0,host_mac=02:00:00:aa:bb:cc,mac=52:54:00:12:34:56`] });
    await vm.expectSerial(/NET mac=52:54:00:12:34:56 status=1\n/);
    await vm.expectSerial(/NET tx done\n/);
    await vm.expectSerial(/NET arp-reply from 02:00:00:aa:bb:cc num_buffers=1 len=\d+\n/);
    expect(await vm.waitExit()).toEqual({ code: 0, signal: null });
    expect(vm.serial).not.toContain('FAIL');
  });

  it.runIf(canTap)("boots a Firecracker config's network-interfaces on an existing tap, with the iface_id's counters", async () => {
    const tap = `wvn${process.pid % 100000}d`;
    taps.push(tap);
    ip('tuntap', 'add', 'dev', tap, 'mode', 'tap');
    ip('addr', 'add', '10.213.7.1/24', 'dev', tap);
    ip('link', 'set', tap, 'up');
    dir = mkdtempSync(join(tmpdir(), 'wv-net-'));
    const metrics = join(dir, 'metrics.json');
    const file = join(dir, 'vm.json');
    const config = {
      'boot-source': { kernel_image_path: guestPath('virtio-net.elf') },
      'machine-config': { vcpu_count: 1, mem_size_mib: 64 },
      'network-interfaces': [{ iface_id: 'eth0', host_dev_name: tap, guest_mac: '52:54:00:12:34:57' }],
      metrics: { metrics_path: metrics },
    };
    writeFileSync(file, JSON.stringify(config));
    vm = Microvm.spawnCommand(process.execPath, [cliPath, '--config-file', file, '--no-api']);
    await vm.expectSerial(/NET mac=52:54:00:12:34:57 status=1\n/);
    await vm.expectSerial(/NET arp-reply from [0-9a-f:]{17} num_buffers=1 len=\d+\n/);
    expect(await vm.waitExit()).toEqual({ code: 0, signal: null });
    const counters = JSON.parse(readFileSync(metrics, 'utf8').trim()) as Record<string, Record<string, number>>;
    expect(counters['eth0']).toMatchObject({ txFrames: 1, errors: 0, rxTapErrors: 0 });
    expect(counters['eth0']?.['rxFrames']).toBeGreaterThanOrEqual(1);
  });

  it.runIf(canTap)('attaches to an existing tap and leaves it in place', async () => {
    const tap = `wvn${process.pid % 100000}b`;
    taps.push(tap);
    ip('tuntap', 'add', 'dev', tap, 'mode', 'tap', 'vnet_hdr');
    vm = Microvm.spawn({ kernel: guestPath('echo.elf'), memory: '64M', extraArgs: ['--net', `tap=${tap}`] });
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
    vm = Microvm.spawn({ kernel: guestPath('echo.elf'), memory: '64M', extraArgs: ['--net', 'tap=lo'] });
    const status = await vm.waitExit();
    expect(status.code).not.toBe(0);
    expect(vm.stderr).toMatch(/tap "lo".*TUNSETIFF failed with E[A-Z]+/);
  });
  it.runIf(canTap)('snapshots a live virtio-net and restores it on the tap reopened by name: the guest gets its ARP reply after the restore', async () => {
    const tap = `wvn${process.pid % 100000}s`;
    taps.push(tap);
    dir = mkdtempSync(join(tmpdir(), 'workervisor-net-snap-'));
    const snap = join(dir, 'snap');
    const vms: Vm[] = [];
    try {
      const source = await launch({
        kernel: guestPath('virtio-net.elf'),
        cmdline: 'wait-tx=1',
        memory: '64M',
        args: ['--net', `tap=${tap},ip=10.213.7.1,mask=255.255.255.0,host_mac=02:00:00:aa:bb:cc`],
      });
      vms.push(source);
      // No MAC in the config: the device made a random one, which the restore must keep.
      const mac = (await source.waitForSerial(/NET mac=([0-9a-f:]{17}) status=1\n/))[1]!;
      await source.waitForSerial('NET waiting');
      await source.snapshot(snap, { pause: true });
      await source.kill();
      // The VMM created the tap, so it went away with it; the restore creates it again by name.
      expect(linkExists(tap)).toBe(false);
      const state = JSON.parse(readFileSync(join(snap, 'state.json'), 'utf8')) as { devices: Record<string, { device: { mac: string } }> };
      expect(state.devices['net0']?.device.mac).toBe(mac);

      const restored = await launch({ restore: snap });
      vms.push(restored);
      expect(ip('-o', '-4', 'addr', 'show', 'dev', tap)).toContain('inet 10.213.7.1/24');
      restored.writeSerial('g');
      await restored.waitForSerial('NET tx done\n');
      await restored.waitForSerial(/NET arp-reply from 02:00:00:aa:bb:cc num_buffers=1 len=\d+\n/);
      expect(await restored.exited).toEqual({ code: 0, signal: null });
      expect(restored.serialText()).not.toContain('FAIL');
      expect(restored.serialText()).not.toContain('NET mac=');
    } finally {
      await Promise.all(vms.map((v) => v.kill()));
    }
  });

});
