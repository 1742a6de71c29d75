// ELF64 x86_64 kernel loader (vmlinux, test guests): PT_LOAD segments go to p_paddr, and the PVH
// entry comes from the Xen XEN_ELFNOTE_PHYS32_ENTRY note. Spec: System V gABI ch. 4 ("ELF Header",
// "Program Header", "Note Section"); Xen xen/include/public/elfnote.h; Xen docs/misc/pvh.pandoc.
import { type GuestMemory } from '@workervisor/devices';
import { le } from '@workervisor/base';
import { HIGH_MEMORY_START } from '../arch/x86_64/layout.js';
import { LoaderError, hex } from './errors.js';

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46] as const; // "\x7fELF"
const EI_CLASS = 4;
const ELFCLASS64 = 2;
const EI_DATA = 5;
const ELFDATA2LSB = 1;
const EI_VERSION = 6;
const EV_CURRENT = 1;
const ET_EXEC = 2;
const ET_DYN = 3;
const EM_X86_64 = 62;
const PN_XNUM = 0xffff;

/** sizeof(Elf64_Ehdr) and sizeof(Elf64_Phdr), bytes. */
const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
/** Elf64_Ehdr field offsets. */
const E_TYPE = 16;
const E_MACHINE = 18;
const E_VERSION = 20;
const E_ENTRY = 24;
const E_PHOFF = 32;
const E_EHSIZE = 52;
const E_PHENTSIZE = 54;
const E_PHNUM = 56;
/** Elf64_Phdr field offsets. */
const P_TYPE = 0;
const P_OFFSET = 8;
const P_PADDR = 24;
const P_FILESZ = 32;
const P_MEMSZ = 40;
const P_ALIGN = 48;

export const PT_LOAD = 1;
export const PT_NOTE = 4;
/** Note header: n_namesz, n_descsz, n_type (u32 each). */
const NHDR_SIZE = 12;
/** Xen note type carrying the 32-bit physical PVH entry point (elfnote.h). */
export const XEN_ELFNOTE_PHYS32_ENTRY = 18;
const XEN_NOTE_NAME = 'Xen';

/** One PT_LOAD segment. All values in bytes; paddr is guest-physical. */
export interface ElfSegment {
  readonly paddr: number;
  readonly fileOffset: number;
  readonly fileSize: number;
  readonly memSize: number;
}

/** A validated ELF64 x86_64 image (nothing loaded yet). */
export interface ElfImage {
  /** e_entry: the 64-bit entry (Linux's vmlinux links it at a physical address). */
  readonly entry: number;
  /** The 32-bit PVH entry from XEN_ELFNOTE_PHYS32_ENTRY, if the image has one. */
  readonly pvhEntry: number | undefined;
  /** PT_LOAD segments in file order. */
  readonly segments: readonly ElfSegment[];
}

/** Where an ELF image landed in guest memory. */
export interface ElfLoadResult extends ElfImage {
  /** Lowest p_paddr of a PT_LOAD segment. */
  readonly kernelStart: number;
  /** Highest p_paddr + p_memsz (exclusive). */
  readonly kernelEnd: number;
}

/** True when bytes start with the ELF magic. */
export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= ELF_MAGIC.length && ELF_MAGIC.every((b, i) => bytes[i] === b);
}

/** Reads a u64 field that must fit a JS safe integer (offsets, sizes, addresses). */
function u64Field(bytes: Uint8Array, offset: number, what: string): number {
  const v = le.readU64(bytes, offset);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new LoaderError('invalid-elf', `${what} ${hex(v)} is too large`);
  return Number(v);
}

/** Throws 'truncated' unless [offset, offset+len) lies inside the file. */
function checkInFile(bytes: Uint8Array, offset: number, len: number, what: string): void {
  if (offset + len > bytes.length) {
    throw new LoaderError(
      'truncated',
      `${what} at ${hex(offset)}+${hex(len)} runs past the end of the ${bytes.length}-byte file`,
    );
  }
}

/**
 * Parses and validates an ELF64 little-endian x86_64 executable: identification, header sizes,
 * every program header and every segment's file range, and the notes of PT_NOTE segments.
 * Throws LoaderError ('truncated', 'invalid-elf', 'invalid-note').
 */
export function parseElf(bytes: Uint8Array): ElfImage {
  if (!isElf(bytes)) throw new LoaderError('invalid-elf', 'file does not start with the ELF magic');
  checkInFile(bytes, 0, EHDR_SIZE, 'ELF header');
  if (bytes[EI_CLASS] !== ELFCLASS64) throw new LoaderError('invalid-elf', `ELF class ${bytes[EI_CLASS]} is not ELFCLASS64`);
  if (bytes[EI_DATA] !== ELFDATA2LSB) throw new LoaderError('invalid-elf', `ELF data encoding ${bytes[EI_DATA]} is not little-endian`);
  if (bytes[EI_VERSION] !== EV_CURRENT) throw new LoaderError('invalid-elf', `ELF ident version ${bytes[EI_VERSION]} is not 1`);
  const type = le.u16(bytes, E_TYPE);
  if (type !== ET_EXEC && type !== ET_DYN) throw new LoaderError('invalid-elf', `ELF type ${type} is not an executable`);
  const machine = le.u16(bytes, E_MACHINE);
  if (machine !== EM_X86_64) throw new LoaderError('invalid-elf', `ELF machine ${machine} is not x86_64 (62)`);
  if (le.u32(bytes, E_VERSION) !== EV_CURRENT) throw new LoaderError('invalid-elf', 'ELF version is not 1');
  if (le.u16(bytes, E_EHSIZE) !== EHDR_SIZE) throw new LoaderError('invalid-elf', `e_ehsize ${le.u16(bytes, E_EHSIZE)} is not 64`);
  const phentsize = le.u16(bytes, E_PHENTSIZE);
  if (phentsize !== PHDR_SIZE) throw new LoaderError('invalid-elf', `e_phentsize ${phentsize} is not 56`);
  const phnum = le.u16(bytes, E_PHNUM);
  if (phnum === 0 || phnum === PN_XNUM) throw new LoaderError('invalid-elf', `e_phnum ${phnum} is not a usable program header count`);
  const phoff = u64Field(bytes, E_PHOFF, 'e_phoff');
  if (phoff < EHDR_SIZE) throw new LoaderError('invalid-elf', `e_phoff ${hex(phoff)} overlaps the ELF header`);
  checkInFile(bytes, phoff, phnum * PHDR_SIZE, 'program header table');
  const entry = u64Field(bytes, E_ENTRY, 'e_entry');

  const segments: ElfSegment[] = [];
  let pvhEntry: number | undefined;
  for (let i = 0; i < phnum; i++) {
    const ph = bytes.subarray(phoff + i * PHDR_SIZE, phoff + (i + 1) * PHDR_SIZE);
    const pType = le.u32(ph, P_TYPE);
    if (pType !== PT_LOAD && pType !== PT_NOTE) continue;
    const fileOffset = u64Field(ph, P_OFFSET, `segment ${i} p_offset`);
    const fileSize = u64Field(ph, P_FILESZ, `segment ${i} p_filesz`);
    checkInFile(bytes, fileOffset, fileSize, `segment ${i}`);
    if (pType === PT_NOTE) {
      const align = u64Field(ph, P_ALIGN, `segment ${i} p_align`);
      const found = findPvhEntry(bytes.subarray(fileOffset, fileOffset + fileSize), align === 8 ? 8 : 4, i);
      pvhEntry ??= found;
      continue;
    }
    const paddr = u64Field(ph, P_PADDR, `segment ${i} p_paddr`);
    const memSize = u64Field(ph, P_MEMSZ, `segment ${i} p_memsz`);
    if (fileSize > memSize) {
      throw new LoaderError('segment-out-of-range', `segment ${i} p_filesz ${hex(fileSize)} exceeds p_memsz ${hex(memSize)}`);
    }
    if (!Number.isSafeInteger(paddr + memSize)) {
      throw new LoaderError('segment-out-of-range', `segment ${i} at ${hex(paddr)}+${hex(memSize)} overflows`);
    }
    segments.push({ paddr, fileOffset, fileSize, memSize });
  }
  if (segments.length === 0) throw new LoaderError('invalid-elf', 'ELF has no PT_LOAD segment');
  return { entry, pvhEntry, segments };
}

/**
 * Walks the notes of one PT_NOTE segment (gABI "Note Section": namesz, descsz, type, name and desc
 * each padded to the segment's alignment) and returns the PHYS32_ENTRY address, if any.
 */
function findPvhEntry(notes: Uint8Array, align: number, segment: number): number | undefined {
  const pad = (n: number): number => Math.ceil(n / align) * align;
  let off = 0;
  while (off + NHDR_SIZE <= notes.length) {
    const namesz = le.u32(notes, off);
    const descsz = le.u32(notes, off + 4);
    const type = le.u32(notes, off + 8);
    const nameOff = off + NHDR_SIZE;
    const descOff = nameOff + pad(namesz);
    const next = descOff + pad(descsz);
    if (descOff + descsz > notes.length) {
      throw new LoaderError('invalid-note', `note at offset ${hex(off)} of PT_NOTE segment ${segment} runs past the segment`);
    }
    // The name is "Xen" with its NUL: namesz 4 (elfnote.h: notes "have "Xen" in the name field").
    const name = new TextDecoder().decode(notes.subarray(nameOff, nameOff + Math.max(0, namesz - 1)));
    if (type === XEN_ELFNOTE_PHYS32_ENTRY && namesz === XEN_NOTE_NAME.length + 1 && name === XEN_NOTE_NAME) {
      return pvhEntryFromDesc(notes.subarray(descOff, descOff + descsz), segment);
    }
    off = next;
  }
  // Trailing bytes shorter than a note header are padding; anything else was caught above.
  return undefined;
}

/** The PHYS32_ENTRY desc is a 4- or 8-byte number (elfnote.h: "Numeric types are either 4 or 8 bytes"). */
function pvhEntryFromDesc(desc: Uint8Array, segment: number): number {
  if (desc.length === 4) return le.u32(desc, 0);
  if (desc.length === 8) {
    const v = le.readU64(desc, 0);
    if (v > 0xffff_ffffn) throw new LoaderError('invalid-note', `PVH entry ${hex(v)} in segment ${segment} is not a 32-bit address`);
    return Number(v);
  }
  throw new LoaderError('invalid-note', `PVH entry note in segment ${segment} has a ${desc.length}-byte desc, not 4 or 8`);
}

/** True when gpa lies inside one of the segments' [paddr, paddr + memSize). */
export function isInSegments(image: ElfImage, gpa: number): boolean {
  return image.segments.some((s) => gpa >= s.paddr && gpa < s.paddr + s.memSize);
}

/** Zeroes are written from one reused buffer so a large .bss does not allocate its size. */
const ZERO_CHUNK = new Uint8Array(1 << 20);

/**
 * Parses bytes and copies every PT_LOAD segment to p_paddr, zero-filling p_memsz beyond p_filesz.
 * Like Firecracker, segments must lie at or above HIGH_MEMORY_START (1 MiB) and inside guest RAM.
 * Entry points are validated by the caller, which knows which one it will use.
 */
export function loadElf(mem: GuestMemory, bytes: Uint8Array): ElfLoadResult {
  const image = parseElf(bytes);
  let kernelStart = Number.MAX_SAFE_INTEGER;
  let kernelEnd = 0;
  image.segments.forEach((s, i) => {
    if (s.paddr < HIGH_MEMORY_START) {
      throw new LoaderError('segment-out-of-range', `segment ${i} at ${hex(s.paddr)} is below 1 MiB (HIGH_MEMORY_START)`);
    }
    if (s.memSize > 0 && !mem.checkRange(s.paddr, s.memSize)) {
      throw new LoaderError(
        'segment-out-of-range',
        `segment ${i} at ${hex(s.paddr)}+${hex(s.memSize)} is not inside guest RAM (${hex(mem.size)} bytes)`,
      );
    }
  });
  for (const s of image.segments) {
    mem.write(s.paddr, bytes.subarray(s.fileOffset, s.fileOffset + s.fileSize));
    for (let done = s.fileSize; done < s.memSize; done += ZERO_CHUNK.length) {
      mem.write(s.paddr + done, ZERO_CHUNK.subarray(0, Math.min(ZERO_CHUNK.length, s.memSize - done)));
    }
    kernelStart = Math.min(kernelStart, s.paddr);
    kernelEnd = Math.max(kernelEnd, s.paddr + s.memSize);
  }
  return { ...image, kernelStart, kernelEnd };
}
