// The API on a running Linux guest: vm.pause stops the guest (its clock stops printing),
// vm.resume lets it go on with a sane clock, vm.counters reports the devices, vm.power-button
// powers it off through ACPI (GED -> _EVT -> PWRB -> KEY_POWER -> S5), and vm.shutdown stops the
// VM while the VMM stays up. Workervisor's API only: no QEMU reference.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from '@workervisor/sdk';
import { expect } from 'vitest';
import { COMMAND_TIMEOUT_MS, describeWhen, guestCheck, linuxTest, linuxTierStatus, waitReady, type ScenarioContext } from '../../framework/index.js';

const PAUSE_MS = 3_000;

function apiDir(ctx: ScenarioContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'workervisor-api-'));
  ctx.defer(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'api.sock');
}

/** Every `TICK <uptime>` line printed so far. */
function ticks(serial: string): number[] {
  return [...serial.matchAll(/TICK (\d+\.\d+)\r?\n/g)].map((m) => Number(m[1]));
}

describeWhen(linuxTierStatus(), 'Debian cloud kernel: the API on a running guest', () => {
  linuxTest('pauses and resumes a ticking guest, counts its devices, and powers it off with the power button', async (ctx) => {
    const apiSocket = apiDir(ctx);
    const vm = ctx.spawn({ apiSocket });
    const client = connect(apiSocket);
    ctx.defer(() => client.close());
    await waitReady(vm, 'workervisor api');
    expect(await guestCheck(vm, "dmesg | grep -c 'Power Button \\[PWRB\\]'"), 'button.ko bound the DSDT PNP0C0C').toBe('1');

    vm.writeSerial(`(while true; do echo "TICK $(cut -d' ' -f1 /proc/uptime)"; sleep 0.5; done) &\n`);
    await vm.expectSerial(/TICK \d+\.\d+\r?\n[\s\S]*TICK \d+\.\d+\r?\n/, { timeoutMs: COMMAND_TIMEOUT_MS });

    await client.pause();
    expect((await client.info()).state).toBe('Paused');
    await sleep(300); // bytes already in the console pipe
    const frozen = vm.serial.length;
    const before = ticks(vm.serial);
    const pausedAt = Date.now();
    await sleep(PAUSE_MS);
    expect(vm.serial.length, 'a paused guest prints nothing').toBe(frozen);

    await client.resume();
    const wall = (Date.now() - pausedAt) / 1000;
    expect((await client.info()).state).toBe('Running');
    await vm.expectSerial(/TICK \d+\.\d+\r?\n[\s\S]*TICK \d+\.\d+\r?\n/, { timeoutMs: COMMAND_TIMEOUT_MS });
    const after = ticks(vm.serial).slice(before.length);
    const last = before.at(-1) ?? 0;
    const next = after[0] ?? 0;
    expect(next, 'the guest clock went on from where it stopped').toBeGreaterThan(last);
    expect(next - last, `uptime jumped ${next - last} s across a ${wall} s pause`).toBeLessThan(wall + 10);
    expect(after.every((t, i) => i === 0 || t > (after[i - 1] ?? 0)), 'uptime is monotonic').toBe(true);

    const counters = await client.counters();
    expect(counters['com1']?.['bytesOut'] ?? 0).toBeGreaterThan(100);
    expect(counters['com1']?.['bytesIn'] ?? 0).toBeGreaterThan(10);

    await client.powerButton();
    await vm.expectSerial(/init: power button pressed/, { timeoutMs: COMMAND_TIMEOUT_MS });
    expect(await vm.waitExit(COMMAND_TIMEOUT_MS)).toEqual({ code: 0, signal: null });
    expect(vm.serial).toMatch(/reboot: Power down/);
    expect(vm.serial).not.toMatch(/Kernel panic/);
  }, { reference: false });

  linuxTest('stops a running guest on vm.shutdown and keeps the VMM up until vmm.shutdown', async (ctx) => {
    const apiSocket = apiDir(ctx);
    const vm = ctx.spawn({ apiSocket });
    const client = connect(apiSocket);
    ctx.defer(() => client.close());
    await waitReady(vm, 'workervisor vm.shutdown');
    await client.shutdown();
    expect((await client.info()).state).toBe('Created');
    const printed = vm.serial.length;
    await sleep(1_000);
    expect(vm.serial.length, 'the stopped guest prints nothing').toBe(printed);
    expect(vm.exitStatus, 'the VMM is still up').toBeUndefined();
    await client.ping();
    await client.shutdownVmm();
    expect(await vm.waitExit(COMMAND_TIMEOUT_MS)).toEqual({ code: 0, signal: null });
  }, { reference: false });
});
