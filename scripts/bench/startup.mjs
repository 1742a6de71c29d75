// Process start -> first byte of guest output (the hello guest's 'H'), for our CLI and (if installed) QEMU with KVM,
// on the same hello guest.
import { spawn, spawnSync } from 'node:child_process';
import { hrUs, round, summary } from './stats.mjs';

function firstOutput(cmd, args, timeoutMs = 30_000) {
  return new Promise((resolve) => {
    const t0 = hrUs();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = false;
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d) => {
      if (!seen && d.length > 0) {
        seen = true;
        resolve({ us: hrUs() - t0 });
        child.kill('SIGKILL');
      }
    });
    child.on('exit', () => {
      clearTimeout(timer);
      if (!seen) resolve({ us: NaN, error: err.trim().split('\n').slice(-2).join(' ') || 'no output' });
    });
  });
}

export async function benchStartup(cli, kernel, { rounds = 5 } = {}) {
  const ours = [];
  for (let i = 0; i < rounds; i++) ours.push((await firstOutput(process.execPath, [cli, '--kernel', kernel, '--memory', '64M', '--serial', 'stdout'])).us);
  const result = { workervisor_start_to_first_output: summary(ours) };
  const qemu = spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' });
  if (qemu.status !== 0) {
    result.qemu = 'not installed (apt-get install qemu-system-x86 to compare)';
    return result;
  }
  const q = [];
  let error;
  for (let i = 0; i < rounds; i++) {
    const r = await firstOutput('qemu-system-x86_64', ['-accel', 'kvm', '-M', 'microvm,acpi=off', '-m', '64M', '-nographic', '-nodefaults', '-serial', 'stdio', '-no-reboot', '-kernel', kernel]);
    if (r.error !== undefined) error = r.error;
    q.push(r.us);
  }
  result.qemu_kvm_microvm_start_to_first_output = error === undefined ? summary(q) : `failed: ${error}`;
  if (error === undefined) result.ratio_ours_over_qemu_p50 = round(result.workervisor_start_to_first_output.p50_us / result.qemu_kvm_microvm_start_to_first_output.p50_us);
  return result;
}
