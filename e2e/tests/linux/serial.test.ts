// The serial console under Linux's 8250 driver: commands typed on the VMM's stdin and over a
// `--serial socket=` client, and a guest `reboot` that boots again with `--reboot restart` and
// ends the VMM with 0 under `--reboot exit`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import {
  COMMAND_TIMEOUT_MS,
  describeWhen,
  guestCheck,
  guestPowerOff,
  linuxTest,
  linuxTierStatus,
  SerialSocketClient,
  waitReady,
} from '../../framework/index.js';

describeWhen(linuxTierStatus(), 'Debian cloud kernel: serial console and reboot', () => {
  linuxTest('boots again after a guest reboot with --reboot restart, then powers off with 0', async ({ spawn, vmm }) => {
    const vm = spawn({ reboot: 'restart' });
    await waitReady(vm, `${vmm.name} first boot`);
    expect(await guestCheck(vm, 'cat /proc/sys/kernel/random/boot_id > /tmp/id; echo typed-on-stdin')).toBe('typed-on-stdin');
    vm.writeSerial('reboot -f\n');
    await waitReady(vm, `${vmm.name} after reboot`);
    expect(vm.exitStatus, 'the VMM lives on across the reset').toBeUndefined();
    // A fresh kernel: /tmp (initramfs) lost the file the first boot wrote.
    expect(await guestCheck(vm, 'test -e /tmp/id && echo stale || echo fresh')).toBe('fresh');
    expect(await guestPowerOff(vm)).toEqual({ code: 0, signal: null });
    expect(vm.serial.match(/GUEST-READY/g)?.length).toBe(2);
  });

  linuxTest('serves the console on --serial socket= and ends with 0 on a guest reboot (--reboot exit)', async ({ spawn, vmm, defer }) => {
    const dir = mkdtempSync(join(tmpdir(), 'workervisor-serial-'));
    defer(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'console.sock');
    const vm = spawn({ serialSocket: path, reboot: 'exit' });
    const client = await SerialSocketClient.connect(path, { vm });
    defer(() => client.close());
    await waitReady(client, `${vmm.name} serial socket`);
    expect(await guestCheck(client, 'echo $((6*7)) over the socket')).toBe('42 over the socket');
    client.writeSerial('reboot -f\n');
    expect(await vm.waitExit(COMMAND_TIMEOUT_MS)).toEqual({ code: 0, signal: null });
    expect(vm.serial, 'nothing of the console on stdout').not.toMatch(/GUEST-READY/);
  });
});
