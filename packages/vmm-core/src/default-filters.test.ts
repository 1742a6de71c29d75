// The shipped default filters (seccomp/default-filters.json, measured by scripts/seccomp): they
// compile for every thread, allow what the threads were measured doing, and trap the rest.
import { describe, expect, it } from 'vitest';
import { decodeProgram } from '@workervisor/seccomp';
import { evaluate } from '@workervisor/seccomp/testing';
import { defaultThreadFilters } from './seccomp-filters.js';

const NR = { read: 0, ioctl: 16, execve: 59, fork: 57, ptrace: 101, epoll_pwait: 281 };
const KVM_RUN = 0xae80;
const KVM_CREATE_VM = 0xae01;
const TCGETS = 0x5401;

describe('default seccomp filters', () => {
  const filters = defaultThreadFilters('enforce');
  const run = (thread: 'vmm' | 'api' | 'vcpu', nr: number, args: number[] = []) => evaluate(decodeProgram(filters.programs[thread]), { nr, args: args.map(BigInt) });

  it('lets each thread make the calls it was measured making', () => {
    for (const thread of ['vmm', 'api', 'vcpu'] as const) expect(run(thread, NR.epoll_pwait)).toBe('allow');
    expect(run('vmm', NR.read)).toBe('allow');
    expect(run('vcpu', NR.ioctl, [9, KVM_RUN])).toBe('allow');
  });

  it('traps what no thread needs: exec, fork, ptrace', () => {
    for (const thread of ['vmm', 'api', 'vcpu'] as const) {
      for (const nr of [NR.execve, NR.fork, NR.ptrace]) expect(run(thread, nr)).toBe('trap');
    }
  });

  it('allows a vCPU thread only the KVM ioctls it was measured making', () => {
    expect(run('vcpu', NR.ioctl, [9, KVM_CREATE_VM])).toBe('trap');
    expect(run('vcpu', NR.ioctl, [0, TCGETS])).toBe('trap');
    expect(run('api', NR.ioctl, [9, KVM_RUN])).toBe('trap');
  });

  it('compiles in log mode too', () => {
    expect(defaultThreadFilters('log').mode).toBe('log');
  });
});
