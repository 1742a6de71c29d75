import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LANDLOCK_ACCESS_FS as A } from '@workervisor/native';
import type { VmConfig } from '@workervisor/schema';
import { accessBits, configRules, handledAccess, runtimeRules, userRules } from './landlock-rules.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'wv-landlock-rules-'));
  writeFileSync(join(dir, 'disk.img'), '');
  writeFileSync(join(dir, 'existing.log'), '');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Landlock rules', () => {
  it('gives each file the config names the access it needs: reads, disks by mode, socket and output directories', () => {
    const rules = configRules(
      {
        payload: { kernel: 'k.elf', initramfs: '/i.cpio' },
        disks: [{ path: join(dir, 'disk.img') }, { path: '/ro.img', readonly: true }],
        net: [{ tap: 'tap0' }],
        serial: { mode: 'File', file: join(dir, 'serial.txt') },
        console: { mode: 'Socket', socket: '/run/c/console.sock' },
        vsock: { cid: 3, socket: '/run/v/vsock.sock' },
      },
      { apiSocket: '/run/api/api.sock', logFile: join(dir, 'existing.log') },
    );
    const table = rules.map((r) => `${r.path} ${r.access}`);
    expect(table).toEqual([
      '/dev/kvm rw',
      `${process.cwd()}/k.elf r`,
      '/i.cpio r',
      `${join(dir, 'disk.img')} rw`,
      '/ro.img r',
      '/dev/net/tun rw',
      '/dev/urandom r',
      `${dir} rw`,
      '/run/c rw',
      '/run/v rw',
      '/run/api rw',
      `${join(dir, 'existing.log')} rw`,
    ]);
    expect(rules.find((r) => r.path === dir)?.why).toBe('serial.file (to be created)');
  });

  it('needs no /dev/net/tun for a net given as an open fd', () => {
    expect(configRules({ net: [{ fd: 5 }] } as unknown as VmConfig, {}).map((r) => r.path)).not.toContain('/dev/net/tun');
  });

  it('handles the rights of the kernel ABI: REFER from 2, TRUNCATE from 3, IOCTL_DEV from 5', () => {
    expect(handledAccess(1)).toBe((1 << 13) - 1);
    expect(handledAccess(2) & A.REFER).toBe(A.REFER);
    expect(handledAccess(2) & A.TRUNCATE).toBe(0);
    expect(handledAccess(3) & A.TRUNCATE).toBe(A.TRUNCATE);
    expect(handledAccess(7)).toBe((1 << 16) - 1);
  });

  it('keeps only file rights on a file rule, and read means execute, read and list (Cloud Hypervisor)', () => {
    expect(accessBits({ path: dir, access: 'r' })).toBe(A.EXECUTE | A.READ_FILE | A.READ_DIR);
    expect(accessBits({ path: join(dir, 'disk.img'), access: 'rw' })).toBe(A.EXECUTE | A.READ_FILE | A.WRITE_FILE | A.TRUNCATE | A.IOCTL_DEV);
    expect(accessBits({ path: dir, access: 'w' }) & (A.MAKE_SOCK | A.REMOVE_FILE | A.MAKE_REG)).toBe(A.MAKE_SOCK | A.REMOVE_FILE | A.MAKE_REG);
  });

  it('refuses a landlock_rules entry with a bad access or a missing path, by its index', () => {
    expect(() => userRules([{ path: dir, access: 'x' }])).toThrow(/^landlock_rules\[0\]\.access is "x": expected r, w or rw$/);
    expect(() => userRules([{ path: dir, access: 'r' }, { path: join(dir, 'nope'), access: 'rw' }])).toThrow(/^landlock_rules\[1\]\.path .*nope does not exist/);
    expect(userRules([{ path: dir, access: 'rw' }])).toEqual([{ path: dir, access: 'rw', why: 'landlock_rules[0]' }]);
  });

  it("lets Node start again read-only: its binary, the libraries it maps and the VMM's code", () => {
    const rules = runtimeRules();
    expect(rules.every((r) => r.access === 'r' || r.path === '/dev/null')).toBe(true);
    expect(rules.map((r) => r.path)).toContain('/proc');
    expect(rules.some((r) => /libc\.so/.test(r.path))).toBe(true);
    expect(rules.some((r) => process.cwd().startsWith(r.path) && r.why === "the VMM's code")).toBe(true);
  });
});
