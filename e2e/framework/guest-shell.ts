// Driving a booted Linux-tier guest's shell over any console (a VMM's stdio or a socket client):
// wait for /init's markers, run commands with their exit status. No vitest here, so benchmarks
// (scripts/bench/*.mjs) can load it outside a test run.
import { GUEST_KERNEL, GUEST_PROMPT, GUEST_READY } from './linux.js';

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
