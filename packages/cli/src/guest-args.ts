// `workervisor run [flags] -- CMD [ARG...]` and `workervisor image default`: boot an image with the
// guest agent, run one command in it, exit with its status. Pure parsing: argv in, options or a
// CliError out (args.ts does the VMM's own flags).
import { CliError, parseSize } from './args.js';

export interface GuestRunOptions {
  /** The program and its arguments, run in the guest through the agent (no shell unless you ask). */
  command: string[];
  kernel?: string;
  initramfs?: string;
  /** An image directory (vmlinuz + initramfs.cpio.gz), instead of --kernel/--initramfs. */
  image?: string;
  cmdline?: string;
  cpus?: number;
  /** Guest RAM in bytes. */
  memoryBytes?: number;
  /** Kill the command after this many ms (exit 124, as timeout(1)). */
  timeoutMs?: number;
  /** How long to wait for the guest's agent. */
  bootTimeoutMs?: number;
  /** Show the guest's console on stderr. */
  console: boolean;
}

export interface ImageBuildOptions {
  /** More Debian packages (their dependencies come with them). */
  packages: string[];
  out?: string;
  force: boolean;
}

export type ParsedGuestCli =
  | { kind: 'guest-run'; options: GuestRunOptions }
  | { kind: 'image-default'; image?: string }
  | { kind: 'image-build'; options: ImageBuildOptions }
  | { kind: 'help'; text: string };

export const RUN_HELP = `workervisor run: boot a guest image with its agent, run one command in it, exit with its status

Usage: workervisor run [FLAGS] [--] CMD [ARG...]
  --image DIR          image directory (vmlinuz + initramfs.cpio.gz); default $WORKERVISOR_IMAGE,
                       else the image scripts/setup.sh builds (workervisor image default prints it)
  --kernel PATH        a kernel instead of the image's (with --initramfs)
  --initramfs PATH
  --cmdline STR        kernel command line (default: console=ttyS0 quiet reboot=k panic=-1 ...)
  --cpus N             vCPUs (default 1)
  --memory SIZE        guest RAM (default 512M)
  --timeout MS         kill the command after MS ms; exit status 124
  --boot-timeout MS    how long to wait for the guest's agent (default 120000)
  --console            copy the guest console to stderr

CMD runs in the guest as an argv (no shell: write sh -c '...' for one), with this process's
stdin when it is not a terminal. Exit status: CMD's own, 128+N when signal N ended it, 124 on
--timeout, 1 when the guest or its agent failed, 2 for a bad flag.

workervisor image default [--image DIR]   print the default image's kernel= and initramfs= paths
workervisor image build [--packages PKG,PKG...] [--out DIR] [--force]
                     build an image from Debian packages: Debian's cloud kernel, a busybox
                     initramfs with the guest agent and the virtio modules, plus PKG and its
                     dependencies (files only: maintainer scripts do not run). Cached by content
                     (default DIR: the default image without --packages, else
                     ~/.cache/workervisor/images/HASH); prints dir=, kernel= and initramfs=.
                     Needs a Debian/Ubuntu host with apt and this checkout's e2e/linux/build.sh.
`;

const VALUE_FLAGS = ['kernel', 'initramfs', 'image', 'cmdline', 'cpus', 'memory', 'timeout', 'boot-timeout'] as const;
type ValueFlag = (typeof VALUE_FLAGS)[number];

function positiveInt(flag: string, text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) throw new CliError('invalid-value', `--${flag}: '${text}' is not a positive whole number`);
  return n;
}

/** `workervisor run ...` (argv after `run`). */
export function parseGuestRun(argv: readonly string[]): ParsedGuestCli {
  if (argv[0] === '--help' || argv[0] === '-h') return { kind: 'help', text: RUN_HELP };
  const values = new Map<ValueFlag, string>();
  let showConsole = false;
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-')) break; // the command starts here
    if (arg === '--console') {
      showConsole = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = (eq < 0 ? arg.slice(2) : arg.slice(2, eq)) as ValueFlag;
    if (!arg.startsWith('--') || !VALUE_FLAGS.includes(name)) {
      throw new CliError('unknown-flag', `run: unknown flag '${eq < 0 ? arg : arg.slice(0, eq)}' (flags: ${VALUE_FLAGS.map((f) => `--${f}`).join(', ')}, --console; then -- CMD [ARG...])`);
    }
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '') throw new CliError('missing-value', `run: --${name} needs a value`);
    if (values.has(name)) throw new CliError('duplicate-flag', `run: --${name} given twice`);
    values.set(name, value);
  }
  const command = argv.slice(i);
  if (command.length === 0) throw new CliError('missing-argument', "run: missing the command to run in the guest (workervisor run -- sh -c 'echo hi')");
  if (values.has('image') && (values.has('kernel') || values.has('initramfs'))) throw new CliError('conflict', 'run: --image conflicts with --kernel/--initramfs');
  const options: GuestRunOptions = { command, console: showConsole };
  const kernel = values.get('kernel');
  if (kernel !== undefined) options.kernel = kernel;
  const initramfs = values.get('initramfs');
  if (initramfs !== undefined) options.initramfs = initramfs;
  const image = values.get('image');
  if (image !== undefined) options.image = image;
  const cmdline = values.get('cmdline');
  if (cmdline !== undefined) options.cmdline = cmdline;
  const cpus = values.get('cpus');
  if (cpus !== undefined) options.cpus = positiveInt('cpus', cpus);
  const memory = values.get('memory');
  if (memory !== undefined) {
    const bytes = parseSize(memory);
    if (bytes === undefined) throw new CliError('invalid-value', `run: --memory '${memory}' is not a size (512M, 1G, or bytes)`);
    options.memoryBytes = bytes;
  }
  const timeout = values.get('timeout');
  if (timeout !== undefined) options.timeoutMs = positiveInt('timeout', timeout);
  const bootTimeout = values.get('boot-timeout');
  if (bootTimeout !== undefined) options.bootTimeoutMs = positiveInt('boot-timeout', bootTimeout);
  return { kind: 'guest-run', options };
}

/** `workervisor image ...` (argv after `image`). */
export function parseImage(argv: readonly string[]): ParsedGuestCli {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h') return { kind: 'help', text: RUN_HELP };
  if (sub === 'default') {
    if (rest.length === 0) return { kind: 'image-default' };
    if (rest.length === 2 && rest[0] === '--image') return { kind: 'image-default', image: rest[1]! };
    throw new CliError('unexpected-argument', `image default: unexpected argument '${rest[0]!}'`);
  }
  if (sub === 'build') return { kind: 'image-build', options: parseImageBuild(rest) };
  throw new CliError(sub === undefined ? 'missing-argument' : 'unknown-command', `image: ${sub === undefined ? 'missing command' : `unknown command '${sub}'`} (workervisor image default | build)`);
}

/** `workervisor image build ...` (argv after `build`). */
function parseImageBuild(argv: readonly string[]): ImageBuildOptions {
  const options: ImageBuildOptions = { packages: [], force: false };
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--force') {
      options.force = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg : arg.slice(0, eq);
    if (name !== '--packages' && name !== '--out') throw new CliError(arg.startsWith('-') ? 'unknown-flag' : 'unexpected-argument', `image build: ${arg.startsWith('-') ? 'unknown flag' : 'unexpected argument'} '${name}' (flags: --packages PKG,PKG..., --out DIR, --force)`);
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '') throw new CliError('missing-value', `image build: ${name} needs a value`);
    if (seen.has(name)) throw new CliError('duplicate-flag', `image build: ${name} given twice`);
    seen.add(name);
    if (name === '--out') options.out = value;
    else options.packages = value.split(',').map((p) => p.trim()).filter((p) => p !== '');
  }
  return options;
}
