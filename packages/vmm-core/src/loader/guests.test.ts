// The loaders against the small test guests of e2e/guests (built by e2e/guests/build.sh).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FakeGuestMemory } from '@workervisor/devices/testing';
import { loadKernel } from './kernel.js';

const OUT = fileURLToPath(new URL('../../../../e2e/guests/out/', import.meta.url));
const MiB = 0x10_0000;

function guest(name: string): Uint8Array | undefined {
  if (!existsSync(OUT + name)) {
    console.warn(`skipping the ${name} test guest: ${OUT + name} is absent (run e2e/guests/build.sh)`);
    return undefined;
  }
  return new Uint8Array(readFileSync(OUT + name));
}

const pvh = guest('pvh-info.elf');
const linux64 = guest('linux64.elf');
const bzimage = guest('bzimage');

describe('test guests', () => {
  it.skipIf(pvh === undefined)('pvh-info.elf boots through PVH', () => {
    expect(loadKernel(new FakeGuestMemory(64 * MiB), pvh ?? new Uint8Array()).kind).toBe('pvh');
  });

  it.skipIf(linux64 === undefined)('linux64.elf boots at its 64-bit e_entry', () => {
    const k = loadKernel(new FakeGuestMemory(64 * MiB), linux64 ?? new Uint8Array(), { protocol: 'linux64' });
    expect(k.kind).toBe('elf64');
  });

  it.skipIf(bzimage === undefined)('bzimage boots at code32_start + 0x200', () => {
    const k = loadKernel(new FakeGuestMemory(64 * MiB), bzimage ?? new Uint8Array());
    expect(k).toMatchObject({ kind: 'bzimage', loadAddress: MiB, entry: MiB + 0x200, cmdlineMaxLength: 2047 });
  });
});
