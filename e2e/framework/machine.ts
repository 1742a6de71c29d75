// In-process machines for tests that look inside the VMM (threads, shared memory, vCPU control):
// builds a Machine with vmm-core's builder, serial to a temp file, and records the guest's exit.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildMachine, type GuestExit, type Machine } from '@workervisor/vmm-core';

export interface TestMachine {
  machine: Machine;
  /** Resolves with the guest's first exit request (reset / poweroff / failure). */
  exited: Promise<GuestExit>;
  serial(): string;
  /** Waits until the serial output matches. */
  waitSerial(pattern: RegExp, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function bootMachine(kernel: string, opts: { vcpus?: number; cmdline?: string; memoryMiB?: number } = {}): Promise<TestMachine> {
  const dir = mkdtempSync(join(tmpdir(), 'wv-machine-'));
  const serialPath = join(dir, 'serial.log');
  let report!: (e: GuestExit) => void;
  const exited = new Promise<GuestExit>((resolve) => (report = resolve));
  const machine = await buildMachine(
    { vcpus: opts.vcpus ?? 1, memoryBytes: (opts.memoryMiB ?? 64) * 1024 * 1024, kernel, cmdline: opts.cmdline ?? '', serial: { kind: 'file', path: serialPath } },
    { reset: (reason) => report({ kind: 'reset', reason }), powerOff: (reason) => report({ kind: 'poweroff', reason }), panic: (reason) => report({ kind: 'panic', reason }) },
  );
  machine.onGuestExit(report);
  await machine.resume();
  const serial = () => {
    try {
      return readFileSync(serialPath, 'utf8');
    } catch {
      return '';
    }
  };
  return {
    machine,
    exited,
    serial,
    async waitSerial(pattern, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(serial())) {
        if (Date.now() > deadline) throw new Error(`serial never matched ${String(pattern)}; got:\n${serial()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      await machine.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
