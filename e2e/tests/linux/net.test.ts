// virtio-net under Linux's own driver (virtio_net.ko) on a host tap: the host makes a tap with
// 10.0.2.1/24, the guest brings eth0 up as 10.0.2.2/24 with the configured MAC; ping works both
// ways (the host's with iputils, or busybox from the guest's own package) and 4 MiB (WORKERVISOR_NET_MIB) cross each way over TCP with busybox
// nc against a Node socket on the host, checked by sha256. One boot for all of it.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { describeWhen, guestCheck, guestPowerOff, guestRun, linuxOutDir, linuxTest, linuxTierStatus, waitReady } from '../../framework/index.js';

const HOST_IP = '10.0.2.1';
const GUEST_IP = '10.0.2.2';
const GUEST_MAC = '52:54:00:12:34:56';
/** Bytes each way: 4 MiB by default (the nested KVM is all TCG); WORKERVISOR_NET_MIB sets it. */
const BYTES = Number(process.env['WORKERVISOR_NET_MIB'] ?? 4) * 1024 * 1024;
/** One transfer through the nested KVM's TCG-emulated L1: generous. */
const TRANSFER_TIMEOUT_MS = 600_000;

/** Polls (once a second, up to `seconds`) in the guest until `condition` holds; a subshell, so its exit 1 on timeout spares the shell. */
const until = (condition: string, seconds = 30): string => `(i=0; until ${condition}; do i=$((i+1)); [ $i -ge ${seconds} ] && exit 1; sleep 1; done)`;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * A host ping: iputils or busybox on PATH, else the busybox of the guest's own busybox-static
 * package (linux/out/debs, unpacked with dpkg-deb into `scratch`); undefined when none is there.
 */
function hostPing(scratch: string): string[] | undefined {
  for (const cmd of [['ping'], ['busybox', 'ping']]) {
    const probe = spawnSync(cmd[0] as string, [...cmd.slice(1), '-V'], { stdio: 'ignore' });
    if (probe.error === undefined) return cmd;
  }
  const debs = join(linuxOutDir, 'debs');
  const deb = existsSync(debs) ? readdirSync(debs).find((f) => f.startsWith('busybox') && f.endsWith('.deb')) : undefined;
  if (deb === undefined) return undefined;
  const unpack = spawnSync('dpkg-deb', ['-x', join(debs, deb), scratch], { stdio: 'ignore' });
  const busybox = join(scratch, 'bin', 'busybox');
  return unpack.status === 0 && existsSync(busybox) ? [busybox, 'ping'] : undefined;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describeWhen(linuxTierStatus(), 'Debian cloud kernel: virtio-net on a tap', () => {
  linuxTest('brings up eth0 with its MAC, pings both ways and moves data each way over TCP intact', async ({ spawn, vmm, defer }) => {
    const tap = `wvnet${process.pid % 10000}`;
    ip('tuntap', 'add', 'dev', tap, 'mode', 'tap');
    defer(() => ip('link', 'del', tap));
    ip('addr', 'add', `${HOST_IP}/24`, 'dev', tap);
    ip('link', 'set', tap, 'up');

    const vm = spawn({ net: { tap, mac: GUEST_MAC }, memoryMiB: 256 });
    await waitReady(vm, `${vmm.name} net`);
    expect((await guestCheck(vm, 'ls /sys/bus/virtio/drivers')).split(/\s+/)).toContain('virtio_net');
    expect(await guestCheck(vm, 'cat /sys/class/net/eth0/address')).toBe(GUEST_MAC);
    await guestCheck(vm, `ip link set eth0 up && ip addr add ${GUEST_IP}/24 dev eth0`);

    // Guest -> host and host -> guest ICMP.
    await guestCheck(vm, `ping -c 3 -W 5 ${HOST_IP}`, 120_000);
    const scratch = mkdtempSync(join(tmpdir(), 'workervisor-net-'));
    defer(() => rmSync(scratch, { recursive: true, force: true }));
    const ping = hostPing(scratch);
    if (ping === undefined) console.log('host ping skipped: no ping on PATH and no busybox package in linux/out/debs (the TCP transfer host -> guest shows the path)');
    else execFileSync(ping[0] as string, [...ping.slice(1), '-c', '3', '-W', '5', GUEST_IP], { stdio: 'ignore', timeout: 60_000 });

    // Guest -> host: the guest writes a random file to a Node server on the host.
    const received: Buffer[] = [];
    let receivedBytes = 0;
    const done = new Promise<void>((resolve, reject) => {
      const server: Server = createServer((sock) => {
        sock.on('data', (chunk: Buffer) => {
          received.push(chunk);
          receivedBytes += chunk.length;
          // The whole file is here: close, so nc (which may wait for the peer) ends.
          if (receivedBytes >= BYTES) sock.end();
        });
        sock.on('close', () => resolve());
        sock.on('error', reject);
      });
      server.listen(5001, HOST_IP);
      defer(() => void server.close());
    });
    const guestFileHash = (await guestCheck(vm, `head -c ${BYTES} /dev/urandom > /tmp/out && sha256sum /tmp/out`, 120_000)).split(/\s+/)[0];
    // Its exit status varies between busybox's two nc flavours once the host closes; the bytes decide.
    const sent = await guestRun(vm, `timeout 500 nc ${HOST_IP} 5001 < /tmp/out`, TRANSFER_TIMEOUT_MS);
    if (sent.status !== 0) console.log(`guest nc exited ${sent.status}: ${sent.output.trim()}`);
    await done;
    const got = Buffer.concat(received);
    expect(got.length).toBe(BYTES);
    expect(sha256(got)).toBe(guestFileHash);

    // Host -> guest: a guest listener (stdin held open by sleep, so only the peer's FIN ends it).
    await guestCheck(vm, '((sleep 900 | nc -l -p 5002 > /tmp/in) > /dev/null 2>&1 &)');
    const payload = randomBytes(BYTES);
    for (let attempt = 0; ; attempt++) {
      try {
        await new Promise<void>((resolve, reject) => {
          const sock = connect(5002, GUEST_IP, () => sock.end(payload));
          sock.on('error', reject);
          sock.on('close', (hadError) => (hadError ? reject(new Error('connection closed with an error')) : resolve()));
        });
        break;
      } catch (err) {
        // The listener may not be up yet: connection refused.
        if (attempt >= 30) throw err;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    await guestCheck(vm, until(`[ "$(wc -c < /tmp/in | tr -d ' ')" -ge ${BYTES} ]`, 300), TRANSFER_TIMEOUT_MS);
    expect((await guestCheck(vm, 'sha256sum /tmp/in')).split(/\s+/)[0]).toBe(sha256(payload));
    expect(await guestCheck(vm, "wc -c < /tmp/in | tr -d ' '")).toBe(String(BYTES));

    expect(await guestPowerOff(vm)).toEqual({ code: 0, signal: null });
    expect(vm.serial).not.toMatch(/Kernel panic/);
  });
});
