// The guest agent's own costs, measured with the real agent binary on the host over a Unix socket
// (no VM: the protocol, the agent's loop and its fork/exec), each against what Node does alone in
// the same run: exec of `true` vs child_process.execFile('true'), file write+read through the
// agent vs fs.writeFile/readFile of the same bytes. The in-guest figures (vsock in the nested KVM)
// are printed by e2e/tests/linux/agent.test.ts.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startHostAgent } from '@workervisor/agent/testing';
import { hrUs, round, summary } from './stats.mjs';

const run = promisify(execFile);

async function timeEach(n, fn) {
  const samples = [];
  for (let i = 0; i < n; i++) {
    const t0 = hrUs();
    await fn();
    samples.push(hrUs() - t0);
  }
  return summary(samples);
}

export async function benchAgent({ execs = 200, pings = 2_000, fileMiB = 64 } = {}) {
  const agent = await startHostAgent();
  const client = await agent.connect();
  try {
    const viaAgent = await timeEach(execs, () => client.exec(['true']));
    const viaNode = await timeEach(execs, () => run('true'));
    const ping = await timeEach(pings, () => client.ping());
    const data = randomBytes(fileMiB << 20);
    const path = join(agent.dir, 'blob');
    let t0 = hrUs();
    await client.writeFile(path, data);
    const back = await client.readFile(path);
    const agentUs = hrUs() - t0;
    if (!back.equals(data)) throw new Error('the file read back through the agent differs');
    t0 = hrUs();
    writeFileSync(path, data);
    readFileSync(path);
    const fsUs = hrUs() - t0;
    const mibPerS = (us) => round((2 * fileMiB) / (us / 1e6), 1);
    return {
      exec_true: viaAgent,
      node_execfile_true: viaNode,
      ping: ping,
      file_write_read_mib_s: { agent: mibPerS(agentUs), node_fs: mibPerS(fsUs), size_mib: fileMiB },
      ratios: {
        exec_agent_over_execfile_p50: round(viaAgent.p50_us / viaNode.p50_us),
        file_agent_over_fs_time: round(fsUs > 0 ? agentUs / fsUs : 0),
      },
    };
  } finally {
    client.close();
    await agent.stop();
  }
}
