// Firecracker's own published x86_64 filters (fixtures/README.md) compile, and behave as their
// comments say when run by the BPF interpreter.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileFilterFile } from './compile.js';
import { X86_64_SYSCALLS } from './syscalls-x86_64.js';
import { checkProgram, evaluate } from './testing/index.js';

const TEXT = readFileSync(new URL('../fixtures/firecracker-x86_64-unknown-linux-musl.json', import.meta.url), 'utf8');
const NR = (name: string): number => X86_64_SYSCALLS.get(name)!;
const PROT_READ = 1;
const PROT_WRITE = 2;
const PROT_EXEC = 4;

describe("Firecracker's x86_64 filter file", () => {
  const programs = compileFilterFile(TEXT);

  it('compiles every thread category to a valid program', () => {
    expect([...programs.keys()].sort()).toEqual(['api', 'vcpu', 'vmm']);
    for (const [name, p] of programs) {
      checkProgram(p);
      expect(p.length, name).toBeGreaterThan(40);
    }
  });

  it('allows what each thread needs and traps the rest', () => {
    const vmm = programs.get('vmm')!;
    const vcpu = programs.get('vcpu')!;
    expect(evaluate(vmm, { nr: NR('epoll_pwait') })).toBe('allow');
    expect(evaluate(vmm, { nr: NR('execve') })).toBe('trap');
    expect(evaluate(vcpu, { nr: NR('socket') })).toBe('trap');
    expect(evaluate(vcpu, { nr: NR('gettid') })).toBe('allow');
    expect(evaluate(vcpu, { nr: NR('read') })).toBe('trap');
  });

  it('refuses executable mappings: mmap with PROT_EXEC is trapped ("Ensure PROT_EXEC is not set")', () => {
    const vmm = programs.get('vmm')!;
    const results = [PROT_READ, PROT_READ | PROT_WRITE, PROT_READ | PROT_EXEC].map((prot) => evaluate(vmm, { nr: NR('mmap'), args: [0, 4096, prot, 0x22, -1, 0] }));
    expect(results[2]).toBe('trap');
    expect(results.slice(0, 2)).not.toContain('trap');
  });

  it("lets the vCPU thread run KVM_RUN and no other ioctl it does not list", () => {
    const vcpu = programs.get('vcpu')!;
    const KVM_RUN = 0xae80;
    expect(evaluate(vcpu, { nr: NR('ioctl'), args: [12, KVM_RUN] })).toBe('allow');
    const KVM_CREATE_VM = 0xae01;
    expect(evaluate(vcpu, { nr: NR('ioctl'), args: [12, KVM_CREATE_VM] })).toBe('trap');
  });
});
