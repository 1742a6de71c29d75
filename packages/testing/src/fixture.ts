// vitest fixtures: `const test = vmTest({ ... })` gives every test that asks for `vm` a fresh VM
// with its agent, waits until the agent answers, and always tears it down. By default every VM is
// booted; with `fresh: 'restore'` the first test in a worker boots the image once, snapshots it at
// the point its agent answered, and every test gets its own clone restored from that snapshot (its
// own vsock socket, the memory file shared copy-on-write); a snapshot that cannot be made falls
// back to booting, with a warning. Not the default yet: in the nested KVM about one restored clone
// in 20 never got its agent's answer (120 s), cause not found. A failing test gets the guest's console and its last
// commands in its output. Tests marked `test.concurrent` share at most `maxVms` VMs per worker.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test as base, type TestAPI } from 'vitest';
import { findImage, IMAGE_CMDLINE, launch, type ExecOptions, type ExecResult, type LaunchOptions, type Vm } from '@workervisor/sdk';
import { Slots } from './slots.js';

export interface VmTestOptions {
  /** Image directory (vmlinuz + initramfs.cpio.gz); default: findImage()'s ($WORKERVISOR_IMAGE or the checkout's). */
  image?: string;
  /** Kernel command line; default: the Linux image's (console=ttyS0 quiet, panic and reset end the VM). */
  cmdline?: string;
  cpus?: number;
  /** Guest RAM: bytes or a size such as '512M'. Default 512M. */
  memory?: number | string;
  /** How long to wait for the guest's agent. Default 120 000 ms. */
  bootTimeoutMs?: number;
  /** How long the VMM process may take to answer its API (a loaded or nested host is slow). Default 120 000 ms. */
  startTimeoutMs?: number;
  /** VMs alive at once in one worker (for `test.concurrent`). Default: $WORKERVISOR_MAX_VMS or 2. */
  maxVms?: number;
  /** Commands remembered for a failing test's report. Default 20. */
  historySize?: number;
  /**
   * How each test's VM comes to be: `boot` (default) boots every one; `restore` clones a
   * snapshot of the image booted once per worker (see the file header for its known flake).
   */
  fresh?: 'restore' | 'boot';
}

export interface VmFixtures {
  vm: Vm;
}

const CONSOLE_TAIL_LINES = 40;

/** A vitest `test` whose `vm` fixture is a fresh, booted VM. */
export function vmTest(options: VmTestOptions = {}): TestAPI<VmFixtures> {
  const slots = new Slots(options.maxVms ?? Number(process.env['WORKERVISOR_MAX_VMS'] ?? 2));
  const historySize = options.historySize ?? 20;
  return base.extend<VmFixtures>({
    vm: async ({ onTestFailed }, use) => {
      await slots.acquire();
      let vm: Vm | undefined;
      const history: string[] = [];
      try {
        const snapshot = options.fresh === 'restore' ? await bootedSnapshot(options) : undefined;
        vm = await launch(snapshot === undefined ? bootOptions(options) : { ...common(options), restore: { dir: snapshot, ownVsock: true } });
        const launched = vm;
        onTestFailed(() => console.error(failureReport(launched, history)));
        recordExecs(launched, history, historySize);
        await launched.waitReady();
        await use(launched);
      } finally {
        await vm?.close();
        slots.release();
      }
    },
  });
}

/** What a booted and a restored VM share: the console, the time limits, the agent. */
function common(options: VmTestOptions): LaunchOptions {
  return {
    serial: 'pipe',
    startTimeoutMs: options.startTimeoutMs ?? 120_000,
    agent: options.bootTimeoutMs === undefined ? true : { readyTimeoutMs: options.bootTimeoutMs },
  };
}

function bootOptions(options: VmTestOptions): LaunchOptions {
  const image = findImage(options.image);
  return {
    ...common(options),
    kernel: image.kernel,
    initramfs: image.initramfs,
    cmdline: options.cmdline ?? IMAGE_CMDLINE,
    memory: options.memory ?? '512M',
    ...(options.cpus === undefined ? {} : { cpus: options.cpus }),
  };
}

/** Snapshots of booted images made in this process, by boot options; removed at exit. */
const snapshots = new Map<string, Promise<string | undefined>>();

/**
 * The snapshot directory of the image booted with `options` up to its agent's ready answer,
 * made on first use; undefined (after one warning) when it cannot be made, so tests boot.
 */
function bootedSnapshot(options: VmTestOptions): Promise<string | undefined> {
  const boot = bootOptions(options);
  const key = JSON.stringify([boot.kernel, boot.initramfs, boot.cmdline, boot.memory, boot.cpus]);
  let made = snapshots.get(key);
  if (made === undefined) {
    made = (async () => {
      const dir = mkdtempSync(join(tmpdir(), 'workervisor-vmtest-'));
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
      let vm: Vm | undefined;
      try {
        vm = await launch(boot);
        await vm.waitReady();
        await vm.snapshot(join(dir, 'snapshot'), { pause: true });
        return join(dir, 'snapshot');
      } catch (err) {
        console.warn(`workervisor vmTest: cannot snapshot the booted image, every test boots its VM: ${(err as Error).message}`);
        return undefined;
      } finally {
        await vm?.close();
      }
    })();
    snapshots.set(key, made);
  }
  return made;
}

/** Wraps vm.exec so each command and its result are remembered (the last `size`). */
function recordExecs(vm: Vm, history: string[], size: number): void {
  const exec = vm.exec.bind(vm);
  vm.exec = async (command: string | readonly string[], o?: ExecOptions): Promise<ExecResult> => {
    const shown = typeof command === 'string' ? command : command.join(' ');
    try {
      const r = await exec(command, o);
      remember(history, size, `$ ${shown}  -> exit ${r.exitCode ?? r.signal} in ${r.durationMs.toFixed(0)} ms${r.stderr === '' ? '' : `; stderr: ${r.stderr.trim().slice(0, 200)}`}`);
      return r;
    } catch (err) {
      remember(history, size, `$ ${shown}  -> ${(err as Error).message}`);
      throw err;
    }
  };
}

function remember(history: string[], size: number, line: string): void {
  history.push(line);
  if (history.length > size) history.shift();
}

function failureReport(vm: Vm, history: readonly string[]): string {
  const consoleTail = vm.serialText().trimEnd().split('\n').slice(-CONSOLE_TAIL_LINES).join('\n');
  return [
    '--- workervisor: the guest console (last lines) ---',
    consoleTail === '' ? '(nothing printed)' : consoleTail,
    '--- workervisor: the last commands ---',
    history.length === 0 ? '(none)' : history.join('\n'),
  ].join('\n');
}
