import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendNonBlocking, openOutputFile, readHostFile, type HostFileError } from './host-file.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wv-host-file-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function thrown(fn: () => unknown): HostFileError {
  try {
    fn();
  } catch (err) {
    return err as HostFileError;
  }
  throw new Error('expected a throw');
}

function fifo(name: string): string {
  const path = join(dir, name);
  execFileSync('mkfifo', [path]);
  return path;
}

const opts = { what: 'kernel', maxBytes: 1024 * 1024 };

describe('readHostFile', () => {
  it('reads a whole regular file', () => {
    const path = join(dir, 'k');
    writeFileSync(path, Buffer.from('hello kernel'));
    expect(readHostFile(path, opts).toString()).toBe('hello kernel');
  });

  it('names a missing file with its errno code', () => {
    const err = thrown(() => readHostFile(join(dir, 'nope'), opts));
    expect(err.code).toBe('ERR_VMM_HOST_FILE_UNREADABLE');
    expect(err.message).toBe(`cannot read kernel ${join(dir, 'nope')} (ENOENT)`);
  });

  it('refuses a FIFO at once instead of hanging in open()', () => {
    const path = fifo('f');
    const started = Date.now();
    const err = thrown(() => readHostFile(path, opts));
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(err.code).toBe('ERR_VMM_HOST_FILE_NOT_REGULAR');
    expect(err.message).toBe(`kernel ${path} is a FIFO, not a regular file`);
  });

  it('refuses /dev/zero and /dev/urandom before reading a byte', () => {
    for (const path of ['/dev/zero', '/dev/urandom']) {
      const err = thrown(() => readHostFile(path, { what: 'initramfs', maxBytes: 2 ** 31 }));
      expect(err.code).toBe('ERR_VMM_HOST_FILE_NOT_REGULAR');
      expect(err.message).toBe(`initramfs ${path} is a character device, not a regular file`);
    }
  });

  it('refuses a directory', () => {
    const sub = join(dir, 'd');
    mkdirSync(sub);
    expect(thrown(() => readHostFile(sub, opts)).message).toBe(`kernel ${sub} is a directory, not a regular file`);
  });

  it('refuses a file over the limit, naming its size, the limit and why', () => {
    const path = join(dir, 'big');
    writeFileSync(path, '');
    truncateSync(path, 1024 * 1024 + 1);
    const err = thrown(() => readHostFile(path, { ...opts, limit: 'guest RAM' }));
    expect(err.code).toBe('ERR_VMM_HOST_FILE_TOO_LARGE');
    expect(err.message).toBe(`kernel ${path} is 1048577 bytes, over the limit of 1048576 bytes (guest RAM)`);
  });

  it('refuses procfs and sysfs files, whose contents are the host kernel\'s', () => {
    const environ = thrown(() => readHostFile('/proc/self/environ', { what: 'initramfs', maxBytes: 2 ** 31 }));
    expect(environ.code).toBe('ERR_VMM_HOST_FILE_PSEUDO_FILE');
    expect(environ.message).toMatch(/^initramfs \/proc\/self\/environ is on procfs/);
    // sysfs attributes report 4096 bytes, so the size alone would not catch them.
    const sysfs = '/sys/kernel/mm/transparent_hugepage/enabled';
    if (existsSync(sysfs)) expect(thrown(() => readHostFile(sysfs, opts)).message).toMatch(/is on sysfs/);
  });

  it('refuses an empty file (the only size a pseudo file reports when /proc cannot tell)', () => {
    const path = join(dir, 'empty');
    writeFileSync(path, '');
    expect(thrown(() => readHostFile(path, opts)).code).toBe('ERR_VMM_HOST_FILE_EMPTY');
  });
});

describe('openOutputFile', () => {
  it('creates a missing file with mode 0600 and appends to an existing one', () => {
    const path = join(dir, 'log');
    const out = openOutputFile(path, 'log file');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(appendNonBlocking(out.fd, Buffer.from('a\n'))).toBe(true);
    closeSync(out.fd);
    const again = openOutputFile(path, 'log file');
    appendNonBlocking(again.fd, Buffer.from('b\n'));
    closeSync(again.fd);
    expect(execFileSync('cat', [path], { encoding: 'utf8' })).toBe('a\nb\n');
  });

  it('fails at once on a FIFO nobody reads, instead of hanging in open()', () => {
    const path = fifo('log.fifo');
    const started = Date.now();
    const err = thrown(() => openOutputFile(path, 'log file'));
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(err.code).toBe('ERR_VMM_HOST_FILE_UNWRITABLE');
    expect(err.message).toMatch(/cannot open log file .*log\.fifo for appending \(ENXIO: a FIFO with no reader/);
  });

  it('writes to a FIFO with a reader, and drops instead of blocking once the FIFO is full', async () => {
    const path = fifo('log.fifo');
    // A reader that opens the FIFO and never reads.
    const reader = spawn('sh', ['-c', `exec 3<"${path}"; sleep 30`], { stdio: 'ignore' });
    try {
      let out: ReturnType<typeof openOutputFile> | undefined;
      for (let i = 0; i < 100 && out === undefined; i++) {
        try {
          out = openOutputFile(path, 'log file');
        } catch {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      expect(out?.kind).toBe('fifo');
      const chunk = Buffer.alloc(4096, 0x41);
      let accepted = 0;
      const started = Date.now();
      while (appendNonBlocking(out!.fd, chunk) && accepted < 10_000) accepted++;
      expect(accepted).toBeLessThan(10_000); // the pipe filled up (64 KiB by default)...
      expect(Date.now() - started).toBeLessThan(2_000); // ...and no write blocked
      closeSync(out!.fd);
    } finally {
      reader.kill('SIGKILL');
    }
  });

  it('refuses a directory', () => {
    expect(thrown(() => openOutputFile(dir, 'log file')).message).toMatch(/cannot open log file .* for appending \(EISDIR\)/);
  });

  it('takes /dev/stdout and /dev/stderr as the process\'s own fds', () => {
    expect(openOutputFile('/dev/stderr', 'log file')).toEqual({ fd: 2, owned: false, kind: 'char-device' });
    expect(openOutputFile('/dev/stdout', 'log file')).toEqual({ fd: 1, owned: false, kind: 'char-device' });
  });

  it('accepts a character device such as /dev/null', () => {
    const out = openOutputFile('/dev/null', 'log file');
    expect(out.kind).toBe('char-device');
    expect(appendNonBlocking(out.fd, Buffer.from('x'))).toBe(true);
    closeSync(out.fd);
  });
});
