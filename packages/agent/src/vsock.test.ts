// connectHybridVsock against a fake VMM socket: the guest's first bytes may arrive in the same
// read as the VMM's `OK <port>\n` (a loaded host coalesces them); they must reach the caller.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectHybridVsock } from './vsock.js';

let server: Server | undefined;
let dir: string | undefined;

afterEach(() => {
  server?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  server = undefined;
  dir = undefined;
});

/** A VMM that answers `CONNECT <port>` with `reply` in one write. */
async function fakeVmm(reply: (port: string) => string): Promise<string> {
  dir = mkdtempSync(join(tmpdir(), 'wv-hybrid-'));
  const path = join(dir, 'v.sock');
  server = createServer((s: Socket) => {
    let line = '';
    s.setEncoding('latin1').on('data', (c: string) => {
      line += c;
      const m = /^CONNECT (\d+)\n/.exec(line);
      if (m !== null) s.write(reply(m[1]!));
    });
  });
  await new Promise<void>((r) => server!.listen(path, r));
  return path;
}

/** The first chunk the stream gives a reader attached after the handshake resolved. */
function firstChunk(socket: Socket, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), timeoutMs);
    socket.once('data', (c: Buffer) => {
      clearTimeout(timer);
      resolve(c.toString('latin1'));
    });
    socket.resume();
  });
}

describe('connectHybridVsock', () => {
  it('hands over guest bytes that came in the same read as the OK line', async () => {
    const path = await fakeVmm(() => 'OK 1073741824\nREADY-FRAME');
    const socket = await connectHybridVsock(path, 52);
    try {
      expect(await firstChunk(socket, 2000)).toBe('READY-FRAME');
    } finally {
      socket.destroy();
    }
  });

  it('refuses an answer that is not OK <port>', async () => {
    const path = await fakeVmm(() => 'NOPE\n');
    await expect(connectHybridVsock(path, 52)).rejects.toThrow(/the VMM answered "NOPE"/);
  });
});
