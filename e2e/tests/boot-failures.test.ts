// A vm.boot that fails (unusable kernel, initramfs too big) answers 400 with the loader's message,
// releases everything it had acquired (KVM fds, eventfds, guest RAM), and the VMM keeps serving.
import { readdirSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { launch, type Vm } from '@workervisor/sdk';
import { describeKvm, guestPath } from '../framework/index.js';

const fdCount = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
const MIB = 1024 * 1024;

describeKvm('failed boots', () => {
  let vm: Vm | undefined;
  afterEach(async () => {
    await vm?.close();
    vm = undefined;
  });

  it('answer 400 with the reason, leak no fds, and leave the VMM able to boot', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wv-bootfail-'));
    const junk = join(dir, 'junk.bin');
    writeFileSync(junk, Buffer.alloc(8192, 0x41));
    const bigInitrd = join(dir, 'initrd');
    // Smaller than guest RAM (a larger file is refused before it is read, with no KVM resource
    // yet), but too big for the RAM above the kernel: the loader fails in the middle of the build.
    writeFileSync(bigInitrd, Buffer.alloc(31 * MIB));
    vm = await launch({ serial: 'pipe' });
    const pid = vm.process.pid!;

    // The loader's own code reaches the client, with the 400 the API's table gives it.
    const attempt = async (config: Parameters<Vm['create']>[0], code: string, message: RegExp) => {
      await vm!.create(config);
      await expect(vm!.boot()).rejects.toMatchObject({ status: 400, serverCode: code, serverMessage: expect.stringMatching(message) });
      expect((await vm!.info()).state).toBe('Created');
      await vm!.delete();
    };
    // Warm up once so lazily opened fds (worker threads' own, libuv's) are counted in the baseline.
    await attempt({ payload: { kernel: junk }, memory: { size: 64 * MIB } }, 'ERR_VMM_LOADER_UNKNOWN_FORMAT', /neither an ELF file nor a bzImage/);
    const before = fdCount(pid);
    for (let i = 0; i < 5; i++) {
      await attempt({ payload: { kernel: junk }, memory: { size: 64 * MIB } }, 'ERR_VMM_LOADER_UNKNOWN_FORMAT', /neither an ELF file nor a bzImage/);
      await attempt(
        { payload: { kernel: guestPath('hello.elf'), initramfs: bigInitrd }, memory: { size: 32 * MIB } },
        'ERR_VMM_LOADER_INITRAMFS_TOO_LARGE',
        /initramfs of \d+ bytes does not fit/,
      );
    }
    expect(fdCount(pid)).toBeLessThanOrEqual(before);

    await vm.create({ payload: { kernel: guestPath('hello.elf') }, memory: { size: 64 * MIB } });
    await vm.boot();
    await vm.waitForSerial(/DONE hello/, 15_000);
    expect((await vm.exited).code).toBe(0);
  });
});
