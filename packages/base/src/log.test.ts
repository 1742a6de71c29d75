import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configureLogging, createLogger, droppedLogLines, logFileDescriptor } from './log.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wv-log-'));
});
afterEach(() => {
  configureLogging('warn');
  rmSync(dir, { recursive: true, force: true });
});

const log = createLogger('test');

describe('log file', () => {
  it('is created with mode 0600', () => {
    const path = join(dir, 'vmm.log');
    configureLogging('info', path);
    log.info('hello');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toMatch(/INFO  \[test\] hello\n$/);
  });

  it('is opened once, not for every line', () => {
    const path = join(dir, 'vmm.log');
    configureLogging('info', path);
    log.info('first');
    unlinkSync(path);
    // Reopening per line would create the file again; the fd opened at configure time keeps the
    // unlinked inode instead.
    for (let i = 0; i < 5; i++) log.info(`line ${i}`);
    expect(existsSync(path)).toBe(false);
    expect(readlinkSync(`/proc/self/fd/${logFileDescriptor()}`)).toBe(`${path} (deleted)`);
  });

  it('fails at configure time for a FIFO nobody reads, instead of hanging', () => {
    const path = join(dir, 'log.fifo');
    execFileSync('mkfifo', [path]);
    const started = Date.now();
    expect(() => configureLogging('info', path)).toThrow(/ENXIO/);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('drops lines rather than blocking when a FIFO reader stops reading', async () => {
    const path = join(dir, 'log.fifo');
    execFileSync('mkfifo', [path]);
    const reader = spawn('sh', ['-c', `exec 3<"${path}"; sleep 30`], { stdio: 'ignore' });
    try {
      for (let i = 0; ; i++) {
        try {
          configureLogging('info', path);
          break;
        } catch (err) {
          if (i > 100) throw err;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      const before = droppedLogLines();
      const started = Date.now();
      for (let i = 0; i < 200; i++) log.info('x'.repeat(1000));
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(droppedLogLines() - before).toBeGreaterThan(0);
    } finally {
      configureLogging('warn');
      reader.kill('SIGKILL');
    }
  });
});
