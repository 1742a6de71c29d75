// virtio-balloon on real KVM, driven by the virtio-balloon test guest: it touches 16 MiB, the test
// sets the target through vm.resize desired_balloon, the guest inflates those pages and the VMM's
// guest-RAM memfd shrinks by that much; a target of 0 deflates them. vm.info lists the device.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type VmmClient } from '@workervisor/sdk';
import { afterEach, expect, it } from 'vitest';
import { describeKvm, guestPath, guestRamAllocatedBytes, Microvm } from '../framework/index.js';

const MIB = 1024 * 1024;

describeKvm('virtio-balloon', () => {
  let vm: Microvm | undefined;
  let client: VmmClient | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await client?.close();
    await vm?.kill();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    vm = client = dir = undefined;
  });

  it('gives inflated pages back to the host (the memfd shrinks by 16 MiB) and lists the balloon in vm.info', async () => {
    dir = mkdtempSync(join(tmpdir(), 'wv-balloon-'));
    const apiSocket = join(dir, 'api.sock');
    vm = Microvm.spawn({ kernel: guestPath('virtio-balloon.elf'), memory: '64M', apiSocket, extraArgs: ['--balloon', 'size=0'] });
    await vm.expectSerial(/BALLOON ready target=0\n/);
    await vm.expectSerial(/BALLOON touched\n/);
    client = connect(apiSocket);
    const info = await client.info();
    expect(info.device_tree?.['balloon']).toEqual({ id: 'balloon', resources: [{ MmioAddressRange: { base: 0xd000_0000, size: 0x1000 } }, { LegacyIrq: expect.any(Number) }], children: [] });
    expect(Object.keys(info.device_tree ?? {})).toContain('com1');
    const before = guestRamAllocatedBytes(vm.pid!) ?? 0;

    await client.resize({ desired_balloon: 16 * MIB });
    await vm.expectSerial(/BALLOON inflated\n/);
    const after = guestRamAllocatedBytes(vm.pid!) ?? 0;
    // The 4096 pages are gone from the memfd; a page or two elsewhere may be touched meanwhile.
    expect(before - after, `guest RAM in the host: ${before} -> ${after} bytes`).toBeGreaterThan(15 * MIB);
    const counters = (await client.counters())['balloon'];
    expect(counters).toMatchObject({ inflatedPages: 4096, discardedBytes: 16 * MIB, discardRanges: 16, badPfns: 0, hostErrors: 0, targetPages: 4096, actualPages: 4096 });
    expect((await client.info()).memory_actual_size).toBe(48 * MIB);

    await client.resize({ desired_balloon: 0 });
    await vm.expectSerial(/BALLOON deflated\n/);
    expect(await vm.waitExit()).toEqual({ code: 0, signal: null });
    expect(vm.serial).not.toContain('FAIL');
  });
});
