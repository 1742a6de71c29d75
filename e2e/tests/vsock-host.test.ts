// virtio-vsock on real KVM: with the echo test guest (no vsock driver) the VMM builds the device
// from --vsock and from a Firecracker config's vsock section, listens on the hybrid socket with
// mode 0600 and closes a CONNECT at once; the virtio-vsock test guest drives the protocol through
// ioeventfd kicks both ways (<socket>_1234, CONNECT 52). Linux's driver: tests/linux/vsock.test.ts.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { cliPath, describeKvm, guestPath, Microvm } from '../framework/index.js';

/** Connects, sends `CONNECT 52`, resolves with what came back before the VMM closed the client. */
async function connectAndWaitForClose(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`the VMM did not close the client (got ${JSON.stringify(got)})`));
    }, 10_000);
    s.on('connect', () => s.write('CONNECT 52\n'));
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}

async function waitForSocket(path: string): Promise<void> {
  for (let i = 0; i < 200 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 50));
  expect(statSync(path).isSocket()).toBe(true);
}

describeKvm('virtio-vsock host socket', () => {
  let vm: Microvm | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await vm?.kill();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    vm = dir = undefined;
  });

  it('--vsock listens on its socket (0600) and refuses CONNECT while the guest has no driver', async () => {
    dir = mkdtempSync(join(tmpdir(), 'wv-vsock-e2e-'));
    const socket = join(dir, 'v.sock');
    vm = Microvm.spawn({ kernel: guestPath('echo.elf'), memory: '64M', serial: 'tty', extraArgs: ['--vsock', `cid=3,socket=${socket}`] });
    await vm.expectSerial(/ECHO-READY\n/);
    await waitForSocket(socket);
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    expect(await connectAndWaitForClose(socket)).toBe('');
    vm.writeSerial('quit\n');
    await vm.expectSerial(/DONE echo/);
    await vm.waitExit();
    expect(existsSync(socket)).toBe(false);
  });

  it('carries a guest-initiated and a host-initiated connection for the virtio-vsock test guest', async () => {
    dir = mkdtempSync(join(tmpdir(), 'wv-vsock-e2e-'));
    const socket = join(dir, 'v.sock');
    // The host listener for the guest's connection to host port 1234: answers one line.
    let fromGuest = '';
    const listener = createServer((s) => {
      s.on('data', (d: Buffer) => {
        fromGuest += d.toString();
        if (fromGuest.endsWith('\n')) s.write('hi guest\n');
      });
      s.on('error', () => {});
    });
    await new Promise<void>((r) => listener.listen(`${socket}_1234`, r));
    try {
      vm = Microvm.spawn({ kernel: guestPath('virtio-vsock.elf'), memory: '64M', extraArgs: ['--vsock', `cid=42,socket=${socket}`] });
      await vm.expectSerial(/VSOCK cid=42\n/);
      await vm.expectSerial(/VSOCK connected to host port 1234\n/);
      await vm.expectSerial(/VSOCK rx=hi guest\n/);
      expect(fromGuest).toBe('hello from the guest\n');
      await vm.expectSerial(/VSOCK closed\n/);
      await vm.expectSerial(/VSOCK listening on 52\n/);
      // Host-initiated: CONNECT 52 -> OK <port>, a line each way, then the guest resets.
      const client = connect(socket);
      let got = '';
      const closed = new Promise<void>((r) => client.on('close', () => r()));
      client.on('data', (d: Buffer) => {
        got += d.toString();
        if (/^OK \d+\n$/.test(got)) client.write('ping from the host\n');
      });
      client.on('error', () => {});
      client.write('CONNECT 52\n');
      await vm.expectSerial(/VSOCK request from host port 1073741824\n/);
      await vm.expectSerial(/VSOCK rx=ping from the host\n/);
      await closed;
      expect(got).toBe('OK 1073741824\nbye from the guest\n');
      await vm.expectSerial(/DONE virtio-vsock/);
      expect(await vm.waitExit()).toEqual({ code: 0, signal: null });
      expect(vm.serial).not.toContain('FAIL');
    } finally {
      listener.close();
    }
  });

  it("boots a Firecracker config's vsock {guest_cid, uds_path} instead of refusing it", async () => {
    dir = mkdtempSync(join(tmpdir(), 'wv-vsock-e2e-'));
    const socket = join(dir, 'fc.vsock');
    const file = join(dir, 'vm.json');
    const metrics = join(dir, 'metrics.json');
    const config = {
      'boot-source': { kernel_image_path: guestPath('echo.elf') },
      'machine-config': { vcpu_count: 1, mem_size_mib: 64 },
      vsock: { guest_cid: 7, uds_path: socket, vsock_id: 'vsock0' },
      metrics: { metrics_path: metrics },
    };
    writeFileSync(file, JSON.stringify(config));
    vm = Microvm.spawnCommand(process.execPath, [cliPath, '--config-file', file, '--no-api']);
    await vm.expectSerial(/ECHO-READY\n/);
    await waitForSocket(socket);
    expect(await connectAndWaitForClose(socket)).toBe('');
    vm.writeSerial('quit\n');
    await vm.expectSerial(/DONE echo/);
    await vm.waitExit();
    // The device's counters, under the vsock_id, in the metrics line written at exit.
    const counters = JSON.parse(readFileSync(metrics, 'utf8').trim()) as Record<string, Record<string, number>>;
    expect(counters['vsock0']).toMatchObject({ connectionsRefused: 1, connectionsOpened: 0, malformedPackets: 0 });
  });
});
