// virtio-blk under Linux's own driver: an ext4 root filesystem (built by e2e/linux/build.sh with
// mkfs.ext4 -d) booted with root=/dev/vda, written by the guest and checked on the host with
// debugfs and e2fsck; a second disk attached read-only refuses writes, and reads back the
// host's bytes exactly (sha256).
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { describeWhen, guestCheck, guestPowerOff, guestRun, linuxGuest, linuxTest, linuxTierStatus, waitReady } from '../../framework/index.js';

const sbinPath = `${process.env['PATH'] ?? ''}:/sbin:/usr/sbin`;

function run(command: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(command, args, { encoding: 'utf8', env: { ...process.env, PATH: sbinPath } });
  if (r.error !== undefined) throw new Error(`cannot run ${command}: ${r.error.message}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

describeWhen(linuxTierStatus(), 'Debian cloud kernel: virtio-blk', () => {
  linuxTest('boots an ext4 root from /dev/vda, writes a file the host finds, and cannot write a read-only /dev/vdb', async ({ spawn, vmm, defer }) => {
    const dir = mkdtempSync(join(tmpdir(), 'workervisor-disk-'));
    defer(() => rmSync(dir, { recursive: true, force: true }));
    const root = join(dir, 'root.ext4');
    copyFileSync(linuxGuest.rootfs, root);
    const data = join(dir, 'data.img');
    const dataBytes = randomBytes(4 << 20);
    writeFileSync(data, dataBytes);
    const mark = `written-by-the-guest-${process.pid}-${Date.now()}`;

    const vm = spawn({ cpus: 2, cmdlineExtra: 'root=/dev/vda', disks: [{ path: root }, { path: data, readonly: true }] });
    const ready = await waitReady(vm, `${vmm.name} ext4 root`);
    expect(ready.root, 'the guest switched to the ext4 root').toBe('ext4');
    expect(await guestCheck(vm, 'cat /etc/workervisor-rootfs')).toBe('workervisor Linux-tier root filesystem');
    expect(await guestCheck(vm, `awk '$2 == "/" { print $1, $4 }' /proc/mounts`)).toMatch(/^\/dev\/vda rw[,\s]/);

    await guestCheck(vm, `echo ${mark} > /proof.txt && sync`);
    expect(await guestCheck(vm, 'cat /sys/block/vdb/ro'), 'the kernel saw VIRTIO_BLK_F_RO').toBe('1');
    expect(await guestCheck(vm, 'cat /sys/block/vdb/size'), '512-byte sectors').toBe(String((4 << 20) / 512));
    expect(await guestCheck(vm, 'dd if=/dev/vdb bs=1M 2>/dev/null | sha256sum | cut -d" " -f1')).toBe(sha256(dataBytes));
    const write = await guestRun(vm, 'dd if=/dev/zero of=/dev/vdb bs=4096 count=1 conv=fsync');
    expect(write.status, `a write to the read-only disk must fail: ${write.output}`).not.toBe(0);
    expect(write.output).toMatch(/Read-only file system|Operation not permitted/);

    expect(await guestPowerOff(vm)).toEqual({ code: 0, signal: null });
    expect(sha256(readFileSync(data)), 'the read-only image is unchanged').toBe(sha256(dataBytes));
    const found = run('debugfs', ['-R', 'cat /proof.txt', root]);
    expect(found.stdout.trim(), `debugfs: ${found.stderr}`).toBe(mark);
    const fsck = run('e2fsck', ['-fn', root]);
    expect(fsck.status, `e2fsck -fn found problems:\n${fsck.stdout}${fsck.stderr}`).toBe(0);
  });
});
