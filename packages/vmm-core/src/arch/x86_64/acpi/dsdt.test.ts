import { le } from '@workervisor/base';
import { describe, expect, it } from 'vitest';
import { GED_IRQ, GED_START, VIRTIO_IRQ_BASE, VIRTIO_MMIO_SIZE, VIRTIO_MMIO_START } from '../layout.js';
import * as aml from './aml.js';
import { buildDsdt, com1Node, dsdtAml, i8042Node, pvpanicNode, virtioMmioNode, virtioNodeName, type VirtioMmioSlot } from './dsdt.js';
import { AcpiError } from './error.js';
import { gedAml, type GedConfig } from './ged.js';
import { byteSum, getAscii } from './sdt.js';

/** Offset of the first occurrence of needle in haystack, or -1. */
function indexOf(haystack: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function count(haystack: Uint8Array, needle: Uint8Array): number {
  let n = 0;
  for (let i = indexOf(haystack, needle); i >= 0; i = indexOf(haystack, needle, i + 1)) n++;
  return n;
}

/** Offset of `Device (name)` (ExtOpPrefix DeviceOp PkgLength NameSeg), or -1. */
function deviceNamed(body: Uint8Array, name: string): number {
  for (let i = indexOf(body, Uint8Array.of(0x5b, 0x82)); i >= 0; i = indexOf(body, Uint8Array.of(0x5b, 0x82), i + 1)) {
    const nameAt = i + 2 + (body[i + 2]! >> 6) + 1;
    if (getAscii(body, nameAt, 4) === name) return i;
  }
  return -1;
}

const ascii = (s: string): Uint8Array => Uint8Array.from([...s].map((c) => c.charCodeAt(0)));
const slots = (n: number): VirtioMmioSlot[] =>
  Array.from({ length: n }, (_, i) => ({ base: VIRTIO_MMIO_START + i * VIRTIO_MMIO_SIZE, size: VIRTIO_MMIO_SIZE, irq: VIRTIO_IRQ_BASE + i }));
/** The nodes the builder's devices contribute: COM1, PS2K, PEVT, then the GED and the virtio slots. */
const nodes = (virtio: VirtioMmioSlot[], ged?: GedConfig): Uint8Array[] => [
  com1Node(),
  i8042Node(),
  pvpanicNode(),
  ...(ged === undefined ? [] : gedAml(ged)),
  ...virtio.map(virtioMmioNode),
];

describe('buildDsdt', () => {
  it('is a revision-2 DSDT whose bytes sum to zero', () => {
    const dsdt = buildDsdt(nodes(slots(2)));
    expect(getAscii(dsdt, 0, 4)).toBe('DSDT');
    expect(dsdt[8]).toBe(2);
    expect(le.u32(dsdt, 4)).toBe(dsdt.length);
    expect(byteSum(dsdt)).toBe(0);
  });

  it('starts with Scope (_SB_) at the root holding the devices', () => {
    const body = dsdtAml(nodes([]));
    expect(body[0]).toBe(0x10); // ScopeOp
    const pkgLen = (body[1]! >> 6) + 1; // bits 7-6: following PkgLength bytes
    expect([...body.subarray(1 + pkgLen, 1 + pkgLen + 4)]).toEqual([...ascii('_SB_')]);
  });

  it('describes COM1 as PNP0501 with IO 0x3F8 length 8 and IRQ 4', () => {
    const body = dsdtAml(nodes([]));
    const dev = deviceNamed(body, 'COM1');
    expect(dev).toBeGreaterThan(0);
    expect(indexOf(body, aml.name('_HID', aml.eisaId('PNP0501')))).toBeGreaterThan(dev);
    expect(indexOf(body, aml.concat([aml.io(0x3f8, 0x3f8, 1, 8), aml.irqNoFlags([4])]))).toBeGreaterThan(0);
  });

  it('describes the i8042 as PNP0303 with ports 0x60 and 0x64 and IRQ 1', () => {
    const body = dsdtAml(nodes([]));
    const dev = deviceNamed(body, 'PS2K');
    expect(dev).toBeGreaterThan(0);
    expect(indexOf(body, aml.name('_HID', aml.eisaId('PNP0303')))).toBeGreaterThan(dev);
    expect(indexOf(body, aml.concat([aml.io(0x60, 0x60, 1, 1), aml.io(0x64, 0x64, 1, 1), aml.irqNoFlags([1])]))).toBeGreaterThan(0);
  });

  it('describes the pvpanic port as QEMU0001 with IO 0x505 length 1', () => {
    const body = dsdtAml(nodes([]));
    const dev = deviceNamed(body, 'PEVT');
    expect(dev).toBeGreaterThan(0);
    expect(indexOf(body, aml.name('_HID', aml.string('QEMU0001')))).toBeGreaterThan(dev);
    expect(indexOf(body, aml.io(0x505, 0x505, 1, 1), dev)).toBeGreaterThan(dev);
  });

  it('has one LNRO0005 node per virtio slot with its window and edge-triggered GSI', () => {
    const given = slots(3);
    const body = dsdtAml(nodes(given));
    expect(count(body, aml.string('LNRO0005'))).toBe(3);
    given.forEach((slot, i) => {
      const node = deviceNamed(body, virtioNodeName(i));
      expect(node).toBeGreaterThan(0);
      const uid = indexOf(body, aml.name('_UID', aml.integer(i)), node);
      const crs = indexOf(body, aml.concat([aml.memory32Fixed(slot.base, slot.size), aml.extendedInterrupt([slot.irq])]), node);
      expect(uid).toBeGreaterThan(node);
      expect(crs).toBeGreaterThan(uid);
    });
    expect(count(dsdtAml(nodes([])), aml.string('LNRO0005'))).toBe(0);
  });

  it('holds the given nodes inside \\_SB_ in their order, PWRB and GED_ only when given', () => {
    const ged = { base: GED_START, irq: GED_IRQ };
    const body = dsdtAml(nodes(slots(2), ged));
    expect(deviceNamed(dsdtAml(nodes(slots(2))), 'PWRB')).toBe(-1);
    expect(deviceNamed(dsdtAml(nodes(slots(2))), 'GED_')).toBe(-1);
    expect(deviceNamed(body, 'PWRB')).toBeGreaterThan(deviceNamed(body, 'PEVT'));
    expect(deviceNamed(body, 'GED_')).toBeGreaterThan(deviceNamed(body, 'PWRB'));
    expect(deviceNamed(body, virtioNodeName(0))).toBeGreaterThan(deviceNamed(body, 'GED_'));
    expect(indexOf(body, aml.concat(gedAml(ged)))).toBeGreaterThan(0);
    expect(byteSum(buildDsdt(nodes(slots(2), ged)))).toBe(0);
  });

  it('names virtio nodes VR00..VRFF', () => {
    expect([0, 9, 10, 255].map(virtioNodeName)).toEqual(['VR00', 'VR09', 'VR0A', 'VRFF']);
  });

  it('ends with \\_S5_ = Package {5, 5, 0, 0}', () => {
    const body = dsdtAml(nodes(slots(1)));
    const s5 = aml.name('_S5_', aml.packageOf([aml.integer(5), aml.integer(5), aml.integer(0), aml.integer(0)]));
    expect(indexOf(body, s5)).toBe(body.length - s5.length);
  });

  it('grows past one-byte PkgLengths with many slots and stays consistent', () => {
    const dsdt = buildDsdt(nodes(slots(16)));
    expect(byteSum(dsdt)).toBe(0);
    expect(count(dsdt, aml.string('LNRO0005'))).toBe(16);
  });

  it.each([
    { base: 0xffff_f800, size: 0x1000, irq: 5 },
    { base: 0xd000_0000, size: 0, irq: 5 },
    { base: 0xd000_0000, size: 0x1000, irq: -1 },
    { base: 0.5, size: 0x1000, irq: 5 },
  ])('rejects a virtio slot that does not fit 32-bit fields: %o', (slot) => {
    expect(() => virtioMmioNode(slot, 0)).toThrow(expect.objectContaining({ code: 'ERR_VMM_ACPI_INVALID_CONFIG' }));
  });

  it('rejects a GED register above 4 GiB', () => {
    expect(() => gedAml({ base: 0x1_0000_0000, irq: GED_IRQ })).toThrow(expect.objectContaining({ code: 'ERR_VMM_ACPI_INVALID_CONFIG' }));
  });

  it('rejects more slots than node names', () => {
    expect(() => virtioMmioNode(slots(257)[256]!, 256)).toThrow(AcpiError);
  });
});
