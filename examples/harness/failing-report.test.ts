// Runs failing.check.ts in its own vitest and checks that the failure report carries the guest's
// console (a line the guest wrote to it) and the commands the test ran.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('a failing VM test shows the guest console and its last commands', async () => {
  const child = spawn(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--root', root, '--config', 'examples/harness/vitest.check.config.ts'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  expect(code, out).toBe(1);
  expect(out).toContain('fails on purpose after a command');
  expect(out).toContain('--- workervisor: the guest console (last lines) ---');
  expect(out).toContain('marker-from-the-guest');
  expect(out).toMatch(/\$ false {2}-> exit 1/);
}, 300_000);
