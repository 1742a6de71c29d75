import { describe, expect, it } from 'vitest';
import { resolveMachineConfig } from '@workervisor/vmm-core';
import { CliError, explainConfigError, HELP, parseArgs, parseSize, REMOTE_HELP, type ParsedCli, type RunOptions } from './args.js';

const split = (line: string): string[] => (line === '' ? [] : line.split(' '));

function run(line: string | string[]): RunOptions {
  const parsed = parseArgs(typeof line === 'string' ? split(line) : line);
  if (parsed.kind !== 'run') throw new Error(`expected run, got ${parsed.kind}`);
  return parsed.options;
}

function fails(line: string | string[]): CliError {
  try {
    parseArgs(typeof line === 'string' ? split(line) : line);
  } catch (err) {
    if (err instanceof CliError) return err;
    throw err;
  }
  throw new Error(`expected a CliError for ${String(line)}`);
}

const M = 1024 * 1024;

describe('parseArgs: run', () => {
  it('builds a VmConfig-shaped object from boot flags', () => {
    expect(run(['--kernel', '/k/vmlinux', '--initramfs', '/k/initrd', '--cmdline', 'console=ttyS0 panic=1', '--cpus', '2', '--memory', '256M', '--serial', 'tty'])).toEqual({
      config: {
        payload: { kernel: '/k/vmlinux', initramfs: '/k/initrd', cmdline: 'console=ttyS0 panic=1' },
        cpus: { boot_vcpus: 2, max_vcpus: 2 },
        memory: { size: 256 * M },
        serial: { mode: 'Tty' },
      },
      noApi: false,
      reboot: 'exit',
      seccomp: { mode: 'enforce' },
    });
  });

  it('needs nothing but --kernel and leaves unset settings absent', () => {
    expect(run('--kernel /k')).toEqual({ config: { payload: { kernel: '/k' } }, noApi: false, reboot: 'exit', seccomp: { mode: 'enforce' } });
  });

  it.each<[string, Partial<RunOptions['config']>]>([
    ['--cpus 4', { cpus: { boot_vcpus: 4, max_vcpus: 4 } }],
    ['--cpus boot=2', { cpus: { boot_vcpus: 2, max_vcpus: 2 } }],
    ['--cpus boot=2,max=8', { cpus: { boot_vcpus: 2, max_vcpus: 8 } }],
    ['--cpus=boot=1,max=254', { cpus: { boot_vcpus: 1, max_vcpus: 254 } }],
    ['--memory 16M', { memory: { size: 16 * M } }],
    ['--memory size=1G', { memory: { size: 1024 * M } }],
    ['--memory=size=524288K', { memory: { size: 512 * M } }],
    ['--memory 134217728', { memory: { size: 128 * M } }],
    ['--memory 2g', { memory: { size: 2048 * M } }],
    ['--serial stdout', { serial: { mode: 'Tty' } }],
    ['--serial off', { serial: { mode: 'Off' } }],
    ['--serial null', { serial: { mode: 'Null' } }],
    ['--serial file=/tmp/a,b=c.log', { serial: { mode: 'File', file: '/tmp/a,b=c.log' } }],
    ['--serial=socket=/tmp/s.sock', { serial: { mode: 'Socket', socket: '/tmp/s.sock' } }],
    ['--console off', { console: { mode: 'Off' } }],
    ['--console tty --serial off', { console: { mode: 'Tty' }, serial: { mode: 'Off' } }],
    ['--console file=/tmp/hvc0.log', { console: { mode: 'File', file: '/tmp/hvc0.log' } }],
    ['--console=socket=/tmp/hvc,0.sock', { console: { mode: 'Socket', socket: '/tmp/hvc,0.sock' } }],
    ['--console socket=/tmp/c.sock --serial socket=/tmp/s.sock', { console: { mode: 'Socket', socket: '/tmp/c.sock' }, serial: { mode: 'Socket', socket: '/tmp/s.sock' } }],
    ['--rng src=/dev/urandom', { rng: { src: '/dev/urandom' } }],
    ['--rng /dev/random', { rng: { src: '/dev/random' } }],
    ['--rng src=/dev/urandom,iommu=off', { rng: { src: '/dev/urandom', iommu: false } }],
    ['--balloon 0', { balloon: { size: 0 } }],
    ['--balloon size=128M,deflate_on_oom=on,free_page_reporting=off,stats_polling_interval_s=5,id=b0', { balloon: { size: 128 << 20, deflate_on_oom: true, free_page_reporting: false, stats_polling_interval_s: 5, id: 'b0' } }],
    ['--net tap=wv0,mac=52:54:00:12:34:56,ip=10.0.2.1,mask=255.255.255.0', { net: [{ tap: 'wv0', mac: '52:54:00:12:34:56', ip: '10.0.2.1', mask: '255.255.255.0' }] }],
    ['--net tap0', { net: [{ tap: 'tap0' }] }],
    ['--net tap=a,host_mac=02:00:00:00:00:01,num_queues=2,queue_size=512,id=eth0 --net fd=3', { net: [{ tap: 'a', host_mac: '02:00:00:00:00:01', num_queues: 2, queue_size: 512, id: 'eth0' }, { fd: 3 }] }],
  ])('%s', (flags, config) => {
    expect(run(`--kernel /k ${flags}`).config).toEqual({ payload: { kernel: '/k' }, ...config });
  });

  it('takes --console with --config-file (a Firecracker file has no console section)', () => {
    expect(run('--config-file vm.json --console socket=/tmp/c.sock').config).toEqual({ console: { mode: 'Socket', socket: '/tmp/c.sock' } });
  });

  it('accepts --flag=VALUE, which lets a value start with "-"', () => {
    expect(run(['--kernel=/k', '--cmdline=-- init=/bin/sh']).config.payload).toEqual({ kernel: '/k', cmdline: '-- init=/bin/sh' });
  });

  it.each([
    ['--api-socket /tmp/a.sock', '/tmp/a.sock'],
    ['--api-socket path=/tmp/a.sock', '/tmp/a.sock'],
    ['--api-socket=path=/tmp/a.sock', '/tmp/a.sock'],
  ])('reads the API socket from %s', (line, socket) => {
    expect(run(line)).toEqual({ config: {}, apiSocket: socket, noApi: false, reboot: 'exit', seccomp: { mode: 'enforce' } });
  });

  it('reads the VMM options', () => {
    expect(run('--config-file vm.json --no-api --reboot restart -vv --log-file /tmp/wv.log --dump-acpi /tmp/acpi --serial file=/tmp/ttyS0')).toEqual({
      config: { serial: { mode: 'File', file: '/tmp/ttyS0' } },
      configFile: 'vm.json',
      noApi: true,
      logLevel: 'debug',
      logFile: '/tmp/wv.log',
      reboot: 'restart',
      dumpAcpiDir: '/tmp/acpi',
      seccomp: { mode: 'enforce' },
    });
  });

  it.each([
    ['', undefined],
    ['-v', 'info'],
    ['-vv', 'debug'],
    ['-v -v', 'debug'],
    ['-vvv', 'debug'],
  ] as const)('maps verbosity "%s" to %s (none: left to WORKERVISOR_LOG or a logger section)', (flags, level) => {
    expect(run(`--kernel /k ${flags}`.trim()).logLevel).toBe(level);
  });
});

describe('parseArgs: help and version', () => {
  it.each(['--help', '-h', '--kernel /k --help', '--kernal x --help'])('%s shows the help', (line) => {
    expect(parseArgs(split(line))).toEqual({ kind: 'help', text: HELP });
  });

  it.each(['--version', '-V'])('%s asks for the version', (line) => {
    expect(parseArgs(split(line))).toEqual({ kind: 'version' });
  });

  it('documents every flag in the help', () => {
    for (const flag of ['--kernel', '--initramfs', '--cmdline', '--cpus', '--memory', '--serial', '--console', '--rng', '--balloon', '--disk', '--net', '--api-socket', '--config-file', '--no-api', '--reboot', '--dump-acpi', '-vv', '--log-file', '--seccomp', '--seccomp-filter', 'seccompiler', '--help', '--version', 'remote']) {
      expect(HELP).toContain(flag);
    }
  });
});

describe('parseArgs: errors', () => {
  it.each<[string | string[], CliError['kind'], string]>([
    ['--kernel /k --cpus two', 'invalid-value', "--cpus two: 'two' is not a whole number (e.g. --cpus 2 or --cpus boot=2,max=4)"],
    ['--kernel /k --cpus -1', 'missing-value', '--cpus: missing value (expected --cpus boot=N[,max=M]; write --cpus=-1 if that is the value)'],
    ['--kernel /k --cpus=1.5', 'invalid-value', "--cpus 1.5: '1.5' is not a whole number (e.g. --cpus 2 or --cpus boot=2,max=4)"],
    ['--kernel /k --cpus max=4', 'invalid-value', '--cpus max=4: boot is required (e.g. --cpus boot=2,max=4)'],
    ['--kernel /k --cpus boot=2,topology=1:1:1:2', 'invalid-value', "--cpus boot=2,topology=1:1:1:2: unknown option 'topology' (accepted: boot=, max=)"],
    ['--kernel /k --cpus boot=2,boot=3', 'invalid-value', "--cpus boot=2,boot=3: option 'boot' is given twice"],
    ['--kernel /k --cpus boot=', 'invalid-value', "--cpus boot=: option 'boot' has no value (write boot=VALUE)"],
    ['--kernel /k --memory 1.5G', 'invalid-value', "--memory 1.5G: '1.5G' is not a size; use bytes or a K, M or G suffix (e.g. --memory 512M)"],
    ['--kernel /k --memory 512MB', 'invalid-value', "--memory 512MB: '512MB' is not a size; use bytes or a K, M or G suffix (e.g. --memory 512M)"],
    ['--kernel /k --memory 99999999999999999G', 'invalid-value', '--memory 99999999999999999G: too large'],
    ['--kernel /k --memory size=1G,shared=on', 'invalid-value', "--memory size=1G,shared=on: unknown option 'shared' (accepted: size=)"],
    ['--kernel /k --serial blah', 'invalid-value', '--serial blah: expected one of tty (or stdout), off, null, file=PATH, socket=PATH'],
    ['--kernel /k --serial file=', 'missing-value', '--serial file=: empty path (write --serial file=PATH)'],
    ['--kernel /k --console hvc0', 'invalid-value', '--console hvc0: expected one of off, tty, file=PATH, socket=PATH'],
    ['--kernel /k --console socket=', 'missing-value', '--console socket=: empty path (write --console socket=PATH)'],
    ['--kernel /k --rng iommu=on', 'invalid-value', '--rng iommu=on: src=PATH is required (e.g. --rng src=/dev/urandom)'],
    ['--kernel /k --rng src=/dev/urandom,iommu=yes', 'invalid-value', '--rng src=/dev/urandom,iommu=yes: iommu must be on or off'],
    ['--kernel /k --balloon deflate_on_oom=on', 'invalid-value', '--balloon deflate_on_oom=on: size=SIZE is required (e.g. --balloon size=128M; 0 starts it empty)'],
    ['--kernel /k --balloon 1T', 'invalid-value', "--balloon 1T: '1T' is not a size; use bytes or a K, M or G suffix"],
    ['--kernel /k --balloon size=0,deflate_on_oom=yes', 'invalid-value', '--balloon size=0,deflate_on_oom=yes: deflate_on_oom must be on or off'],
    ['--kernel /k --balloon size=0,stats_polling_interval_s=-1', 'invalid-value', '--balloon size=0,stats_polling_interval_s=-1: stats_polling_interval_s must be a whole number of seconds'],
    ['--config-file vm.json --balloon 0', 'conflict', '--balloon conflicts with --config-file: the config file sets balloon; drop --balloon or edit the file'],
    ['--kernel /k --rng src=/dev/urandom,size=1', 'invalid-value', "--rng src=/dev/urandom,size=1: unknown option 'size' (accepted: src=, iommu=)"],
    ['--rng src=/dev/urandom --api-socket /tmp/a', 'requires', '--rng needs --kernel PATH (or --config-file FILE): without one no VM is booted at start, and a VM created through the API takes its settings from vm.create'],
    ['--config-file vm.json --rng src=/dev/urandom', 'conflict', '--rng conflicts with --config-file: the config file sets entropy; drop --rng or edit the file'],
    ['--kernel /k --net tap=t0,vhost_user=on', 'invalid-value', "--net tap=t0,vhost_user=on: unknown option 'vhost_user' (accepted: tap=, ip=, mask=, mac=, host_mac=, num_queues=, queue_size=, id=, fd=)"],
    ['--kernel /k --net tap=t0,queue_size=big', 'invalid-value', '--net tap=t0,queue_size=big: queue_size must be a non-negative integer'],
    ['--net tap=t0 --api-socket /tmp/a', 'requires', '--net needs --kernel PATH (or --config-file FILE): without one no VM is booted at start, and a VM created through the API takes its settings from vm.create'],
    ['--config-file vm.json --net tap=t0', 'conflict', '--net conflicts with --config-file: the config file sets network-interfaces; drop --net or edit the file'],
    ['--api-socket fd=3', 'invalid-value', '--api-socket fd=3: passing the socket as fd= is not supported; use --api-socket PATH'],
    ['--kernel /k --reboot never', 'invalid-value', '--reboot never: expected exit (a guest reset ends the VMM) or restart (it reboots the VM)'],
    ['--kernel /k --no-api=yes', 'invalid-value', "--no-api takes no value (got '--no-api=yes')"],
    ['--kernal /k', 'unknown-flag', 'unknown flag --kernal (did you mean --kernel?)'],
    ['--kernel /k --mem 1G', 'unknown-flag', 'unknown flag --mem (did you mean --memory?)'],
    ['--kernel /k --api-sock=/x', 'unknown-flag', 'unknown flag --api-sock (did you mean --api-socket?)'],
    ['-kernel /k', 'unknown-flag', 'unknown flag -kernel (did you mean --kernel?)'],
    ['--kernel /k --frobnicate', 'unknown-flag', 'unknown flag --frobnicate (see workervisor --help)'],
    ['--kernel', 'missing-value', '--kernel: missing value (expected --kernel PATH)'],
    ['--kernel --cpus 2', 'missing-value', '--kernel: missing value (expected --kernel PATH; write --kernel=--cpus if that is the value)'],
    ['--kernel=', 'missing-value', '--kernel: empty value (expected --kernel PATH)'],
    ['--kernel /k --memory', 'missing-value', '--memory: missing value (expected --memory size=SIZE)'],
    ['--kernel /k --kernel /j', 'duplicate-flag', '--kernel is given more than once; keep one'],
    ['--kernel /k --no-api --no-api', 'duplicate-flag', '--no-api is given more than once; keep one'],
    ['--kernel /k /extra', 'unexpected-argument', "unexpected argument '/extra' (see workervisor --help)"],
    ['--api-socket /s remote ping', 'unexpected-argument', "unexpected argument 'remote' ('remote' must come first: workervisor remote --api-socket PATH <command>)"],
    ['--kernel /k --no-api --api-socket /s', 'conflict', '--no-api conflicts with --api-socket: drop --api-socket to run without an API server, or --no-api to serve one'],
    ['--config-file vm.json --kernel /k', 'conflict', '--kernel conflicts with --config-file: the config file sets boot-source.kernel_image_path; drop --kernel or edit the file'],
    ['--config-file vm.json --memory 1G', 'conflict', '--memory conflicts with --config-file: the config file sets machine-config.mem_size_mib; drop --memory or edit the file'],
    ['--api-socket /s --cmdline quiet', 'requires', '--cmdline needs --kernel PATH (or --config-file FILE): without one no VM is booted at start, and a VM created through the API takes its settings from vm.create'],
    ['--cpus 2', 'requires', '--cpus needs --kernel PATH (or --config-file FILE): without one no VM is booted at start, and a VM created through the API takes its settings from vm.create'],
    ['--no-api', 'nothing-to-do', '--no-api needs --kernel PATH or --config-file FILE: without an API nothing could create the VM'],
    ['', 'nothing-to-do', 'nothing to do: pass --kernel PATH to boot a VM, --config-file FILE to boot from a Firecracker config, or --api-socket PATH to wait for API requests (see --help)'],
    ['-vv --log-file /tmp/x', 'nothing-to-do', 'nothing to do: pass --kernel PATH to boot a VM, --config-file FILE to boot from a Firecracker config, or --api-socket PATH to wait for API requests (see --help)'],
  ])('%s', (line, kind, message) => {
    const err = fails(line);
    expect(err.kind).toBe(kind);
    expect(err.message).toBe(message);
    expect(err.code).toBe(`ERR_VMM_CLI_${kind.replace(/-/g, '_').toUpperCase()}`);
  });
});

describe('parseArgs: remote', () => {
  it.each<[string, ParsedCli]>([
    ['remote --api-socket /s ping', { kind: 'remote', socket: '/s', command: { name: 'ping' } }],
    ['remote ping --api-socket=/s', { kind: 'remote', socket: '/s', command: { name: 'ping' } }],
    ['remote --api-socket path=/s info', { kind: 'remote', socket: '/s', command: { name: 'info' } }],
    ['remote --api-socket /s create vm.json', { kind: 'remote', socket: '/s', command: { name: 'create', file: 'vm.json' } }],
    ['remote --api-socket /s create -', { kind: 'remote', socket: '/s', command: { name: 'create', file: '-' } }],
    ['remote --api-socket /s power-button', { kind: 'remote', socket: '/s', command: { name: 'power-button' } }],
    ['remote --api-socket /s shutdown-vmm', { kind: 'remote', socket: '/s', command: { name: 'shutdown-vmm' } }],
    ['remote --api-socket /s snapshot file:///snap', { kind: 'remote', socket: '/s', command: { name: 'snapshot', destinationUrl: 'file:///snap' } }],
    ['remote --api-socket /s restore source_url=file:///snap', { kind: 'remote', socket: '/s', command: { name: 'restore', sourceUrl: 'file:///snap' } }],
    ['remote --api-socket /s remove-device id=_disk0', { kind: 'remote', socket: '/s', command: { name: 'remove-device', id: '_disk0' } }],
    ['remote --help', { kind: 'help', text: REMOTE_HELP }],
  ])('%s', (line, expected) => {
    expect(parseArgs(split(line))).toEqual(expected);
  });

  it.each(['boot', 'pause', 'resume', 'reboot', 'shutdown', 'delete', 'counters', 'nmi'])('accepts %s', (name) => {
    expect(parseArgs(['remote', '--api-socket', '/s', name])).toEqual({ kind: 'remote', socket: '/s', command: { name } });
  });

  it.each<[string, CliError['kind'], string]>([
    ['remote ping', 'missing-argument', 'remote: --api-socket PATH is required (workervisor remote --api-socket PATH <command>)'],
    ['remote --api-socket /s', 'missing-argument', 'remote: missing command (one of ping, boot, info, pause, resume, reboot, power-button, shutdown, delete, counters, shutdown-vmm, nmi, create, snapshot, restore, remove-device)'],
    ['remote --api-socket /s create', 'missing-argument', 'remote create: missing FILE (workervisor remote --api-socket PATH create FILE)'],
    ['remote --api-socket /s boot now', 'unexpected-argument', "remote boot: unexpected argument 'now'"],
    ['remote --api-socket /s bot', 'unknown-command', 'remote: unknown command \'bot\' (did you mean boot?)'],
    ['remote --api-socket /s frobnicate', 'unknown-command', "remote: unknown command 'frobnicate' (one of ping, boot, info, pause, resume, reboot, power-button, shutdown, delete, counters, shutdown-vmm, nmi, create, snapshot, restore, remove-device)"],
    ['remote --api-socket', 'missing-value', '--api-socket: missing value (expected --api-socket PATH)'],
    ['remote --api-socket /s --api-socket /t ping', 'duplicate-flag', '--api-socket is given more than once; keep one'],
    ['remote --api-sock /s ping', 'unknown-flag', 'unknown flag --api-sock (did you mean --api-socket?)'],
  ])('%s', (line, kind, message) => {
    const err = fails(line);
    expect(err.kind).toBe(kind);
    expect(err.message).toBe(message);
  });
});

describe('parseSize', () => {
  it.each([
    ['4096', 4096],
    ['4K', 4096],
    ['3M', 3 * M],
    ['2G', 2048 * M],
    ['12', 12],
    ['', undefined],
    ['1T', undefined],
    ['-1M', undefined],
  ])('%s -> %s', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });
});

describe('--disk', () => {
  const run = (argv: string[]) => {
    const r = parseArgs(['--kernel', '/k', ...argv]);
    if (r.kind !== 'run') throw new Error('not a run');
    return r.options.config;
  };

  it('takes one disk per flag, in order, with readonly and id', () => {
    expect(run(['--disk', 'path=/a.img', '--disk', 'path=/b.img,readonly=on,id=data']).disks).toEqual([
      { path: '/a.img' },
      { path: '/b.img', readonly: true, id: 'data' },
    ]);
  });

  it('accepts a bare path like --disk /a.img', () => {
    expect(run(['--disk', '/a.img']).disks).toEqual([{ path: '/a.img' }]);
  });

  it('names a bad option or value', () => {
    expect(() => run(['--disk', 'path=/a,readonly=maybe'])).toThrow(/readonly must be on or off/);
    expect(() => run(['--disk', 'path=/a,cache=none'])).toThrow(/unknown option 'cache'/);
    expect(() => run(['--disk', 'readonly=on'])).toThrow(/path=PATH is required/);
  });

  it('needs --kernel and conflicts with --config-file', () => {
    expect(() => parseArgs(['--api-socket', '/s', '--disk', 'path=/a'])).toThrow(/--disk needs --kernel/);
    expect(() => parseArgs(['--config-file', '/f.json', '--disk', 'path=/a'])).toThrow(/--disk conflicts with --config-file/);
  });
});

describe('ranges and combinations: checked once, by the resolver, in terms of the flags', () => {
  const HOST = 64 * 1024 ** 3;
  /** What the user sees: the CLI's own error, or the resolver's led by the flag. */
  function message(line: string): string {
    let options: RunOptions;
    try {
      options = run(line);
    } catch (err) {
      return `parse: ${(err as Error).message}`;
    }
    try {
      resolveMachineConfig({ ...options.config, payload: options.config.payload ?? {} }, HOST);
    } catch (err) {
      const shown = explainConfigError(err, options);
      expect(shown).toBeInstanceOf(CliError);
      expect((shown as CliError).cause).toBe(err);
      return (shown as Error).message;
    }
    return 'accepted';
  }

  it.each([
    ['--kernel /k --cpus 0', '--cpus: cpus.boot_vcpus 0 must be between 1 and 254'],
    ['--kernel /k --cpus 255', '--cpus: cpus.boot_vcpus 255 must be between 1 and 254'],
    ['--kernel /k --cpus boot=300', '--cpus: cpus.boot_vcpus 300 must be between 1 and 254'],
    ['--kernel /k --cpus boot=4,max=2', '--cpus: cpus.max_vcpus 2 must be at least cpus.boot_vcpus 4'],
    ['--kernel /k --cpus boot=2,max=4', '--cpus: cpus.max_vcpus 4 != boot_vcpus 2 (vCPU hotplug) is not supported by this VMM yet'],
    ['--kernel /k --memory 8M', '--memory: memory.size 8388608 bytes (8M) is below the minimum of 16M'],
    ['--kernel /k --memory size=8M', '--memory: memory.size 8388608 bytes (8M) is below the minimum of 16M'],
    ['--kernel /k --memory 16777217', '--memory: memory.size 16777217 bytes is not a multiple of 4K'],
    ['--kernel /k --memory 1024G', "--memory: memory.size 1099511627776 bytes (1024G) exceeds the host's 68719476736 bytes of RAM"],
    ['--kernel /k --serial pty', '--serial: serial mode Pty (a pseudo-terminal) is not supported by this VMM yet; use Tty, File or Socket'],
    ['--kernel /k --console tty', '--console: console mode Tty and serial mode Tty (the default when serial is omitted) cannot share the terminal; set serial to Off, Null, File or Socket, or the console to File or Socket'],
    ['--kernel /k --console tty --serial stdout', '--console: console mode Tty and serial mode Tty (the default when serial is omitted) cannot share the terminal; set serial to Off, Null, File or Socket, or the console to File or Socket'],
    ['--kernel /k --console pty', '--console: console mode Pty (a pseudo-terminal) is not supported by this VMM yet; use Tty, File or Socket'],
    ['--kernel /k --console null', '--console: console mode Null (a virtio-console that discards its output) is not supported by this VMM yet; use Off for no virtio-console'],
    ['--kernel /k --rng src=/dev/urandom,iommu=on', '--rng: rng.iommu (there is no virtual IOMMU) is not supported by this VMM yet'],
    ['--kernel /k --memory 64M --balloon 64M', '--balloon: balloon.size 67108864 must be less than memory.size 67108864'],
    ['--kernel /k --vsock cid=2,socket=/tmp/v.sock', "--vsock: vsock.cid 2 must be from 3 to 4294967294 (0-2 are reserved, and Linux's CIDs are 32-bit)"],
    ['--kernel /k --disk /nonexistent/d.img', '--disk: disks[0].path /nonexistent/d.img cannot be used (ENOENT)'],
    ['--kernel /k --cpus 2 --memory 16M --serial off --console tty', 'accepted'],
  ])('%s', (line, shown) => {
    expect(message(line)).toBe(shown);
  });

  it('leaves errors about keys a --config-file set, and errors without a key, as they are', () => {
    const fromFile = run('--config-file vm.json');
    const err = new CliError('invalid-value', 'x');
    expect(explainConfigError(err, fromFile)).toBe(err);
    try {
      resolveMachineConfig({ payload: { kernel: '/k' }, memory: { size: 8 << 20 } }, HOST);
    } catch (e) {
      expect(explainConfigError(e, fromFile)).toBe(e);
    }
    try {
      resolveMachineConfig({ payload: { kernel: '/k' }, serial: { mode: 'Pty' } }, HOST);
    } catch (e) {
      expect((explainConfigError(e, fromFile) as Error).message).toMatch(/^--serial: serial mode Pty/);
    }
  });
});
