import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listenPrivately, prepareSocketPath, probeSocket, removeBoundSocket, removeBoundSocketSync } from './unix-socket.js';

let dir: string;
const servers: Server[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wv-unix-socket-'));
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve()))));
  rmSync(dir, { recursive: true, force: true });
});

function server(): Server {
  const s = createServer((c) => c.end());
  servers.push(s);
  return s;
}

/** A socket file with no listener: a process that bound it and died without unlinking. */
function staleSocket(path: string): void {
  try {
    execFileSync(process.execPath, ['-e', "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))", path]);
  } catch {
    // killed by design
  }
}

describe('probeSocket', () => {
  it('tells a live socket from a stale one and from no file', async () => {
    const live = join(dir, 'live.sock');
    await listenPrivately(server(), live, 'test socket');
    const stale = join(dir, 'stale.sock');
    staleSocket(stale);
    expect(await probeSocket(live)).toBe(true);
    expect(await probeSocket(stale)).toBe(false);
    expect(await probeSocket(join(dir, 'none.sock'))).toBe(false);
  });
});

describe('prepareSocketPath', () => {
  it('unlinks a stale socket and accepts a free path', async () => {
    const stale = join(dir, 'stale.sock');
    staleSocket(stale);
    await prepareSocketPath(stale, 'test socket');
    expect(existsSync(stale)).toBe(false);
    await prepareSocketPath(join(dir, 'free.sock'), 'test socket');
  });

  it('refuses a live socket, naming the path, and leaves it in place', async () => {
    const path = join(dir, 'live.sock');
    await listenPrivately(server(), path, 'test socket');
    const err = await prepareSocketPath(path, 'serial socket').catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'UnixSocketError', code: 'ERR_VMM_UNIX_SOCKET_SOCKET_IN_USE', details: { path } });
    expect((err as Error).message).toBe(`serial socket ${path}: another process is listening on it; refusing to take it over`);
    expect(statSync(path).isSocket()).toBe(true);
  });

  it('refuses a regular file and a directory', async () => {
    const file = join(dir, 'file');
    writeFileSync(file, 'keep me');
    await expect(prepareSocketPath(file, 'API socket')).rejects.toMatchObject({ code: 'ERR_VMM_UNIX_SOCKET_PATH_EXISTS' });
    const sub = join(dir, 'sub');
    mkdirSync(sub);
    await expect(prepareSocketPath(sub, 'API socket')).rejects.toThrow(/exists and is not a socket/);
    expect(statSync(file).isFile()).toBe(true);
  });

  it('refuses a path longer than sun_path', async () => {
    await expect(prepareSocketPath(join(dir, 'x'.repeat(120)), 'API socket')).rejects.toMatchObject({ code: 'ERR_VMM_UNIX_SOCKET_PATH_TOO_LONG' });
  });
});

describe('listenPrivately', () => {
  it('binds with mode 0600 and leaves no private directory behind', async () => {
    const path = join(dir, 'api.sock');
    const bound = await listenPrivately(server(), path, 'test socket');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(path).ino).toBe(bound.ino);
    expect(execFileSync('ls', ['-A', dir], { encoding: 'utf8' }).trim()).toBe('api.sock');
  });

  it('refuses a second listener on the path and keeps the first one serving', async () => {
    const path = join(dir, 'shared.sock');
    await listenPrivately(server(), path, 'test socket');
    const second = server();
    await expect(listenPrivately(second, path, 'test socket')).rejects.toMatchObject({ kind: 'socket-in-use' });
    expect(second.listening).toBe(false);
    expect(await probeSocket(path)).toBe(true);
  });
});

describe('removeBoundSocket', () => {
  it('removes the socket it bound', async () => {
    const path = join(dir, 'a.sock');
    const bound = await listenPrivately(server(), path, 'test socket');
    await removeBoundSocket(bound);
    expect(existsSync(path)).toBe(false);
    removeBoundSocketSync(bound);
  });

  it("leaves a socket that replaced ours at the path: it is someone else's", async () => {
    const path = join(dir, 'a.sock');
    const ours = await listenPrivately(server(), path, 'test socket');
    renameSync(path, join(dir, 'moved.sock'));
    await listenPrivately(server(), path, 'test socket');
    await removeBoundSocket(ours);
    removeBoundSocketSync(ours);
    expect(statSync(path).isSocket()).toBe(true);
  });
});
