// vm.snapshot: a paused machine into a snapshot directory (format.ts): every vCPU's state (each
// taken by its own worker), the VM's KVM state, every device's save(), guest RAM (sparse), the
// config. state.json is written last, through a rename, so it exists only for a whole snapshot.
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '@workervisor/base';
import { KVM_CAP } from '@workervisor/native';
import type { VmConfig } from '@workervisor/schema';
import type { Machine } from '../machine.js';
import { SnapshotError } from './errors.js';
import { CONFIG_FILE, MEMORY_FILE, serializeState, SNAPSHOT_FORMAT_VERSION, STATE_FILE, type SnapshotState } from './format.js';
import { writeMemoryFile } from './memory-file.js';
import { saveVmState } from './vm-state.js';

const log = createLogger('snapshot');

/** What a snapshot wrote, for the log and tests. */
export interface SnapshotResult {
  dir: string;
  memoryBytes: number;
  /** Bytes of guest RAM actually written (the memory file's data; the rest are holes). */
  memoryDataBytes: number;
}

/**
 * Writes `machine` (paused: its vCPU workers refuse otherwise) and `config` into `dir`, created
 * if missing. Refuses, before writing anything, a machine with a device that has no snapshot
 * support and a directory that already holds a snapshot.
 */
export async function takeSnapshot(machine: Machine, config: VmConfig, vmmVersion: string, dir: string): Promise<SnapshotResult> {
  const { devices } = machine.parts;
  const unsupported = devices.unsnapshottable();
  if (unsupported.length > 0) {
    const why = unsupported.map((u) => `${u.name}: ${u.reason}`).join('; ');
    throw new SnapshotError('unsupported-device', `vm.snapshot is not supported for device ${why}`, { details: { devices: unsupported.map((u) => u.name).join(',') } });
  }
  const statePath = join(dir, STATE_FILE);
  if (existsSync(statePath) || existsSync(join(dir, MEMORY_FILE))) throw new SnapshotError('destination-exists', `${dir} already holds a snapshot; remove it or choose another directory`);
  const t0 = performance.now();
  // Host-driven devices (a tap) stay off guest RAM and the irqchip from before the first vCPU
  // state is saved until the last byte of RAM is written: the awaits below let the event loop run.
  const unquiesce = devices.quiesce();
  try {
    return await writeSnapshot(machine, config, vmmVersion, dir, t0);
  } finally {
    unquiesce();
  }
}

/** takeSnapshot's work once the checks passed and the devices are quiesced. */
async function writeSnapshot(machine: Machine, config: VmConfig, vmmVersion: string, dir: string, t0: number): Promise<SnapshotResult> {
  const { devices, kvm, vm, memory } = machine.parts;
  const statePath = join(dir, STATE_FILE);
  // The vCPUs first: they are the part that refuses a running VM.
  const msrIndices = kvm.msrIndexList();
  const hasXsave = kvm.checkExtension(KVM_CAP.XSAVE) > 0;
  const vcpus = await Promise.all(machine.vcpus.map((v) => v.saveSnapshot(msrIndices, hasXsave)));
  const state: SnapshotState = {
    version: SNAPSHOT_FORMAT_VERSION,
    vmmVersion,
    createdAt: new Date().toISOString(),
    hostCpuid: kvm.supportedCpuid(),
    memoryBytes: memory.size,
    vm: saveVmState(vm),
    vcpus,
    devices: devices.saveStates(),
  };
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new SnapshotError('write-failed', `cannot create the snapshot directory ${dir}: ${(err as Error).message}`, { cause: err });
  }
  // Synchronously, on purpose: from the vCPUs' save to here nothing else runs on the core, so no
  // host-driven device (vsock or console input, an irqfd) can change guest RAM, the irqchip or a
  // device after its state was saved. Writing on another thread needs those devices quiesced first.
  const stats = writeMemoryFile(memory.buffer, join(dir, MEMORY_FILE));
  try {
    writeFileSync(join(dir, CONFIG_FILE), JSON.stringify(config, null, 1), { mode: 0o600 });
    writeFileSync(`${statePath}.tmp`, serializeState(state), { mode: 0o600 });
    renameSync(`${statePath}.tmp`, statePath);
  } catch (err) {
    throw new SnapshotError('write-failed', `cannot write the snapshot's state in ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const refused = vcpus.flatMap((v) => v.refusedMsrs);
  if (refused.length > 0) log.warn(`KVM refused to read ${refused.length} MSRs of its own list; they are not in the snapshot`, { msrs: [...new Set(refused)].map((i) => `0x${i.toString(16)}`).join(',') });
  log.info('VM snapshotted', { dir, ms: Math.round(performance.now() - t0), memory: stats.sizeBytes, memoryData: stats.dataBytes });
  return { dir, memoryBytes: stats.sizeBytes, memoryDataBytes: stats.dataBytes };
}
