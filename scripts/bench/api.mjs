// API figures through the SDK (undici over the Unix socket): vmm.ping round trip and throughput,
// next to a baseline measured in the same run: a bare node:http server in a child process, the
// same SDK client, answering the same path. The ratio is what Workervisor's API path costs on top.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, launch } from '@workervisor/sdk';
import { hrUs, round, summary } from './stats.mjs';

async function roundTrips(ping, samples) {
  for (let i = 0; i < 100; i++) await ping();
  const rtt = [];
  for (let i = 0; i < samples; i++) {
    const t = hrUs();
    await ping();
    rtt.push(hrUs() - t);
  }
  return rtt;
}

async function throughput(ping, total, concurrency) {
  let next = 0;
  const t0 = hrUs();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < total) await ping();
    }),
  );
  return round(total / ((hrUs() - t0) / 1e6), 0);
}

async function baseline(samples, concurrency) {
  const socket = join(mkdtempSync(join(tmpdir(), 'wv-bench-')), 'base.sock');
  const server = `require('node:http').createServer((q, s) => { s.setHeader('content-type', 'application/json'); s.end('{"version":"0"}'); }).listen(${JSON.stringify(socket)}, () => console.log('up'))`;
  const child = spawn(process.execPath, ['-e', server], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve) => child.stdout.once('data', resolve));
  const client = connect(socket);
  const ping = () => client.ping();
  try {
    const rtt = await roundTrips(ping, samples);
    return { ping_roundtrip: summary(rtt), requests_per_s: await throughput(ping, samples * 2, concurrency) };
  } finally {
    await client.close();
    child.kill();
  }
}

export async function benchApi({ samples = 2_000, concurrency = 16 } = {}) {
  const base = await baseline(samples, concurrency);
  const vm = await launch({ serial: 'off' });
  try {
    const ping = () => vm.ping();
    const rtt = await roundTrips(ping, samples);
    const ours = { ping_roundtrip: summary(rtt), requests_per_s: await throughput(ping, samples * 2, concurrency) };
    return {
      workervisor: ours,
      bare_node_http_baseline: base,
      ratio_p50_ours_over_baseline: round(ours.ping_roundtrip.p50_us / base.ping_roundtrip.p50_us),
      concurrency,
    };
  } finally {
    await vm.close();
  }
}
