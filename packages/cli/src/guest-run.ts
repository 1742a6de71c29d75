// `workervisor run -- CMD`: boots a guest with the agent (a VMM child process through the SDK),
// runs CMD in it with this process's stdin (when it is not a terminal), stdout and stderr, and
// exits with CMD's status: its exit code, 128+N for signal N, 124 when --timeout killed it.
import { constants } from 'node:os';
import type { GuestRunOptions } from './guest-args.js';
import { findImage, IMAGE_CMDLINE, launch, type Vm } from '@workervisor/sdk';

const DEFAULT_MEMORY = '512M';

export async function runInGuest(o: GuestRunOptions): Promise<number> {
  const image = o.kernel !== undefined ? { kernel: o.kernel, initramfs: o.initramfs } : findImage(o.image);
  const vm = await launch({
    kernel: image.kernel,
    ...(image.initramfs === undefined ? {} : { initramfs: image.initramfs }),
    cmdline: o.cmdline ?? IMAGE_CMDLINE,
    memory: o.memoryBytes ?? DEFAULT_MEMORY,
    ...(o.cpus === undefined ? {} : { cpus: o.cpus }),
    serial: 'pipe',
    // A VMM process in a loaded (or nested) host can take well over launch's default 15 s.
    startTimeoutMs: 120_000,
    agent: o.bootTimeoutMs === undefined ? true : { readyTimeoutMs: o.bootTimeoutMs },
  });
  if (o.console) vm.serial?.pipe(process.stderr);
  try {
    return await runCommand(vm, o);
  } catch (err) {
    // The console says why a guest never came up (no agent in the image, a panic, ...).
    const tail = vm.serialText().trim().split('\n').slice(-15).join('\n');
    if (tail !== '' && !o.console) process.stderr.write(`workervisor: the guest console ended with:\n${tail}\n`);
    throw err;
  } finally {
    await vm.close();
  }
}

async function runCommand(vm: Vm, o: GuestRunOptions): Promise<number> {
  const withStdin = process.stdin.isTTY !== true;
  const p = await vm.spawn(o.command, { stdin: withStdin, ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }) });
  p.stdout.pipe(process.stdout, { end: false });
  p.stderr.pipe(process.stderr, { end: false });
  if (withStdin) process.stdin.pipe(p.stdin);
  const exit = await p.exited;
  process.stdin.unpipe(p.stdin);
  if (exit.timedOut) {
    process.stderr.write(`workervisor: ${o.command.join(' ')} did not finish within ${o.timeoutMs} ms and was killed\n`);
    return 124;
  }
  if (exit.signal !== null) return 128 + (constants.signals[exit.signal] ?? 0);
  return exit.exitCode ?? 1;
}
