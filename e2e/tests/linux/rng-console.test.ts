// virtio-rng and virtio-console under Linux's own drivers (virtio-rng.ko, virtio_console.ko): the
// guest's hwrng is virtio_rng.0 and /dev/hwrng yields bytes; a virtio console on a Unix socket,
// next to COM1, carries `echo` from the guest's /dev/hvc0 to the socket client and a line typed
// by the client to `head -n1 /dev/hvc0` in the guest. One boot for both, to keep boots few.
// A second boot has console=hvc0 and no `quiet`: the kernel's messages (from the virtio console
// driver's load on) and /init's shell are on the virtio console, and COM1 carries none of them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { describeWhen, guestCheck, guestPowerOff, LINUX_CMDLINE, linuxTest, linuxTierStatus, SerialSocketClient, until, waitReady } from '../../framework/index.js';


describeWhen(linuxTierStatus(), 'Debian cloud kernel: virtio-rng and virtio-console', () => {
  linuxTest('reads /dev/hwrng from virtio_rng.0 and talks both ways over /dev/hvc0 on a console socket', async ({ spawn, vmm, defer }) => {
    const dir = mkdtempSync(join(tmpdir(), 'workervisor-hvc-'));
    defer(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'hvc0.sock');
    const vm = spawn({ rng: true, consoleSocket: path });
    const client = await SerialSocketClient.connect(path, { vm });
    defer(() => client.close());
    await waitReady(vm, `${vmm.name} rng + console`);

    // (a) The entropy device is the hwrng the kernel picked, and reading it returns data.
    expect(await guestCheck(vm, 'cat /sys/class/misc/hw_random/rng_current')).toBe('virtio_rng.0');
    const dump = await guestCheck(vm, 'dd if=/dev/hwrng bs=64 count=1 2>/dev/null | od -An -v -tx1');
    const bytes = dump.split(/\s+/).filter((b) => b !== '');
    expect(bytes, `od output:\n${dump}`).toHaveLength(64);
    expect(bytes.every((b) => /^[0-9a-f]{2}$/.test(b))).toBe(true);
    expect(new Set(bytes).size, 'random bytes, not a constant fill').toBeGreaterThan(8);

    // (b) The console driver bound and made hvc0; guest -> host.
    expect((await guestCheck(vm, 'ls /sys/bus/virtio/drivers')).split(/\s+/)).toContain('virtio_console');
    await guestCheck(vm, 'test -c /dev/hvc0 && echo hi-from-hvc0 > /dev/hvc0');
    await client.expectSerial(/hi-from-hvc0\r?\n/, { timeoutMs: 30_000 });

    // Host -> guest: a reader holds hvc0 open (started in a subshell, so the interactive shell
    // prints no job notices), then the client types one line.
    await guestCheck(vm, '(head -n1 /dev/hvc0 > /tmp/hvc-in & echo $! > /tmp/hvc-pid)');
    await guestCheck(vm, until('ls -l /proc/$(cat /tmp/hvc-pid)/fd 2>/dev/null | grep -q hvc0'));
    client.writeSerial('typed-on-the-console-socket\n');
    await guestCheck(vm, until('[ -s /tmp/hvc-in ]'));
    expect(await guestCheck(vm, 'cat /tmp/hvc-in')).toBe('typed-on-the-console-socket');

    expect(await guestPowerOff(vm)).toEqual({ code: 0, signal: null });
    expect(vm.serial).not.toMatch(/Kernel panic/);
  });

  linuxTest('with console=hvc0 the boot log and the shell are on the virtio console, not on COM1', async ({ spawn, vmm, defer }) => {
    const dir = mkdtempSync(join(tmpdir(), 'workervisor-hvc-'));
    defer(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'hvc0.sock');
    const cmdline = LINUX_CMDLINE.replace('console=ttyS0', 'console=hvc0').replace(' quiet', '');
    expect(cmdline).toMatch(/console=hvc0/);
    const vm = spawn({ consoleSocket: path, cmdline });
    const client = await SerialSocketClient.connect(path, { vm });
    defer(() => client.close());
    await waitReady(client, `${vmm.name} console=hvc0`);
    // Kernel messages print on hvc0 from the moment virtio_console (a module here) made it: the
    // modules loaded after it log there (QEMU's virtio console shows the same). The messages from
    // before are in the log buffer, not replayed to a console registered that late.
    expect(client.text).toMatch(/\[\s*\d+\.\d{6}\] NET: Registered PF_VSOCK/);
    expect(await guestCheck(client, 'dmesg | grep -c "Linux version"')).toBe('1');
    expect(await guestCheck(client, 'cat /sys/class/tty/console/active')).toBe('hvc0');
    expect(await guestCheck(client, 'tty'), "cttyhack opened the active console").toBe('/dev/hvc0');
    expect(await guestCheck(client, 'echo $((6 * 7))')).toBe('42');
    expect(vm.serial, 'COM1 is not the console').not.toMatch(/Linux version|GUEST-READY/);
    expect(await guestPowerOff(vm, client)).toEqual({ code: 0, signal: null });
  });
});
