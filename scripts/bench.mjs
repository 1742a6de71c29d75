// `npm run bench`: prints JSON figures measured in one run on this machine. Timings here are only
// meaningful as ratios taken in the same run (DESIGN.md "The machine").
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { benchAgent } from './bench/agent.mjs';
import { benchApi } from './bench/api.mjs';
import { benchExits } from './bench/exits.mjs';
import { benchGuestExits } from './bench/guest-exits.mjs';
import { benchInProcess } from './bench/in-process.mjs';
import { benchKick } from './bench/kick.mjs';
import { benchLinuxBoot } from './bench/linux-boot.mjs';
import { benchLinuxRestore } from './bench/linux-restore.mjs';
import { benchNet } from './bench/net.mjs';
import { benchVsock } from './bench/vsock.mjs';
import { benchSnapshot } from './bench/snapshot.mjs';
import { benchStartup } from './bench/startup.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const guest = (name) => `${root}e2e/guests/out/${name}`;
for (const g of ['hello.elf', 'counter.elf', 'pio-bench.elf', 'scratch-loop.elf']) {
  if (!existsSync(guest(g))) {
    console.error(`bench: ${guest(g)} is missing; run \`npm run guests\` first`);
    process.exit(1);
  }
}

const only = process.argv[2];
const result = { date: new Date().toISOString(), node: process.version, host: { pvm: existsSync('/sys/module/kvm_pvm') } };
if (!only || only === 'exits') result.pio_exit = await benchExits(guest('pio-bench.elf'));
if (!only || only === 'guest-exits') result.guest_port_write = await benchGuestExits(`${root}packages/cli/bin/workervisor.js`, guest('scratch-loop.elf'));
if (!only || only === 'kick') result.kick = await benchKick(guest('counter.elf'));
if (!only || only === 'startup') result.startup = await benchStartup(`${root}packages/cli/bin/workervisor.js`, guest('hello.elf'));
if (!only || only === 'api') result.api = await benchApi();
if (!only || only === 'in-process') result.in_process = await benchInProcess(guest('hello.elf'));
if (!only || only === 'agent') result.agent = await benchAgent();
if (!only || only === 'snapshot') result.snapshot = await benchSnapshot(guest('counter.elf'));
if (!only || only === 'linux-boot') result.linux_boot = await benchLinuxBoot();
if (!only || only === 'linux-restore') result.linux_restore = await benchLinuxRestore();
if (!only || only === 'vsock') result.vsock = await benchVsock(Number(process.env['WORKERVISOR_BENCH_VSOCK_MIB'] ?? 1));
if (!only || only === 'net') result.net = await benchNet(Number(process.env['WORKERVISOR_BENCH_NET_MIB'] ?? 64));
console.log(JSON.stringify(result, null, 2));
