import type { GuestMemory } from '@workervisor/devices';
import { le } from '@workervisor/base';
import { describe, expect, it } from 'vitest';
import { ACPI_TABLES_END, GED_IRQ, GED_START, RSDP_START, VIRTIO_IRQ_BASE, VIRTIO_MMIO_SIZE, VIRTIO_MMIO_START } from '../layout.js';
import { ACPI_TABLE_ALIGNMENT, AcpiError, com1Node, createAcpiTables, gedAml, i8042Node, planLayout, pvpanicNode, virtioMmioNode, type AcpiConfig } from './index.js';
import { byteSum, getAscii } from './sdt.js';

/** Guest RAM [0, size) over a plain buffer; enough of GuestMemory for the table writer. */
class TestMemory implements GuestMemory {
  readonly bytes: Uint8Array;
  constructor(readonly size: number) {
    this.bytes = new Uint8Array(size);
  }
  checkRange(gpa: number, len: number): boolean {
    return gpa >= 0 && len >= 0 && gpa + len <= this.size;
  }
  slice(gpa: number, len: number): Uint8Array {
    if (!this.checkRange(gpa, len)) throw new RangeError(`0x${gpa.toString(16)}+${len} outside RAM`);
    return this.bytes.subarray(gpa, gpa + len);
  }
  read(gpa: number, dst: Uint8Array): void {
    dst.set(this.slice(gpa, dst.length));
  }
  write(gpa: number, src: Uint8Array): void {
    this.slice(gpa, src.length).set(src);
  }
  readU8(gpa: number): number {
    return this.slice(gpa, 1)[0]!;
  }
  readU16(gpa: number): number {
    return le.u16(this.slice(gpa, 2), 0);
  }
  readU32(gpa: number): number {
    return le.u32(this.slice(gpa, 4), 0);
  }
  readU64(gpa: number): bigint {
    return le.readU64(this.slice(gpa, 8));
  }
  writeU8(gpa: number, v: number): void {
    this.slice(gpa, 1)[0] = v;
  }
  writeU16(gpa: number, v: number): void {
    le.putU16(this.slice(gpa, 2), 0, v);
  }
  writeU32(gpa: number, v: number): void {
    le.putU32(this.slice(gpa, 4), 0, v);
  }
  writeU64(gpa: number, v: bigint): void {
    le.writeU64(this.slice(gpa, 8), 0, v);
  }
  fence(): void {}
}

/** The machine's nodes as the builder's devices contribute them: legacy, the GED if wanted, the virtio slots. */
const config = (vcpus: number, virtio = 2, ged = false): AcpiConfig => ({
  vcpus,
  devices: [
    com1Node(),
    i8042Node(),
    pvpanicNode(),
    ...(ged ? gedAml({ base: GED_START, irq: GED_IRQ }) : []),
    ...Array.from({ length: virtio }, (_, i) => virtioMmioNode({ base: VIRTIO_MMIO_START + i * VIRTIO_MMIO_SIZE, size: VIRTIO_MMIO_SIZE, irq: VIRTIO_IRQ_BASE + i }, i)),
  ],
});

/** What Linux's acpi_find_root_pointer does: 16-byte steps over 0xE0000-0xFFFFF, signature + checksums. */
function scanForRsdp(mem: GuestMemory): number | undefined {
  for (let gpa = 0xe0000; gpa < 0x10_0000; gpa += 16) {
    const head = mem.slice(gpa, 36);
    if (getAscii(head, 0, 8) !== 'RSD PTR ' || byteSum(head, 0, 20) !== 0) continue;
    if (head[15]! >= 2 && byteSum(head, 0, le.u32(head, 20)) !== 0) continue;
    return gpa;
  }
  return undefined;
}

/** Reads a whole SDT (header length) at gpa and checks its checksum. */
function tableAt(mem: GuestMemory, gpa: number): Uint8Array {
  const table = mem.slice(gpa, le.u32(mem.slice(gpa + 4, 4), 0));
  expect(byteSum(table)).toBe(0);
  return table;
}

describe('createAcpiTables', () => {
  it('puts the RSDP where a legacy 0xE0000-0xFFFFF scan finds it', () => {
    const mem = new TestMemory(0x10_0000);
    const { rsdpAddress } = createAcpiTables(mem, config(2));
    expect(rsdpAddress).toBe(RSDP_START);
    expect(rsdpAddress % 16).toBe(0);
    expect(scanForRsdp(mem)).toBe(rsdpAddress);
  });

  it('links RSDP -> XSDT -> FADT, MADT and FADT -> DSDT in guest memory, every checksum valid', () => {
    const mem = new TestMemory(0x10_0000);
    createAcpiTables(mem, config(8));
    const rsdp = mem.slice(scanForRsdp(mem)!, 36);
    const xsdt = tableAt(mem, Number(le.readU64(rsdp, 24)));
    expect(getAscii(xsdt, 0, 4)).toBe('XSDT');
    const pointed = [0, 1].map((i) => tableAt(mem, Number(le.readU64(xsdt, 36 + 8 * i))));
    expect(pointed.map((t) => getAscii(t, 0, 4))).toEqual(['FACP', 'APIC']);
    const dsdt = tableAt(mem, Number(le.readU64(pointed[0]!, 140)));
    expect(getAscii(dsdt, 0, 4)).toBe('DSDT');
  });

  it('returns exactly the bytes it wrote, in address order, inside the ACPI window', () => {
    const mem = new TestMemory(0x10_0000);
    const { tables } = createAcpiTables(mem, config(4));
    expect(tables.map((t) => t.signature)).toEqual(['RSDP', 'XSDT', 'FACP', 'APIC', 'DSDT']);
    let previousEnd = RSDP_START;
    for (const t of tables) {
      expect(t.address).toBeGreaterThanOrEqual(previousEnd);
      expect(t.address % ACPI_TABLE_ALIGNMENT).toBe(0);
      expect(mem.slice(t.address, t.bytes.length)).toEqual(t.bytes);
      expect(byteSum(t.bytes)).toBe(0);
      previousEnd = t.address + t.bytes.length;
    }
    expect(previousEnd).toBeLessThanOrEqual(ACPI_TABLES_END);
  });

  it('fits the largest machine: MAX_VCPUS vCPUs, 16 virtio slots and the GED', () => {
    const { tables } = createAcpiTables(new TestMemory(0x10_0000), config(254, 16, true));
    const last = tables[tables.length - 1]!;
    expect(last.address + last.bytes.length).toBeLessThanOrEqual(ACPI_TABLES_END);
  });

  it('puts the GED power button in the DSDT only when the config has one', () => {
    const dsdt = (c: AcpiConfig): string => Buffer.from(createAcpiTables(new TestMemory(0x10_0000), c).tables.find((t) => t.signature === 'DSDT')!.bytes).toString('latin1');
    expect(dsdt(config(1))).not.toContain('ACPI0013');
    const withGed = dsdt(config(1, 2, true));
    expect(withGed).toContain('ACPI0013');
    expect(withGed).toContain('PWRB');
  });

  it('fails with guest-memory when RAM does not reach the ACPI window', () => {
    expect(() => createAcpiTables(new TestMemory(RSDP_START), config(1))).toThrow(
      expect.objectContaining({ code: 'ERR_VMM_ACPI_GUEST_MEMORY' }),
    );
  });

  it('chains the cause when a write into guest memory fails', () => {
    const mem = new TestMemory(0x10_0000);
    const failing: GuestMemory = Object.assign(Object.create(mem) as TestMemory, {
      write: () => {
        throw new RangeError('boom');
      },
    });
    try {
      createAcpiTables(failing, config(1));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(AcpiError);
      expect((err as AcpiError).kind).toBe('guest-memory');
      expect((err as AcpiError).cause).toBeInstanceOf(RangeError);
    }
  });

  it('rejects a bad configuration before touching guest memory', () => {
    const mem = new TestMemory(0x10_0000);
    expect(() => createAcpiTables(mem, config(0))).toThrow(expect.objectContaining({ kind: 'invalid-config' }));
    expect(mem.bytes.every((b) => b === 0)).toBe(true);
  });
});

describe('planLayout', () => {
  it('aligns every table after the first', () => {
    expect(planLayout([36, 52, 276], 0xe0000, 0xf0000)).toEqual([0xe0000, 0xe0030, 0xe0070]);
  });

  it('reports no-space with the sizes involved when the tables pass the end', () => {
    expect(() => planLayout([0x800, 0x900], 0xe0000, 0xe1000)).toThrow(
      expect.objectContaining({ code: 'ERR_VMM_ACPI_NO_SPACE', details: { needed: 0x1100, available: 0x1000 } }),
    );
    expect(planLayout([0x800, 0x800], 0xe0000, 0xe1000)).toEqual([0xe0000, 0xe0800]);
  });
});
