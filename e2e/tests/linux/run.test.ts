// `workervisor run -- CMD` end to end: the CLI boots the default image (e2e/linux/out, whose init
// starts the guest agent), pipes its stdin to the command, prints the command's output and exits
// with the command's status. One boot; Workervisor only (the command is Workervisor's own).
import { spawn } from 'node:child_process';
import { expect, it } from 'vitest';
import { cliPath, describeWhen, linuxOutDir, linuxTierStatus } from '../../framework/index.js';

describeWhen(linuxTierStatus(), 'workervisor run -- CMD in the default image', () => {
  it("prints the command's output, passes stdin, and exits with its status", async () => {
    const child = spawn(process.execPath, [cliPath, 'run', '--image', linuxOutDir, '--', 'sh', '-c', 'cat; echo hi; echo to-stderr >&2; exit 3'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.end('from-host;');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect({ code, stdout }, stderr).toEqual({ code: 3, stdout: 'from-host;hi\n' });
    expect(stderr).toContain('to-stderr\n');
    console.log(`workervisor run: exit ${code}, stdout ${JSON.stringify(stdout)}`);
  }, 300_000);
});
