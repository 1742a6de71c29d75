// Every key of the VmConfig schema is either consumed (HONOURED, saying where) or refused by name:
// set to a value other than its default, resolveMachineConfig throws an error naming the key path.
// A key added to the schema and handled nowhere fails here.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VmConfigSchema, withDefaults, type VmConfig } from '@workervisor/schema';
import { afterAll, describe, expect, it } from 'vitest';
import { REFUSALS } from './refusals.js';
import { resolveMachineConfig } from './resolve.js';

/** Key path -> where the resolver consumes it. A section listed here has its keys checked one by one. */
const HONOURED: Readonly<Record<string, string>> = {
  cpus: 'cpusAndMemory (resolve.ts)',
  'cpus.boot_vcpus': 'MachineConfig.vcpus',
  'cpus.max_vcpus': 'must equal boot_vcpus: less is invalid, more is refused (vCPU hotplug)',
  'cpus.features': 'a section: its one key, amx, is refused',
  memory: 'cpusAndMemory (resolve.ts)',
  'memory.size': 'MachineConfig.memoryBytes',
  'memory.thp': 'guest RAM is never madvise(MADV_HUGEPAGE)d, so false holds; true, the default, leaves THP to the host shmem policy',
  payload: 'resolveMachineConfig',
  'payload.kernel': 'MachineConfig.kernel',
  'payload.cmdline': 'MachineConfig.cmdline',
  'payload.initramfs': 'MachineConfig.initramfs',
  disks: 'disks() -> MachineConfig.disks',
  'disks[].path': 'DiskSpec.path (checked: exists, opens, attached once)',
  'disks[].readonly': 'DiskSpec.readonly',
  'disks[].queue_size': 'DiskSpec.queueSize',
  'disks[].id': 'DiskSpec.id',
  'disks[].serial': 'DiskSpec.serial',
  'disks[].lock_granularity': 'DiskSpec.lockGranularity',
  'disks[].sparse': 'no discard or write-zeroes: the VMM never deallocates image blocks, so both values hold',
  net: 'resolveNets (net.ts) -> MachineConfig.nets',
  'net[].tap': 'NetSpec.tap',
  'net[].fd': 'NetSpec.tap (kind fd)',
  'net[].ip': 'NetSpec.ipv4',
  'net[].mask': 'NetSpec.ipv4',
  'net[].mac': 'NetSpec.mac',
  'net[].host_mac': 'NetSpec.hostMac',
  'net[].queue_size': 'NetSpec.queueSize',
  'net[].id': 'NetSpec.id',
  'net[].offload_tso': 'NetSpec.offloads.tso',
  'net[].offload_ufo': 'NetSpec.offloads.ufo',
  'net[].offload_csum': 'NetSpec.offloads.csum',
  rng: 'rng() -> MachineConfig.rng',
  'rng.id': 'RngSpec.id',
  'rng.src': '/dev/urandom or /dev/random (both getrandom); others refused',
  'rng.rate_limiter_config': 'RngSpec.rateLimiter (tokenBucketFromApi)',
  serial: 'serialSink() -> MachineConfig.serial',
  'serial.mode': 'SerialSink.kind; Pty refused',
  'serial.file': "SerialSink 'file'",
  'serial.socket': "SerialSink 'socket'",
  console: 'virtioConsole() -> MachineConfig.console',
  'console.mode': 'ConsoleSpec.sink; Pty and Null refused',
  'console.file': "ConsoleSpec.sink 'file'",
  'console.socket': "ConsoleSpec.sink 'socket'",
  'console.id': 'ConsoleSpec.id',
  vsock: 'vsock() -> MachineConfig.vsock',
  'vsock.cid': 'VsockSpec.cid',
  'vsock.socket': 'VsockSpec.socket',
  'vsock.id': 'VsockSpec.id',
  balloon: 'resolveBalloon (balloon.ts) -> MachineConfig.balloon',
  'balloon.id': 'BalloonSpec.id',
  'balloon.size': 'BalloonSpec.sizeBytes (whole 4K pages, less than memory.size)',
  'balloon.deflate_on_oom': 'BalloonSpec.deflateOnOom (VIRTIO_BALLOON_F_DEFLATE_ON_OOM)',
  'balloon.free_page_reporting': 'BalloonSpec.freePageReporting (VIRTIO_BALLOON_F_PAGE_REPORTING)',
  'balloon.stats_polling_interval_s': 'BalloonSpec.statsIntervalS (VIRTIO_BALLOON_F_STATS_VQ when > 0)',
  debug_console: 'a section: only mode Off, its keys are refused',
  platform: 'a section: its keys are refused one by one',
  'platform.vfio_p2p_dma': 'no VFIO devices (devices is refused), so there is no peer-to-peer DMA to allow or forbid',
  pvpanic: 'the pvpanic device is always built (builder.ts); false is refused',
};

/** Sections consumed whole (their inner keys need no entry). */
const HONOURED_WHOLE = new Set(['rng.rate_limiter_config']);

/** Values for refused keys where the generated one would ask for nothing. */
const REFUSED_VALUES: Readonly<Record<string, unknown>> = {
  'cpus.topology': { threads_per_core: 2 },
  'debug_console.mode': 'File',
};

interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  anyOf?: Schema[];
  const?: unknown;
  default?: unknown;
  minimum?: number;
  maximum?: number;
}

/** Every key path of the schema, with its schema; a list's items are `[]`. */
function keyPaths(schema: Schema, prefix = ''): Array<[string, Schema]> {
  const out: Array<[string, Schema]> = [];
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    out.push([path, child]);
    const inner = child.type === 'array' ? child.items : child;
    if (inner?.type === 'object') out.push(...keyPaths(inner, child.type === 'array' ? `${path}[]` : path));
  }
  return out;
}

/** A valid value of `schema` other than its default. */
function otherValue(schema: Schema): unknown {
  if (schema.anyOf !== undefined) return schema.anyOf.map((s) => s.const).find((v) => v !== schema.default);
  switch (schema.type) {
    case 'boolean':
      return schema.default !== true;
    case 'integer':
    case 'number':
      return Math.min((typeof schema.default === 'number' ? schema.default : Math.max(schema.minimum ?? 0, 0)) + 1, schema.maximum ?? Infinity);
    case 'string':
      return 'x';
    case 'array':
      return [otherValue(schema.items ?? {})];
    case 'object':
      return Object.fromEntries((schema.required ?? []).map((k) => [k, otherValue(schema.properties?.[k] ?? {})]));
  }
  throw new Error(`no example for ${JSON.stringify(schema)}`);
}

const dir = mkdtempSync(join(tmpdir(), 'wv-allowlist-'));
const image = join(dir, 'disk.img');
writeFileSync(image, Buffer.alloc(4096));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const HOST = 64 * 1024 ** 3;

/** One of each section, valid as it is. */
function base(): VmConfig {
  return {
    payload: { kernel: '/vmlinux' },
    cpus: { boot_vcpus: 2, max_vcpus: 2, features: {} },
    memory: { size: 64 << 20 },
    disks: [{ path: image }],
    // No tap name: a tap the VMM creates gets the spec's ip and mask either way.
    net: [{}],
    rng: { src: '/dev/urandom' },
    serial: { mode: 'Off' },
    console: { mode: 'File', file: join(dir, 'hvc0.log') },
    vsock: { cid: 3, socket: join(dir, 'v.sock') },
    balloon: { size: 16 << 20 },
    debug_console: { mode: 'Off' },
    platform: {},
  };
}

/** `config` with the key at `path` (`disks[].direct` is the first disk's) set to `value`. */
function withKey(path: string, value: unknown): VmConfig {
  const config = base() as unknown as Record<string, unknown>;
  const keys = path.replace(/\[\]/g, '.0').split('.');
  let at: Record<string, unknown> = config;
  for (const key of keys.slice(0, -1)) at = (at[key] ??= {}) as Record<string, unknown>;
  at[keys.at(-1)!] = value;
  return config as unknown as VmConfig;
}

function thrown(fn: () => unknown): { code?: string; message?: string; details?: Record<string, unknown> } | undefined {
  try {
    fn();
  } catch (err) {
    return err as { code: string; message: string; details: Record<string, unknown> };
  }
  return undefined;
}

const paths = keyPaths(VmConfigSchema as unknown as Schema);
/** The sections around a key: `disks` for `disks[].direct`. */
function ancestors(path: string): string[] {
  const segments = path.split('.');
  return segments.slice(1).map((_, i) => segments.slice(0, i + 1).join('.').replace(/\[\]$/, ''));
}
/** A key needs an answer of its own only inside honoured sections: a refused section covers its keys. */
const reachable = (path: string) => ancestors(path).every((a) => a in HONOURED && !HONOURED_WHOLE.has(a));
const refused = paths.filter(([p]) => !(p in HONOURED) && !HONOURED_WHOLE.has(p) && reachable(p));

describe('every VmConfig key is honoured or refused by name', () => {
  it('starts from a config that resolves, with or without withDefaults', () => {
    expect(resolveMachineConfig(withDefaults(base()), HOST)).toEqual(resolveMachineConfig(base(), HOST));
  });

  it('falls back to the defaults withDefaults fills in: one table for both', () => {
    const bare: VmConfig = { payload: { kernel: '/vmlinux' }, disks: [{ path: image }], net: [{}] };
    expect(resolveMachineConfig(withDefaults(bare), HOST)).toEqual(resolveMachineConfig(bare, HOST));
  });

  it('lists only keys the schema has', () => {
    const known = new Set(paths.map(([p]) => p));
    for (const p of [...Object.keys(HONOURED), ...HONOURED_WHOLE, ...REFUSALS.map((r) => r.path)]) expect(known.has(p), p).toBe(true);
  });

  it.each(refused)('refuses %s set to something not built, naming it', (path, schema) => {
    const value = path in REFUSED_VALUES ? REFUSED_VALUES[path] : otherValue(schema);
    const field = path.replace(/\[\]/g, '[0]');
    const err = thrown(() => resolveMachineConfig(withKey(path, value), HOST));
    expect(err, `${path}: ${JSON.stringify(value)} was accepted: consume it (and list it in HONOURED) or refuse it in refusals.ts`).toBeDefined();
    expect(err?.code).toBe('ERR_VMM_VM_NOT_SUPPORTED');
    expect(err?.details?.['field']).toBe(field);
    expect(err?.message).toContain(field);
  });

  it.each(refused.filter(([, s]) => s.default !== undefined))('accepts %s at its spec default', (path, schema) => {
    expect(() => resolveMachineConfig(withKey(path, schema.default), HOST)).not.toThrow();
  });

  it('accepts pvpanic: true (the device is always there) and refuses false by name', () => {
    expect(() => resolveMachineConfig(withKey('pvpanic', true), HOST)).not.toThrow();
    const err = thrown(() => resolveMachineConfig(withKey('pvpanic', false), HOST));
    expect(err).toMatchObject({ code: 'ERR_VMM_VM_NOT_SUPPORTED', details: { field: 'pvpanic' } });
    expect(err?.message).toMatch(/^pvpanic: false .*always has one/);
  });

  it('accepts the topology that is built: one thread per core, every vCPU a core of one package', () => {
    const built = { threads_per_core: 1, cores_per_die: 2, dies_per_package: 1, packages: 1 };
    expect(() => resolveMachineConfig(withKey('cpus.topology', built), HOST)).not.toThrow();
    expect(() => resolveMachineConfig(withKey('cpus.topology', { cores_per_die: 2 }), HOST)).not.toThrow();
    expect(thrown(() => resolveMachineConfig(withKey('cpus.topology', { ...built, packages: 2 }), HOST))?.details?.['field']).toBe('cpus.topology');
  });
});
