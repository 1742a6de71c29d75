import { describe, expect, it } from 'vitest';
import { FakeGuestMemory } from '@workervisor/devices/testing';
import type { KvmSegment, KvmSregs } from '@workervisor/native';
import {
  BOOT_CS,
  BOOT_DS,
  EFER_LMA,
  EFER_LME,
  GDT_FLAGS,
  X86_CR0_CD,
  X86_CR0_ET,
  X86_CR0_NW,
  X86_CR0_PE,
  X86_CR0_PG,
  X86_CR4_PAE,
  bootCpuState,
  gdtEntry,
  longModeBootState,
  pvhBootState,
  segmentFromGdt,
} from './regs.js';
import { BOOT_GDT_START, BOOT_IDT_START, BOOT_STACK_POINTER, PDE_START, PDPTE_START, PML4_START, PVH_INFO_START, ZERO_PAGE_START } from './layout.js';
import { errorKindOf } from '../../loader/test-support.js';

const MiB = 0x10_0000;

/** What KVM_GET_SREGS returns after vCPU creation (real mode, reset values). */
function resetSregs(): KvmSregs {
  const seg = (selector: number, type: number): KvmSegment => ({
    base: BigInt(selector) << 4n, limit: 0xffff, selector, type, present: 1, dpl: 0, db: 0, s: 1, l: 0, g: 0, avl: 0, unusable: 0,
  });
  return {
    cs: { ...seg(0xf000, 0xb), base: 0xffff_0000n }, ds: seg(0, 3), es: seg(0, 3), fs: seg(0, 3), gs: seg(0, 3), ss: seg(0, 3),
    tr: { ...seg(0, 0xb), s: 0 }, ldt: { ...seg(0, 2), s: 0 },
    gdt: { base: 0n, limit: 0xffff }, idt: { base: 0n, limit: 0xffff },
    cr0: 0x6000_0010n, cr2: 0n, cr3: 0n, cr4: 0n, cr8: 0n, efer: 0n, apicBase: 0xfee0_0900n,
    interruptBitmap: [0n, 0n, 0n, 0n],
  };
}

describe('gdtEntry / segmentFromGdt', () => {
  it("encodes Linux's flat descriptors bit for bit", () => {
    expect(gdtEntry(GDT_FLAGS.CODE64, 0, 0xfffff)).toBe(0x00af_9b00_0000_ffffn);
    expect(gdtEntry(GDT_FLAGS.CODE32, 0, 0xfffff)).toBe(0x00cf_9b00_0000_ffffn);
    expect(gdtEntry(GDT_FLAGS.DATA, 0, 0xfffff)).toBe(0x00cf_9300_0000_ffffn);
    expect(gdtEntry(0x93, 0x1234_5678, 0xabcd)).toBe(0x1200_9334_5678_abcdn);
  });

  it('decodes a descriptor into the cached segment', () => {
    expect(segmentFromGdt(gdtEntry(GDT_FLAGS.CODE64, 0, 0xfffff), 2)).toEqual({
      base: 0n, limit: 0xffff_ffff, selector: 0x10, type: 0xb, present: 1, dpl: 0, db: 0, s: 1, l: 1, g: 1, avl: 0, unusable: 0,
    });
    expect(segmentFromGdt(gdtEntry(0x93, 0x1234_5678, 0xabcd), 1)).toMatchObject({ base: 0x1234_5678n, limit: 0xabcd, g: 0, db: 0 });
    expect(segmentFromGdt(0n, 0).unusable).toBe(1);
  });
});

describe('pvhBootState', () => {
  it('enters 32-bit protected mode with paging off and rbx at hvm_start_info', () => {
    const mem = new FakeGuestMemory(16 * MiB);
    const base = resetSregs();
    const { regs, sregs } = pvhBootState(mem, base, 0x100_0850);
    expect(regs.rip).toBe(0x100_0850n);
    expect(regs.rbx).toBe(BigInt(PVH_INFO_START));
    expect(regs.rflags).toBe(0x2n);
    expect(sregs.cs).toMatchObject({ selector: 0x8, type: 0xb, base: 0n, limit: 0xffff_ffff, db: 1, l: 0, s: 1, present: 1 });
    for (const s of [sregs.ds, sregs.es, sregs.fs, sregs.gs, sregs.ss]) {
      expect(s).toMatchObject({ selector: 0x10, type: 0x3, base: 0n, limit: 0xffff_ffff, db: 1, present: 1 });
    }
    expect(sregs.cr0 & X86_CR0_PE).toBe(X86_CR0_PE);
    expect(sregs.cr0 & (X86_CR0_PG | X86_CR0_CD | X86_CR0_NW)).toBe(0n);
    expect(sregs.cr4).toBe(0n);
    expect(sregs.efer & (EFER_LME | EFER_LMA)).toBe(0n);
    expect(sregs.gdt).toEqual({ base: BigInt(BOOT_GDT_START), limit: 31 });
    expect(sregs.idt).toEqual({ base: BigInt(BOOT_IDT_START), limit: 7 });
    expect(mem.readU64(BOOT_GDT_START + 8)).toBe(gdtEntry(GDT_FLAGS.CODE32, 0, 0xfffff));
    expect(mem.readU64(BOOT_GDT_START + 16)).toBe(gdtEntry(GDT_FLAGS.DATA, 0, 0xfffff));
    expect(mem.readU64(BOOT_IDT_START)).toBe(0n);
    // The base is left alone, and TR/APIC base are carried over from it.
    expect(base.cs.selector).toBe(0xf000);
    expect(sregs.tr).toEqual(base.tr);
    expect(sregs.apicBase).toBe(base.apicBase);
  });

  it('rejects an entry above 4 GiB', () => {
    expect(errorKindOf(() => pvhBootState(new FakeGuestMemory(MiB * 2), resetSregs(), 0x1_0000_0000))).toBe('X86Error:invalid-address');
  });
});

describe('longModeBootState', () => {
  it("enters 64-bit mode with Linux's __BOOT_CS/__BOOT_DS and rsi at the zero page", () => {
    const mem = new FakeGuestMemory(16 * MiB);
    const { regs, sregs } = longModeBootState(mem, resetSregs(), 0x100_0200);
    expect(regs).toMatchObject({ rip: 0x100_0200n, rsi: BigInt(ZERO_PAGE_START), rsp: BigInt(BOOT_STACK_POINTER), rbp: BigInt(BOOT_STACK_POINTER), rflags: 0x2n });
    expect(sregs.cs).toMatchObject({ selector: BOOT_CS, type: 0xb, l: 1, db: 0, present: 1, s: 1 });
    for (const s of [sregs.ds, sregs.es, sregs.ss]) expect(s).toMatchObject({ selector: BOOT_DS, type: 0x3, present: 1, s: 1 });
    expect(sregs.cr0 & (X86_CR0_PE | X86_CR0_PG | X86_CR0_ET)).toBe(X86_CR0_PE | X86_CR0_PG | X86_CR0_ET);
    expect(sregs.cr0 & (X86_CR0_CD | X86_CR0_NW)).toBe(0n);
    expect(sregs.cr4 & X86_CR4_PAE).toBe(X86_CR4_PAE);
    expect(sregs.efer & (EFER_LME | EFER_LMA)).toBe(EFER_LME | EFER_LMA);
    expect(sregs.cr3).toBe(BigInt(PML4_START));
    expect(mem.readU64(BOOT_GDT_START + BOOT_CS)).toBe(gdtEntry(GDT_FLAGS.CODE64, 0, 0xfffff));
    expect(mem.readU64(BOOT_GDT_START + BOOT_DS)).toBe(gdtEntry(GDT_FLAGS.DATA, 0, 0xfffff));
  });

  it('identity-maps the first 4 GiB with 2 MiB pages', () => {
    const mem = new FakeGuestMemory(16 * MiB);
    longModeBootState(mem, resetSregs(), 0x100_0200);
    expect(mem.readU64(PML4_START)).toBe(BigInt(PDPTE_START) | 3n);
    expect(mem.readU64(PML4_START + 8)).toBe(0n);
    for (let g = 0; g < 4; g++) expect(mem.readU64(PDPTE_START + g * 8)).toBe(BigInt(PDE_START + g * 0x1000) | 3n);
    expect(mem.readU64(PDPTE_START + 32)).toBe(0n);
    // Walk a few addresses through the tables.
    for (const va of [0, 0x100_0200, 0x3fff_ffff, 0xfee0_0000, 0xffff_ffff]) {
      const pdpte = mem.readU64(PDPTE_START + Math.floor(va / 0x4000_0000) * 8);
      const pd = Number(pdpte & ~0xfffn);
      const pde = mem.readU64(pd + (Math.floor(va / 0x20_0000) % 512) * 8);
      expect(pde & 0x83n).toBe(0x83n);
      expect(Number(pde & ~0x1f_ffffn) + (va % 0x20_0000)).toBe(va);
    }
  });

  it('dispatches on the kernel kind', () => {
    const mem = new FakeGuestMemory(16 * MiB);
    expect(bootCpuState(mem, resetSregs(), { kind: 'pvh', entry: 0x10_0000 }).regs.rbx).toBe(BigInt(PVH_INFO_START));
    expect(bootCpuState(mem, resetSregs(), { kind: 'bzimage', entry: 0x10_0200 }).regs.rsi).toBe(BigInt(ZERO_PAGE_START));
  });

  it('fails with memory-too-small when the page tables do not fit', () => {
    expect(errorKindOf(() => longModeBootState(new FakeGuestMemory(0x8000), resetSregs(), 0x1000))).toBe('X86Error:memory-too-small');
  });
});
