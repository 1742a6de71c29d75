import { release } from 'node:os';
import { afterEach, describe, expect, it, vi } from 'vitest';

const abi = vi.hoisted(() => ({ value: 0 }));
vi.mock('@workervisor/native', async (importOriginal) => ({ ...(await importOriginal<object>()), landlockAbiVersion: () => abi.value }));
const { LANDLOCK_ENV, requireLandlock, takeLandlockMarker } = await import('./landlock-exec.js');

describe('Landlock at start', () => {
  afterEach(() => {
    delete process.env[LANDLOCK_ENV];
  });

  it('refuses a kernel without Landlock by name, naming the kernel', () => {
    abi.value = 0;
    expect(() => requireLandlock()).toThrow(expect.objectContaining({ code: 'ERR_VMM_VM_NOT_SUPPORTED', message: expect.stringContaining(`this kernel (Linux ${release()}) has no Landlock`) }));
  });

  it('answers the ABI of a kernel that has it', () => {
    abi.value = 7;
    expect(requireLandlock()).toBe(7);
  });

  it('takes the exec marker once, out of the environment the VMM passes on', () => {
    process.env[LANDLOCK_ENV] = '1';
    expect(takeLandlockMarker()).toBe(true);
    expect(process.env[LANDLOCK_ENV]).toBeUndefined();
    expect(takeLandlockMarker()).toBe(false);
  });
});
