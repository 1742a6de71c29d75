// The guest agent (packages/agent) in a real Linux guest: /init starts it on vsock port 52 and
// the host reaches it through the VMM's hybrid vsock socket. Commands, files, a timeout and
// concurrent commands, each cross-checked over the serial console where it can be. One boot.
// QEMU's vhost-vsock is not hybrid, so this has no QEMU reference.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { AGENT_VSOCK_PORT, AgentClient, AgentError, ExecTimeoutError, connectHybridVsock } from '@workervisor/agent';
import { describeWhen, guestCheck, guestPowerOff, linuxTest, linuxTierStatus, waitReady } from '../../framework/index.js';

/** Connects to the agent, retrying while /init has not started it yet (the VMM answers RST). */
async function connectAgent(socketPath: string): Promise<AgentClient> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await AgentClient.connect(await connectHybridVsock(socketPath, AGENT_VSOCK_PORT));
    } catch (err) {
      if (attempt >= 60) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

describeWhen(linuxTierStatus(), 'Debian cloud kernel: the guest agent over vsock', () => {
  linuxTest(
    'exec, files, exit codes, a timeout and 10 concurrent commands through the agent',
    async ({ spawn, vmm, defer }) => {
      const dir = mkdtempSync(join(tmpdir(), 'workervisor-agent-'));
      defer(() => rmSync(dir, { recursive: true, force: true }));
      const socketPath = join(dir, 'v.sock');
      const vm = spawn({ vsock: { cid: 3, socket: socketPath } });
      await waitReady(vm, `${vmm.name} agent`);
      const agent = await connectAgent(socketPath);
      defer(() => agent.close());

      // The ready signal names the kernel the console reports.
      expect(agent.info.release).toBe(await guestCheck(vm, 'uname -r'));
      const uname = await agent.exec(['uname', '-r']);
      expect(uname).toMatchObject({ exitCode: 0, stdout: `${agent.info.release}\n`, stderr: '' });
      expect((await agent.exec('cat /proc/cpuinfo')).stdout).toMatch(/^processor\s*: 0$/m);

      // A file written through the agent is the file the console sees, and reads back intact.
      const data = randomBytes(2 * 1024 * 1024 + 3);
      await agent.mkdir('/tmp/agent-test');
      await agent.writeFile('/tmp/agent-test/blob', data);
      const sha = createHash('sha256').update(data).digest('hex');
      expect(await guestCheck(vm, 'sha256sum /tmp/agent-test/blob | cut -d" " -f1')).toBe(sha);
      expect(createHash('sha256').update(await agent.readFile('/tmp/agent-test/blob')).digest('hex')).toBe(sha);

      // A failing command's exit code and stderr; a program that does not exist.
      expect(await agent.exec('echo to-stderr >&2; exit 7')).toMatchObject({ exitCode: 7, stdout: '', stderr: 'to-stderr\n' });
      await expect(agent.exec(['/no/such/program'])).rejects.toBeInstanceOf(AgentError);

      // A command killed at its timeout.
      const err = await agent.exec('echo started; sleep 30', { timeoutMs: 1000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ExecTimeoutError);
      expect((err as ExecTimeoutError).stdout).toBe('started\n');

      // Ten commands at once on one connection, each with its own environment.
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => agent.exec('sleep 1; echo $N', { env: { N: String(i) } })));
      expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 10 }, (_, i) => `${i}\n`));
      const rtt = await agent.ping();
      console.log(`agent: ping round trip ${rtt.toFixed(2)} ms, exec of uname ${uname.durationMs.toFixed(1)} ms (${vmm.name})`);

      agent.close();
      expect(await guestPowerOff(vm)).toEqual({ code: 0, signal: null });
    },
    { reference: false },
  );
});
