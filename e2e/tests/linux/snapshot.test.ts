// Issue 11 on Linux: a Debian guest with state in its RAM (a marker in /tmp, a shell loop appending
// a counter every second) is paused, snapshotted, its VMM ended, restored in a new VMM and resumed:
// the same shell answers, the marker and the counter file are there, the loop counts on, and
// uptime continued (no reboot: no second kernel banner). Workervisor's API only: no QEMU reference.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, snapshotUrl, type VmmClient } from '@workervisor/sdk';
import { expect } from 'vitest';
import {
  BOOT_TIMEOUT_MS,
  cliPath,
  COMMAND_TIMEOUT_MS,
  describeWhen,
  GUEST_KERNEL,
  guestCheck,
  guestPowerOff,
  guestRun,
  linuxTest,
  linuxTierStatus,
  Microvm,
  waitReady,
  type ScenarioContext,
} from '../../framework/index.js';

/** How long vm.snapshot and vm.restore may take (the client's default is 60 s). */
const API_TIMEOUT_MS = 300_000;

/** `TICK <n> <uptime>` lines of the loop, complete ones only (a line cut by the pause is not one). */
function ticks(serial: string): Array<{ n: number; uptime: number }> {
  return [...serial.matchAll(/(?:^|\n)TICK (\d+) (\d+\.\d+)\r?\n/g)].map((m) => ({ n: Number(m[1]), uptime: Number(m[2]) }));
}

function workDir(ctx: ScenarioContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'workervisor-linux-snap-'));
  ctx.defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Pings until the VMM answers: inside the nested KVM node takes 5-40 s to load the VMM. */
async function waitForApi(client: VmmClient, vm: Microvm): Promise<void> {
  const deadline = Date.now() + BOOT_TIMEOUT_MS;
  for (;;) {
    if (vm.exitStatus !== undefined) throw new Error(`the restoring VMM exited before its API answered: ${vm.stderr.slice(-2000)}`);
    try {
      await client.ping();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`the restoring VMM's API did not answer: ${(err as Error).message}`);
      await sleep(200);
    }
  }
}

describeWhen(linuxTierStatus(), 'Debian cloud kernel: snapshot and restore', () => {
  linuxTest('restores a paused, snapshotted guest in a new VMM: its shell, files, loop and clock go on without a reboot', async (ctx) => {
    const dir = workDir(ctx);
    const snapshot = join(dir, 'snap');
    const firstApi = join(dir, 'first.sock');
    const vm = ctx.spawn({ apiSocket: firstApi });
    // Writing and mapping a 256 MiB guest's memory file is slow inside the nested KVM.
    const first = connect(firstApi, { timeoutMs: API_TIMEOUT_MS });
    ctx.defer(() => first.close());
    await waitReady(vm, 'workervisor snapshot');

    const marker = `snap-${process.pid}-${Date.now()}`;
    expect(await guestCheck(vm, `echo ${marker} > /tmp/marker && cat /tmp/marker`)).toBe(marker);
    // The loop ends itself once /tmp/stop exists, so later commands' output is not interleaved with ticks.
    vm.writeSerial(`(i=0; while [ ! -e /tmp/stop ]; do i=$((i+1)); echo $i >> /tmp/count; echo "TICK $i $(cut -d' ' -f1 /proc/uptime)"; sleep 1; done) &\n`);
    await vm.expectSerial(/TICK 2 \d+\.\d+\r?\n/, { timeoutMs: COMMAND_TIMEOUT_MS });

    await first.pause();
    await sleep(500); // bytes already in the console pipe
    const before = ticks(vm.serial);
    const last = before.at(-1);
    if (last === undefined) throw new Error(`no TICK line before the pause; console tail: ${vm.serial.slice(-500)}`);
    await first.snapshot(snapshot);
    const snapshottedAt = Date.now();
    await vm.kill();

    const secondApi = join(dir, 'second.sock');
    const restored = Microvm.spawnCommand(process.execPath, [cliPath, `--api-socket=${secondApi}`]);
    ctx.defer(async () => void (await restored.kill()));
    const second = connect(secondApi, { timeoutMs: API_TIMEOUT_MS });
    ctx.defer(() => second.close());
    await waitForApi(second, restored);
    await second.restore({ source_url: snapshotUrl(snapshot) });
    expect((await second.info()).state).toBe('Paused');
    await second.resume();
    const wall = (Date.now() - snapshottedAt) / 1000;

    // The loop counts on from the last tick before the pause (the line cut by it, if any, is skipped).
    await restored.expectSerial(new RegExp(`TICK ${last.n + 2} \\d+\\.\\d+\\r?\\n`), { timeoutMs: COMMAND_TIMEOUT_MS });
    const after = ticks(restored.serial);
    expect(after.length, `ticks after the restore: ${restored.serial.slice(-500)}`).toBeGreaterThan(0);
    expect(after[0]!.n === last.n + 1 || after[0]!.n === last.n + 2, `first tick ${after[0]!.n} after ${last.n}`).toBe(true);
    expect(after.every((t, i) => i === 0 || t.n === after[i - 1]!.n + 1), 'the counter is consecutive').toBe(true);
    // Guest time went on from the snapshot's clock: ahead of the last tick, by no more than the
    // time the snapshot and restore took (the KVM clock is restored without KVM_CLOCK_REALTIME).
    expect(after[0]!.uptime).toBeGreaterThan(last.uptime);
    expect(after[0]!.uptime - last.uptime, `uptime jumped across a ${wall} s restore`).toBeLessThan(wall + 10);

    // The same shell, with the files the guest wrote before the snapshot (the loop stopped first).
    await guestRun(restored, 'touch /tmp/stop; sleep 2');
    expect(await guestCheck(restored, 'cat /tmp/marker')).toBe(marker);
    const counted = (await guestCheck(restored, 'head -n 1 /tmp/count; tail -n 1 /tmp/count')).split(/\s+/).map(Number);
    expect(counted[0]).toBe(1);
    expect(counted[1]).toBeGreaterThanOrEqual(last.n + 2);
    const uptime = Number((await guestCheck(restored, "cut -d' ' -f1 /proc/uptime")).trim());
    expect(uptime).toBeGreaterThan(last.uptime);
    // No reboot: the restored VMM's console never shows a kernel banner or /init's markers.
    expect(restored.serial).not.toMatch(GUEST_KERNEL);
    expect(restored.serial).not.toMatch(/Linux version|GUEST-READY/);
    expect(restored.serial).not.toMatch(/Kernel panic|Oops/);

    expect(await guestPowerOff(restored)).toEqual({ code: 0, signal: null });
  }, { reference: false });
});
