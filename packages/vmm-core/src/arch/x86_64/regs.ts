// Boot vCPU state for the two entry protocols: PVH (32-bit protected mode, paging off) and the
// Linux 64-bit entry (long mode, identity-mapped page tables, boot GDT). Spec: Xen
// docs/misc/pvh.pandoc; Linux Documentation/arch/x86/boot.rst "64-bit boot protocol"; Intel SDM
// vol. 3A 3.4.5 (segment descriptors), 4.5 (4-level paging), 9.8.5 (entering IA-32e mode).
import { type GuestMemory } from '@workervisor/devices';
import { le } from '@workervisor/base';
import type { KvmRegs, KvmSegment, KvmSregs } from '@workervisor/native';
import {
  BOOT_GDT_START,
  BOOT_IDT_START,
  BOOT_STACK_POINTER,
  PDE_START,
  PDPTE_START,
  PML4_START,
  PVH_INFO_START,
  ZERO_PAGE_START,
} from './layout.js';
import { X86Error, checkAddress } from './errors.js';

export const X86_CR0_PE = 1n << 0n;
export const X86_CR0_ET = 1n << 4n;
export const X86_CR0_NW = 1n << 29n;
export const X86_CR0_CD = 1n << 30n;
export const X86_CR0_PG = 1n << 31n;
export const X86_CR4_PAE = 1n << 5n;
export const EFER_LME = 1n << 8n;
export const EFER_LMA = 1n << 10n;
/** rflags bit 1 is reserved and always 1. */
export const RFLAGS_RESERVED = 0x2n;

/** GDT access/flags words in Linux's GDT_ENTRY(flags, base, limit) encoding. */
export const GDT_FLAGS = {
  /** Flat 32-bit code: G, D, P, S, type 0xb (execute/read, accessed). */
  CODE32: 0xc09b,
  /** Flat 64-bit code: G, L, P, S, type 0xb. */
  CODE64: 0xa09b,
  /** Flat data: G, B, P, S, type 0x3 (read/write, accessed). */
  DATA: 0xc093,
} as const;

/** Selectors of the PVH GDT (Firecracker's): 0x8 code, 0x10 data. */
export const PVH_CS = 0x8;
export const PVH_DS = 0x10;
/** __BOOT_CS / __BOOT_DS: the selectors boot.rst's 64-bit protocol requires. */
export const BOOT_CS = 0x10;
export const BOOT_DS = 0x18;
/** Entries at BOOT_GDT_START: 4 x 8 bytes fit below BOOT_IDT_START. */
const GDT_ENTRIES = 4;
const GDT_ENTRY_SIZE = 8;

/** Bytes of guest-physical memory the 64-bit boot page tables identity-map. */
export const IDENTITY_MAP_SIZE = 4 * 0x4000_0000;
const PAGE_TABLE_SIZE = 0x1000;
const PAGE_2M = 0x20_0000;
/** Page-table entry bits: present, writable, page size (2 MiB leaf in a PD). */
const PTE_PRESENT_RW = 0x3n;
const PDE_PS = 0x80n;

/** Registers for KVM_SET_REGS and KVM_SET_SREGS. */
export interface BootCpuState {
  readonly regs: KvmRegs;
  readonly sregs: KvmSregs;
}

/** A GDT descriptor from flags (access byte | flags nibble << 12), base and 20-bit limit. */
export function gdtEntry(flags: number, base: number, limit: number): bigint {
  const b = BigInt(base);
  const l = BigInt(limit);
  const f = BigInt(flags);
  return (
    ((b & 0xff00_0000n) << 32n) |
    ((b & 0x00ff_ffffn) << 16n) |
    (l & 0xffffn) |
    ((l & 0xf_0000n) << 32n) |
    ((f & 0xf0ffn) << 40n)
  );
}

/** The kvm_segment a CPU would cache after loading selector index * 8 with descriptor entry. */
export function segmentFromGdt(entry: bigint, index: number): KvmSegment {
  const bit = (n: bigint): number => Number((entry >> n) & 1n);
  const g = bit(55n);
  const rawLimit = Number((entry & 0xffffn) | ((entry >> 32n) & 0xf_0000n));
  const present = bit(47n);
  return {
    base: ((entry >> 16n) & 0xff_ffffn) | ((entry >> 32n) & 0xff00_0000n),
    limit: g ? rawLimit * 0x1000 + 0xfff : rawLimit,
    selector: index * GDT_ENTRY_SIZE,
    type: Number((entry >> 40n) & 0xfn),
    present,
    dpl: Number((entry >> 45n) & 3n),
    db: bit(54n),
    s: bit(44n),
    l: bit(53n),
    g,
    avl: bit(52n),
    unusable: present ? 0 : 1,
  };
}

function zeroRegs(): KvmRegs {
  return {
    rax: 0n, rbx: 0n, rcx: 0n, rdx: 0n, rsi: 0n, rdi: 0n, rsp: 0n, rbp: 0n,
    r8: 0n, r9: 0n, r10: 0n, r11: 0n, r12: 0n, r13: 0n, r14: 0n, r15: 0n,
    rip: 0n, rflags: RFLAGS_RESERVED,
  };
}

/** Deep copy, so the caller's base sregs are never modified. */
function cloneSregs(base: KvmSregs): KvmSregs {
  const seg = (s: KvmSegment): KvmSegment => ({ ...s });
  return {
    ...base,
    cs: seg(base.cs), ds: seg(base.ds), es: seg(base.es), fs: seg(base.fs),
    gs: seg(base.gs), ss: seg(base.ss), tr: seg(base.tr), ldt: seg(base.ldt),
    gdt: { ...base.gdt }, idt: { ...base.idt },
    interruptBitmap: [...base.interruptBitmap],
  };
}

/** Writes a 4-entry GDT at BOOT_GDT_START and an empty 8-byte IDT at BOOT_IDT_START; points sregs at them. */
function writeGdtAndIdt(mem: GuestMemory, sregs: KvmSregs, gdt: readonly bigint[]): void {
  const table = new Uint8Array(GDT_ENTRIES * GDT_ENTRY_SIZE);
  gdt.forEach((e, i) => le.writeU64(table, i * GDT_ENTRY_SIZE, e));
  mem.write(BOOT_GDT_START, table);
  mem.write(BOOT_IDT_START, new Uint8Array(8));
  sregs.gdt = { base: BigInt(BOOT_GDT_START), limit: table.length - 1 };
  // An empty IDT: any exception before the kernel loads its own becomes a triple fault (shutdown exit).
  sregs.idt = { base: BigInt(BOOT_IDT_START), limit: 7 };
}

/** Loads CS from gdt[codeIndex] and DS/ES/FS/GS/SS from gdt[dataIndex]. */
function loadSegments(sregs: KvmSregs, gdt: readonly bigint[], codeIndex: number, dataIndex: number): void {
  const code = gdt[codeIndex];
  const data = gdt[dataIndex];
  if (code === undefined || data === undefined) throw new X86Error('invalid-state', 'GDT index out of range');
  sregs.cs = segmentFromGdt(code, codeIndex);
  const ds = segmentFromGdt(data, dataIndex);
  sregs.ds = { ...ds };
  sregs.es = { ...ds };
  sregs.fs = { ...ds };
  sregs.gs = { ...ds };
  sregs.ss = { ...ds };
}

function checkLowMemory(mem: GuestMemory, end: number): void {
  if (!mem.checkRange(0, end)) {
    throw new X86Error('memory-too-small', `boot structures need guest RAM up to 0x${end.toString(16)}`);
  }
}

function checkEntry(entry: number, max: number): void {
  checkAddress('entry point', entry, max);
}

/**
 * PVH entry (pvh.pandoc "x86/HVM direct boot ABI"): 32-bit protected mode, paging off, flat 4 GiB
 * CS (selector 0x8, type 0xb) and DS/ES/FS/GS/SS (0x10, type 0x3), CR0 = PE | ET, CR4 = 0, EFER
 * long-mode bits clear, rbx = hvm_start_info, rip = entry, rflags = 0x2 (IF clear).
 * Writes the GDT and IDT; base is the vCPU's KVM_GET_SREGS (TR/LDT/APIC base kept from it).
 */
export function pvhBootState(mem: GuestMemory, base: KvmSregs, entry: number): BootCpuState {
  checkEntry(entry, 0xffff_ffff);
  checkLowMemory(mem, BOOT_IDT_START + 8);
  const gdt = [0n, gdtEntry(GDT_FLAGS.CODE32, 0, 0xfffff), gdtEntry(GDT_FLAGS.DATA, 0, 0xfffff), 0n];
  const sregs = cloneSregs(base);
  writeGdtAndIdt(mem, sregs, gdt);
  loadSegments(sregs, gdt, PVH_CS / GDT_ENTRY_SIZE, PVH_DS / GDT_ENTRY_SIZE);
  sregs.cr0 = ((base.cr0 & ~(X86_CR0_PG | X86_CR0_CD | X86_CR0_NW)) | X86_CR0_PE | X86_CR0_ET);
  sregs.cr4 = 0n;
  sregs.efer = base.efer & ~(EFER_LME | EFER_LMA);
  const regs = zeroRegs();
  regs.rip = BigInt(entry);
  regs.rbx = BigInt(PVH_INFO_START);
  return { regs, sregs };
}

/**
 * Writes identity-mapping page tables for [0, IDENTITY_MAP_SIZE) with 2 MiB pages: one PML4 entry,
 * one PDPT entry per GiB, one PD page per GiB at PDE_START + i * 4 KiB. Returns CR3.
 */
export function writeIdentityPageTables(mem: GuestMemory): bigint {
  const gib = IDENTITY_MAP_SIZE / 0x4000_0000;
  const pml4 = new Uint8Array(PAGE_TABLE_SIZE);
  le.writeU64(pml4, 0, BigInt(PDPTE_START) | PTE_PRESENT_RW);
  const pdpt = new Uint8Array(PAGE_TABLE_SIZE);
  const pd = new Uint8Array(PAGE_TABLE_SIZE * gib);
  for (let g = 0; g < gib; g++) {
    le.writeU64(pdpt, g * 8, BigInt(PDE_START + g * PAGE_TABLE_SIZE) | PTE_PRESENT_RW);
  }
  for (let i = 0; i < pd.length / 8; i++) {
    le.writeU64(pd, i * 8, (BigInt(i) * BigInt(PAGE_2M)) | PTE_PRESENT_RW | PDE_PS);
  }
  mem.write(PML4_START, pml4);
  mem.write(PDPTE_START, pdpt);
  mem.write(PDE_START, pd);
  return BigInt(PML4_START);
}

/**
 * Linux 64-bit entry (boot.rst "64-bit boot protocol"): long mode with paging on an identity map
 * (4 GiB, covering init_size from the load address, the zero page and the command line), a GDT
 * with flat __BOOT_CS (0x10, 64-bit code) and __BOOT_DS (0x18, data), CS = __BOOT_CS and DS/ES/SS
 * = __BOOT_DS, interrupts off, rsi = zero page, rip = entry, rsp = rbp = BOOT_STACK_POINTER.
 * CR0 = PE | PG | ET with caches enabled (CD/NW clear), CR4.PAE, EFER.LME | LMA.
 */
export function longModeBootState(mem: GuestMemory, base: KvmSregs, entry: number): BootCpuState {
  checkEntry(entry, IDENTITY_MAP_SIZE - 1);
  const tablesEnd = PDE_START + (IDENTITY_MAP_SIZE / 0x4000_0000) * PAGE_TABLE_SIZE;
  checkLowMemory(mem, Math.max(tablesEnd, ZERO_PAGE_START + 0x1000, BOOT_STACK_POINTER));
  const gdt = [0n, 0n, gdtEntry(GDT_FLAGS.CODE64, 0, 0xfffff), gdtEntry(GDT_FLAGS.DATA, 0, 0xfffff)];
  const sregs = cloneSregs(base);
  writeGdtAndIdt(mem, sregs, gdt);
  loadSegments(sregs, gdt, BOOT_CS / GDT_ENTRY_SIZE, BOOT_DS / GDT_ENTRY_SIZE);
  sregs.cr3 = writeIdentityPageTables(mem);
  sregs.cr4 = base.cr4 | X86_CR4_PAE;
  sregs.cr0 = (base.cr0 & ~(X86_CR0_CD | X86_CR0_NW)) | X86_CR0_PE | X86_CR0_PG | X86_CR0_ET;
  sregs.efer = base.efer | EFER_LME | EFER_LMA;
  const regs = zeroRegs();
  regs.rip = BigInt(entry);
  regs.rsi = BigInt(ZERO_PAGE_START);
  regs.rsp = BigInt(BOOT_STACK_POINTER);
  regs.rbp = BigInt(BOOT_STACK_POINTER);
  return { regs, sregs };
}

/** Which entry protocol a loaded kernel uses: 'pvh', or the 64-bit entry ('elf64' / 'bzimage'). */
export type BootEntryKind = 'pvh' | 'elf64' | 'bzimage';

/** Dispatches to pvhBootState or longModeBootState for a loaded kernel's kind and entry. */
export function bootCpuState(mem: GuestMemory, base: KvmSregs, kernel: { readonly kind: BootEntryKind; readonly entry: number }): BootCpuState {
  return kernel.kind === 'pvh' ? pvhBootState(mem, base, kernel.entry) : longModeBootState(mem, base, kernel.entry);
}
