import { connect } from 'node:net';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
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

  it('refuses a path that exists and is not a socket', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'wv-ser-')), 'file');
    writeFileSync(path, 'x');
    expect(() => serialSocket(path, () => undefined)).toThrow(/not a socket/);
  });
});
