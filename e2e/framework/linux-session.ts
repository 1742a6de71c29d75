// Driving a booted Linux-tier guest: wait for /init's markers, run shell commands over the serial
// console with their exit status, and `linuxTest`, which runs a scenario under Workervisor and,
// when it fails, runs it again under QEMU-KVM in the same host so the failure says whose fault it is.
import { createConnection, type Socket } from 'node:net';
import { ConsoleBuffer } from '@workervisor/sdk';
import { it } from 'vitest';
import { GUEST_KERNEL, GUEST_PROMPT, GUEST_READY } from './linux.js';
import { qemuKvmStatus, qemuKvmVmm, workervisorVmm, type LinuxBoot, type LinuxVmm } from './linux-vmm.js';
import type { Microvm } from './microvm.js';

/**
 * Boot to GUEST-READY, quiet console. Inside the nested KVM a quiet boot takes ~10-20 s; a loaded
 * 2-core host can triple that. WORKERVISOR_LINUX_BOOT_TIMEOUT_MS overrides it.
 */
export const BOOT_TIMEOUT_MS = Number(process.env['WORKERVISOR_LINUX_BOOT_TIMEOUT_MS'] ?? 180_000);
/** One shell command, one power-off. */
export const COMMAND_TIMEOUT_MS = 60_000;

/** Anything that carries the guest's console: a VMM's stdio or a serial socket client. */
export interface Console {
  expectSerial(pattern: RegExp, options?: { timeoutMs?: number }): Promise<RegExpExecArray>;
  writeSerial(text: string): void;
}

export interface GuestReady {
  nproc: number;
  /** Filesystem type of / (rootfs for the initramfs, ext4 after root=/dev/vda). */
  root: string;
  /** The guest's /proc/version. */
  kernel: string;
}

/** Waits for /init's GUEST-KERNEL and GUEST-READY lines and the first prompt; logs the kernel. */
export async function waitReady(vm: Console, label: string): Promise<GuestReady> {
  const kernel = await vm.expectSerial(GUEST_KERNEL, { timeoutMs: BOOT_TIMEOUT_MS });
  const ready = await vm.expectSerial(GUEST_READY, { timeoutMs: COMMAND_TIMEOUT_MS });
  await vm.expectSerial(GUEST_PROMPT, { timeoutMs: COMMAND_TIMEOUT_MS });
  console.log(`[L2 ${label}] ${kernel[1] ?? ''}`);
  return { nproc: Number(ready[1]), root: ready[2] ?? '', kernel: kernel[1] ?? '' };
}

let commandSerial = 0;

/**
 * Runs `command` in the guest's shell; resolves with what it printed (between the echoed command
 * line and the status marker, without \r) and its exit status.
 */
export async function guestRun(vm: Console, command: string, timeoutMs = COMMAND_TIMEOUT_MS): Promise<{ output: string; status: number }> {
  const id = ++commandSerial;
  // The quotes split each marker in the echoed command line, so only the output has it whole;
  // that also survives the line editor's redraws of a long line.
  vm.writeSerial(`echo "@@S""${id}@@"; ${command}; echo "@@E""${id}=$?@@"\n`);
  await vm.expectSerial(new RegExp(`@@S${id}@@\\r?\\n`), { timeoutMs });
  const done = await vm.expectSerial(new RegExp(`([\\s\\S]*?)@@E${id}=(\\d+)@@\\r?\\n`), { timeoutMs });
  await vm.expectSerial(GUEST_PROMPT, { timeoutMs });
  return { output: (done[1] ?? '').replaceAll('\r', ''), status: Number(done[2]) };
}

/** Like guestRun, but fails unless the command exits 0; resolves with its trimmed output. */
export async function guestCheck(vm: Console, command: string, timeoutMs = COMMAND_TIMEOUT_MS): Promise<string> {
  const { output, status } = await guestRun(vm, command, timeoutMs);
  if (status !== 0) throw new Error(`guest command \`${command}\` exited ${status}: ${output.trim()}`);
  return output.trim();
}

/** Powers the guest off from its shell and waits for the VMM to end; resolves with its status. */
export async function guestPowerOff(vm: Microvm, console: Console = vm): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  console.writeSerial('poweroff -f\n');
  return vm.waitExit(COMMAND_TIMEOUT_MS);
}

/** A client of a VMM's serial socket with the same expect interface as Microvm (the SDK's ConsoleBuffer). */
export class SerialSocketClient implements Console {
  readonly #console: ConsoleBuffer;
  private constructor(private readonly socket: Socket, path: string) {
    this.#console = new ConsoleBuffer({ name: `the serial socket ${path}` });
    socket.setEncoding('utf8').on('data', (chunk: string) => this.#console.append(chunk));
    // No more output once the VMM closes its end: waits fail at once instead of timing out.
    socket.on('close', () => this.#console.end('the serial socket closed'));
  }

  /**
   * Connects, retrying while the VMM has not bound the socket yet: in the nested KVM a VMM takes
   * 5-40 s to get there (node and its modules load under TCG). Gives up early if `vm` exits.
   */
  static async connect(path: string, options: { vm?: Microvm; timeoutMs?: number } = {}): Promise<SerialSocketClient> {
    const deadline = Date.now() + (options.timeoutMs ?? BOOT_TIMEOUT_MS);
    for (;;) {
      if (options.vm?.exitStatus !== undefined) throw new Error(`the VMM exited before serving ${path}: ${options.vm.stderr.slice(-1000)}`);
      try {
        const socket = await new Promise<Socket>((resolve, reject) => {
          const s = createConnection(path, () => resolve(s));
          s.once('error', reject);
        });
        return new SerialSocketClient(socket, path);
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`cannot connect to the serial socket ${path}: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  get text(): string {
    return this.#console.text;
  }

  expectSerial(pattern: RegExp, options: { timeoutMs?: number } = {}): Promise<RegExpExecArray> {
    return this.#console.wait(pattern, options.timeoutMs ?? 10_000);
  }

  writeSerial(text: string): void {
    this.socket.write(text);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** What a scenario gets: the VMM it runs on and a spawn that kills its VMMs afterwards. */
export interface ScenarioContext {
  vmm: LinuxVmm;
  spawn(boot: LinuxBoot): Microvm;
  /** Registers cleanup (sockets, temp dirs) run after the scenario, pass or fail. */
  defer(cleanup: () => void | Promise<void>): void;
}

export type Scenario = (ctx: ScenarioContext) => Promise<void>;

async function runScenario(vmm: LinuxVmm, scenario: Scenario): Promise<void> {
  const vms: Microvm[] = [];
  const cleanups: Array<() => void | Promise<void>> = [];
  try {
    await scenario({
      vmm,
      spawn: (boot) => {
        const vm = vmm.spawn(boot);
        vms.push(vm);
        return vm;
      },
      defer: (cleanup) => cleanups.push(cleanup),
    });
  } finally {
    await Promise.all(vms.map((vm) => vm.kill()));
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
}

/** WORKERVISOR_LINUX_REFERENCE=0 turns the QEMU-KVM reruns off (runs that break the VMM on purpose). */
const qemuReference =
  process.env['WORKERVISOR_LINUX_REFERENCE'] === '0' ? { usable: false, reason: 'WORKERVISOR_LINUX_REFERENCE=0' } : qemuKvmStatus();

/**
 * A Linux-tier test. The scenario runs under Workervisor; if it fails and QEMU-KVM can run it
 * (`reference`, on by default), it runs again under QEMU in the same host and the error says
 * whether QEMU passed (the fault is Workervisor's) or failed too (the guest or the nesting).
 */
export function linuxTest(name: string, scenario: Scenario, options: { reference?: boolean } = {}): void {
  it(name, async () => {
    try {
      await runScenario(workervisorVmm, scenario);
    } catch (err) {
      if (options.reference === false) throw err;
      if (!qemuReference.usable) throw annotate(err, `no QEMU-KVM reference run: ${qemuReference.reason ?? ''}`);
      try {
        await runScenario(qemuKvmVmm, scenario);
      } catch (qemuErr) {
        const first = (qemuErr instanceof Error ? qemuErr.message : String(qemuErr)).split('\n')[0];
        throw annotate(err, `QEMU-KVM in the same host FAILS too (${first}): suspect the guest or the nesting`);
      }
      throw annotate(err, 'QEMU-KVM in the same host PASSES this scenario: the fault is Workervisor\'s');
    }
  });
}

/** The same scenario under QEMU-KVM only: proves the reference itself works in this run. */
export function referenceTest(name: string, scenario: Scenario): void {
  it.skipIf(!qemuReference.usable)(`[QEMU-KVM reference] ${name}`, () => runScenario(qemuKvmVmm, scenario));
}

function annotate(err: unknown, note: string): Error {
  const error = err instanceof Error ? err : new Error(String(err));
  error.message = `${error.message}\n[reference] ${note}`;
  return error;
}
