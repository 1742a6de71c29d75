import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from './client.js';
import { snapshotUrl, snapshotVm, snapshotVsockSocket, type SnapshotTarget } from './snapshot.js';
import { startFakeVmm, type FakeVmm } from './testing/fake-vmm.js';

/** A SnapshotTarget in state `state` that records the calls it gets. */
function target(state: 'Running' | 'Paused', snapshotFails = false): SnapshotTarget & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    info: async () => ({ state, config: {} }) as never,
    pause: async () => void calls.push('pause'),
    resume: async () => void calls.push('resume'),
    sendSnapshot: async (c) => {
      calls.push(`snapshot ${c.destination_url}`);
      if (snapshotFails) throw new Error('disk full');
    },
  };
}

describe('snapshotVm', () => {
  it('sends the snapshot alone by default, leaving a running VM to the VMM to refuse', async () => {
    const t = target('Running');
    await snapshotVm(t, '/snaps/a');
    expect(t.calls).toEqual(['snapshot file:///snaps/a']);
  });

  it('with pause, pauses a running VM for the snapshot and resumes it after', async () => {
    const t = target('Running');
    await snapshotVm(t, '/snaps/a', { pause: true });
    expect(t.calls).toEqual(['pause', 'snapshot file:///snaps/a', 'resume']);
  });

  it('with pause, leaves a paused VM paused', async () => {
    const t = target('Paused');
    await snapshotVm(t, { destination_url: 'file:///x' }, { pause: true });
    expect(t.calls).toEqual(['snapshot file:///x']);
  });

  it('resumes the VM when the snapshot fails and rethrows the failure', async () => {
    const t = target('Running', true);
    await expect(snapshotVm(t, '/snaps/a', { pause: true })).rejects.toThrow('disk full');
    expect(t.calls).toEqual(['pause', 'snapshot file:///snaps/a', 'resume']);
  });
});

describe('snapshot URLs and configs', () => {
  it('makes an absolute file:// URL, percent-encoding what needs it', () => {
    expect(snapshotUrl('/a b/c')).toBe('file:///a%20b/c');
    expect(snapshotUrl('rel')).toBe(`file://${join(process.cwd(), 'rel')}`);
    expect(() => snapshotUrl('')).toThrow('must not be empty');
  });

  it("reads the vsock socket of a snapshot's config and refuses a directory without one", () => {
    expect(() => snapshotVsockSocket('/nonexistent-snapshot')).toThrow(/cannot read the snapshot's config \/nonexistent-snapshot\/config.json/);
  });
});

describe('VmmClient.snapshot', () => {
  let fake: FakeVmm | undefined;
  afterEach(async () => {
    await fake?.close();
  });

  it('sends a directory as a file:// destination_url, and pauses around it with pause', async () => {
    fake = await startFakeVmm();
    const client = connect(fake.socketPath);
    const dir = mkdtempSync(join(tmpdir(), 'wv-snapurl-'));
    try {
      await client.snapshot(dir);
      await client.snapshot(dir, { pause: true });
      expect(fake.requests.map((r) => `${r.method} ${r.path} ${r.body}`)).toEqual([
        `PUT /api/v1/vm.snapshot {"destination_url":"file://${dir}"}`,
        'GET /api/v1/vm.info ',
        'PUT /api/v1/vm.pause ',
        `PUT /api/v1/vm.snapshot {"destination_url":"file://${dir}"}`,
        'PUT /api/v1/vm.resume ',
      ]);
    } finally {
      await client.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
