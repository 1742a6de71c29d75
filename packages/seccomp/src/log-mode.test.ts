import { describe, expect, it } from 'vitest';
import { compileFilterFile } from './compile.js';
import { withLogActions } from './log-mode.js';
import { evaluate } from './testing/index.js';

describe('withLogActions', () => {
  it('turns every stop (trap, errno, kill, the arch check) into log and keeps allow', () => {
    const program = compileFilterFile(
      JSON.stringify({ t: { default_action: 'trap', filter_action: 'allow', filter: [{ syscall: 'read' }, { syscall: 'ioctl', args: [{ index: 1, type: 'dword', op: 'eq', val: 1 }] }] } }),
    ).get('t')!;
    const logged = withLogActions(program);
    expect(logged).toHaveLength(program.length);
    expect(evaluate(logged, { nr: 0 })).toBe('allow');
    expect(evaluate(logged, { nr: 16, args: [0, 1] })).toBe('allow');
    expect(evaluate(program, { nr: 16, args: [0, 2] })).toBe('trap');
    expect(evaluate(logged, { nr: 16, args: [0, 2] })).toBe('log');
    expect(evaluate(logged, { nr: 59 })).toBe('log');
    expect(evaluate(program, { nr: 0, arch: 3 })).toBe('kill_process');
    expect(evaluate(logged, { nr: 0, arch: 3 })).toBe('log');
  });
});
