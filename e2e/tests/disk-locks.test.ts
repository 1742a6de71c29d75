// Disk image locks between VMMs and within one VM (issue 9), as Cloud Hypervisor takes them: a
// read-write disk excludes every other user of the image, read-only disks share it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect } from 'vitest';
import { launch, type Vm } from '@workervisor/sdk';
import { describeKvm, guestPath, itKvm, Microvm } from '../framework/index.js';

const dir = mkdtempSync(join(tmpdir(), 'wv-disk-locks-'));
let n = 0;
function image(): string {
  const path = join(dir, `disk${n++}.img`);
  writeFileSync(path, Buffer.alloc(1024 * 1024));
  return path;
}

const vms: Microvm[] = [];
let api: Vm | undefined;
afterEach(async () => {
  for (const vm of vms.splice(0)) await vm.kill();
  await api?.close();
  api = undefined;
});

function spawn(kernel: string, disks: string[]): Microvm {
  const vm = Microvm.spawn({ kernel: guestPath(kernel), memory: '64M', serial: 'tty', extraArgs: disks.flatMap((d) => ['--disk', d]) });
  vms.push(vm);
  return vm;
}

/** A VMM whose guest spins with `disk` attached, so the image stays open and locked. */
async function holder(disk: string): Promise<Microvm> {
  const vm = spawn('counter.elf', [disk]);
  await vm.expectSerial(/COUNTER-READY/);
  return vm;
}

describeKvm('disk image locks', () => {
  itKvm('refuses a second VMM the image a running VMM has read-write, naming the image and its pid', async () => {
    const img = image();
    const first = await holder(`path=${img}`);
    for (const disk of [`path=${img}`, `path=${img},readonly=on`]) {
      const second = spawn('hello.elf', [disk]);
      const exit = await second.waitExit(15_000);
      expect(exit.code, second.stderr).toBe(1);
      expect(second.stderr).toContain(`disk image ${img} is in use and cannot be opened read-`);
      expect(second.stderr).toContain(`pid ${first.pid} holds a write lock (a read-write user) on it`);
      expect(second.serial).not.toContain('hello');
    }
    expect(first.exitStatus).toBeUndefined();
  });

  itKvm('lets VMMs share an image read-only, and keeps a read-write one out meanwhile', async () => {
    const img = image();
    await holder(`path=${img},readonly=on`);
    const reader = spawn('hello.elf', [`path=${img},readonly=on`]);
    await reader.expectSerial(/DONE hello/);
    expect((await reader.waitExit(15_000)).code).toBe(0);
    const writer = spawn('hello.elf', [`path=${img}`]);
    expect((await writer.waitExit(15_000)).code).toBe(1);
    expect(writer.stderr).toMatch(/holds a read lock \(a read-only user\) on it/);
  });

  itKvm('takes the image again once its VMM has exited', async () => {
    const img = image();
    const first = spawn('hello.elf', [`path=${img}`]);
    expect((await first.waitExit(15_000)).code).toBe(0);
    const second = spawn('hello.elf', [`path=${img}`]);
    expect((await second.waitExit(15_000)).code, second.stderr).toBe(0);
  });

  itKvm('refuses the same image attached twice to one VM', async () => {
    const img = image();
    const vm = spawn('hello.elf', [`path=${img}`, `path=${img},readonly=on`]);
    expect((await vm.waitExit(15_000)).code).not.toBe(0);
    expect(vm.stderr).toContain(`disks[1].path ${img} is the same image as disks[0].path`);

    api = await launch({ serial: 'off' });
    const create = api.create({ payload: { kernel: guestPath('hello.elf') }, memory: { size: 64 << 20 }, disks: [{ path: img }, { path: img }] });
    await expect(create).rejects.toMatchObject({ status: 400, serverCode: 'ERR_VMM_VM_INVALID_CONFIG' });
  });

  itKvm('answers vm.boot of an image another VMM holds with a 409 naming the image and the holder', async () => {
    const img = image();
    const first = await holder(`path=${img}`);
    api = await launch({ serial: 'off' });
    await api.create({ payload: { kernel: guestPath('hello.elf') }, memory: { size: 64 << 20 }, disks: [{ path: img, readonly: true }] });
    await expect(api.boot()).rejects.toMatchObject({
      status: 409,
      serverCode: 'ERR_VMM_DISK_LOCK_LOCKED',
      serverMessage: expect.stringContaining(`disk image ${img} is in use and cannot be opened read-only: pid ${first.pid} holds a write lock`),
    });
    expect((await api.info()).state).toBe('Created');
  });

  itKvm('honours lock_granularity Full through vm.create', async () => {
    const img = image();
    api = await launch({ serial: 'off' });
    await api.create({ payload: { kernel: guestPath('counter.elf') }, memory: { size: 64 << 20 }, disks: [{ path: img, lock_granularity: 'Full' }] });
    await api.boot();
    const second = spawn('hello.elf', [`path=${img},readonly=on`]);
    expect((await second.waitExit(15_000)).code).toBe(1);
    expect(second.stderr).toContain(`pid ${api.process.pid} holds a write lock`);
  });
});
