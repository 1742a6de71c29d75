// The `workervisor` command: parse, then run the VMM or a `remote` API call. Every failure is one
// line on stderr and a non-zero exit, never a stack trace (set WORKERVISOR_DEBUG=1 for those).
import { VERSION } from '@workervisor/vmm-core';
import { CliError, parseArgs } from './args.js';
import { runVmm } from './run.js';

/** The message of err and of each cause, joined: "cannot boot: KVM_CREATE_VM failed with EPERM". */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e !== undefined && parts.length < 5; e = (e as { cause?: unknown }).cause) {
    const msg = e instanceof Error ? e.message : String(e);
    if (!parts.some((p) => p.includes(msg))) parts.push(msg);
    if (!(e instanceof Error)) break;
  }
  return parts.join(': ');
}

/** `workervisor run -- CMD` and `workervisor image ...`, loaded on demand (they bring the SDK). */
async function guestCommand(argv: readonly string[]): Promise<number> {
  const { parseGuestRun, parseImage } = await import('./guest-args.js');
  const parsed = argv[0] === 'run' ? parseGuestRun(argv.slice(1)) : parseImage(argv.slice(1));
  if (parsed.kind === 'help') {
    process.stdout.write(parsed.text);
    return 0;
  }
  if (parsed.kind === 'image-default') {
    const { findImage } = await import('@workervisor/sdk');
    const image = findImage(parsed.image);
    process.stdout.write(`kernel=${image.kernel}\ninitramfs=${image.initramfs}\n`);
    return 0;
  }
  if (parsed.kind === 'image-build') {
    const { runImageBuild } = await import('./image-build.js');
    return runImageBuild(parsed.options);
  }
  const { runInGuest } = await import('./guest-run.js');
  return runInGuest(parsed.options);
}

export interface MainOptions {
  /** disableInspector() found the Node inspector open and closed it (logged once the log is set up). */
  inspectorWasOpen?: boolean;
}

/** `workervisor seccompiler ...`: compile a filter file, print nothing on success (as seccompiler-bin). */
async function seccompilerCommand(argv: readonly string[]): Promise<number> {
  const { parseSeccompiler, runSeccompiler } = await import('./seccompiler.js');
  const parsed = parseSeccompiler(argv);
  if (parsed.kind === 'help') {
    process.stdout.write(parsed.text);
    return 0;
  }
  runSeccompiler(parsed.options);
  return 0;
}

export async function main(argv: readonly string[], options: MainOptions = {}): Promise<number> {
  try {
    if (argv[0] === 'run' || argv[0] === 'image') return await guestCommand(argv);
    if (argv[0] === 'seccompiler') return await seccompilerCommand(argv.slice(1));
    const parsed = parseArgs(argv);
    switch (parsed.kind) {
      case 'help':
        process.stdout.write(parsed.text.endsWith('\n') ? parsed.text : parsed.text + '\n');
        return 0;
      case 'version':
        process.stdout.write(`workervisor ${VERSION}\n`);
        return 0;
      case 'remote': {
        // Loaded on demand: the SDK brings undici, ~190 ms of start-up a booting VMM does not need.
        const { runRemote } = await import('./remote.js');
        return await runRemote({ socket: parsed.socket, command: parsed.command });
      }
      case 'run':
        return await runVmm(parsed.options, { inspectorWasOpen: options.inspectorWasOpen === true });
    }
  } catch (err) {
    if (process.env.WORKERVISOR_DEBUG === '1') console.error(err);
    process.stderr.write(`workervisor: ${describeError(err)}\n`);
    return err instanceof CliError ? 2 : 1;
  }
}
