// virtio-net throughput each way and ping round-trip time, Workervisor vs QEMU-KVM's virtio-net
// (vhost off: QEMU's own userspace device, the same design as ours) on the same tap, same guest,
// same run. Needs a real /dev/kvm: on a nested-PVM host benchNet() runs this file inside the
// nested runner and parses its JSON. By hand: `node scripts/bench/net.mjs [MiB] [rounds]`
// (inside L1: `npm run nested -- node scripts/bench/net.mjs 64`).
import { fileURLToPath } from 'node:url';
import { benchInNested } from './in-nested.mjs';
import { median, round } from './stats.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
// The framework's vitest-free modules only.
const dist = `${root}e2e/dist/framework`;
const loadFramework = async () => ({
  ...(await import(`${dist}/linux-vmm.js`)),
  ...(await import(`${dist}/linux.js`)),
  ...(await import(`${dist}/guest-shell.js`)),
  ...(await import(`${dist}/guest-net.js`)),
});
const MARK = 'NET-BENCH-JSON ';
const HOST_IP = '10.0.2.1';
const GUEST_IP = '10.0.2.2';
const CHUNK = 16 << 20;

async function runOnce(fw, vmm, mib) {
  const tap = `wvb${process.pid % 10000}`;
  const removeTap = fw.makeTap(tap, `${HOST_IP}/24`);
  const vm = vmm.spawn({ cpus: 1, memoryMiB: 256, net: { tap, mac: '52:54:00:12:34:56' } });
  try {
    await fw.waitReady(vm, `${vmm.name} net bench`);
    await fw.guestCheck(vm, `ip link set eth0 up && ip addr add ${GUEST_IP}/24 dev eth0`);
    await fw.guestCheck(vm, `ping -c 2 -W 5 ${HOST_IP}`, 120_000); // ARP and warm-up
    const rtt = await fw.guestPingRtt(vm, HOST_IP, 20);
    const bytes = mib << 20;
    const up = await fw.guestToHost(vm, { hostIp: HOST_IP, port: 5001, chunkBytes: Math.min(CHUNK, bytes), repeats: Math.max(1, bytes / CHUNK), timeoutMs: 900_000 });
    const down = await fw.hostToGuest(vm, { guestIp: GUEST_IP, port: 5002, bytes, verify: false, timeoutMs: 900_000 });
    vm.writeSerial('poweroff -f\n');
    await vm.waitExit(60_000);
    return { rtt_avg_ms: rtt.avgMs, guest_to_host_mib_s: up.mibPerSecond, host_to_guest_mib_s: down.mibPerSecond };
  } catch (err) {
    return { error: String(err?.message ?? err).split('\n')[0] };
  } finally {
    await vm.kill();
    removeTap();
  }
}


/** Runs here (needs usable, non-PVM KVM); rounds alternate ours and QEMU's. */
export async function measureNet(mib = 64, rounds = 1) {
  const fw = await loadFramework();
  const runs = { workervisor: [], 'qemu-kvm': [] };
  for (let i = 0; i < rounds; i++) {
    for (const vmm of [fw.workervisorVmm, fw.qemuKvmVmm]) runs[vmm.name].push(await runOnce(fw, vmm, mib));
  }
  const figure = (key) => {
    const ours = median(runs.workervisor.map((r) => r[key]));
    const qemu = median(runs['qemu-kvm'].map((r) => r[key]));
    return { workervisor: ours, 'qemu-kvm': qemu, ratio: round(ours / qemu, 2) };
  };
  return {
    mib_each_way: mib,
    runs,
    // Throughput ratios above 1 are ours faster; the RTT ratio above 1 is ours slower.
    guest_to_host_mib_s: figure('guest_to_host_mib_s'),
    host_to_guest_mib_s: figure('host_to_guest_mib_s'),
    rtt_avg_ms: figure('rtt_avg_ms'),
  };
}

/** `npm run bench`'s entry: directly on hardware KVM, inside the nested runner on PVM. */
export function benchNet(mib = 64, rounds = 1) {
  return benchInNested({ needs: `${dist}/guest-net.js`, measure: () => measureNet(mib, rounds), file: fileURLToPath(import.meta.url), args: [mib, rounds], mark: MARK, log: 'bench-net.log' });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [mib, rounds] = process.argv.slice(2).map(Number);
  console.log(MARK + JSON.stringify(await measureNet(mib || 64, rounds || 1)));
}
