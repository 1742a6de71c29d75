// `workervisor` (run mode): resolve the VM config from flags or a Firecracker config file, start the
// API server unless --no-api, boot, and live until the guest or an API call ends the VMM.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startApiServer, type ApiServerHandle, type VmConfig } from '@workervisor/api/core';
import { configureLogging, createLogger } from '@workervisor/devices';
import { Vmm } from '@workervisor/vmm-core';
import { CliError, type RunOptions } from './args.js';
import { INSPECTOR_RISK } from './no-inspector.js';

const log = createLogger('cli');

/** The VmConfig to boot at start, or undefined to wait for vm.create. */
async function initialConfig(o: RunOptions): Promise<{ config: VmConfig; metricsPath?: string } | undefined> {
  if (o.configFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(o.configFile, 'utf8');
    } catch (err) {
      throw new CliError('invalid-value', `--config-file ${o.configFile}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new CliError('invalid-value', `--config-file ${o.configFile}: not valid JSON (${(err as Error).message})`);
    }
    const { translateFirecrackerConfig } = await import('@workervisor/api');
    const t = translateFirecrackerConfig(json);
    if (t.logger !== undefined) configureLogging(t.logger.level === 'off' ? 'error' : t.logger.level, t.logger.path ?? o.logFile);
    // Firecracker files have no serial section: COM1 on the terminal unless --serial says otherwise.
    const config: VmConfig = { ...t.config, serial: o.config.serial ?? { mode: 'Tty' } };
    return { config, ...(t.metrics === undefined ? {} : { metricsPath: t.metrics.path }) };
  }
  if (o.config.payload?.kernel === undefined) return undefined;
  // vm.create applies the spec's defaults; COM1 on the terminal unless --serial says otherwise.
  return { config: { ...(o.config as VmConfig), serial: o.config.serial ?? { mode: 'Tty' } } };
}

/** Runs the VMM; resolves with the process exit code. */
export async function runVmm(o: RunOptions, env: { inspectorWasOpen?: boolean } = {}): Promise<number> {
  configureLogging(o.logLevel, o.logFile);
  if (env.inspectorWasOpen === true) log.warn(`closed the Node inspector (--inspect or NODE_OPTIONS): ${INSPECTOR_RISK}`);
  const initial = await initialConfig(o);
  let finish!: (code: number) => void;
  const done = new Promise<number>((resolve) => (finish = resolve));
  const vmm = new Vmm({
    reboot: o.reboot,
    onExit: (code) => finish(code),
    logLevel: o.logLevel,
    ...(o.logFile === undefined ? {} : { logFile: o.logFile }),
    ...(o.dumpAcpiDir === undefined
      ? {}
      : {
          onMachine: (m) => {
            mkdirSync(o.dumpAcpiDir!, { recursive: true });
            for (const t of m.parts.acpi.tables) writeFileSync(join(o.dumpAcpiDir!, `${t.signature}.dat`), t.bytes);
          },
        }),
  });

  const onSignal = (signal: NodeJS.Signals) => {
    log.info(`${signal}: stopping the VM`);
    finish(signal === 'SIGTERM' ? 0 : 130);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // disableInspector's listener keeps SIGUSR1 from opening the inspector; this one only says so.
  const onUsr1 = () => log.warn('SIGUSR1 ignored: the Node inspector is disabled in the VMM');
  process.on('SIGUSR1', onUsr1);

  let server: ApiServerHandle | undefined;
  try {
    if (o.apiSocket !== undefined && !o.noApi) server = await startApiServer({ socketPath: o.apiSocket, backend: vmm, logLevel: o.logLevel });
    if (initial !== undefined) {
      await vmm.create(initial.config);
      await vmm.boot();
    }
    const code = await done;
    const counters = vmm.counters();
    if (initial?.metricsPath !== undefined && counters !== undefined) {
      writeFileSync(initial.metricsPath, JSON.stringify({ utc_timestamp_ms: Date.now(), ...counters }) + '\n', { flag: 'a' });
    }
    return code;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('SIGUSR1', onUsr1);
    await server?.close();
    await vmm.close();
  }
}
