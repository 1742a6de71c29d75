// What a guest sees of a device access: the scratch-loop guest's N writes to COM1's scratch
// register (0x3ff), timed between its SCRATCH-START and SCRATCH-END lines on the serial console
// as the parent process receives them, under our CLI and under QEMU (-M microvm, KVM) on the same
// guest. Per-write cost = (interval(n2) - interval(n1)) / (n2 - n1): the marker lines' own cost cancels.
import { spawn, spawnSync } from 'node:child_process';
import { hrUs, round } from './stats.mjs';

/** Runs one VM to its end; resolves with the START..END interval in µs and the whole process's wall time. */
function timedRun(cmd, args, timeoutMs = 120_000) {
  return new Promise((resolve) => {
    const t0 = hrUs();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let start;
    let end;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d) => {
      out += d;
      if (start === undefined && out.includes('SCRATCH-START')) start = hrUs();
      if (end === undefined && out.includes('SCRATCH-END')) end = hrUs();
    });
    child.on('exit', () => {
      clearTimeout(timer);
      const wallUs = hrUs() - t0;
      if (start === undefined || end === undefined || !out.includes('DONE scratch-loop')) {
        resolve({ error: (err || out).trim().split('\n').slice(-2).join(' ') || 'no output' });
      } else resolve({ loopUs: end - start, wallUs });
    });
  });
}

const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function perWrite(cmd, argsFor, n1, n2, rounds) {
  const loop = [];
  const wall = [];
  for (let r = 0; r < rounds; r++) {
    const a = await timedRun(cmd, argsFor(n1));
    const b = await timedRun(cmd, argsFor(n2));
    const failed = a.error ?? b.error;
    if (failed !== undefined) return { error: failed };
    loop.push((b.loopUs - a.loopUs) / (n2 - n1));
    wall.push((b.wallUs - a.wallUs) / (n2 - n1));
  }
  return { loop_us_per_write: round(med(loop)), process_us_per_write: round(med(wall)) };
}

/** `cli` is packages/cli/bin/workervisor.js, `kernel` the scratch-loop guest. QEMU runs alternate with ours. */
export async function benchGuestExits(cli, kernel, { n1 = 2_000, n2 = 22_000, rounds = 3 } = {}) {
  const ours = (n) => [cli, '--kernel', kernel, '--memory', '64M', '--serial', 'stdout', '--cmdline', `n=${n}`];
  const qemuArgs = (n) => ['-accel', 'kvm', '-M', 'microvm', '-m', '64M', '-nographic', '-nodefaults', '-serial', 'stdio', '-no-reboot', '-kernel', kernel, '-append', `n=${n}`];
  const result = { workervisor: await perWrite(process.execPath, ours, n1, n2, rounds) };
  if (spawnSync('qemu-system-x86_64', ['--version']).status !== 0) {
    result.qemu = 'not installed (apt-get install qemu-system-x86 to compare)';
    return result;
  }
  result.qemu_kvm_microvm = await perWrite('qemu-system-x86_64', qemuArgs, n1, n2, rounds);
  const o = result.workervisor;
  const q = result.qemu_kvm_microvm;
  if (o.error === undefined && q.error === undefined) result.ratio_ours_over_qemu_loop = round(o.loop_us_per_write / q.loop_us_per_write);
  return result;
}
