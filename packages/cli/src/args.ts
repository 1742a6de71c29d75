// Command-line parsing in Cloud Hypervisor's style (`--cpus boot=2`, `--memory size=512M`,
// `--serial file=PATH`), plus `remote` (ch-remote). Pure: argv in, a ParsedCli or a CliError out.
// The flags build a Cloud Hypervisor VmConfig; only syntax is checked here. Ranges and combinations
// are the resolver's (vmm-core's resolveMachineConfig), whose errors explainConfigError puts in
// terms of the flags.
import { VmmError, type LogLevel } from '@workervisor/base';
import type { ErrorKind } from '@workervisor/base';
import type { BalloonConfig, ConsoleConfig, CpusConfig, DiskConfig, NetConfig, PayloadConfig, RngConfig, SerialConfig, VmConfig, VsockConfig } from '@workervisor/sdk';
import { HELP, REMOTE_HELP } from './help.js';

export { HELP, REMOTE_HELP };

export type CliErrorKind = ErrorKind<'CLI'>;

/** A usage mistake; the message names the flag and the fix. Exit status 2 by convention. */
export class CliError extends VmmError<'CLI'> {
  constructor(kind: CliErrorKind, message: string, cause?: unknown) {
    super('CLI', kind, message, cause === undefined ? undefined : { cause });
  }
}

/** The part of a VmConfig the flags describe, in Cloud Hypervisor's own types; only the flags given are present. */
export type CliVmConfig = Partial<Pick<VmConfig, 'payload' | 'cpus' | 'memory' | 'serial' | 'console' | 'disks' | 'net' | 'rng' | 'vsock' | 'balloon'>>;

export interface RunOptions {
  /** VM settings from flags (empty when booting from --config-file or waiting for vm.create). */
  config: CliVmConfig;
  apiSocket?: string;
  /** Firecracker JSON config (`FullVmConfiguration`) to boot from. */
  configFile?: string;
  /** No API server (Firecracker's --no-api); then a VM comes from --kernel or --config-file. */
  noApi: boolean;
  /** `info` with -v, `debug` with -vv; absent without -v (run.ts resolveLogging picks the level). */
  logLevel?: LogLevel;
  logFile?: string;
  /** What a guest reset does: end the VMM (`exit`, default) or reboot the VM (`restart`). */
  reboot: 'exit' | 'restart';
  /** Write the ACPI tables (`<SIG>.dat`) to this directory when the VM is built. */
  dumpAcpiDir?: string;
  /** `--seccomp true|log`, with `--seccomp-filter FILE` or Workervisor's default filters (no filterFile); absent = `--seccomp false`. */
  seccomp?: { mode: 'enforce' | 'log'; filterFile?: string };
  /** `--landlock` (Cloud Hypervisor's landlock_enable) with `--landlock-rules path=P,access=r|w|rw` (its landlock_rules). */
  landlock?: { rules: Array<{ path: string; access: string }> };
}

/** A `workervisor remote` action (ch-remote's commands). */
export type RemoteCommand =
  | { name: 'ping' | 'boot' | 'info' | 'pause' | 'resume' | 'reboot' | 'power-button' | 'shutdown' | 'delete' | 'counters' | 'shutdown-vmm' | 'nmi' }
  | { name: 'create'; /** VmConfig JSON file, `-` for stdin. */ file: string }
  | { name: 'snapshot'; destinationUrl: string }
  | { name: 'restore'; sourceUrl: string }
  | { name: 'remove-device'; id: string };

export type ParsedCli =
  | { kind: 'help'; text: string }
  | { kind: 'version' }
  | { kind: 'run'; options: RunOptions }
  | { kind: 'remote'; socket: string; command: RemoteCommand };

interface FlagSpec {
  /** Placeholder of the value in messages, or undefined for a switch. */
  value?: string;
  /** May be given more than once (each occurrence is one item). */
  repeatable?: boolean;
}

const FLAGS: Record<string, FlagSpec> = {
  kernel: { value: 'PATH' },
  initramfs: { value: 'PATH' },
  cmdline: { value: 'STRING' },
  cpus: { value: 'boot=N[,max=M]' },
  memory: { value: 'size=SIZE' },
  serial: { value: 'tty|off|null|file=PATH|socket=PATH' },
  console: { value: 'off|tty|file=PATH|socket=PATH' },
  rng: { value: 'src=PATH[,iommu=off]' },
  vsock: { value: 'cid=N,socket=PATH[,id=ID]' },
  balloon: { value: 'size=SIZE[,deflate_on_oom=on][,free_page_reporting=on][,stats_polling_interval_s=N][,id=ID]' },
  'api-socket': { value: 'PATH' },
  'config-file': { value: 'FILE' },
  'no-api': {},
  reboot: { value: 'exit|restart' },
  'log-file': { value: 'FILE' },
  'dump-acpi': { value: 'DIR' },
  seccomp: { value: 'true|false|log' },
  'seccomp-filter': { value: 'FILE' },
  disk: { value: 'path=PATH[,readonly=on|off][,id=ID]', repeatable: true },
  net: { value: 'tap=NAME[,mac=MAC][,ip=IP,mask=MASK][,host_mac=MAC][,num_queues=2][,queue_size=N][,id=ID][,fd=FD]', repeatable: true },
  landlock: {},
  'landlock-rules': { value: 'path=PATH,access=r|w|rw', repeatable: true },
  help: {},
  version: {},
};

/** Flags that shape the VM; they need --kernel (or, for serial/console, --config-file). */
const VM_FLAGS = ['initramfs', 'cmdline', 'cpus', 'memory', 'serial', 'console', 'disk', 'rng', 'net', 'vsock', 'balloon'] as const;
/** Flags the Firecracker config file already covers (boot-source, machine-config). */
const CONFIG_FILE_COVERS: Record<string, string> = {
  kernel: 'boot-source.kernel_image_path',
  initramfs: 'boot-source.initrd_path',
  cmdline: 'boot-source.boot_args',
  cpus: 'machine-config.vcpu_count',
  memory: 'machine-config.mem_size_mib',
  disk: 'drives',
  rng: 'entropy',
  vsock: 'vsock',
  net: 'network-interfaces',
  balloon: 'balloon',
};

/** Parses `workervisor` arguments (without node and the script path). Throws CliError. */
export function parseArgs(argv: readonly string[]): ParsedCli {
  if (argv[0] === 'remote') return parseRemote(argv.slice(1));
  if (argv.includes('--help') || argv.includes('-h')) return { kind: 'help', text: HELP };
  if (argv.includes('--version') || argv.includes('-V')) return { kind: 'version' };

  const values = new Map<string, string>();
  /** Every occurrence of a repeatable flag (--disk), in order. */
  const repeated: Array<[string, string]> = [];
  const switches = new Set<string>();
  let verbosity = 0;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (/^-v+$/.test(arg)) {
      verbosity += arg.length - 1;
      continue;
    }
    if (!arg.startsWith('-') || arg === '-' || arg === '--') {
      const hint = arg === 'remote' ? " ('remote' must come first: workervisor remote --api-socket PATH <command>)" : ' (see workervisor --help)';
      throw new CliError('unexpected-argument', `unexpected argument '${arg}'${hint}`);
    }
    if (!arg.startsWith('--')) throw unknownFlag(arg);
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const spec = FLAGS[name];
    if (spec === undefined) throw unknownFlag(eq < 0 ? arg : arg.slice(0, eq));
    if (spec.value === undefined) {
      if (eq >= 0) throw new CliError('invalid-value', `--${name} takes no value (got '${arg}')`);
      if (switches.has(name)) throw duplicate(name);
      switches.add(name);
      continue;
    }
    let value: string;
    if (eq >= 0) {
      value = arg.slice(eq + 1);
    } else {
      const next = argv[i + 1];
      // A value that looks like a flag is most likely a forgotten value; --flag=VALUE forces it.
      if (next === undefined || (next.startsWith('-') && next !== '-')) {
        throw new CliError('missing-value', `--${name}: missing value (expected --${name} ${spec.value}${next === undefined ? '' : `; write --${name}=${next} if that is the value`})`);
      }
      value = next;
      i++;
    }
    if (value === '') throw new CliError('missing-value', `--${name}: empty value (expected --${name} ${spec.value})`);
    if (spec.repeatable === true) {
      repeated.push([name, value]);
      if (!values.has(name)) values.set(name, value);
      continue;
    }
    if (values.has(name)) throw duplicate(name);
    values.set(name, value);
  }

  const options: RunOptions = {
    config: {},
    noApi: switches.has('no-api'),
    ...(verbosity === 0 ? {} : { logLevel: verbosity === 1 ? 'info' : 'debug' }),
    reboot: 'exit',
  };
  const kernel = values.get('kernel');
  if (kernel !== undefined) {
    const payload: PayloadConfig = { kernel };
    const initramfs = values.get('initramfs');
    const cmdline = values.get('cmdline');
    if (initramfs !== undefined) payload.initramfs = initramfs;
    if (cmdline !== undefined) payload.cmdline = cmdline;
    options.config.payload = payload;
  }
  const cpus = values.get('cpus');
  if (cpus !== undefined) options.config.cpus = parseCpus(cpus);
  const memory = values.get('memory');
  if (memory !== undefined) options.config.memory = { size: parseMemory(memory) };
  const serial = values.get('serial');
  if (serial !== undefined) options.config.serial = parseConsoleMode('--serial', serial);
  const disks = repeated.filter(([n]) => n === 'disk').map(([, v]) => parseDisk(v));
  if (disks.length > 0) options.config.disks = disks;
  const nets = repeated.filter(([n]) => n === 'net').map(([, v]) => parseNet(v));
  if (nets.length > 0) options.config.net = nets;
  const consoleFlag = values.get('console');
  if (consoleFlag !== undefined) options.config.console = parseConsoleMode('--console', consoleFlag);
  const rng = values.get('rng');
  if (rng !== undefined) options.config.rng = parseRng(rng);
  const vsock = values.get('vsock');
  if (vsock !== undefined) options.config.vsock = parseVsock(vsock);
  const balloon = values.get('balloon');
  if (balloon !== undefined) options.config.balloon = parseBalloon(balloon);
  const apiSocket = values.get('api-socket');
  if (apiSocket !== undefined) options.apiSocket = parseApiSocket('--api-socket', apiSocket);
  const configFile = values.get('config-file');
  if (configFile !== undefined) options.configFile = configFile;
  const logFile = values.get('log-file');
  if (logFile !== undefined) options.logFile = logFile;
  const dumpAcpi = values.get('dump-acpi');
  if (dumpAcpi !== undefined) options.dumpAcpiDir = dumpAcpi;
  const seccomp = parseSeccomp(values.get('seccomp'), values.get('seccomp-filter'));
  if (seccomp !== undefined) options.seccomp = seccomp;
  const landlockRules = repeated.filter(([n]) => n === 'landlock-rules').map(([, v]) => parseLandlockRule(v));
  if (switches.has('landlock')) options.landlock = { rules: landlockRules };
  else if (landlockRules.length > 0) throw new CliError('requires', '--landlock-rules needs --landlock: the rules only add to the paths a Landlocked VMM may open');
  const reboot = values.get('reboot');
  if (reboot !== undefined) {
    if (reboot !== 'exit' && reboot !== 'restart') throw new CliError('invalid-value', `--reboot ${reboot}: expected exit (a guest reset ends the VMM) or restart (it reboots the VM)`);
    options.reboot = reboot;
  }

  checkCombinations(options, values);
  return { kind: 'run', options };
}

function checkCombinations(options: RunOptions, values: ReadonlyMap<string, string>): void {
  if (options.noApi && options.apiSocket !== undefined) {
    throw new CliError('conflict', '--no-api conflicts with --api-socket: drop --api-socket to run without an API server, or --no-api to serve one');
  }
  if (options.configFile !== undefined) {
    for (const [flag, field] of Object.entries(CONFIG_FILE_COVERS)) {
      if (values.has(flag)) throw new CliError('conflict', `--${flag} conflicts with --config-file: the config file sets ${field}; drop --${flag} or edit the file`);
    }
    return;
  }
  if (!values.has('kernel')) {
    for (const flag of VM_FLAGS) {
      if (values.has(flag)) {
        throw new CliError('requires', `--${flag} needs --kernel PATH (or --config-file FILE): without one no VM is booted at start, and a VM created through the API takes its settings from vm.create`);
      }
    }
    if (options.noApi) throw new CliError('nothing-to-do', '--no-api needs --kernel PATH or --config-file FILE: without an API nothing could create the VM');
    if (options.apiSocket === undefined) {
      throw new CliError('nothing-to-do', 'nothing to do: pass --kernel PATH to boot a VM, --config-file FILE to boot from a Firecracker config, or --api-socket PATH to wait for API requests (see --help)');
    }
  }
}

/**
 * `--seccomp true|false|log` (Cloud Hypervisor's; default true) and `--seccomp-filter FILE`
 * (Firecracker's). Without a file, true and log use Workervisor's measured default filters.
 */
function parseSeccomp(mode: string | undefined, filterFile: string | undefined): RunOptions['seccomp'] {
  if (mode !== undefined && mode !== 'true' && mode !== 'false' && mode !== 'log') {
    throw new CliError('invalid-value', `--seccomp ${mode}: expected true (filters stop a call they do not allow), false (no filters) or log (the kernel logs such a call and lets it go on)`);
  }
  if (mode === 'false') {
    if (filterFile !== undefined) throw new CliError('conflict', '--seccomp false conflicts with --seccomp-filter: drop one of them');
    return undefined;
  }
  return { mode: mode === 'log' ? 'log' : 'enforce', ...(filterFile === undefined ? {} : { filterFile }) };
}

/** `path=PATH,access=r|w|rw` (Cloud Hypervisor's --landlock-rules). */
function parseLandlockRule(value: string): { path: string; access: string } {
  const kv = parseKeyValues('--landlock-rules', value, ['path', 'access'], 'path');
  const path = kv.get('path');
  const access = kv.get('access');
  if (path === undefined || access === undefined) throw new CliError('invalid-value', `--landlock-rules ${value}: path=PATH and access=r|w|rw are both required`);
  if (access !== 'r' && access !== 'w' && access !== 'rw') throw new CliError('invalid-value', `--landlock-rules ${value}: access is ${access}, expected r, w or rw`);
  return { path, access };
}

/** `N` or `boot=N[,max=M]`; max defaults to boot. */
function parseCpus(value: string): CpusConfig {
  const kv = parseKeyValues('--cpus', value, ['boot', 'max'], 'boot');
  const boot = kv.get('boot');
  if (boot === undefined) throw new CliError('invalid-value', `--cpus ${value}: boot is required (e.g. --cpus boot=2,max=4)`);
  const bootVcpus = parseVcpuCount(value, boot);
  const max = kv.get('max');
  return { boot_vcpus: bootVcpus, max_vcpus: max === undefined ? bootVcpus : parseVcpuCount(value, max) };
}

/** A vCPU count's syntax; its range is the resolver's (cpus.boot_vcpus, cpus.max_vcpus). */
function parseVcpuCount(whole: string, text: string): number {
  if (!/^\d+$/.test(text)) throw new CliError('invalid-value', `--cpus ${whole}: '${text}' is not a whole number (e.g. --cpus 2 or --cpus boot=2,max=4)`);
  return Number(text);
}

/** `SIZE` or `size=SIZE`, SIZE = digits with an optional K, M or G suffix (powers of 1024); bytes. Its range is the resolver's. */
function parseMemory(value: string): number {
  const kv = parseKeyValues('--memory', value, ['size'], 'size');
  const size = kv.get('size');
  if (size === undefined) throw new CliError('invalid-value', `--memory ${value}: size is required (e.g. --memory size=512M)`);
  const bytes = parseSize(size);
  if (bytes === undefined) throw new CliError('invalid-value', `--memory ${value}: '${size}' is not a size; use bytes or a K, M or G suffix (e.g. --memory 512M)`);
  // Not a range check: a size a JS number cannot hold exactly cannot be passed on at all.
  if (!Number.isSafeInteger(bytes)) throw new CliError('invalid-value', `--memory ${value}: too large`);
  return bytes;
}

/** Bytes of `128M`-style sizes, or undefined when malformed. Exported for the other size flags. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+)([KMG]?)$/i.exec(text);
  if (m === null) return undefined;
  const shift = { '': 0, K: 10, M: 20, G: 30 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Number(m[1]) * 2 ** shift;
}

/** `a=1,b=2` into a map of known keys; a value with no `=` is the `bare` key's. */
function parseKeyValues(flag: string, value: string, keys: readonly string[], bare: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!value.includes('=')) {
    out.set(bare, value);
    return out;
  }
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    if (!keys.includes(key)) {
      throw new CliError('invalid-value', `${flag} ${value}: unknown option '${key}' (accepted: ${keys.map((k) => `${k}=`).join(', ')})`);
    }
    if (eq < 0 || eq === part.length - 1) throw new CliError('invalid-value', `${flag} ${value}: option '${key}' has no value (write ${key}=VALUE)`);
    if (out.has(key)) throw new CliError('invalid-value', `${flag} ${value}: option '${key}' is given twice`);
    out.set(key, part.slice(eq + 1));
  }
  return out;
}

/** Cloud Hypervisor's `--disk path=PATH[,readonly=on|off][,id=ID]` (one disk per flag). */
function parseDisk(value: string): DiskConfig {
  const kv = parseKeyValues('--disk', value, ['path', 'readonly', 'id'], 'path');
  const path = kv.get('path');
  if (path === undefined) throw new CliError('invalid-value', `--disk ${value}: path=PATH is required`);
  const disk: DiskConfig = { path };
  const ro = kv.get('readonly');
  if (ro !== undefined) {
    if (ro !== 'on' && ro !== 'off' && ro !== 'true' && ro !== 'false') throw new CliError('invalid-value', `--disk ${value}: readonly must be on or off`);
    disk.readonly = ro === 'on' || ro === 'true';
  }
  const id = kv.get('id');
  if (id !== undefined) disk.id = id;
  return disk;
}

/**
 * The words --serial and --console take, as Cloud Hypervisor's ConsoleMode: the value goes into
 * the VmConfig as it is, and the resolver maps each mode to its host end (MachineConfig's SerialSink).
 * `stdout` is an older spelling of `tty`. The resolver refuses Pty, and Null for the console, by name.
 */
const MODE_WORDS: Readonly<Record<string, SerialConfig['mode']>> = { tty: 'Tty', stdout: 'Tty', off: 'Off', null: 'Null', pty: 'Pty' };

/** `tty|off|null|file=PATH|socket=PATH` -> Cloud Hypervisor's { mode, file?, socket? }. */
function parseConsoleMode(flag: '--serial' | '--console', value: string): SerialConfig & ConsoleConfig {
  const mode = MODE_WORDS[value];
  if (mode !== undefined) return { mode };
  const file = pathAfter(flag, value, 'file=');
  if (file !== undefined) return { mode: 'File', file };
  const socket = pathAfter(flag, value, 'socket=');
  if (socket !== undefined) return { mode: 'Socket', socket };
  throw new CliError('invalid-value', `${flag} ${value}: expected one of ${flag === '--serial' ? 'tty (or stdout), off, null' : 'off, tty'}, file=PATH, socket=PATH`);
}

const NET_KEYS = ['tap', 'ip', 'mask', 'mac', 'host_mac', 'num_queues', 'queue_size', 'id', 'fd'] as const;

/**
 * Cloud Hypervisor's `--net tap=NAME,mac=MAC,ip=IP,mask=MASK,...` (one device per flag); a bare
 * value is the tap. The VMM checks the values (addresses, sizes) as it does vm.create's.
 */
function parseNet(value: string): NetConfig {
  const kv = parseKeyValues('--net', value, NET_KEYS, 'tap');
  const net: NetConfig = {};
  for (const key of ['tap', 'ip', 'mask', 'mac', 'host_mac', 'id'] as const) {
    const v = kv.get(key);
    if (v !== undefined) net[key] = v;
  }
  for (const key of ['num_queues', 'queue_size', 'fd'] as const) {
    const v = kv.get(key);
    if (v === undefined) continue;
    if (!/^\d{1,9}$/.test(v)) throw new CliError('invalid-value', `--net ${value}: ${key} must be a non-negative integer`);
    net[key] = Number(v);
  }
  return net;
}

/**
 * Cloud Hypervisor's `--vsock cid=N,socket=PATH[,id=ID][,iommu=on|off]`. The VMM checks the CID
 * range and the socket's directory as it does vm.create's.
 */
function parseVsock(value: string): VsockConfig {
  const kv = parseKeyValues('--vsock', value, ['cid', 'socket', 'id', 'iommu'], 'socket');
  const cid = kv.get('cid');
  const socket = kv.get('socket');
  if (cid === undefined || socket === undefined) throw new CliError('invalid-value', `--vsock ${value}: cid=N and socket=PATH are both required (e.g. --vsock cid=3,socket=/tmp/vsock.sock)`);
  if (!/^\d{1,10}$/.test(cid)) throw new CliError('invalid-value', `--vsock ${value}: cid must be a whole number (3 or more)`);
  const vsock: VsockConfig = { cid: Number(cid), socket };
  const id = kv.get('id');
  if (id !== undefined) vsock.id = id;
  const iommu = kv.get('iommu');
  if (iommu !== undefined) {
    if (iommu !== 'on' && iommu !== 'off') throw new CliError('invalid-value', `--vsock ${value}: iommu must be on or off`);
    vsock.iommu = iommu === 'on';
  }
  return vsock;
}

/**
 * Cloud Hypervisor's `--balloon size=SIZE[,deflate_on_oom=on|off][,free_page_reporting=on|off]`,
 * plus stats_polling_interval_s=N (Firecracker's statistics interval) and id=ID; a bare value is the size.
 */
function parseBalloon(value: string): BalloonConfig {
  const kv = parseKeyValues('--balloon', value, ['size', 'deflate_on_oom', 'free_page_reporting', 'stats_polling_interval_s', 'id'], 'size');
  const size = kv.get('size');
  if (size === undefined) throw new CliError('invalid-value', `--balloon ${value}: size=SIZE is required (e.g. --balloon size=128M; 0 starts it empty)`);
  const bytes = parseSize(size);
  if (bytes === undefined || !Number.isSafeInteger(bytes)) throw new CliError('invalid-value', `--balloon ${value}: '${size}' is not a size; use bytes or a K, M or G suffix`);
  const balloon: BalloonConfig = { size: bytes };
  for (const key of ['deflate_on_oom', 'free_page_reporting'] as const) {
    const v = kv.get(key);
    if (v === undefined) continue;
    if (v !== 'on' && v !== 'off') throw new CliError('invalid-value', `--balloon ${value}: ${key} must be on or off`);
    balloon[key] = v === 'on';
  }
  const interval = kv.get('stats_polling_interval_s');
  if (interval !== undefined) {
    if (!/^\d{1,10}$/.test(interval)) throw new CliError('invalid-value', `--balloon ${value}: stats_polling_interval_s must be a whole number of seconds`);
    balloon.stats_polling_interval_s = Number(interval);
  }
  const id = kv.get('id');
  if (id !== undefined) balloon.id = id;
  return balloon;
}

/** Cloud Hypervisor's `--rng src=PATH[,iommu=on|off]`; a bare value is the src. */
function parseRng(value: string): RngConfig {
  const kv = parseKeyValues('--rng', value, ['src', 'iommu'], 'src');
  const src = kv.get('src');
  if (src === undefined) throw new CliError('invalid-value', `--rng ${value}: src=PATH is required (e.g. --rng src=/dev/urandom)`);
  const rng: RngConfig = { src };
  const iommu = kv.get('iommu');
  if (iommu !== undefined) {
    if (iommu !== 'on' && iommu !== 'off') throw new CliError('invalid-value', `--rng ${value}: iommu must be on or off`);
    rng.iommu = iommu === 'on';
  }
  return rng;
}

function parseApiSocket(flag: string, value: string): string {
  if (value.startsWith('fd=')) throw new CliError('invalid-value', `${flag} ${value}: passing the socket as fd= is not supported; use ${flag} PATH`);
  return pathAfter(flag, value, 'path=') ?? value;
}

/** The path after `prefix` (`file=`), undefined when value lacks the prefix. Paths may hold `,` and `=`. */
function pathAfter(flag: string, value: string, prefix: string): string | undefined {
  if (!value.startsWith(prefix)) return undefined;
  const path = value.slice(prefix.length);
  if (path === '') throw new CliError('missing-value', `${flag} ${value}: empty path (write ${flag} ${prefix}PATH)`);
  return path;
}

/** The flag that sets each part of the VmConfig, by key path prefix. */
const FLAG_OF_KEY: ReadonlyArray<[RegExp, string]> = [
  [/^payload\.kernel\b/, '--kernel'],
  [/^payload\.initramfs\b/, '--initramfs'],
  [/^payload\.cmdline\b/, '--cmdline'],
  [/^cpus\b/, '--cpus'],
  [/^memory\b/, '--memory'],
  [/^serial\b/, '--serial'],
  [/^console\b/, '--console'],
  [/^disks\b/, '--disk'],
  [/^net\b/, '--net'],
  [/^rng\b/, '--rng'],
  [/^vsock\b/, '--vsock'],
  [/^balloon\b/, '--balloon'],
];

/**
 * A resolver error about a key the flags set, as a CliError led by the flag (`--memory: memory.size
 * 8388608 bytes (8M) is below the minimum of 16M`), the resolver's error as its cause. Anything else,
 * keys from a --config-file included, is returned as it is.
 */
export function explainConfigError(err: unknown, options: RunOptions): unknown {
  const field = err instanceof VmmError ? err.details?.['field'] : undefined;
  if (typeof field !== 'string') return err;
  const flag = FLAG_OF_KEY.find(([key]) => key.test(field))?.[1];
  if (flag === undefined) return err;
  // From a config file, the flags set only the serial port and the console.
  if (options.configFile !== undefined && flag !== '--serial' && flag !== '--console') return err;
  return new CliError('invalid-value', `${flag}: ${(err as Error).message}`, err);
}

function duplicate(name: string): CliError {
  return new CliError('duplicate-flag', `--${name} is given more than once; keep one`);
}

function unknownFlag(arg: string, names: readonly string[] = Object.keys(FLAGS)): CliError {
  const bare = arg.replace(/^-+/, '');
  const guess = closest(bare, names);
  return new CliError('unknown-flag', `unknown flag ${arg}${guess === undefined ? ' (see workervisor --help)' : ` (did you mean --${guess}?)`}`);
}

/** The candidate within edit distance 2 (or extending a prefix of at least 3 characters), if any. */
function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = c.startsWith(word) && word.length >= 3 ? 1 : editDistance(word, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

// --- remote ---

const REMOTE_SIMPLE = ['ping', 'boot', 'info', 'pause', 'resume', 'reboot', 'power-button', 'shutdown', 'delete', 'counters', 'shutdown-vmm', 'nmi'] as const;
const REMOTE_WITH_ARG = { create: 'FILE', snapshot: 'DESTINATION_URL', restore: 'SOURCE_URL', 'remove-device': 'ID' } as const;
const REMOTE_COMMANDS: readonly string[] = [...REMOTE_SIMPLE, ...Object.keys(REMOTE_WITH_ARG)];

function parseRemote(argv: readonly string[]): ParsedCli {
  if (argv.includes('--help') || argv.includes('-h')) return { kind: 'help', text: REMOTE_HELP };
  let socket: string | undefined;
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--api-socket' || arg.startsWith('--api-socket=')) {
      let value: string | undefined;
      if (arg.includes('=')) {
        value = arg.slice('--api-socket='.length);
      } else {
        value = argv[i + 1];
        if (value !== undefined && value.startsWith('-')) value = undefined;
        else i++;
      }
      if (value === undefined || value === '') throw new CliError('missing-value', '--api-socket: missing value (expected --api-socket PATH)');
      if (socket !== undefined) throw duplicate('api-socket');
      socket = parseApiSocket('--api-socket', value);
    } else if (arg.startsWith('-') && arg !== '-') {
      throw unknownFlag(arg.includes('=') ? arg.slice(0, arg.indexOf('=')) : arg, ['api-socket', 'help']);
    } else {
      positional.push(arg);
    }
  }
  const [name, ...rest] = positional;
  if (socket === undefined) throw new CliError('missing-argument', 'remote: --api-socket PATH is required (workervisor remote --api-socket PATH <command>)');
  if (name === undefined) throw new CliError('missing-argument', `remote: missing command (one of ${REMOTE_COMMANDS.join(', ')})`);
  const command = parseRemoteCommand(name, rest);
  return { kind: 'remote', socket, command };
}

function parseRemoteCommand(name: string, rest: readonly string[]): RemoteCommand {
  const simple = REMOTE_SIMPLE.find((c) => c === name);
  const argName = (REMOTE_WITH_ARG as Record<string, string>)[name];
  if (simple === undefined && argName === undefined) {
    const guess = closest(name, REMOTE_COMMANDS);
    throw new CliError('unknown-command', `remote: unknown command '${name}'${guess === undefined ? ` (one of ${REMOTE_COMMANDS.join(', ')})` : ` (did you mean ${guess}?)`}`);
  }
  const expected = simple !== undefined ? 0 : 1;
  if (rest.length > expected) throw new CliError('unexpected-argument', `remote ${name}: unexpected argument '${rest[expected]!}'`);
  if (simple !== undefined) return { name: simple };
  const arg = rest[0];
  if (arg === undefined || arg === '') throw new CliError('missing-argument', `remote ${name}: missing ${argName!} (workervisor remote --api-socket PATH ${name} ${argName!})`);
  switch (name) {
    case 'create':
      return { name, file: arg };
    case 'snapshot':
      return { name, destinationUrl: arg.startsWith('destination_url=') ? arg.slice('destination_url='.length) : arg };
    case 'restore':
      return { name, sourceUrl: arg.startsWith('source_url=') ? arg.slice('source_url='.length) : arg };
    default:
      return { name: 'remove-device', id: arg.startsWith('id=') ? arg.slice('id='.length) : arg };
  }
}
