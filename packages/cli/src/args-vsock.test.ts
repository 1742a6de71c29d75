import { describe, expect, it } from 'vitest';
import { CliError, HELP, parseArgs, type RunOptions } from './args.js';

const run = (line: string): RunOptions => {
  const parsed = parseArgs(line.split(' '));
  if (parsed.kind !== 'run') throw new Error(`expected run, got ${parsed.kind}`);
  return parsed.options;
};

const fails = (line: string): CliError => {
  try {
    parseArgs(line.split(' '));
  } catch (err) {
    if (err instanceof CliError) return err;
    throw err;
  }
  throw new Error('expected a CliError');
};

describe('parseArgs: --vsock', () => {
  it.each([
    ['--vsock cid=3,socket=/tmp/v.sock', { cid: 3, socket: '/tmp/v.sock' }],
    ['--vsock socket=/tmp/v.sock,cid=42,id=vsock0', { cid: 42, socket: '/tmp/v.sock', id: 'vsock0' }],
    ['--vsock=cid=3,socket=/tmp/v.sock,iommu=off', { cid: 3, socket: '/tmp/v.sock', iommu: false }],
    // iommu=on parses; the VMM refuses it by name (there is no virtual IOMMU).
    ['--vsock cid=3,socket=/s,iommu=on', { cid: 3, socket: '/s', iommu: true }],
  ])('%s', (flags, vsock) => {
    expect(run(`--kernel /k ${flags}`).config).toEqual({ payload: { kernel: '/k' }, vsock });
  });

  it.each([
    ['--kernel /k --vsock cid=3', 'invalid-value', '--vsock cid=3: cid=N and socket=PATH are both required (e.g. --vsock cid=3,socket=/tmp/vsock.sock)'],
    ['--kernel /k --vsock /tmp/v.sock', 'invalid-value', '--vsock /tmp/v.sock: cid=N and socket=PATH are both required (e.g. --vsock cid=3,socket=/tmp/vsock.sock)'],
    ['--kernel /k --vsock cid=three,socket=/s', 'invalid-value', '--vsock cid=three,socket=/s: cid must be a whole number (3 or more)'],
    ['--kernel /k --vsock cid=-1,socket=/s', 'invalid-value', '--vsock cid=-1,socket=/s: cid must be a whole number (3 or more)'],
    ['--kernel /k --vsock cid=3,socket=/s,iommu=yes', 'invalid-value', '--vsock cid=3,socket=/s,iommu=yes: iommu must be on or off'],
    ['--kernel /k --vsock cid=3,socket=/s,pci_segment=1', 'invalid-value', "--vsock cid=3,socket=/s,pci_segment=1: unknown option 'pci_segment' (accepted: cid=, socket=, id=, iommu=)"],
    ['--kernel /k --vsock cid=3,socket=/a --vsock cid=4,socket=/b', 'duplicate-flag', '--vsock is given more than once; keep one'],
    ['--vsock cid=3,socket=/s --api-socket /tmp/a', 'requires', '--vsock needs --kernel PATH (or --config-file FILE): without one no VM is booted at start, and a VM created through the API takes its settings from vm.create'],
    ['--config-file vm.json --vsock cid=3,socket=/s', 'conflict', '--vsock conflicts with --config-file: the config file sets vsock; drop --vsock or edit the file'],
  ])('%s', (line, kind, message) => {
    const err = fails(line);
    expect(err.kind).toBe(kind);
    expect(err.message).toBe(message);
  });

  it('is in the help', () => {
    expect(HELP).toContain('--vsock cid=N,socket=PATH');
  });
});
