// Firecracker's own example config (packages/api/src/firecracker/fixtures/vm-config.json) boots
// a test guest with `--config-file ... --no-api`, its root drive attached as virtio-blk.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { describeKvm, guestPath, Microvm, repoRoot, cliPath } from '../framework/index.js';

const FIXTURE = join(repoRoot, 'packages/api/src/firecracker/fixtures/vm-config.json');

/** The example config with our guest and a 1 MiB root drive whose first bytes are a marker. */
function writeConfig(mutate: (c: Record<string, any>) => void, kernel = 'virtio-probe.elf'): string {
  const dir = mkdtempSync(join(tmpdir(), 'wv-fc-'));
  const config = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Record<string, any>;
  config['boot-source'].kernel_image_path = guestPath(kernel);
  config.drives[0].path_on_host = join(dir, 'rootfs.ext4');
  const disk = Buffer.alloc(1 << 20);
  disk.write('WORKERVISOR-DISK');
  writeFileSync(config.drives[0].path_on_host, disk);
  config['machine-config'].mem_size_mib = 64;
  mutate(config);
  const path = join(dir, 'vm.json');
  writeFileSync(path, JSON.stringify(config));
  return path;
}

describeKvm('Firecracker config file', () => {
  let vm: Microvm | undefined;
  afterEach(async () => {
    await vm?.kill();
    vm = undefined;
  });

  it("boots a test guest from Firecracker's example config with --no-api, its root drive on virtio-blk", async () => {
    const file = writeConfig(() => {});
    vm = Microvm.spawnCommand(process.execPath, [cliPath, '--config-file', file, '--no-api']);
    await vm.expectSerial(/VIRTIO magic=0x74726976 version=2 device=2/);
    await vm.expectSerial(/BLK capacity=2048\b/);
    // 'WORKERVISOR-DISK' read from the host file through the virtqueue.
    await vm.expectSerial(/BLK sector0=574f524b45525649534f522d4449534b/);
    await vm.expectSerial(/DONE virtio-probe/);
    expect(await vm.waitExit()).toEqual({ code: 0, signal: null });
    expect(vm.serial).not.toContain('FAIL');
  });

  it("appends the device counters to Firecracker's metrics file when the guest ends the VM", async () => {
    const metrics = join(mkdtempSync(join(tmpdir(), 'wv-fc-metrics-')), 'metrics.json');
    const file = writeConfig((c) => {
      c.metrics = { metrics_path: metrics };
    }, 'hello.elf');
    vm = Microvm.spawnCommand(process.execPath, [cliPath, '--config-file', file, '--no-api']);
    expect((await vm.waitExit()).code).toBe(0);
    expect(existsSync(metrics)).toBe(true);
    const line = JSON.parse(readFileSync(metrics, 'utf8').trim()) as Record<string, Record<string, number>>;
    expect(line['com1']?.['bytesOut']).toBeGreaterThan(20);
    expect(line['i8042']?.['resetRequests']).toBe(1);
  });

  it('names a key it cannot honour instead of ignoring it', async () => {
    const file = writeConfig((c) => {
      c['mmds-config'] = { network_interfaces: ['eth0'] };
    });
    vm = Microvm.spawnCommand(process.execPath, [cliPath, '--config-file', file, '--no-api']);
    const exit = await vm.waitExit();
    expect(exit.code).not.toBe(0);
    expect(vm.stderr).toMatch(/mmds-config/);
  });

  it('names an unknown key', async () => {
    const file = writeConfig((c) => {
      c['machine-config'].vcpu_cuont = 2;
    });
    vm = Microvm.spawnCommand(process.execPath, [cliPath, '--config-file', file, '--no-api']);
    expect((await vm.waitExit()).code).not.toBe(0);
    expect(vm.stderr).toMatch(/vcpu_cuont/);
  });
});
