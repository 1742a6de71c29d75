// The SDK side of vm.snapshot and vm.restore: a directory becomes the `file://` URL the API takes,
// a running VM is paused for its snapshot when the caller asks (and resumed after), and a snapshot
// directory's config says where its guest agent listens once restored.
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { RestoreConfig, VmConfig, VmInfo, VmSnapshotConfig } from './api-types.js';
import { LaunchError } from './errors.js';

export interface SnapshotOptions {
  /**
   * A running VM is paused for the snapshot and resumed afterwards (also when the snapshot fails).
   * Default false: as in Cloud Hypervisor, snapshotting a running VM is refused (405
   * `ERR_VMM_VM_NOT_PAUSED`), so a caller never pauses a guest without saying so.
   */
  pause?: boolean;
}

export interface RestoreOptions {
  /** Read the whole memory file in at restore (`MAP_POPULATE`) instead of on first touch. Default false. */
  prefault?: boolean;
  /**
   * Resume the restored VM at once. Default true in the SDK, so a restored Vm is running like a
   * launched one; false leaves it Paused (Cloud Hypervisor's default) until `resume()`.
   */
  resume?: boolean;
}

/** What snapshotVm needs of a client: the VmmClient and InProcessVmm both have it. */
export interface SnapshotTarget {
  info(): Promise<VmInfo>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  sendSnapshot(config: VmSnapshotConfig): Promise<void>;
}

/** The `file://` URL of a snapshot directory (relative paths from the current directory). */
export function snapshotUrl(dir: string): string {
  if (dir === '') throw new LaunchError('invalid-options', 'a snapshot directory must not be empty');
  return pathToFileURL(resolve(dir)).href;
}

/** A directory or a ready VmSnapshotConfig as the body of vm.snapshot. */
export function snapshotConfig(target: string | VmSnapshotConfig): VmSnapshotConfig {
  return typeof target === 'string' ? { destination_url: snapshotUrl(target) } : target;
}

/** The body of vm.restore for `dir`: `resume` is left to the caller (see restoreVm). */
export function restoreConfig(dir: string, options: RestoreOptions): RestoreConfig {
  return { source_url: snapshotUrl(dir), ...(options.prefault === undefined ? {} : { prefault: options.prefault }) };
}

/**
 * Snapshots `vm` into `target`. With `pause`, a Running VM is paused first and resumed after,
 * whatever the snapshot's outcome (its error wins over a failed resume's).
 */
export async function snapshotVm(vm: SnapshotTarget, target: string | VmSnapshotConfig, options: SnapshotOptions = {}): Promise<void> {
  const config = snapshotConfig(target);
  if (options.pause !== true) return vm.sendSnapshot(config);
  const wasRunning = (await vm.info()).state === 'Running';
  if (wasRunning) await vm.pause();
  try {
    await vm.sendSnapshot(config);
  } finally {
    if (wasRunning) await vm.resume();
  }
}

/**
 * A view of snapshot `dir` in the new directory `into` whose VM has its vsock on `socket`:
 * config.json rewritten, state.json and memory.bin symlinked to the originals (so clones still
 * map one memory file and share its unchanged pages). For clones running at once, which cannot
 * all serve the one socket the snapshot's config names. Returns `into`.
 */
export function snapshotViewWithVsock(dir: string, into: string, socket: string): string {
  const config = readSnapshotConfig(dir);
  if (config.vsock === undefined || config.vsock === null) throw new LaunchError('invalid-options', `the VM snapshotted in ${dir} has no vsock to move to ${socket}`);
  mkdirSync(into, { mode: 0o700 });
  writeFileSync(join(into, 'config.json'), JSON.stringify({ ...config, vsock: { ...config.vsock, socket } }), { mode: 0o600 });
  for (const file of ['state.json', 'memory.bin']) symlinkSync(resolve(dir, file), join(into, file));
  return into;
}

/**
 * The vsock socket of the snapshotted VM (its config.json), where a restored guest's agent is
 * reached; undefined when it had no vsock. LaunchError when the directory has no readable config.
 */
export function snapshotVsockSocket(dir: string): string | undefined {
  return readSnapshotConfig(dir).vsock?.socket;
}

/** The VmConfig of snapshot `dir` (its config.json); LaunchError when it cannot be read. */
function readSnapshotConfig(dir: string): VmConfig {
  const path = resolve(dir, 'config.json');
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as VmConfig;
  } catch (err) {
    throw new LaunchError('invalid-options', `cannot read the snapshot's config ${path}: ${(err as Error).message}`, { cause: err });
  }
}
