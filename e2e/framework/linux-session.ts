// Linux-tier test scenarios: a client of a VMM's serial socket, and `linuxTest`, which runs a
// scenario under Workervisor and, when it fails, runs it again under QEMU-KVM in the same host so
// the failure says whose fault it is. The guest-shell helpers (guest-shell.ts) are re-exported.
import { createConnection, type Socket } from 'node:net';
import { ConsoleBuffer } from '@workervisor/sdk';
import { it } from 'vitest';
import { BOOT_TIMEOUT_MS, COMMAND_TIMEOUT_MS, type Console } from './guest-shell.js';
import { qemuKvmStatus, qemuKvmVmm, workervisorVmm, type LinuxBoot, type LinuxVmm } from './linux-vmm.js';
import type { Microvm } from './microvm.js';

export { BOOT_TIMEOUT_MS, COMMAND_TIMEOUT_MS, waitReady, guestRun, guestCheck, type Console, type GuestReady } from './guest-shell.js';

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
