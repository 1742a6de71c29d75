// A test that fails on purpose, run only by failing-report.test.ts (not a .test.ts file, so no
// suite picks it up): its report must show the guest console and the last commands.
import { expect } from 'vitest';
import { vmTest } from '@workervisor/testing';

const test = vmTest();

test('fails on purpose after a command', async ({ vm }) => {
  await vm.exec('echo marker-from-the-guest > /dev/ttyS0; echo done');
  expect((await vm.exec('false')).exitCode).toBe(0);
});
