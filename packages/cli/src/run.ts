// `workervisor` (run mode): resolve the VM config from flags or a Firecracker config file, start the
// API server unless --no-api, boot, and live until the guest or an API call ends the VMM.
import { closeSync, writeFileSync, mkdirSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { describeJsonError, startApiServer, type ApiServerHandle, type VmConfig } from '@workervisor/api/core';
import { appendNonBlocking, configureLogging, createLogger, logLevel, openOutputFile, readHostFile, type LogLevel } from '@workervisor/base';
import { configRules, defaultThreadFilters, execLandlocked, installProcessFilter, runtimeRules, takeLandlockMarker, userRules, loadThreadFilters, SECCOMP_INSTALLER_URL, Vmm, type ThreadFilters } from '@workervisor/vmm-core';
import { CliError, explainConfigError, type RunOptions } from './args.js';
import { INSPECTOR_RISK } from './no-inspector.js';

const log = createLogger('cli');

/** The log file configureLogging was last given (a Landlocked VMM must be allowed to write it). */
let logFile: string | undefined;
/** A Firecracker config is a few KiB; this is the API's request body cap. */
const CONFIG_FILE_MAX_BYTES = 1024 * 1024;

const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

/** Where the log goes and from what level; `file` undefined is stderr. */
export interface LogSettings {
  level: LogLevel;
  file?: string;
}

/**
 * The log's level and file, each from the first that sets it: the command line (-v/-vv,
 * --log-file), then a Firecracker config's `logger` section (level, log_path), then the
 * environment (WORKERVISOR_LOG, WORKERVISOR_LOG_FILE), else warn on stderr. The result is the main
 * thread's, and the vCPU and API workers are started with it (they write to the same fd).
 */
export function resolveLogging(o: Pick<RunOptions, 'logLevel' | 'logFile'>, logger: { level: LogLevel | 'off'; path?: string } | undefined, env: NodeJS.ProcessEnv): LogSettings {
  const fromEnv = env['WORKERVISOR_LOG'];
  if (fromEnv !== undefined && fromEnv !== '' && !(LOG_LEVELS as readonly string[]).includes(fromEnv)) {
    throw new CliError('invalid-value', `WORKERVISOR_LOG=${fromEnv}: expected one of ${LOG_LEVELS.join(', ')}`);
  }
  // Firecracker's Off: only errors, which end the VMM anyway.
  const fromLogger = logger === undefined ? undefined : logger.level === 'off' ? 'error' : logger.level;
  const level = o.logLevel ?? fromLogger ?? ((fromEnv || undefined) as LogLevel | undefined) ?? 'warn';
  const file = o.logFile ?? logger?.path ?? (env['WORKERVISOR_LOG_FILE'] || undefined);
  return file === undefined ? { level } : { level, file };
}

/** The VmConfig to boot at start, or undefined to wait for vm.create. */
async function initialConfig(o: RunOptions): Promise<{ config: VmConfig; metricsPath?: string } | undefined> {
  if (o.configFile !== undefined) {
    let text: string;
    try {
      text = readHostFile(o.configFile, { what: '--config-file', maxBytes: CONFIG_FILE_MAX_BYTES, limit: 'the API body limit' }).toString('utf8');
    } catch (err) {
      throw new CliError('invalid-value', (err as Error).message);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      // V8's message quotes the text, and the file may be a secret: a position only, no cause.
      throw new CliError('invalid-value', `--config-file ${o.configFile}: not valid JSON (${describeJsonError(text)})`);
    }
    const { translateFirecrackerConfig } = await import('@workervisor/api');
    const t = translateFirecrackerConfig(json);
    if (t.logger !== undefined) {
      const l = resolveLogging(o, t.logger, process.env);
      configureLogging(l.level, l.file);
      logFile = l.file;
    }
    // Firecracker files have no serial or console section: COM1 on the terminal unless --serial
    // says otherwise, and a virtio-console only with --console.
    const config: VmConfig = { ...t.config, ...(o.config.serial === undefined ? {} : { serial: o.config.serial }), ...(o.config.console === undefined ? {} : { console: o.config.console }) };
    return { config, ...(t.metrics === undefined ? {} : { metricsPath: t.metrics.path }) };
  }
  if (o.config.payload?.kernel === undefined) return undefined;
  // The resolver falls back to the defaults (COM1 on the terminal unless --serial says otherwise).
  return { config: { ...o.config, payload: o.config.payload } };
}

/**
 * Loads --seccomp-filter (or the default filters) and puts the vmm filter on every thread, before the API or any vCPU worker
 * starts (each adds its own on top); undefined without filters.
 */
function startSeccomp(o: RunOptions): ThreadFilters | undefined {
  if (o.seccomp === undefined) return undefined;
  let filters: ThreadFilters;
  try {
    filters = o.seccomp.filterFile === undefined ? defaultThreadFilters(o.seccomp.mode) : loadThreadFilters(o.seccomp.filterFile, o.seccomp.mode);
  } catch (err) {
    const message = (err as Error).message;
    if (o.seccomp.filterFile === undefined) throw new CliError('invalid-value', message);
    throw new CliError('invalid-value', message.includes('--seccomp-filter') ? message : `--seccomp-filter ${o.seccomp.filterFile}: ${message}`);
  }
  installProcessFilter(filters);
  log.info('seccomp filters installed', { mode: o.seccomp.mode, file: o.seccomp.filterFile ?? 'default' });
  return filters;
}

/**
 * `--landlock`: the first time, restricts the main thread to the config's files and execs the VMM
 * again (execLandlocked: the only way every Node thread ends up in the domain); in the exec'd image,
 * logs the rules and goes on. Before seccomp, whose default filters allow no execve.
 */
function enterLandlock(o: RunOptions, config: VmConfig | undefined, metricsFile: string | undefined): void {
  const rules = [
    ...configRules((config ?? {}) as Parameters<typeof configRules>[0], { apiSocket: o.noApi ? undefined : o.apiSocket, logFile, metricsFile, configFile: o.configFile, seccompFilterFile: o.seccomp?.filterFile, dumpAcpiDir: o.dumpAcpiDir }),
    ...userRules(o.landlock!.rules),
    ...runtimeRules(),
  ];
  if (takeLandlockMarker()) {
    log.info('Landlock ruleset applied', { rules: rules.length, paths: rules.filter((r) => r.why !== 'a file Node maps (shared library)').map((r) => `${r.path}:${r.access}`).join(' ') });
    return;
  }
  execLandlocked(rules);
}

/** Signals that stop the VMM in order (VM stopped, API socket removed) rather than by their default action. */
export const STOP_SIGNALS = ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGUSR2'] as const;

/** The exit status after a stop signal: 128 + its number, as a shell reports a process it killed. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + osConstants.signals[signal];
}

/** Runs the VMM; resolves with the process exit code. */
export async function runVmm(o: RunOptions, env: { inspectorWasOpen?: boolean } = {}): Promise<number> {
  const logging = resolveLogging(o, undefined, process.env);
  configureLogging(logging.level, logging.file);
  logFile = logging.file;
  if (env.inspectorWasOpen === true) log.warn(`closed the Node inspector (--inspect or NODE_OPTIONS): ${INSPECTOR_RISK}`);
  let finish!: (code: number) => void;
  const done = new Promise<number>((resolve) => (finish = resolve));

  // Installed first, so a signal during start-up is an orderly stop too.
  let stopping: number | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping !== undefined) {
      // A second signal while the VM stops: the 'exit' hook still takes every vCPU out of KVM_RUN.
      log.warn(`${signal} while stopping: exiting now`);
      process.exit(stopping);
    }
    stopping = signalExitCode(signal);
    log.info(`${signal}: stopping the VM`);
    finish(stopping);
  };
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  // disableInspector's listener keeps SIGUSR1 from opening the inspector; this one only says so.
  const onUsr1 = () => log.warn('SIGUSR1 ignored: the Node inspector is disabled in the VMM');
  process.on('SIGUSR1', onUsr1);

  let server: ApiServerHandle | undefined;
  let vmm: Vmm | undefined;
  try {
    const initial = await initialConfig(o);
    if (o.landlock !== undefined) enterLandlock(o, initial?.config, initial?.metricsPath);
    const seccomp = startSeccomp(o);
    vmm = new Vmm({
      reboot: o.reboot,
      onExit: (code) => finish(code),
      // As configured above (a Firecracker logger section may have changed it); the workers
      // write to the log file this thread opened.
      logLevel: logLevel(),
      ...(seccomp === undefined ? {} : { vcpuSeccompFilter: seccomp.programs.vcpu }),
      ...(o.dumpAcpiDir === undefined
        ? {}
        : {
            onMachine: (m) => {
              mkdirSync(o.dumpAcpiDir!, { recursive: true });
              for (const t of m.parts.acpi.tables) writeFileSync(join(o.dumpAcpiDir!, `${t.signature}.dat`), t.bytes);
            },
          }),
    });
    if (stopping === undefined && o.apiSocket !== undefined && !o.noApi) server = await startApiServer({ socketPath: o.apiSocket, backend: vmm, logLevel: logLevel(), ...(seccomp === undefined ? {} : { seccomp: { program: seccomp.programs.api, installerUrl: SECCOMP_INSTALLER_URL } }) });
    if (stopping === undefined && initial !== undefined) {
      await vmm.create(initial.config).catch((err: unknown) => {
        throw explainConfigError(err, o);
      });
      await vmm.boot();
    }
    const code = await done;
    const counters = vmm.counters();
    if (initial?.metricsPath !== undefined && counters !== undefined) {
      // Firecracker's metrics_path is often a FIFO: opened and written without blocking, 0600.
      const out = openOutputFile(initial.metricsPath, 'metrics file');
      appendNonBlocking(out.fd, Buffer.from(JSON.stringify({ utc_timestamp_ms: Date.now(), ...counters }) + '\n'));
      if (out.owned) closeSync(out.fd);
    }
    return code;
  } finally {
    await server?.close();
    await vmm?.close();
    for (const s of STOP_SIGNALS) process.off(s, onSignal);
    process.off('SIGUSR1', onUsr1);
  }
}
