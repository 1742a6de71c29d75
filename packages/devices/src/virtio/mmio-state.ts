// The snapshot state of one virtio-mmio transport (mmio.ts): its register file and its queues'
// addresses and indices, JSON-safe, and the checks a state must pass before restore() uses it.
import type { QueueState } from './queue.js';
import { VirtioError } from './device.js';

/** JSON-safe MmioTransport state. `driverFeatures` is a hex string (feature bits are 64-bit). */
export interface MmioTransportState {
  status: number;
  deviceFeaturesSel: number;
  driverFeaturesSel: number;
  driverFeatures: string;
  queueSel: number;
  shmSel: number;
  interruptStatus: number;
  configGeneration: number;
  queues: QueueState[];
}

const U32_MAX = 0xffff_ffff;
/** Largest guest-physical address a queue field may hold (GPAs are safe integers). */
const GPA_MAX = Number.MAX_SAFE_INTEGER;

/**
 * `state` as an MmioTransportState for a transport of `name` with these queue sizes and offered
 * features, or a thrown VirtioError('invalid-config') saying which field is wrong.
 */
export function checkTransportState(state: unknown, name: string, queueMaxSizes: readonly number[], offered: bigint): MmioTransportState {
  const fail = (message: string): never => {
    throw new VirtioError('invalid-config', `${name}: ${message}`);
  };
  if (typeof state !== 'object' || state === null) fail('transport state must be an object');
  const o = state as Record<string, unknown>;
  const u32 = (v: unknown, field: string): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > U32_MAX) fail(`transport state field ${field} must be a u32, got ${String(v)}`);
    return v as number;
  };
  for (const f of ['status', 'deviceFeaturesSel', 'driverFeaturesSel', 'queueSel', 'shmSel', 'interruptStatus', 'configGeneration']) u32(o[f], f);
  if (typeof o['driverFeatures'] !== 'string' || !/^0x[0-9a-f]{1,16}$/.test(o['driverFeatures'])) fail('transport state field driverFeatures must be a hex string of at most 64 bits');
  const features = BigInt(o['driverFeatures'] as string);
  if ((features & ~offered) !== 0n) fail(`the state's driver features 0x${features.toString(16)} are not all offered (0x${offered.toString(16)})`);
  const queues = o['queues'];
  if (!Array.isArray(queues) || queues.length !== queueMaxSizes.length) fail(`the state has ${Array.isArray(queues) ? queues.length : 'no'} queues, the device ${queueMaxSizes.length}`);
  (queues as unknown[]).forEach((q, i) => checkQueueState(q, i, queueMaxSizes[i]!, fail, u32));
  return state as MmioTransportState;
}

function checkQueueState(q: unknown, i: number, maxSize: number, fail: (m: string) => never, u32: (v: unknown, f: string) => number): void {
  if (typeof q !== 'object' || q === null) fail(`queue ${i} state must be an object`);
  const s = q as Record<string, unknown>;
  const size = u32(s['size'], `queues[${i}].size`);
  if (size > maxSize) fail(`queue ${i} size ${size} exceeds its maximum ${maxSize}`);
  if (typeof s['ready'] !== 'boolean') fail(`queue ${i} field ready must be a boolean`);
  for (const f of ['descTable', 'availRing', 'usedRing']) {
    const v = s[f];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > GPA_MAX) fail(`queue ${i} field ${f} must be a guest-physical address`);
  }
  for (const f of ['nextAvail', 'nextUsed']) {
    const v = u32(s[f], `queues[${i}].${f}`);
    if (v > 0xffff) fail(`queue ${i} field ${f} must be a u16 ring index, got ${v}`);
  }
}
