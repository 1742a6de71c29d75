// vm.restore: a snapshot directory (format.ts) into a new machine that has not run: the config
// re-resolved, guest RAM mapped copy-on-write from the memory file, the VM's and every vCPU's KVM
// state and every device's state written back. The caller resumes it (vm.resume).
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Kvm } from '@workervisor/native';
import type { VmConfig } from '@workervisor/schema';
import { wireMachine, type GuestExitRequester } from '../builder.js';
import { resolveMachineConfig } from '../config/resolve.js';
import type { Machine } from '../machine.js';
import type { MachineConfig } from '../machine-config.js';
import { GuestMemoryMmap } from '../memory.js';
import { SnapshotError } from './errors.js';
import { CONFIG_FILE, cpuidMismatch, MEMORY_FILE, parseState, STATE_FILE, type SnapshotState } from './format.js';
import { restoreVmState } from './vm-state.js';

/** A snapshot directory read and checked against this host, ready to restore. */
export interface LoadedSnapshot {
  dir: string;
  /** The VmConfig of the snapshotted VM (config.json). */
  config: VmConfig;
  resolved: MachineConfig;
  state: SnapshotState;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new SnapshotError('not-found', `${path} does not exist: the directory holds no (complete) snapshot`, { cause: err });
    throw new SnapshotError('not-found', `cannot read the snapshot's ${what} ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Reads and checks `dir`: the state file's format and version, the host's CPUID against the
 * snapshot's, the memory file's size against the config. Throws SnapshotError saying which.
 */
export function loadSnapshot(dir: string): LoadedSnapshot {
  const statePath = join(dir, STATE_FILE);
  const state = parseState(readText(statePath, 'state file'), statePath);
  const configPath = join(dir, CONFIG_FILE);
  let config: VmConfig;
  try {
    config = JSON.parse(readText(configPath, 'config')) as VmConfig;
  } catch (err) {
    if (err instanceof SnapshotError) throw err;
    throw new SnapshotError('invalid-state', `${configPath} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const resolved = resolveMachineConfig(config);
  if (resolved.memoryBytes !== state.memoryBytes) throw new SnapshotError('memory-mismatch', `${configPath} gives ${resolved.memoryBytes} bytes of RAM, ${statePath} ${state.memoryBytes}`);
  if (resolved.vcpus !== state.vcpus.length) throw new SnapshotError('invalid-state', `${configPath} gives ${resolved.vcpus} vCPUs, ${statePath} holds ${state.vcpus.length}`);
  const memoryPath = join(dir, MEMORY_FILE);
  let size: number;
  try {
    size = statSync(memoryPath).size;
  } catch (err) {
    throw new SnapshotError('not-found', `the memory file ${memoryPath} is missing: ${(err as Error).message}`, { cause: err });
  }
  if (size !== state.memoryBytes) throw new SnapshotError('memory-mismatch', `the memory file ${memoryPath} is ${size} bytes; the snapshot's guest RAM is ${state.memoryBytes}`);
  const kvm = Kvm.open();
  let mismatch: string | undefined;
  try {
    mismatch = cpuidMismatch(state.hostCpuid, kvm.supportedCpuid());
  } finally {
    kvm.close();
  }
  if (mismatch !== undefined) throw new SnapshotError('cpu-mismatch', `the snapshot was taken on a host with another CPU (CPUID ${mismatch}); it cannot be restored here`);
  return { dir, config, resolved, state };
}

/**
 * Builds the machine of a loaded snapshot, every vCPU still parked. Failures after the checks
 * (KVM refusing a state, a device refusing its state) are SnapshotError('restore-failed').
 */
export async function restoreMachine(
  snapshot: LoadedSnapshot,
  exit: GuestExitRequester,
  options: { prefault: boolean; logLevel?: MachineConfig['logLevel']; vcpuSeccompFilter?: Uint8Array },
): Promise<Machine> {
  const { state, dir } = snapshot;
  // The restored vCPU workers get the same vcpu seccomp filter as booted ones (it allows the
  // KVM_SET_* state ioctls a restore makes).
  const config: MachineConfig = {
    ...snapshot.resolved,
    ...(options.logLevel === undefined ? {} : { logLevel: options.logLevel }),
    ...(options.vcpuSeccompFilter === undefined ? {} : { vcpuSeccompFilter: options.vcpuSeccompFilter }),
  };
  return wireMachine(config, exit, {
    memory: () => GuestMemoryMmap.fromFile(join(dir, MEMORY_FILE), state.memoryBytes, options.prefault),
    writeTables: false,
    start: async (machine) => {
      try {
        restoreVmState(machine.parts.vm, state.vm);
        await Promise.all(machine.vcpus.map((v, i) => v.restoreSnapshot(state.vcpus[i]!)));
        const problems = machine.parts.devices.restoreStates(state.devices);
        if (problems.length > 0) throw new Error(problems.join('; '));
      } catch (err) {
        throw new SnapshotError('restore-failed', `restoring ${dir} failed: ${(err as Error).message}`, { cause: err });
      }
    },
  });
}
