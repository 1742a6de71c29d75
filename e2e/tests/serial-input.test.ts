// COM1 input reaches the guest: from the VMM's stdin (--serial tty) and from a Unix socket client
// (--serial socket=PATH), through the 16550A's receive FIFO.
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { describeKvm, guestPath, Microvm } from '../framework/index.js';

describeKvm('serial console input', () => {
  let vm: Microvm | undefined;
  afterEach(async () => {
    await vm?.kill();
    vm = undefined;
  });

  it('delivers stdin lines to the guest with --serial tty', async () => {
    vm = Microvm.spawn({ kernel: guestPath('echo.elf'), memory: '64M', serial: 'tty' });
    await vm.expectSerial(/ECHO-READY\n/);
    vm.writeSerial('hello from the host\n');
    await vm.expectSerial(/ECHO hello from the host\n/);
    // More than the 64-byte receive FIFO at once: the host holds the rest until the guest drains it.
    const long = 'x'.repeat(100);
    vm.writeSerial(`${long}\nquit\n`);
    await vm.expectSerial(new RegExp(`ECHO ${long}\\n`), { timeoutMs: 20_000 });
    await vm.expectSerial(/DONE echo/);
    expect(await vm.waitExit()).toEqual({ code: 0, signal: null });
  });

  it('serves the console on a 0600 Unix socket with --serial socket=PATH', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'wv-console-')), 'console.sock');
    vm = Microvm.spawn({ kernel: guestPath('echo.elf'), memory: '64M', serial: `socket=${path}` });
    for (let i = 0; i < 100 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 50));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const client = connect(path);
    let got = '';
    client.on('data', (d: Buffer) => (got += d.toString()));
    const until = async (re: RegExp) => {
      for (let i = 0; i < 300 && !re.test(got); i++) await new Promise((r) => setTimeout(r, 50));
      expect(got).toMatch(re);
    };
    await until(/ECHO-READY/);
    client.write('over the socket\n');
    await until(/ECHO over the socket/);
    client.write('quit\n');
    await until(/DONE echo/);
    expect(await vm.waitExit()).toEqual({ code: 0, signal: null });
    expect(vm.serial).toBe('');
    expect(existsSync(path)).toBe(false);
    client.destroy();
  });

  it('refuses a second VMM on the same --serial socket=PATH; the first keeps its console', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'wv-console-')), 'console.sock');
    vm = Microvm.spawn({ kernel: guestPath('echo.elf'), memory: '64M', serial: `socket=${path}` });
    for (let i = 0; i < 100 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 50));
    const second = Microvm.spawn({ kernel: guestPath('echo.elf'), memory: '64M', serial: `socket=${path}` });
    try {
      const status = await second.waitExit(30_000);
      expect(status.code).not.toBe(0);
      expect(second.stderr).toContain(`serial socket ${path}: another process is listening on it`);
    } finally {
      await second.kill();
    }
    expect(statSync(path).isSocket()).toBe(true);
    const client = connect(path);
    let got = '';
    client.on('data', (d: Buffer) => (got += d.toString()));
    const until = async (re: RegExp) => {
      for (let i = 0; i < 300 && !re.test(got); i++) await new Promise((r) => setTimeout(r, 50));
      expect(got).toMatch(re);
    };
    await until(/ECHO-READY/);
    client.write('quit\n');
    await until(/DONE echo/);
    expect(await vm.waitExit()).toEqual({ code: 0, signal: null });
    client.destroy();
  });
});
