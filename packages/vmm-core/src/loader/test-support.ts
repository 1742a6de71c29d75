// Test helpers for the loader and x86_64 boot tests (not exported from the package): Debian's real
// kernel files from e2e/linux/out/ when present, and builders of small synthetic ELF and bzImage files.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { le } from '@workervisor/base';

/** e2e/linux/out/, where e2e/linux/build.sh puts Debian's cloud kernel. */
export const LINUX_OUT_DIR = fileURLToPath(new URL('../../../../e2e/linux/out/', import.meta.url));

/** Reads e2e/linux/out/<name>; when absent, prints why the tests using it are skipped. */
export function readLinuxArtifact(name: 'vmlinuz' | 'vmlinux' | 'initramfs.cpio.gz'): Uint8Array | undefined {
  const path = LINUX_OUT_DIR + name;
  if (!existsSync(path)) {
    console.warn(`skipping tests on Debian's ${name}: ${path} is absent (run e2e/linux/build.sh)`);
    return undefined;
  }
  return new Uint8Array(readFileSync(path));
}

export interface TestSegment {
  readonly type?: number;
  readonly paddr: number;
  readonly data: Uint8Array;
  /** Defaults to data.length. */
  readonly memSize?: number;
  readonly align?: number;
}

/** One ELF note: name (NUL added), type, desc. */
export interface TestNote {
  readonly name: string;
  readonly type: number;
  readonly desc: Uint8Array;
}

/** Encodes notes with 4-byte padding (gABI "Note Section"). */
export function encodeNotes(notes: readonly TestNote[]): Uint8Array {
  const parts: number[] = [];
  const pad = (): void => {
    while (parts.length % 4 !== 0) parts.push(0);
  };
  for (const n of notes) {
    const name = [...new TextEncoder().encode(n.name), 0];
    const hdr = new Uint8Array(12);
    le.putU32(hdr, 0, name.length);
    le.putU32(hdr, 4, n.desc.length);
    le.putU32(hdr, 8, n.type);
    parts.push(...hdr, ...name);
    pad();
    parts.push(...n.desc);
    pad();
  }
  return Uint8Array.from(parts);
}

/** A u32 / u64 little-endian desc. */
export function u32Desc(v: number): Uint8Array {
  const b = new Uint8Array(4);
  le.putU32(b, 0, v);
  return b;
}

export function u64Desc(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  le.writeU64(b, 0, v);
  return b;
}

/**
 * Builds an ELF64 x86_64 ET_EXEC file: header, program headers, then each segment's bytes.
 * PT_NOTE segments are made from notes (type 4 with data = encodeNotes(...)).
 */
export function buildElf(options: { entry: number; segments: readonly TestSegment[] }): Uint8Array {
  const phoff = 64;
  const phnum = options.segments.length;
  let offset = phoff + phnum * 56;
  const dataOffsets = options.segments.map((s) => {
    const at = offset;
    offset += s.data.length;
    return at;
  });
  const out = new Uint8Array(offset);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  le.putU16(out, 16, 2); // ET_EXEC
  le.putU16(out, 18, 62); // EM_X86_64
  le.putU32(out, 20, 1);
  le.writeU64(out, 24, BigInt(options.entry));
  le.writeU64(out, 32, BigInt(phoff));
  le.putU16(out, 52, 64);
  le.putU16(out, 54, 56);
  le.putU16(out, 56, phnum);
  options.segments.forEach((s, i) => {
    const ph = phoff + i * 56;
    const at = dataOffsets[i] ?? 0;
    le.putU32(out, ph, s.type ?? 1);
    le.writeU64(out, ph + 8, BigInt(at));
    le.writeU64(out, ph + 16, BigInt(s.paddr));
    le.writeU64(out, ph + 24, BigInt(s.paddr));
    le.writeU64(out, ph + 32, BigInt(s.data.length));
    le.writeU64(out, ph + 40, BigInt(s.memSize ?? s.data.length));
    le.writeU64(out, ph + 48, BigInt(s.align ?? 4));
    out.set(s.data, at);
  });
  return out;
}

/** Fields of a synthetic bzImage; everything else is zero. */
export interface TestBzImageOptions {
  readonly setupSects?: number;
  readonly version?: number;
  readonly loadflags?: number;
  readonly xloadflags?: number;
  readonly relocatable?: boolean;
  readonly kernelAlignment?: number;
  readonly prefAddress?: number;
  readonly initSize?: number;
  readonly cmdlineSize?: number;
  readonly initrdAddrMax?: number;
  /** Protected-mode kernel bytes. */
  readonly kernel?: Uint8Array;
}

/** Builds a bzImage: setup sectors with a 2.15-style header, then the protected-mode kernel. */
export function buildBzImage(o: TestBzImageOptions = {}): Uint8Array {
  const setupSects = o.setupSects ?? 4;
  const kernel = o.kernel ?? Uint8Array.from({ length: 0x1000 }, (_, i) => i & 0xff);
  const setupBytes = ((setupSects === 0 ? 4 : setupSects) + 1) * 512;
  const out = new Uint8Array(setupBytes + kernel.length);
  out[0x1f1] = setupSects;
  le.putU32(out, 0x1f4, Math.floor(kernel.length / 16));
  le.putU16(out, 0x1fe, 0xaa55);
  out[0x200] = 0xeb; // jmp short: the header ends at 0x202 + this byte
  out[0x201] = 0x6a; // 0x26c, the 2.15 header end
  le.putU32(out, 0x202, 0x5372_6448);
  le.putU16(out, 0x206, o.version ?? 0x020f);
  out[0x211] = o.loadflags ?? 1;
  le.putU32(out, 0x214, 0x10_0000);
  le.putU32(out, 0x22c, o.initrdAddrMax ?? 0x7fff_ffff);
  le.putU32(out, 0x230, o.kernelAlignment ?? 0x20_0000);
  out[0x234] = (o.relocatable ?? true) ? 1 : 0;
  out[0x235] = 21;
  le.putU16(out, 0x236, o.xloadflags ?? 0x7f);
  le.putU32(out, 0x238, o.cmdlineSize ?? 0x7ff);
  le.writeU64(out, 0x258, BigInt(o.prefAddress ?? 0x100_0000));
  le.putU32(out, 0x260, o.initSize ?? 0x40_0000);
  out.set(kernel, setupBytes);
  return out;
}

/** Runs fn and returns what it threw; throws when it returned normally. */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to throw');
}

/** The kind of the VmmError fn throws, prefixed by its class name: "LoaderError:truncated". */
export function errorKindOf(fn: () => unknown): string {
  const err = thrownBy(fn) as { name?: unknown; kind?: unknown };
  return `${String(err.name)}:${String(err.kind)}`;
}
