// GuestAgent against the real agent binary on the host, behind a fake hybrid-vsock socket that
// answers CONNECT like the VMM does (and refuses the first attempts, like a guest still booting).
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentUnavailableError } from '@workervisor/agent';
import { hostAgentUnavailable, startHostAgent, type HostAgent } from '@workervisor/agent/testing';
import { GuestAgent } from './guest.js';

const skip = hostAgentUnavailable();

describe.skipIf(skip !== undefined)('GuestAgent', () => {
  let agent: HostAgent;
  let proxy: Server;
  let dir: string;
  let refuse = 3;
  const links: Socket[] = [];

  beforeAll(async () => {
    agent = await startHostAgent();
    dir = mkdtempSync(join(tmpdir(), 'wv-guest-'));
    proxy = createServer((client) => {
      client.once('data', (line: Buffer) => {
        if (line.toString() !== 'CONNECT 52\n' || refuse-- > 0) {
          client.destroy(); // what the VMM does on the guest's RST
          return;
        }
        client.write('OK 1073741824\n');
        const upstream = connect(agent.socketPath);
        links.push(upstream);
        client.pipe(upstream).pipe(client);
        upstream.on('error', () => client.destroy());
        client.on('error', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
    });
    await new Promise<void>((r) => proxy.listen(join(dir, 'v.sock'), r));
  });

  afterAll(async () => {
    await new Promise((r) => proxy?.close(r));
    await agent?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('retries while the guest is not ready, then runs commands and moves files', async () => {
    const guest = new GuestAgent({ socketPath: join(dir, 'v.sock'), readyTimeoutMs: 10_000 });
    expect((await guest.waitReady()).version).toBe(1);
    expect(refuse).toBeLessThan(0);
    expect(await guest.exec('echo hi')).toMatchObject({ exitCode: 0, stdout: 'hi\n' });
    await guest.files.write(join(agent.dir, 'f'), 'content');
    expect((await guest.files.read(join(agent.dir, 'f'))).toString()).toBe('content');
    // The connection breaks (the VM's vsock reset): the next call connects again.
    for (const l of links) l.destroy();
    await new Promise((r) => setTimeout(r, 50));
    expect((await guest.exec(['true'])).exitCode).toBe(0);
    guest.close();
    await expect(guest.exec('true')).rejects.toBeInstanceOf(AgentUnavailableError);
  });

  it('gives up with AgentUnavailableError when nothing answers', async () => {
    const guest = new GuestAgent({ socketPath: join(dir, 'nothing.sock'), readyTimeoutMs: 1000 });
    await expect(guest.waitReady()).rejects.toMatchObject({ code: 'ERR_VMM_AGENT_UNAVAILABLE_NOT_READY' });
  });
});
