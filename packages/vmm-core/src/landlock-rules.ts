// Which paths a Landlocked VMM may open (Cloud Hypervisor's landlock_enable + landlock_rules): the
// files its config names, with the access each needs, the user's extra rules, and the read-only
// files Node itself loads (measured with strace: the binary, its mapped libraries, the VMM's code).
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { VmConfig } from '@workervisor/schema';
import { LANDLOCK_ACCESS_FS as A, LANDLOCK_FILE_ACCESS } from '@workervisor/native';
import { invalidConfig } from './config/errors.js';

/** Cloud Hypervisor's LandlockConfig. */
export interface LandlockConfig {
  readonly path: string;
  readonly access: string;
}

/** Cloud Hypervisor's `access`: r, w or rw. */
export type LandlockAccess = 'r' | 'w' | 'rw';

/** One rule before it meets the kernel: a path and its access, and why it is there (for logs). */
export interface LandlockRule {
  readonly path: string;
  readonly access: LandlockAccess;
  readonly why: string;
}

/** Rust landlock's AccessFs::from_read: run, read files, list directories. */
const READ = A.EXECUTE | A.READ_FILE | A.READ_DIR;
/** AccessFs::from_write: change files, make and remove entries (sockets included), rename, truncate, device ioctls. */
const WRITE =
  A.WRITE_FILE | A.REMOVE_DIR | A.REMOVE_FILE | A.MAKE_CHAR | A.MAKE_DIR | A.MAKE_REG | A.MAKE_SOCK | A.MAKE_FIFO | A.MAKE_BLOCK | A.MAKE_SYM | A.REFER | A.TRUNCATE | A.IOCTL_DEV;

/** Every filesystem right the kernel's ABI knows (REFER from 2, TRUNCATE from 3, IOCTL_DEV from 5). */
export function handledAccess(abi: number): number {
  let all = (1 << 13) - 1;
  if (abi >= 2) all |= A.REFER;
  if (abi >= 3) all |= A.TRUNCATE;
  if (abi >= 5) all |= A.IOCTL_DEV;
  return all;
}

/** The LANDLOCK_ACCESS_FS_* bits of `rule` on what is at its path now (a file rule keeps the file rights only). */
export function accessBits(rule: Pick<LandlockRule, 'path' | 'access'>): number {
  const bits = (rule.access.includes('r') ? READ : 0) | (rule.access.includes('w') ? WRITE : 0);
  return statSync(rule.path).isDirectory() ? bits : bits & LANDLOCK_FILE_ACCESS;
}

/** landlock_rules as given (Cloud Hypervisor's LandlockConfig); a path that does not exist or a bad access is refused by name. */
export function userRules(rules: readonly LandlockConfig[]): LandlockRule[] {
  return rules.map((r, i) => {
    if (r.access !== 'r' && r.access !== 'w' && r.access !== 'rw') throw invalidConfig(`landlock_rules[${i}].access`, `landlock_rules[${i}].access is ${JSON.stringify(r.access)}: expected r, w or rw`);
    if (!existsSync(r.path)) throw invalidConfig(`landlock_rules[${i}].path`, `landlock_rules[${i}].path ${r.path} does not exist (Landlock rules name existing files or directories)`);
    return { path: resolve(r.path), access: r.access, why: `landlock_rules[${i}]` };
  });
}

/** A file the VMM writes and may have to create: the file when it exists, else its directory. */
function output(path: string, why: string): LandlockRule {
  const abs = resolve(path);
  return existsSync(abs) ? { path: abs, access: 'rw', why } : { path: dirname(abs), access: 'rw', why: `${why} (to be created)` };
}

/** A Unix socket the VMM binds (and removes when stale): its directory. */
function socketDir(path: string, why: string): LandlockRule {
  return { path: dirname(resolve(path)), access: 'rw', why };
}

/** Host-side extras the config does not show: the API socket, the log and metrics files, the config file itself. */
export interface VmmFiles {
  readonly apiSocket?: string | undefined;
  readonly logFile?: string | undefined;
  readonly metricsFile?: string | undefined;
  readonly configFile?: string | undefined;
  readonly seccompFilterFile?: string | undefined;
  readonly dumpAcpiDir?: string | undefined;
}

/** The rules for every path `config` and `files` name, with the access each needs. */
export function configRules(config: VmConfig, files: VmmFiles): LandlockRule[] {
  const rules: LandlockRule[] = [{ path: '/dev/kvm', access: 'rw', why: 'KVM' }];
  const read = (path: string | undefined, why: string) => {
    if (path !== undefined) rules.push({ path: resolve(path), access: 'r', why });
  };
  read(config.payload?.kernel, 'payload.kernel');
  read(config.payload?.initramfs, 'payload.initramfs');
  read(config.payload?.firmware, 'payload.firmware');
  config.disks?.forEach((d, i) => {
    if (d.path !== undefined) rules.push({ path: resolve(d.path), access: d.readonly === true ? 'r' : 'rw', why: `disks[${i}]` });
  });
  if (config.net?.some((n) => n.fd === undefined) === true) rules.push({ path: '/dev/net/tun', access: 'rw', why: 'net (tap)' });
  read(config.rng?.src ?? '/dev/urandom', 'rng.src');
  for (const [name, c] of [['serial', config.serial], ['console', config.console]] as const) {
    if (c?.mode === 'File' && c.file !== undefined) rules.push(output(c.file, `${name}.file`));
    if (c?.mode === 'Socket' && c.socket !== undefined) rules.push(socketDir(c.socket, `${name}.socket`));
  }
  if (config.vsock !== undefined) rules.push(socketDir(config.vsock.socket, 'vsock.socket'));
  if (files.apiSocket !== undefined) rules.push(socketDir(files.apiSocket, 'the API socket'));
  if (files.logFile !== undefined) rules.push(output(files.logFile, 'the log file'));
  if (files.metricsFile !== undefined) rules.push(output(files.metricsFile, 'the metrics file'));
  if (files.dumpAcpiDir !== undefined) rules.push(output(files.dumpAcpiDir, '--dump-acpi'));
  read(files.configFile, '--config-file');
  read(files.seccompFilterFile, '--seccomp-filter');
  return rules;
}

/**
 * What Node needs to start again under the ruleset (it is applied, then the VMM execs itself):
 * read-only, as measured with strace over a VMM's start. The binary and every file mapped now (its
 * shared libraries), the loader's cache, OpenSSL's config (and NODE_EXTRA_CA_CERTS), the time zone,
 * /proc and the cgroup files libuv reads,
 * /dev/null, and the VMM's own code (the directory that holds its node_modules).
 */
export function runtimeRules(): LandlockRule[] {
  const rules: LandlockRule[] = [{ path: realpathSync(process.execPath), access: 'r', why: 'the Node binary' }];
  const mapped = new Set<string>();
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const path = /\s(\/\S.*)$/.exec(line)?.[1];
    if (path !== undefined && !path.endsWith(' (deleted)') && !path.startsWith('/dev/') && !path.startsWith('/memfd:') && existsSync(path)) mapped.add(path);
  }
  for (const path of mapped) rules.push({ path, access: 'r', why: 'a file Node maps (shared library)' });
  const extraCerts = process.env['NODE_EXTRA_CA_CERTS'];
  for (const path of ['/etc/ld.so.cache', '/etc/ssl/openssl.cnf', '/etc/localtime', '/proc', '/sys/fs/cgroup', '/sys/devices/system/cpu', ...(extraCerts ? [extraCerts] : [])]) {
    if (existsSync(path)) rules.push({ path, access: 'r', why: 'read by Node or libuv at start' });
  }
  rules.push({ path: '/dev/null', access: 'rw', why: 'Node at start' });
  rules.push({ path: installRoot(), access: 'r', why: "the VMM's code" });
  return rules;
}

/** The nearest directory above this module with node_modules in it: the checkout or the installed package tree. */
function installRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(resolve(dir, 'node_modules'))) return realpathSync(dir);
    const up = dirname(dir);
    if (up === dir) return realpathSync(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'));
    dir = up;
  }
}
