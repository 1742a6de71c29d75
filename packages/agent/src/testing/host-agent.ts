// Runs the real agent binary on the host over a Unix socket, for tests: the same program the guest
// runs, minus vsock. Skipped (with a reason) where gcc cannot build it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAgent } from '../binary.js';
import { AgentClient } from '../client.js';

/** Why the agent cannot be built here, or undefined when it can. */
export function hostAgentUnavailable(): string | undefined {
  const gcc = spawnSync('gcc', ['--version'], { stdio: 'ignore' });
  return gcc.status === 0 ? undefined : 'gcc is not installed, so the guest agent cannot be built';
}

export interface HostAgent {
  readonly dir: string;
  readonly socketPath: string;
  readonly child: ChildProcess;
  connect(): Promise<AgentClient>;
  stop(): Promise<void>;
}

export async function startHostAgent(): Promise<HostAgent> {
  const binary = buildAgent();
  const dir = mkdtempSync(join(tmpdir(), 'wv-agent-'));
  const socketPath = join(dir, 'agent.sock');
  const child = spawn(binary, ['--unix', socketPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  const deadline = Date.now() + 5000;
  while (!existsSync(socketPath)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the agent did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return {
    dir,
    socketPath,
    child,
    connect: () => AgentClient.connect(connect(socketPath)),
    stop: async () => {
      if (child.exitCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
