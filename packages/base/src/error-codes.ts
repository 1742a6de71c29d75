// Every error code Workervisor raises, each defined once (undici's errors.js model). A prefix
// belongs to exactly one error class; a code is ERR_VMM_<PREFIX>_<KIND>, e.g. ERR_VMM_BUS_OVERLAP.
// A class's kinds are typed from this table (ErrorKind<'BUS'>), so a code not listed here does not
// compile, and error-codes.test.ts checks that no prefix has two classes.

export const ERROR_CODES = {
  // @workervisor/base
  HOST_FILE: { owner: 'HostFileError', kinds: ['unreadable', 'not-regular', 'pseudo-file', 'empty', 'too-large', 'unwritable'] },
  UNIX_SOCKET: { owner: 'UnixSocketError', kinds: ['path-exists', 'socket-in-use', 'path-too-long', 'listen-failed'] },
  // @workervisor/seccomp: a filter file that does not compile (or a compiled one that does not load).
  SECCOMP: {
    owner: 'SeccompError',
    kinds: ['invalid-json', 'invalid-filter', 'unknown-syscall', 'invalid-condition', 'invalid-action', 'unsupported-arch', 'too-long', 'invalid-compiled'],
  },
  // @workervisor/native
  KVM: { owner: 'KvmError', kinds: ['open', 'api-version', 'capability', 'vm', 'vcpu', 'memory', 'eventfd', 'irq', 'tap', 'file-lock', 'seccomp', 'landlock'] },
  NATIVE_ADDON: { owner: 'AddonLoadError', kinds: ['missing'] },
  // @workervisor/devices
  BUS: { owner: 'BusError', kinds: ['overlap', 'invalid-range'] },
  SERIAL: { owner: 'SerialError', kinds: ['invalid-state', 'invalid-config'] },
  I8042: { owner: 'I8042Error', kinds: ['buffer-full', 'invalid-state'] },
  ACPI_GED: { owner: 'AcpiGedError', kinds: ['invalid-state'] },
  DEBUG_PORT: { owner: 'DebugPortError', kinds: ['invalid-state', 'invalid-config'] },
  RATE_LIMITER: { owner: 'RateLimiterError', kinds: ['invalid-config', 'invalid-state'] },
  VIRTIO: { owner: 'VirtioError', kinds: ['invalid-config', 'activate', 'io'] },
  // @workervisor/vcpu-worker
  VCPU: { owner: 'VcpuError', kinds: ['timeout', 'worker-failed', 'finished', 'not-paused', 'restore'] },
  // @workervisor/vmm-core
  GUEST_MEMORY: { owner: 'GuestMemoryError', kinds: ['out-of-range', 'invalid-size'] },
  LOADER: {
    owner: 'LoaderError',
    kinds: [
      'unknown-format', 'truncated', 'invalid-elf', 'invalid-note', 'no-pvh-entry', 'segment-out-of-range', 'invalid-entry',
      'invalid-bzimage', 'unsupported-protocol', 'kernel-too-large', 'initramfs-too-large', 'initramfs-empty', 'cmdline-too-long', 'cmdline-invalid',
    ],
  },
  X86: { owner: 'X86Error', kinds: ['memory-too-small', 'invalid-address', 'memory-map-too-large', 'invalid-vcpu', 'invalid-state'] },
  ACPI: { owner: 'AcpiError', kinds: ['invalid-name', 'value-out-of-range', 'invalid-string', 'invalid-config', 'no-space', 'guest-memory'] },
  BUILD: { owner: 'BuildError', kinds: ['disk-unreadable', 'net-unavailable', 'vcpu-setup'] },
  DISK_LOCK: { owner: 'DiskLockError', kinds: ['locked'] },
  // vm.snapshot and vm.restore: the snapshot directory, its files and their compatibility with this host.
  SNAPSHOT: {
    owner: 'SnapshotError',
    kinds: ['invalid-url', 'unsupported-device', 'destination-exists', 'write-failed', 'not-found', 'invalid-state', 'version-mismatch', 'cpu-mismatch', 'memory-mismatch', 'restore-failed'],
  },
  // A VmmAction the core refuses: unsupported, wrong lifecycle state, or an unusable VmConfig.
  VM: {
    owner: 'VmError',
    kinds: ['not-supported', 'invalid-config', 'invalid-request', 'not-created', 'already-created', 'not-booted', 'already-booted', 'not-paused', 'already-paused'],
  },
  // @workervisor/api
  API: {
    owner: 'ApiError',
    kinds: [
      // Raised by the router and the HTTP server; the core's own failures keep their codes (VM, LOADER, ...).
      'bad-request', 'request-timeout', 'not-found', 'method-not-allowed', 'invalid-json', 'invalid-body', 'invalid-query', 'invalid-param',
      'body-too-large', 'unsupported-media-type', 'headers-too-large', 'unavailable', 'internal',
    ],
  },
  API_SERVER: { owner: 'ApiServerError', kinds: ['path-exists', 'socket-in-use', 'path-too-long', 'listen-failed', 'worker-failed'] },
  FC_CONFIG: { owner: 'FirecrackerConfigError', kinds: ['invalid-json', 'invalid', 'unsupported'] },
  // @workervisor/sdk. RESPONSE: the VMM answered with an error status (its kind says which); the
  // server's own code, e.g. ERR_VMM_API_NOT_FOUND for an unknown route, is the error's `serverCode`.
  RESPONSE: {
    owner: 'ResponseError',
    kinds: ['bad-request', 'not-found', 'not-allowed', 'conflict', 'too-many-requests', 'internal', 'not-implemented', 'unexpected-status', 'bad-response'],
  },
  CONNECTION: { owner: 'ConnectionError', kinds: ['no-socket', 'refused', 'closed', 'timeout', 'failed', 'client-closed'] },
  LAUNCH: { owner: 'LaunchError', kinds: ['invalid-options', 'no-binary', 'spawn-failed', 'exited', 'timeout', 'socket-taken'] },
  SERIAL_WAIT: { owner: 'SerialWaitError', kinds: ['not-piped', 'timeout', 'exited'] },
  IMAGE: { owner: 'ImageError', kinds: ['not-found', 'invalid-package', 'build-failed'] },
  // @workervisor/agent: the host side of the guest agent.
  AGENT: { owner: 'AgentError', kinds: ['protocol', 'version', 'closed', 'remote', 'output-limit', 'invalid-argument'] },
  AGENT_UNAVAILABLE: { owner: 'AgentUnavailableError', kinds: ['no-connection', 'not-ready'] },
  EXEC_TIMEOUT: { owner: 'ExecTimeoutError', kinds: ['expired'] },
  // @workervisor/cli
  CLI: {
    owner: 'CliError',
    kinds: ['unknown-flag', 'missing-value', 'invalid-value', 'duplicate-flag', 'conflict', 'requires', 'nothing-to-do', 'unexpected-argument', 'unknown-command', 'missing-argument'],
  },
} as const satisfies Record<string, { readonly owner: string; readonly kinds: readonly string[] }>;

/** A thrown value that is not a Workervisor error, turned into data (toErrorData). */
export const ERR_VMM_INTERNAL = 'ERR_VMM_INTERNAL';

export type ErrorPrefix = keyof typeof ERROR_CODES;
export type ErrorKind<P extends ErrorPrefix> = (typeof ERROR_CODES)[P]['kinds'][number];

/** The code of one failure: `errorCode('BUS', 'overlap') === 'ERR_VMM_BUS_OVERLAP'`. */
export function errorCode<P extends ErrorPrefix>(prefix: P, kind: ErrorKind<P>): string {
  return `ERR_VMM_${prefix}_${kind.replace(/-/g, '_').toUpperCase()}`;
}

/** Every code in the table, for documentation and the uniqueness test. */
export function allErrorCodes(): string[] {
  const codes: string[] = [ERR_VMM_INTERNAL];
  for (const [prefix, entry] of Object.entries(ERROR_CODES) as [ErrorPrefix, { kinds: readonly string[] }][]) {
    for (const kind of entry.kinds) codes.push(errorCode(prefix, kind as never));
  }
  return codes;
}
