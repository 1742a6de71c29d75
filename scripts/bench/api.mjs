// API figures through the SDK (undici over the Unix socket): vmm.ping round trip and throughput.
import { launch } from '@workervisor/sdk';
import { hrUs, round, summary } from './stats.mjs';

export async function benchApi({ samples = 2_000, concurrency = 16 } = {}) {
  const vm = await launch({ serial: 'off' });
  try {
    for (let i = 0; i < 100; i++) await vm.ping();
    const rtt = [];
    for (let i = 0; i < samples; i++) {
      const t = hrUs();
      await vm.ping();
      rtt.push(hrUs() - t);
    }
    const total = samples * 2;
    let next = 0;
    const t0 = hrUs();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next++ < total) await vm.ping();
      }),
    );
    const seconds = (hrUs() - t0) / 1e6;
    return { ping_roundtrip: summary(rtt), ping_requests_per_s: round(total / seconds, 0), concurrency };
  } finally {
    await vm.close();
  }
}
