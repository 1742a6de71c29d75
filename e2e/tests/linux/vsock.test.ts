// virtio-vsock under Linux's own driver (vmw_vsock_virtio_transport) in Firecracker's hybrid
// model: a guest client reaches a host listener on `<socket>_<port>`; a host program reaches the
// guest's listener through `CONNECT <port>\n` / `OK <port>\n` on the VMM's socket; then many
// concurrent streams each carry a large payload through a guest echo server and back intact.
// The guest's AF_VSOCK tool is e2e/linux/vsock-tool.c (busybox's nc has no vsock). One boot.
// QEMU's vhost-vsock is not hybrid (its host side is AF_VSOCK), so this has no QEMU reference.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { describeWhen, echoRoundTrip, echoStreams, guestCheck, guestPowerOff, guestRun, hybridConnect, linuxTest, linuxTierStatus, until, waitReady } from '../../framework/index.js';

/**
 * Streams and MiB per stream of the bulk phase: 64 concurrent streams of 1 MiB by default. In the
 * nested KVM (all TCG) 64 x 16 MiB, the figure, did not finish in 11 minutes, which would
 * blow the tier's budget; WORKERVISOR_VSOCK_MIB=16 runs it (on hardware KVM it is quick).
 */
const STREAMS = Number(process.env['WORKERVISOR_VSOCK_STREAMS'] ?? 64);
const MIB_PER_STREAM = Number(process.env['WORKERVISOR_VSOCK_MIB'] ?? 1);
const GUEST_CID = 3;
const ECHO_PORT = 5000;
const HOST_PORT = 6000;


describeWhen(linuxTierStatus(), 'Debian cloud kernel: virtio-vsock (hybrid Unix socket)', () => {
  linuxTest(
    `guest -> host <socket>_${HOST_PORT}, host -> guest CONNECT ${ECHO_PORT}, ${STREAMS} streams x ${MIB_PER_STREAM} MiB through an echo`,
    async ({ spawn, vmm, defer }) => {
      const dir = mkdtempSync(join(tmpdir(), 'workervisor-vsock-'));
      defer(() => rmSync(dir, { recursive: true, force: true }));
      const socketPath = join(dir, 'v.sock');

      // The host listener a guest connection to port HOST_PORT reaches: reads a line, answers, closes.
      let fromGuest = '';
      const listener = createServer({ allowHalfOpen: true }, (s) => {
        s.on('data', (d: Buffer) => (fromGuest += d.toString()));
        s.on('end', () => s.end('hello-from-host\n'));
        s.on('error', () => {});
      });
      await new Promise<void>((r) => listener.listen(`${socketPath}_${HOST_PORT}`, r));
      defer(() => new Promise<void>((r) => listener.close(() => r())));

      const vm = spawn({ vsock: { cid: GUEST_CID, socket: socketPath } });
      await waitReady(vm, `${vmm.name} vsock`);

      // The driver bound to our device; the guest knows its CID.
      expect((await guestCheck(vm, 'ls /sys/bus/virtio/drivers')).split(/\s+/)).toContain('vmw_vsock_virtio_transport');
      await guestCheck(vm, until('[ -c /dev/vsock ]'));

      // (a) Guest-initiated: the guest's client reaches <socket>_6000 and reads the answer.
      await guestCheck(vm, `echo hello-from-guest | vsock-tool connect 2 ${HOST_PORT} > /tmp/reply`);
      expect(fromGuest).toBe('hello-from-guest\n');
      expect(await guestCheck(vm, 'cat /tmp/reply')).toBe('hello-from-host');
      // A port nothing listens on: the VMM answers RST, connect() fails.
      expect((await guestRun(vm, `vsock-tool connect 2 ${HOST_PORT + 1} < /dev/null`)).status).not.toBe(0);

      // (b) Host-initiated: an echo server in the guest (one child per connection), reached by CONNECT.
      await guestCheck(vm, `(vsock-tool echo ${ECHO_PORT} < /dev/null > /dev/null 2> /tmp/echo.err &)`);
      const first = await hybridConnect(socketPath, ECHO_PORT);
      expect(first.hostPort).toBeGreaterThanOrEqual(2 ** 30);
      const small = await echoRoundTrip(first.socket, Buffer.from('ping through the guest\n'), 1);
      expect(small.received).toBe(small.sent);

      // (c) Many concurrent streams, each its own random data, all back intact.
      const run = await echoStreams(socketPath, ECHO_PORT, STREAMS, MIB_PER_STREAM);
      expect(run.hostPorts).toBe(STREAMS);
      run.results.forEach((r, i) => {
        expect(r.bytes, `stream ${i} length`).toBe(MIB_PER_STREAM << 20);
        expect(r.received, `stream ${i} sha256`).toBe(r.sent);
      });
      console.log(`vsock: ${STREAMS} streams x ${MIB_PER_STREAM} MiB echoed in ${run.seconds.toFixed(1)} s (${run.mibPerSecond} MiB/s both ways, ${vmm.name})`);
      expect(await guestCheck(vm, 'cat /tmp/echo.err')).toBe('');

      expect(await guestPowerOff(vm)).toEqual({ code: 0, signal: null });
      expect(vm.serial).not.toMatch(/Kernel panic/);
    },
    { reference: false },
  );
});

