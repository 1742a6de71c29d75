// Translates a Firecracker --config-file (FullVmConfiguration in Firecracker's API spec,
// https://github.com/firecracker-microvm/firecracker/blob/main/src/firecracker/swagger/firecracker.yaml) into our
// VmConfig. Every key is either translated or rejected by name: nothing is silently dropped. What it
// translates, vmm-core's resolver checks (and refuses by name) as it does any vm.create.
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { VmmError, type LogLevel } from '@workervisor/base';
import type { ErrorKind } from '@workervisor/base';
import { describeJsonError } from '../json-error.js';
import { describeViolation } from '../router.js';
import type { DiskConfig, NetConfig, VmConfig } from '@workervisor/schema';
import type { RateLimiterConfigSchema } from '@workervisor/schema';
import type { Static } from '@sinclair/typebox';
import { FullVmConfigurationSchema, type FcDrive, type FcRateLimiter, type FullVmConfiguration } from './schema.js';

export type FirecrackerConfigErrorKind = ErrorKind<'FC_CONFIG'>;

/** Code `ERR_VMM_FC_CONFIG_<KIND>`; `details.field` names the offending key (`drives[0].io_engine`). */
export class FirecrackerConfigError extends VmmError<'FC_CONFIG'> {
  constructor(kind: FirecrackerConfigErrorKind, message: string, field: string, cause?: unknown) {
    super('FC_CONFIG', kind, message, { details: { field }, ...(cause === undefined ? {} : { cause }) });
  }
}

/**
 * Firecracker's `logger` section, for the CLI to apply. Log lines always show the level, so
 * show_level is honoured either way it asks; show_log_origin and module are refused.
 */
export interface FirecrackerLogger {
  /** Firecracker's level mapped to ours ('off' disables logging; Trace is 'debug'). */
  level: LogLevel | 'off';
  path?: string;
}

/** Firecracker's `metrics` section, for the CLI to apply (emit_id and properties are refused). */
export interface FirecrackerMetrics {
  path: string;
}

export interface FirecrackerTranslation {
  config: VmConfig;
  logger?: FirecrackerLogger;
  metrics?: FirecrackerMetrics;
}

const MIB = 1024 * 1024;
// Compiled on first use: compiling at import would add ~50 ms to every CLI start.
let compiled: ReturnType<typeof TypeCompiler.Compile<typeof FullVmConfigurationSchema>> | undefined;
const checker = () => (compiled ??= TypeCompiler.Compile(FullVmConfigurationSchema));

function unsupported(field: string, what: string): never {
  throw new FirecrackerConfigError('unsupported', `Firecracker config '${field}': ${what} is not supported yet`, field);
}

function rateLimiter(r: FcRateLimiter): Static<typeof RateLimiterConfigSchema> {
  const bucket = (b: NonNullable<FcRateLimiter['bandwidth']>) => ({
    size: b.size,
    refill_time: b.refill_time,
    ...(b.one_time_burst == null ? {} : { one_time_burst: b.one_time_burst }),
  });
  return { ...(r.bandwidth == null ? {} : { bandwidth: bucket(r.bandwidth) }), ...(r.ops == null ? {} : { ops: bucket(r.ops) }) };
}

/** Drives in guest order (the root device first, as /dev/vda) plus the cmdline `root=` it implies. */
function drives(list: readonly FcDrive[]): { disks: DiskConfig[]; root: string | undefined } {
  const roots = list.filter((d) => d.is_root_device);
  if (roots.length > 1) {
    const i = list.indexOf(roots[1] as FcDrive);
    throw new FirecrackerConfigError('invalid', 'Firecracker config: only one drive can be the root device', `drives[${i}].is_root_device`);
  }
  const disks = list.map((d, i): DiskConfig => {
    const at = `drives[${i}]`;
    if (d.socket != null) unsupported(`${at}.socket`, 'a vhost-user block device');
    if (d.io_engine === 'Async') unsupported(`${at}.io_engine`, 'the Async (io_uring) engine');
    // Writeback promises that guest flushes reach the host disk; claiming it without
    // implementing it would risk data, so only the (default) Unsafe mode is accepted.
    if (d.cache_type === 'Writeback') unsupported(`${at}.cache_type`, 'the Writeback cache type');
    if (d.path_on_host == null) {
      throw new FirecrackerConfigError('invalid', `Firecracker config '${at}.path_on_host' is required`, `${at}.path_on_host`);
    }
    return {
      id: d.drive_id,
      path: d.path_on_host,
      readonly: d.is_read_only ?? false,
      ...(d.rate_limiter == null ? {} : { rate_limiter_config: rateLimiter(d.rate_limiter) }),
    };
  });
  const rootIndex = list.findIndex((d) => d.is_root_device);
  let root: string | undefined;
  if (rootIndex >= 0) {
    const d = list[rootIndex] as FcDrive;
    // Firecracker's builder: the root drive is the first block device, so the guest sees it
    // as /dev/vda (or by PARTUUID when given).
    root = `root=${d.partuuid == null ? '/dev/vda' : `PARTUUID=${d.partuuid}`} ${d.is_read_only === true ? 'ro' : 'rw'}`;
    disks.unshift(...disks.splice(rootIndex, 1));
  }
  return { disks, root };
}

function net(list: FullVmConfiguration['network-interfaces']): NetConfig[] {
  return (list ?? []).map((n, i) => {
    const at = `network-interfaces[${i}]`;
    if (n.rx_rate_limiter != null) unsupported(`${at}.rx_rate_limiter`, 'a per-direction rate limiter');
    if (n.tx_rate_limiter != null) unsupported(`${at}.tx_rate_limiter`, 'a per-direction rate limiter');
    if (n.mtu != null) unsupported(`${at}.mtu`, 'a guest MTU (VIRTIO_NET_F_MTU)');
    // host_dev_name is an existing tap (Firecracker never configures the host end): no ip here.
    return { id: n.iface_id, tap: n.host_dev_name, ...(n.guest_mac == null ? {} : { mac: n.guest_mac }) };
  });
}

const LEVELS: Record<string, LogLevel | 'off'> = { error: 'error', warning: 'warn', warn: 'warn', info: 'info', debug: 'debug', trace: 'debug', off: 'off' };

function logger(l: NonNullable<FullVmConfiguration['logger']>): FirecrackerLogger {
  const level = l.level == null ? 'info' : LEVELS[l.level.toLowerCase()];
  if (level === undefined) {
    throw new FirecrackerConfigError('invalid', `Firecracker config 'logger.level' must be one of Error, Warning, Info, Debug, Trace, Off`, 'logger.level');
  }
  if (l.show_log_origin === true) unsupported('logger.show_log_origin', 'the source location in log lines');
  if (l.module != null) unsupported('logger.module', 'filtering the log by module');
  return { level, ...(l.log_path == null ? {} : { path: l.log_path }) };
}

/** Translates a parsed FullVmConfiguration. Throws FirecrackerConfigError naming the key. */
export function translateFirecrackerConfig(input: unknown): FirecrackerTranslation {
  if (!checker().Check(input)) {
    const first = checker().Errors(input).First();
    const { message, field } = first === undefined ? { message: 'Invalid configuration', field: '' } : describeViolation(first, 'the configuration');
    throw new FirecrackerConfigError('invalid', `Firecracker config: ${message}`, field);
  }
  const fc: FullVmConfiguration = input;

  if (fc['mmds-config'] != null) unsupported('mmds-config', 'MMDS');
  if (fc['cpu-config'] != null) unsupported('cpu-config', 'a custom CPU template');
  if (fc['memory-hotplug'] != null) unsupported('memory-hotplug', 'memory hot-plug (virtio-mem)');
  if ((fc.pmem ?? []).length > 0) unsupported('pmem[0]', 'virtio-pmem');

  const m = fc['machine-config'];
  if (m?.smt === true) unsupported('machine-config.smt', 'SMT');
  if (m?.track_dirty_pages === true) unsupported('machine-config.track_dirty_pages', 'dirty page tracking');
  if (m?.cpu_template != null && m.cpu_template !== 'None') unsupported('machine-config.cpu_template', `the ${m.cpu_template} CPU template`);
  if (m?.huge_pages != null && m.huge_pages !== 'None') unsupported('machine-config.huge_pages', `huge pages (${m.huge_pages}) for guest RAM`);

  const boot = fc['boot-source'];
  const { disks, root } = drives(fc.drives ?? []);
  const cmdline = [boot.boot_args ?? undefined, root].filter((s) => s !== undefined && s !== '').join(' ');

  const config: VmConfig = {
    payload: {
      kernel: boot.kernel_image_path,
      ...(cmdline === '' ? {} : { cmdline }),
      ...(boot.initrd_path == null ? {} : { initramfs: boot.initrd_path }),
    },
    // Firecracker's guest console is the 8250 UART on the process's stdio; it has no virtio-console.
    serial: { mode: 'Tty' },
    console: { mode: 'Off' },
  };
  if (m != null) {
    config.cpus = { boot_vcpus: m.vcpu_count, max_vcpus: m.vcpu_count };
    // huge_pages None (the only value left): neither hugetlbfs nor transparent huge pages.
    config.memory = { size: m.mem_size_mib * MIB, thp: false };
  }
  if (disks.length > 0) config.disks = disks;
  const nets = net(fc['network-interfaces']);
  if (nets.length > 0) config.net = nets;
  if (fc.vsock != null) {
    config.vsock = { cid: fc.vsock.guest_cid, socket: fc.vsock.uds_path, ...(fc.vsock.vsock_id == null ? {} : { id: fc.vsock.vsock_id }) };
  }
  const b = fc.balloon;
  if (b != null) {
    if (b.free_page_hinting === true) unsupported('balloon.free_page_hinting', 'free page hinting');
    // The statistics interval rides in our BalloonConfig extension; 0 (or absent) means no stats queue, as in Firecracker.
    config.balloon = {
      size: b.amount_mib * MIB,
      deflate_on_oom: b.deflate_on_oom,
      free_page_reporting: b.free_page_reporting ?? false,
      ...(b.stats_polling_interval_s == null || b.stats_polling_interval_s === 0 ? {} : { stats_polling_interval_s: b.stats_polling_interval_s }),
    };
  }
  if (fc.entropy != null) {
    // Firecracker's entropy device reads getrandom, as /dev/urandom does; its rate limiter (bytes
    // and requests) rides in our RngConfig extension rate_limiter_config.
    const limiter = fc.entropy.rate_limiter == null ? {} : rateLimiter(fc.entropy.rate_limiter);
    config.rng = { src: '/dev/urandom', ...(Object.keys(limiter).length === 0 ? {} : { rate_limiter_config: limiter }) };
  }

  const out: FirecrackerTranslation = { config };
  if (fc.logger != null) out.logger = logger(fc.logger);
  if (fc.metrics != null) {
    if (fc.metrics.emit_id === true) unsupported('metrics.emit_id', 'the VM id in the metrics');
    if (Object.keys(fc.metrics.properties ?? {}).length > 0) unsupported('metrics.properties', 'extra properties in the metrics');
    out.metrics = { path: fc.metrics.metrics_path };
  }
  return out;
}

/** Parses and translates the text of a Firecracker config file. */
export function parseFirecrackerConfig(text: string): FirecrackerTranslation {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // V8's message quotes the text: a position only, and no cause carrying it.
    throw new FirecrackerConfigError('invalid-json', `Firecracker config is not valid JSON (${describeJsonError(text)})`, '');
  }
  return translateFirecrackerConfig(json);
}
