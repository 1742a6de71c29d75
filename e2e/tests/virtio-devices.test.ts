// virtio-rng and virtio-console on real KVM, driven by the virtio-devices test guest through
// ioeventfd kicks: `--rng` fills its buffers, `--console socket=` carries its output to a socket
// client and a line typed there back into its receive queue; Firecracker's entropy.rate_limiter
// holds the second request back.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { cliPath, describeKvm, guestPath, Microvm, SerialSocketClient } from '../framework/index.js';

describeKvm('virtio-rng and virtio-console', () => {
  let vm: Microvm | undefined;
  let client: SerialSocketClient | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    client?.close();
    await vm?.kill();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    vm = client = dir = undefined;
  });

  it('fills entropy buffers (--rng) and carries the console both ways over --console socket=', async () => {
    dir = mkdtempSync(join(tmpdir(), 'wv-virtio-'));
    const socket = join(dir, 'hvc0.sock');
    vm = Microvm.spawn({ kernel: guestPath('virtio-devices.elf'), memory: '64M', extraArgs: ['--rng', 'src=/dev/urandom', '--console', `socket=${socket}`] });
    await vm.expectSerial(/RNG len=32 bytes=[0-9a-f]{32}\n/);
    await vm.expectSerial(/RNG len=32 bytes=[0-9a-f]{32}\n/);
    // No MULTIPORT (bit 1) offered; EMERG_WRITE (bit 2) and the ring features are.
    await vm.expectSerial(/CONSOLE features=0x30000004\n/);
    client = await SerialSocketClient.connect(socket);
    await client.expectSerial(/EMERG\nhello from hvc0\n/);
    await vm.expectSerial(/CONSOLE tx done\n/);
    client.writeSerial('typed on the console socket\n');
    await vm.expectSerial(/CONSOLE rx=typed on the console socket\n/);
    expect(await vm.waitExit()).toEqual({ code: 0, signal: null });
    expect(vm.serial).not.toContain('FAIL');
  });

  it("rate-limits entropy from a Firecracker config's entropy.rate_limiter: requests wait, none are lost", async () => {
    dir = mkdtempSync(join(tmpdir(), 'wv-virtio-'));
    const metrics = join(dir, 'metrics.json');
    const config = {
      'boot-source': { kernel_image_path: guestPath('virtio-devices.elf') },
      'machine-config': { vcpu_count: 1, mem_size_mib: 64 },
      // 16 bytes per 400 ms: each 32-byte request gets 16, the second after the refill.
      entropy: { rate_limiter: { bandwidth: { size: 16, refill_time: 400 } } },
      metrics: { metrics_path: metrics },
    };
    const file = join(dir, 'vm.json');
    writeFileSync(file, JSON.stringify(config));
    vm = Microvm.spawnCommand(process.execPath, [cliPath, '--config-file', file, '--no-api']);
    await vm.expectSerial(/RNG len=16 bytes=[0-9a-f]{32}\n/);
    await vm.expectSerial(/RNG len=16 bytes=[0-9a-f]{32}\n/);
    await vm.expectSerial(/CONSOLE absent\n/);
    expect(await vm.waitExit()).toEqual({ code: 0, signal: null });
    const counters = JSON.parse(readFileSync(metrics, 'utf8').trim()) as Record<string, Record<string, number>>;
    expect(counters['rng']).toMatchObject({ requests: 2, bytes: 32, truncated: 2, errors: 0 });
    expect(counters['rng']?.['throttled']).toBeGreaterThanOrEqual(1);
  });
});
