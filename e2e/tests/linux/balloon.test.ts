// virtio-balloon under Linux's own driver (virtio_balloon.ko): the driver binds, vm.resize with
// desired_balloon inflates it by 128 MiB, so the guest's MemTotal drops by that much (no
// DEFLATE_ON_OOM: Linux takes inflated pages off the managed count) and the VMM's guest-RAM memfd
// gives about that much back to the host; resizing to 0 deflates it and MemTotal returns. The
// statistics queue reports the guest's memory to vm.counters. Workervisor's API only: no QEMU reference.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type VmmClient } from '@workervisor/sdk';
import { expect } from 'vitest';
import { describeWhen, guestCheck, guestPowerOff, guestRamAllocatedBytes, linuxTest, linuxTierStatus, waitReady } from '../../framework/index.js';

const MIB = 1024 * 1024;
const PAGE = 4096;
const BALLOON_MIB = 128;
/** The nested guest is slow: inflating 32768 pages (256 PFNs a buffer) can take a while. */
const SETTLE_TIMEOUT_MS = 180_000;

/** Polls the balloon's counters until `done` holds; returns them. */
async function waitCounters(client: VmmClient, what: string, done: (c: Record<string, number>) => boolean): Promise<Record<string, number>> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  let last: Record<string, number> = {};
  while (Date.now() < deadline) {
    last = (await client.counters())['balloon'] ?? {};
    if (done(last)) return last;
    await sleep(1_000);
  }
  throw new Error(`${what}: the balloon's counters did not get there in ${SETTLE_TIMEOUT_MS / 1000} s: ${JSON.stringify(last)}`);
}

/** MemTotal from the guest's /proc/meminfo, in bytes. */
async function memTotal(vm: Parameters<typeof guestCheck>[0]): Promise<number> {
  const kib = Number(await guestCheck(vm, "awk '/^MemTotal:/ { print $2 }' /proc/meminfo"));
  expect(Number.isSafeInteger(kib) && kib > 0, `MemTotal ${kib} kB`).toBe(true);
  return kib * 1024;
}

describeWhen(linuxTierStatus(), 'Debian cloud kernel: virtio-balloon', () => {
  linuxTest(
    'inflates by 128 MiB through vm.resize: MemTotal drops, the host gets the memory back, deflating returns it',
    async (ctx) => {
      const dir = mkdtempSync(join(tmpdir(), 'workervisor-balloon-'));
      ctx.defer(() => rmSync(dir, { recursive: true, force: true }));
      const apiSocket = join(dir, 'api.sock');
      const vm = ctx.spawn({ apiSocket, memoryMiB: 512, balloon: { sizeMiB: 0, deflateOnOom: false, statsIntervalS: 1 } });
      const client = connect(apiSocket);
      ctx.defer(() => client.close());
      await waitReady(vm, 'workervisor balloon');
      const pid = vm.pid;
      if (pid === undefined) throw new Error('the VMM has no pid');

      // (a) Linux's driver bound the device, and vm.info lists it with its id.
      expect((await guestCheck(vm, 'ls /sys/bus/virtio/drivers')).split(/\s+/)).toContain('virtio_balloon');
      const info = await client.info();
      expect(info.device_tree?.['balloon']).toMatchObject({ id: 'balloon', resources: expect.arrayContaining([expect.objectContaining({ MmioAddressRange: expect.anything() })]) });
      expect(info.config.balloon).toMatchObject({ size: 0 });

      // (b) Statistics arrive through the stats queue (every second).
      const stats = await waitCounters(client, 'statistics', (c) => (c['totalMemory'] ?? 0) > 0);
      expect(stats['totalMemory']).toBeGreaterThan(256 * MIB);
      expect(stats['freeMemory']).toBeGreaterThan(0);

      // Touch guest RAM, then free it in the guest: the host keeps those pages allocated until the
      // balloon takes them (the buddy allocator hands recently freed pages out first). 200 MiB:
      // /tmp is the initramfs's rootfs, a tmpfs limited to half of the guest's 512 MiB.
      await guestCheck(vm, 'dd if=/dev/zero of=/tmp/fill bs=1M count=200 && rm /tmp/fill && sync && echo 3 > /proc/sys/vm/drop_caches');
      const totalBefore = await memTotal(vm);
      const hostBefore = guestRamAllocatedBytes(pid);
      if (hostBefore === undefined) throw new Error('no guest RAM memfd in the VMM process');

      // (c) Inflate by 128 MiB.
      await client.resize({ desired_balloon: BALLOON_MIB * MIB });
      const inflated = await waitCounters(client, 'inflating', (c) => c['actualPages'] === (BALLOON_MIB * MIB) / PAGE);
      expect(inflated['targetPages']).toBe((BALLOON_MIB * MIB) / PAGE);
      expect(inflated['inflatedPages']).toBeGreaterThanOrEqual((BALLOON_MIB * MIB) / PAGE);
      expect(inflated['badPfns']).toBe(0);
      expect(inflated['hostErrors']).toBe(0);
      expect(inflated['discardedBytes']).toBeGreaterThanOrEqual(BALLOON_MIB * MIB);
      const totalInflated = await memTotal(vm);
      expect(totalBefore - totalInflated, `MemTotal ${totalBefore} -> ${totalInflated}`).toBe(BALLOON_MIB * MIB);
      const hostInflated = guestRamAllocatedBytes(pid) ?? 0;
      // About 128 MiB: pages the guest had never touched cost the host nothing to begin with.
      expect(hostBefore - hostInflated, `guest RAM in the host ${hostBefore} -> ${hostInflated} bytes`).toBeGreaterThan(96 * MIB);
      expect((await client.info()).memory_actual_size).toBe((512 - BALLOON_MIB) * MIB);

      // (d) Deflate: MemTotal comes back.
      await client.resize({ desired_balloon: 0 });
      const deflated = await waitCounters(client, 'deflating', (c) => c['actualPages'] === 0);
      expect(deflated['deflatedPages']).toBeGreaterThanOrEqual((BALLOON_MIB * MIB) / PAGE);
      expect(await memTotal(vm)).toBe(totalBefore);
      // The deflated pages are usable again: the guest can fill them.
      await guestCheck(vm, 'dd if=/dev/zero of=/tmp/fill bs=1M count=200 && rm /tmp/fill && echo ok');

      expect(await guestPowerOff(vm)).toEqual({ code: 0, signal: null });
      expect(vm.serial).not.toMatch(/Kernel panic|Out of memory/);
    },
    { reference: false },
  );
});
