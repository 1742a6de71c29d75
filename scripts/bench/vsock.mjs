// virtio-vsock throughput (hybrid Unix socket, Firecracker's model) through the Linux guest's echo
// server: one stream and 64 concurrent streams, MiB/s counting both directions. Ours only: QEMU's
// vhost-vsock has no hybrid socket (its host side is AF_VSOCK, which Node cannot open), so there
// is no same-harness reference. Needs a real /dev/kvm: on a nested-PVM host benchVsock() runs this
// file inside the nested runner. By hand: `node scripts/bench/vsock.mjs [MiB per stream]`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchInNested } from './in-nested.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dist = `${root}e2e/dist/framework`;
const loadFramework = async () => ({
  ...(await import(`${dist}/linux-vmm.js`)),
  ...(await import(`${dist}/guest-shell.js`)),
  ...(await import(`${dist}/guest-net.js`)),
  ...(await import(`${dist}/guest-vsock.js`)),
});
const MARK = 'VSOCK-BENCH-JSON ';
const ECHO_PORT = 5000;

/** Runs here (needs usable, non-PVM KVM). */
export async function measureVsock(mibPerStream = 1) {
  const fw = await loadFramework();
  const dir = mkdtempSync(join(tmpdir(), 'workervisor-vsock-bench-'));
  const socket = join(dir, 'v.sock');
  const vm = fw.workervisorVmm.spawn({ cpus: 2, memoryMiB: 256, vsock: { cid: 3, socket } });
  try {
    await fw.waitReady(vm, 'workervisor vsock bench');
    await fw.guestCheck(vm, fw.until('[ -c /dev/vsock ]'));
    await fw.guestCheck(vm, `(vsock-tool echo ${ECHO_PORT} < /dev/null > /dev/null 2> /tmp/echo.err &)`);
    const row = async (streams, mib) => {
      const run = await fw.echoStreams(socket, ECHO_PORT, streams, mib);
      const intact = run.results.every((r) => r.bytes === mib << 20 && r.received === r.sent);
      return { streams, mib_per_stream: mib, seconds: Math.round(run.seconds * 10) / 10, mib_s_both_ways: run.mibPerSecond, intact };
    };
    const one = await row(1, 16 * mibPerStream);
    const many = await row(64, mibPerStream);
    vm.writeSerial('poweroff -f\n');
    await vm.waitExit(60_000);
    return { one_stream: one, streams_64: many };
  } catch (err) {
    return { error: String(err?.message ?? err).split('\n')[0] };
  } finally {
    await vm.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `npm run bench`'s entry: directly on hardware KVM, inside the nested runner on PVM. */
export function benchVsock(mibPerStream = 1) {
  return benchInNested({ needs: `${dist}/guest-vsock.js`, measure: () => measureVsock(mibPerStream), file: fileURLToPath(import.meta.url), args: [mibPerStream], mark: MARK, log: 'bench-vsock.log' });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(MARK + JSON.stringify(await measureVsock(Number(process.argv[2]) || 1)));
}
