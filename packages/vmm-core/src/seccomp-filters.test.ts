import { describe, expect, it } from 'vitest';
import { compileFilterFile, decodeProgram, encodeCompiledFilters, SECCOMP_RET_LOG } from '@workervisor/seccomp';
import { evaluate } from '@workervisor/seccomp/testing';
import { threadFilters } from './seccomp-filters.js';

const filter = (syscall: string) => ({ default_action: 'trap', filter_action: 'allow', filter: [{ syscall }] });
const ALL = { vmm: filter('read'), api: filter('accept4'), vcpu: filter('ioctl') };
const bytes = (doc: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(doc));

describe('threadFilters', () => {
  it('takes one program per thread category, from JSON or the compiled file alike', () => {
    const fromJson = threadFilters(bytes(ALL), 'enforce');
    expect(fromJson.mode).toBe('enforce');
    expect(evaluate(decodeProgram(fromJson.programs.vcpu), { nr: 16 })).toBe('allow');
    expect(evaluate(decodeProgram(fromJson.programs.vcpu), { nr: 0 })).toBe('trap');
    const compiled = threadFilters(encodeCompiledFilters(compileFilterFile(JSON.stringify(ALL))), 'enforce');
    expect(compiled.programs).toEqual(fromJson.programs);
  });

  it('refuses a file without a filter for every thread, or with one for a thread Workervisor does not have', () => {
    expect(() => threadFilters(bytes({ vmm: ALL.vmm, api: ALL.api }), 'enforce', '--seccomp-filter f.json')).toThrow(
      '--seccomp-filter f.json has no "vcpu" filter (it needs one for each of vmm, api, vcpu)',
    );
    expect(() => threadFilters(bytes({ ...ALL, vcpu0: ALL.vcpu }), 'enforce', '--seccomp-filter f.json')).toThrow(
      `--seccomp-filter f.json: filter "vcpu0" is not one of Workervisor's thread categories (vmm, api, vcpu)`,
    );
  });

  it('turns every stop into a log in log mode', () => {
    const log = threadFilters(bytes(ALL), 'log');
    const vcpu = decodeProgram(log.programs.vcpu);
    expect(evaluate(vcpu, { nr: 0 })).toBe('log');
    expect(vcpu.some((i) => i.k === SECCOMP_RET_LOG)).toBe(true);
  });
});

describe('SECCOMP_INSTALLER_URL', () => {
  it('names a module that exports installSeccompFilter, from src or dist', async () => {
    const { SECCOMP_INSTALLER_URL } = await import('./seccomp-filters.js');
    const mod = (await import(SECCOMP_INSTALLER_URL)) as { installSeccompFilter?: unknown };
    expect(typeof mod.installSeccompFilter).toBe('function');
  });
});
