import { describe, expect, it } from 'vitest';
import { FakeGuestMemory } from '@workervisor/devices/testing';
import { CMDLINE_START } from '../arch/x86_64/layout.js';
import { CMDLINE_MAX_LENGTH, Cmdline, writeCmdline } from './cmdline.js';
import { errorKindOf } from './test-support.js';

describe('Cmdline', () => {
  it('joins arguments with single spaces and counts bytes without the NUL', () => {
    const c = new Cmdline().insertStr('console=ttyS0').insert('reboot', 'k').insertStr('panic=1 quiet');
    expect(c.toString()).toBe('console=ttyS0 reboot=k panic=1 quiet');
    expect(c.length).toBe(c.toString().length);
    expect([...c.toBytes()].at(-1)).toBe(0);
  });

  it('quotes values that hold spaces', () => {
    expect(new Cmdline().insert('init', '/bin/sh -c true').toString()).toBe('init="/bin/sh -c true"');
  });

  it('rejects NULs, bad keys and quoted values with spaces as cmdline-invalid', () => {
    expect(errorKindOf(() => new Cmdline().insertStr('a\0b'))).toBe('LoaderError:cmdline-invalid');
    expect(errorKindOf(() => new Cmdline().insert('k', 'v\0'))).toBe('LoaderError:cmdline-invalid');
    expect(errorKindOf(() => new Cmdline().insert('a b', 'v'))).toBe('LoaderError:cmdline-invalid');
    expect(errorKindOf(() => new Cmdline().insert('a=b', 'v'))).toBe('LoaderError:cmdline-invalid');
    expect(errorKindOf(() => new Cmdline().insert('', 'v'))).toBe('LoaderError:cmdline-invalid');
    expect(errorKindOf(() => new Cmdline().insert('k', 'a "b"'))).toBe('LoaderError:cmdline-invalid');
  });

  it('fails with cmdline-too-long past its limit, counting UTF-8 bytes', () => {
    const c = new Cmdline(10).insertStr('12345');
    expect(errorKindOf(() => c.insertStr('12345'))).toBe('LoaderError:cmdline-too-long'); // 11 with the space
    expect(c.insertStr('1234').length).toBe(10);
    expect(errorKindOf(() => new Cmdline(3).insertStr('ééé'))).toBe('LoaderError:cmdline-too-long');
    expect(errorKindOf(() => new Cmdline(CMDLINE_MAX_LENGTH + 1))).toBe('LoaderError:cmdline-too-long');
  });
});

describe('writeCmdline', () => {
  it('writes the line NUL-terminated at CMDLINE_START', () => {
    const mem = new FakeGuestMemory(0x10_0000);
    mem.load(CMDLINE_START + 14, [0xff]);
    const p = writeCmdline(mem, 'console=ttyS0');
    expect(p).toEqual({ addr: CMDLINE_START, length: 13 });
    expect(new TextDecoder().decode(mem.dump(CMDLINE_START, 13))).toBe('console=ttyS0');
    expect(mem.readU8(CMDLINE_START + 13)).toBe(0);
  });

  it("fails with cmdline-too-long against the kernel's cmdline_size", () => {
    const mem = new FakeGuestMemory(0x10_0000);
    const line = new Cmdline().insert('x', 'y'.repeat(0x800));
    expect(errorKindOf(() => writeCmdline(mem, line, 0x7ff))).toBe('LoaderError:cmdline-too-long');
    expect(writeCmdline(mem, line).length).toBe(0x802);
  });
});
