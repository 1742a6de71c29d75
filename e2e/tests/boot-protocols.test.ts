// Each boot path Linux uses, proven by a test guest that reads what the VMM built (DESIGN.md tier 2):
// PVH (hvm_start_info), 64-bit ELF entry and bzImage (boot_params), ACPI MADT-driven SMP.
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { describeKvm, guestPath, Microvm } from '../framework/index.js';

const MIB = 1024 * 1024;

function e820(serial: string, prefix: 'E820' | 'MEMMAP'): Array<[number, number, number]> {
  return [...serial.matchAll(new RegExp(`^${prefix} (0x[0-9a-f]+) (0x[0-9a-f]+) (\\d+)$`, 'gm'))].map((m) => [Number(m[1]), Number(m[2]), Number(m[3])]);
}

describeKvm('boot protocols', () => {
  let vm: Microvm | undefined;
  afterEach(async () => {
    await vm?.kill();
    vm = undefined;
  });
  const initrd = join(mkdtempSync(join(tmpdir(), 'wv-initrd-')), 'initrd.img');
  writeFileSync(initrd, Buffer.alloc(12345, 0x5a));

  for (const [guest, name] of [['linux64.elf', 'linux64'], ['bzimage', 'bzimage']] as const) {
    it(`${name}: the zero page carries e820, cmdline, initrd and the RSDP`, async () => {
      vm = Microvm.spawn({ kernel: guestPath(guest), memory: '64M', cmdline: 'console=ttyS0 hello=world', initramfs: initrd });
      await vm.expectSerial(new RegExp(`DONE ${name}`));
      expect(await vm.waitExit()).toEqual({ code: 0, signal: null });
      const out = vm.serial;
      expect(out).not.toContain('FAIL');
      expect(out).toContain('CMDLINE console=ttyS0 hello=world');
      expect(out).toContain('RSDP 0xe0000');
      expect(out).toContain('RSDP OK');
      expect(e820(out, 'E820')).toEqual([
        [0, 0x9fc00, 1],
        [0x9fc00, 0x100000 - 0x9fc00, 2],
        [0x100000, 64 * MIB - 0x100000, 1],
      ]);
      const m = /^INITRD (0x[0-9a-f]+) (0x[0-9a-f]+)$/m.exec(out);
      expect(Number(m?.[2])).toBe(12345);
      expect(Number(m?.[1]) % 4096).toBe(0);
      expect(Number(m?.[1]) + 12345).toBeLessThanOrEqual(64 * MIB);
    });
  }

  it('pvh: hvm_start_info carries magic, cmdline, the initramfs module, RSDP and the memory map', async () => {
    vm = Microvm.spawn({ kernel: guestPath('pvh-info.elf'), memory: '64M', cmdline: 'foo=bar baz', initramfs: initrd });
    await vm.expectSerial(/DONE pvh-info/);
    expect(await vm.waitExit()).toEqual({ code: 0, signal: null });
    const out = vm.serial;
    expect(out).not.toContain('FAIL');
    expect(out).toContain('PVH magic=0x336ec578 version=1');
    expect(out).toContain('CMDLINE foo=bar baz');
    expect(out).toContain('MODULES 1');
    expect(Number(/^MODULE 0x[0-9a-f]+ (0x[0-9a-f]+)$/m.exec(out)?.[1])).toBe(12345);
    expect(out).toContain('RSDP 0xe0000');
    expect(e820(out, 'MEMMAP')).toEqual([
      [0, 0x9fc00, 1],
      [0x9fc00, 0x100000 - 0x9fc00, 2],
      [0x100000, 64 * MIB - 0x100000, 1],
    ]);
  });

  it('pvh: a 5 GiB guest gets RAM below the MMIO gap and the rest above 4 GiB', async () => {
    vm = Microvm.spawn({ kernel: guestPath('pvh-info.elf'), memory: '5G' });
    await vm.expectSerial(/DONE pvh-info/);
    expect(await vm.waitExit()).toEqual({ code: 0, signal: null });
    expect(e820(vm.serial, 'MEMMAP')).toEqual([
      [0, 0x9fc00, 1],
      [0x9fc00, 0x100000 - 0x9fc00, 2],
      [0x100000, 0xc000_0000 - 0x100000, 1],
      [0x1_0000_0000, 0x8000_0000, 1],
    ]);
  });

  for (const cpus of [1, 2, 4]) {
    it(`acpi-smp: finds the MADT from the RSDP and starts exactly its ${cpus} CPU(s)`, async () => {
      vm = Microvm.spawn({ kernel: guestPath('acpi-smp.elf'), memory: '64M', cpus });
      await vm.expectSerial(new RegExp(`ACPI-SMP OK cpus=${cpus}`), { timeoutMs: 30_000 });
      expect(await vm.waitExit()).toEqual({ code: 0, signal: null });
      const out = vm.serial;
      expect(out).toContain(`MADT cpus=${cpus}`);
      expect(out).toContain('RSDP-SCAN 0xe0000');
      const ids = [...out.matchAll(/CPU (\d+) online/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
      expect(ids).toEqual([...Array(cpus).keys()]);
    });
  }
});
