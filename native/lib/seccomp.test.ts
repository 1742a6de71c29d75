// seccomp through the addon, in worker threads and child processes so this test process keeps no
// filter: a filter stops one syscall on its own thread only (or, with TSYNC, on every thread), and
// a program the kernel refuses gives KvmError with the errno name. Needs the built addon and dist.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';

const SECCOMP_JS = fileURLToPath(new URL('../dist/seccomp.js', import.meta.url));
const NR_GETPPID = 110;

/** ld nr; jeq getppid ? ret ERRNO(1) : ret ALLOW. Hand-assembled: the compiler is tested elsewhere. */
function denyGetppid(): number[] {
  const insn = (code: number, jt: number, jf: number, k: number): number[] => [code & 0xff, code >> 8, jt, jf, k & 0xff, (k >>> 8) & 0xff, (k >>> 16) & 0xff, k >>> 24];
  return [...insn(0x20, 0, 0, 0), ...insn(0x15, 0, 1, NR_GETPPID), ...insn(0x06, 0, 0, 0x0005_0001), ...insn(0x06, 0, 0, 0x7fff_0000)];
}

/** Runs `body` (CommonJS, `native` = dist/seccomp.js, `program` = the bytes) in a worker; resolves its postMessage. */
function inWorker(body: string, program: number[]): Promise<unknown> {
  const code = `const { parentPort, workerData } = require('node:worker_threads');
    import(require('node:url').pathToFileURL(workerData.js).href).then((native) => {
      const program = new Uint8Array(workerData.program);
      ${body}
    }).catch((err) => parentPort.postMessage({ error: { name: err.name, message: err.message, kind: err.kind, errnoName: err.errnoName, syscall: err.syscall, ioctl: err.ioctl } }));`;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: { js: SECCOMP_JS, program } });
    w.once('message', (m) => {
      resolve(m);
      void w.terminate();
    });
    w.once('error', reject);
  });
}

describe('installSeccompFilter', () => {
  it('stops the filtered syscall on its own thread only, after setting no_new_privs', async () => {
    const result = await inWorker(
      `const before = { ppid: process.ppid, ...native.threadSeccompStatus() };
       native.installSeccompFilter(program);
       parentPort.postMessage({ before, after: { ppid: process.ppid, ...native.threadSeccompStatus() } });`,
      denyGetppid(),
    );
    expect(result).toEqual({ before: { ppid: process.ppid, mode: 0, noNewPrivs: false }, after: { ppid: -1, mode: 2, noNewPrivs: true } });
    // This thread never had the filter.
    expect(process.ppid).toBeGreaterThan(0);
  });

  it('lets the syscall through on a thread without the filter', async () => {
    expect(await inWorker(`parentPort.postMessage({ ppid: process.ppid });`, denyGetppid())).toEqual({ ppid: process.ppid });
  });

  it('refuses a program the kernel rejects with KvmError and EINVAL, and a malformed one before any syscall', async () => {
    const bad = [0xff, 0xff, 0, 0, 0, 0, 0, 0]; // opcode 0xffff: no such instruction
    expect(await inWorker(`native.installSeccompFilter(program);`, bad)).toEqual({
      error: { name: 'KvmError', kind: 'seccomp', errnoName: 'EINVAL', syscall: 'seccomp', ioctl: 'SECCOMP_SET_MODE_FILTER', message: 'installing a seccomp filter of 1 instructions: SECCOMP_SET_MODE_FILTER failed with EINVAL' },
    });
    expect(await inWorker(`native.installSeccompFilter(program.subarray(0, 5));`, denyGetppid())).toMatchObject({ error: { name: 'TypeError', message: 'program must be 1 to 4096 instructions of 8 bytes' } });
  });

  it('with allThreads puts the filter on every thread of the process (TSYNC)', () => {
    const script = `import { Worker } from 'node:worker_threads';
      const native = await import(${JSON.stringify(new URL('../dist/seccomp.js', import.meta.url).href)});
      const w = new Worker("require('node:worker_threads').parentPort.once('message', () => require('node:worker_threads').parentPort.postMessage(process.ppid))", { eval: true, execArgv: [] });
      await new Promise((r) => w.once('online', r));
      native.installSeccompFilter(new Uint8Array(${JSON.stringify(denyGetppid())}), { allThreads: true });
      w.postMessage('go');
      const workerPpid = await new Promise((r) => w.once('message', r));
      console.log(JSON.stringify({ main: process.ppid, worker: workerPpid }));
      process.exit(0);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ main: -1, worker: -1 });
  });
});

describe('reportSeccompViolations', () => {
  it('logs the thread and the syscall a trap stopped, then exits with the given status', () => {
    // ld nr; jeq getppid ? ret TRAP : ret ALLOW
    const insn = (code: number, jt: number, jf: number, k: number): number[] => [code & 0xff, code >> 8, jt, jf, k & 0xff, (k >>> 8) & 0xff, (k >>> 16) & 0xff, k >>> 24];
    const trapGetppid = [...insn(0x20, 0, 0, 0), ...insn(0x15, 0, 1, NR_GETPPID), ...insn(0x06, 0, 0, 0x0003_0000), ...insn(0x06, 0, 0, 0x7fff_0000)];
    const names: string[] = [];
    names[NR_GETPPID] = 'getppid';
    const script = `import { Worker } from 'node:worker_threads';
      const native = await import(${JSON.stringify(new URL('../dist/seccomp.js', import.meta.url).href)});
      native.reportSeccompViolations(${JSON.stringify(names)}, { logFd: 2, exitCode: 159 });
      const w = new Worker(\`const { workerData, parentPort } = require('node:worker_threads');
        import(workerData.js).then((native) => {
          native.installSeccompFilter(new Uint8Array(workerData.program), { label: 'vcpu7' });
          parentPort.postMessage('installed');
          process.ppid;
        });\`, { eval: true, execArgv: [], workerData: { js: ${JSON.stringify(new URL('../dist/seccomp.js', import.meta.url).href)}, program: ${JSON.stringify(trapGetppid)} } });
      w.on('message', (m) => console.log(m));
      await new Promise((r) => setTimeout(r, 10_000));
      console.log('still alive');`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(159);
    expect(r.stdout).not.toMatch(/still alive/);
    expect(r.stderr).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ERROR \[seccomp\] thread vcpu7 \(tid \d+\) made syscall getppid \(110\), which its seccomp filter does not allow; the VMM exits with status 159\n$/);
    // The timestamp is now, in UTC.
    expect(Math.abs(Date.parse(r.stderr.slice(0, 24)) - Date.now())).toBeLessThan(60_000);
  });
});
