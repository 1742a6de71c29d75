// The client against the real agent binary, run on the host over a Unix socket.
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentClient } from './client.js';
import { AgentError, ExecTimeoutError } from './errors.js';
import { hostAgentUnavailable, startHostAgent, type HostAgent } from './testing/host-agent.js';

const skip = hostAgentUnavailable();
if (skip !== undefined) console.warn(`skipping the agent client tests: ${skip}`);

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(skip !== undefined)('AgentClient with the real agent', () => {
  let agent: HostAgent;
  let client: AgentClient;

  beforeAll(async () => {
    agent = await startHostAgent();
    client = await agent.connect();
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await agent?.stop();
  });

  it("reports the kernel release and machine in its ready signal", () => {
    expect(client.info).toMatchObject({ version: 1, release: release(), machine: 'x86_64' });
    expect(client.info.uptimeMs).toBeGreaterThan(0);
  });

  it('runs a shell command and returns its exit code, stdout and stderr', async () => {
    const r = await client.exec('echo hi; echo oops >&2; exit 3');
    expect(r).toMatchObject({ exitCode: 3, signal: null, stdout: 'hi\n', stderr: 'oops\n' });
    expect(r.durationMs).toBeGreaterThan(0);
  });

  it('passes argv, env and cwd', async () => {
    const r = await client.exec(['sh', '-c', 'printf "%s|%s|" "$FOO" "$1"; pwd', 'sh', 'two words'], { env: { FOO: 'bar' }, cwd: agent.dir });
    expect(r.stdout).toBe(`bar|two words|${agent.dir}\n`);
  });

  it('feeds stdin, small and large (backpressure through the agent)', async () => {
    expect((await client.exec('cat', { stdin: 'abc' })).stdout).toBe('abc');
    const big = randomBytes(5 * 1024 * 1024).toString('base64');
    const r = await client.exec('sha256sum | cut -d" " -f1', { stdin: big });
    expect(r.stdout.trim()).toBe(sha(Buffer.from(big)));
  });

  it('streams large output without losing bytes', async () => {
    const r = await client.exec('head -c 20000000 /dev/zero | tr "\\0" x');
    expect(r.stdout.length).toBe(20_000_000);
  });

  it('refuses a program that does not exist, with the errno and the guest message', async () => {
    const err = (await client.exec(['/nonexistent/prog']).catch((e: unknown) => e)) as AgentError;
    expect(err).toBeInstanceOf(AgentError);
    expect(err).toMatchObject({ kind: 'remote', code: 'ERR_VMM_AGENT_REMOTE', details: { errno: 'ENOENT' } });
    expect(err.guestMessage).toBe('cannot run /nonexistent/prog: No such file or directory');
  });

  it('refuses a working directory that does not exist', async () => {
    const err = (await client.exec('true', { cwd: '/nonexistent-dir' }).catch((e: unknown) => e)) as AgentError;
    expect(err.guestMessage).toBe('cannot change to directory /nonexistent-dir: No such file or directory');
  });

  it('kills a command at its timeout and keeps the output it wrote', async () => {
    const start = Date.now();
    const err = (await client.exec('echo before; sleep 10', { timeoutMs: 300 }).catch((e: unknown) => e)) as ExecTimeoutError;
    expect(err).toBeInstanceOf(ExecTimeoutError);
    expect(err.stdout).toBe('before\n');
    expect(Date.now() - start).toBeLessThan(5000);
  });

  it('sends a signal to a spawned command', async () => {
    const p = client.spawn('sleep 10');
    const pid = await p.started;
    expect(alive(pid)).toBe(true);
    p.kill('SIGTERM');
    expect(await p.exited).toEqual({ exitCode: null, signal: 'SIGTERM', timedOut: false });
  });

  it('streams a spawned command with stdin', async () => {
    const p = client.spawn(['tr', 'a-z', 'A-Z'], { stdin: true });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stdin.write('hello ');
    p.stdin.end('world');
    expect((await p.exited).exitCode).toBe(0);
    expect(out).toBe('HELLO WORLD');
  });

  it('runs 10 commands concurrently on one connection', async () => {
    const start = Date.now();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => client.exec(`sleep 0.5; echo ${i}`)));
    expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 10 }, (_, i) => `${i}\n`));
    // Sequentially this would take 5 s.
    expect(Date.now() - start).toBeLessThan(4000);
  });

  it('does not wait for a background child that keeps the output pipes open', async () => {
    const start = Date.now();
    const r = await client.exec('sleep 5 & echo done');
    expect(r.stdout).toBe('done\n');
    expect(Date.now() - start).toBeLessThan(3000);
  });

  it('writes a file and reads it back, in several chunks', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const path = join(agent.dir, 'sub/dir/blob');
    await client.mkdir(join(agent.dir, 'sub/dir'));
    await client.writeFile(path, data, { mode: 0o600 });
    expect(sha(readFileSync(path))).toBe(sha(data));
    expect(sha(await client.readFile(path))).toBe(sha(data));
    expect(await client.stat(path)).toMatchObject({ size: data.length, isFile: true, isDirectory: false, mode: 0o100600 });
    expect((await client.stat(agent.dir)).isDirectory).toBe(true);
  });

  it('reads a /proc file (regular, size 0 in stat)', async () => {
    expect((await client.readFile('/proc/self/status')).toString()).toContain('Name:');
  });

  it('refuses to read a FIFO instead of blocking on it', async () => {
    const fifo = join(agent.dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const err = (await client.readFile(fifo).catch((e: unknown) => e)) as AgentError;
    expect(err.guestMessage).toBe(`${fifo} is not a regular file`);
    expect(await client.ping()).toBeGreaterThan(0);
  });

  it('reports a missing file with its errno', async () => {
    const err = (await client.readFile('/nonexistent').catch((e: unknown) => e)) as AgentError;
    expect(err).toMatchObject({ kind: 'remote', details: { errno: 'ENOENT' } });
  });

  it('kills the commands of a connection that closes', async () => {
    const other = await agent.connect();
    const marker = join(agent.dir, 'marker');
    const p = other.spawn(`sleep 1; touch ${marker}`);
    const pid = await p.started;
    other.close();
    await expect(p.exited).rejects.toMatchObject({ kind: 'closed' });
    await new Promise((r) => setTimeout(r, 1500));
    expect(alive(pid)).toBe(false);
    expect(existsSync(marker)).toBe(false);
  });
});
