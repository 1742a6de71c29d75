// The nested runner's host side without booting L1: the job script it writes, the status file it
// reads, QEMU's argv, and the reasons it gives when it cannot run.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockupReport, lockupSummary } from '../framework/l1-console.js';
import { jobScript, nestedL1, parseStatus, qemuArgs } from '../framework/nested.js';
import { parseProgress, remainingFiles } from '../framework/tier-progress.js';

describe('nested runner', () => {
  it('writes a job that cds, exports only the passed-on variables, and keeps argv words intact', () => {
    const script = jobScript({ command: ['node', "it's a test", '$HOME'], cwd: '/work/x y', env: { EXTRA: 'a b' } }, { PATH: '/bin', SECRET: 's', WORKERVISOR_LOG: 'debug' });
    const dir = mkdtempSync(join(tmpdir(), 'wv-job-'));
    try {
      // Run it with a shell, `node` replaced by printf, from a directory that exists.
      const runnable = script.replace("cd '/work/x y'", `cd '${dir}'`).replace("exec 'node'", "exec printf '%s|'");
      writeFileSync(join(dir, 'job.sh'), runnable);
      const r = spawnSync('sh', [join(dir, 'job.sh')], { encoding: 'utf8', env: {} });
      expect(r.stdout).toBe("it's a test|$HOME|");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(script).toContain("cd '/work/x y' || exit 125");
    expect(script).toContain("export WORKERVISOR_LOG='debug'");
    expect(script).toContain("export EXTRA='a b'");
    expect(script).not.toContain('SECRET');
  });

  it('refuses an environment variable name the shell cannot export', () => {
    expect(() => jobScript({ command: 'true', env: { 'A-B': '1' } }, {})).toThrow(/invalid environment variable name 'A-B'/);
  });

  it('reads exit N and error: REASON from the status file, and says when it is unreadable', () => {
    expect(parseStatus('exit 0\n')).toEqual({ exitCode: 0 });
    expect(parseStatus('exit 137')).toEqual({ exitCode: 137 });
    expect(parseStatus('error: no SVM in L1\n')).toEqual({ reason: 'no SVM in L1' });
    expect(parseStatus('garbage')).toEqual({ reason: "unreadable status 'garbage'" });
    expect(parseStatus(undefined)).toBeUndefined();
  });

  it('shares / read-only with multidevs=remap and the job directory read-write, with SVM in the CPU', () => {
    const args = qemuArgs('/tmp/job', '/tmp/job/console.log', 2, 4096).join(' ');
    expect(args).toContain('-cpu max');
    expect(args).toContain('-accel tcg');
    expect(args).toContain('local,path=/,mount_tag=host,security_model=passthrough,readonly=on,multidevs=remap');
    expect(args).toContain('local,path=/tmp/job,mount_tag=job,security_model=none');
    expect(args).toContain(`-kernel ${nestedL1.kernel}`);
    expect(args).toContain('-smp 2 -m 4096');
  });

  it("boots L1 with a console that shows a lockup's Call Trace", () => {
    const args = qemuArgs('/tmp/job', '/tmp/job/console.log', 2, 4096);
    const append = args[args.indexOf('-append') + 1] ?? '';
    expect(append).toContain('loglevel=5');
    expect(append).not.toMatch(/\bquiet\b/);
  });

  it("finds the first soft lockup report in L1's console, with the lines after it", () => {
    const console = [
      '[    1.0] nested-init: running the job',
      '[  314.1] watchdog: BUG: soft lockup - CPU#1 stuck for 26s! [node:195]',
      '[  314.1] CPU: 1 PID: 195 Comm: node Not tainted 6.1.0-40-amd64',
      '[  314.1] Call Trace:',
      '[  314.1]  kvm_arch_vcpu_ioctl_run+0x1/0x2 [kvm]',
      '[  342.1] watchdog: BUG: soft lockup - CPU#1 stuck for 52s! [node:195]',
    ].join('\n');
    const report = lockupReport(console);
    expect(report?.split('\n')[0]).toBe('[  314.1] watchdog: BUG: soft lockup - CPU#1 stuck for 26s! [node:195]');
    expect(report).toContain('kvm_arch_vcpu_ioctl_run');
    expect(lockupSummary(report ?? '')).toBe('watchdog: BUG: soft lockup - CPU#1 stuck for 26s! [node:195]');
    expect(lockupReport('[ 1.0] rcu: a harmless line\n[ 2.0] watchdog: nothing stuck')).toBeUndefined();
  });

  it("reads the tier's progress file, ignoring a torn last line, and lists the files left", () => {
    const text = [
      JSON.stringify({ event: 'plan', files: ['a.test.ts', 'b.test.ts', 'c.test.ts'] }),
      JSON.stringify({ event: 'start', file: 'a.test.ts' }),
      JSON.stringify({ event: 'end', file: 'a.test.ts', state: 'failed' }),
      JSON.stringify({ event: 'start', file: 'b.test.ts' }),
      '{"event":"end","fi',
    ].join('\n');
    const progress = parseProgress(text);
    expect([...progress.finished]).toEqual([['a.test.ts', 'failed']]);
    expect(progress.unfinished).toEqual(['b.test.ts']);
    expect(remainingFiles(progress)).toEqual(['b.test.ts', 'c.test.ts']);
    expect(remainingFiles(parseProgress(''))).toEqual([]);
  });
});
