import { connect } from 'node:net';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Serial } from '@workervisor/devices';
import { RecordingIrq } from '@workervisor/devices/testing';
import { serialSocket, type SerialSocket } from './serial-socket.js';

const RBR = 0;
const LSR = 5;
const until = async (cond: () => boolean) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
};

describe('serial console over a Unix socket', () => {
  let sock: SerialSocket | undefined;
  afterEach(() => sock?.close());

  it('replays output written before a client connected, then streams it', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'wv-ser-')), 'console.sock');
    const serial = new Serial({ irq: new RecordingIrq() });
    sock = serialSocket(path, () => serial);
    sock.output.write(new TextEncoder().encode('early '));
    await sock.ready;
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const client = connect(path);
    let got = '';
    client.on('data', (d) => (got += d.toString()));
    await until(() => got === 'early ');
    sock.output.write(new TextEncoder().encode('late'));
    await until(() => got === 'early late');
    client.destroy();
  });

  it("feeds a client's bytes to the UART receive FIFO", async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'wv-ser-')), 'console.sock');
    const serial = new Serial({ irq: new RecordingIrq() });
    sock = serialSocket(path, () => serial);
    await sock.ready;
    const client = connect(path);
    client.write('ls\n');
    await until(() => (serial.readRegister(LSR) & 1) === 1);
    const chars = [serial.readRegister(RBR), serial.readRegister(RBR), serial.readRegister(RBR)];
    expect(String.fromCharCode(...chars)).toBe('ls\n');
    client.destroy();
  });

  it('refuses a path that exists and is not a socket', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'wv-ser-')), 'file');
    writeFileSync(path, 'x');
    sock = serialSocket(path, () => undefined);
    await expect(sock.ready).rejects.toThrow(/not a socket/);
    sock.close();
    expect(statSync(path).isFile()).toBe(true);
  });

  it('refuses a second serial socket on a path the first one serves, which keeps working', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'wv-ser-')), 'console.sock');
    const first = serialSocket(path, () => undefined);
    sock = first;
    await first.ready;
    const second = serialSocket(path, () => undefined);
    const err = await second.ready.then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_VMM_UNIX_SOCKET_SOCKET_IN_USE', details: { path } });
    expect((err as Error).message).toContain(path);
    // The second VMM's teardown must not remove the first one's socket file.
    second.close();
    expect(statSync(path).isSocket()).toBe(true);
    const client = connect(path);
    let got = '';
    client.on('data', (d) => (got += d.toString()));
    await new Promise<void>((resolve) => client.once('connect', resolve));
    first.output.write(new TextEncoder().encode('still mine'));
    await until(() => got === 'still mine');
    client.destroy();
  });

  it("keeps the backlog for the real client when another VMM's probe connected first", async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'wv-ser-')), 'console.sock');
    sock = serialSocket(path, () => undefined);
    await sock.ready;
    sock.output.write(new TextEncoder().encode('boot log'));
    const second = serialSocket(path, () => undefined);
    await expect(second.ready).rejects.toThrow(/listening/);
    const client = connect(path);
    let got = '';
    client.on('data', (d) => (got += d.toString()));
    await until(() => got === 'boot log');
    client.destroy();
  });

  it('replaces a stale socket nobody listens on, and removes its own file on close', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'wv-ser-')), 'stale.sock');
    try {
      execFileSync(process.execPath, ['-e', "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))", path]);
    } catch {
      // killed by design
    }
    expect(statSync(path).isSocket()).toBe(true);
    sock = serialSocket(path, () => undefined);
    await sock.ready;
    sock.close();
    expect(existsSync(path)).toBe(false);
  });
});
