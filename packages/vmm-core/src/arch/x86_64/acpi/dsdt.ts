// Differentiated System Description Table: the AML namespace of the machine (ACPI 6.5
// section 5.2.11.1): each device's node inside \_SB_ (COM1, the i8042, the pvpanic port, one
// LNRO0005 node per virtio-mmio slot — Linux's virtio_mmio ACPI match; Debian's kernel has no
// virtio_mmio.device= support — and the GED power button, ged.ts), then \_S5_ (section 7.4.2)
// so that a guest poweroff writes the sleep control register.
import {
  ACPI_S5_SLEEP_TYPE,
  COM1_IRQ,
  COM1_PORT,
  I8042_COMMAND_PORT,
  I8042_DATA_PORT,
  I8042_IRQ,
  PVPANIC_PORT,
} from '../layout.js';
import * as aml from './aml.js';
import { AcpiError } from './error.js';
import { buildSdt } from './sdt.js';

/** DSDT revision 2: AML integers are 64-bit (section 5.2.11.1). */
export const DSDT_REVISION = 2;
/** The _HID Linux's virtio_mmio driver matches (drivers/virtio/virtio_mmio.c). */
export const VIRTIO_MMIO_HID = 'LNRO0005';
/** The _HID of QEMU's pvpanic device (drivers/misc/pvpanic/pvpanic-mmio.c). */
export const PVPANIC_HID = 'QEMU0001';
/** At most this many virtio-mmio nodes: their names are VR00..VRFF. */
export const MAX_VIRTIO_NODES = 256;

/** One virtio-mmio transport as the guest must see it. */
export interface VirtioMmioSlot {
  /** Guest-physical byte address of the register window (below 4 GiB). */
  readonly base: number;
  /** Window size in bytes. */
  readonly size: number;
  /** Global system interrupt (IOAPIC pin), edge-triggered, active high. */
  readonly irq: number;
}

/** Device(COM1): the 16550A at COM1_PORT, 8 ports, ISA IRQ COM1_IRQ. */
export function com1Node(): Uint8Array {
  return aml.device('COM1', [
    aml.name('_HID', aml.eisaId('PNP0501')),
    aml.name('_UID', aml.integer(0)),
    aml.name('_CRS', aml.resourceTemplate([aml.io(COM1_PORT, COM1_PORT, 1, 8), aml.irqNoFlags([COM1_IRQ])])),
  ]);
}

/**
 * Device(PS2K): the i8042 with its data and command ports and the keyboard IRQ. PNP0303 is
 * what Linux's i8042 PNP probe matches; there is no PS/2 mouse (PNP0F13) node.
 */
export function i8042Node(): Uint8Array {
  return aml.device('PS2K', [
    aml.name('_HID', aml.eisaId('PNP0303')),
    aml.name(
      '_CRS',
      aml.resourceTemplate([
        aml.io(I8042_DATA_PORT, I8042_DATA_PORT, 1, 1),
        aml.io(I8042_COMMAND_PORT, I8042_COMMAND_PORT, 1, 1),
        aml.irqNoFlags([I8042_IRQ]),
      ]),
    ),
  ]);
}

/** The 4-character node name of virtio slot `index`: VR00, VR01, ... VRFF. */
export function virtioNodeName(index: number): string {
  return `VR${index.toString(16).toUpperCase().padStart(2, '0')}`;
}

/**
 * Device(VRnn): the virtio-mmio transport of slot `index` with its register window and interrupt.
 * Throws AcpiError('invalid-config') when the slot does not fit the 32-bit fields or `index`
 * has no node name.
 */
export function virtioMmioNode(slot: VirtioMmioSlot, index: number): Uint8Array {
  if (!Number.isSafeInteger(index) || index < 0 || index >= MAX_VIRTIO_NODES) {
    throw new AcpiError('invalid-config', `virtio-mmio slot ${index} has no node name (at most ${MAX_VIRTIO_NODES} slots)`);
  }
  checkSlot(slot, index);
  return aml.device(virtioNodeName(index), [
    aml.name('_HID', aml.string(VIRTIO_MMIO_HID)),
    aml.name('_UID', aml.integer(index)),
    aml.name(
      '_CRS',
      aml.resourceTemplate([aml.memory32Fixed(slot.base, slot.size), aml.extendedInterrupt([slot.irq], { edge: true, activeLow: false, shared: false })]),
    ),
  ]);
}

/**
 * Device(PEVT): QEMU's pvpanic (QEMU0001) on one I/O port. Linux's pvpanic-mmio binds it and
 * writes PVPANIC_PANICKED when the kernel panics, so the VMM can tell a crash from a reboot.
 */
export function pvpanicNode(): Uint8Array {
  return aml.device('PEVT', [
    aml.name('_HID', aml.string(PVPANIC_HID)),
    aml.name('_UID', aml.integer(0)),
    aml.name('_CRS', aml.resourceTemplate([aml.io(PVPANIC_PORT, PVPANIC_PORT, 1, 1)])),
  ]);
}

/**
 * `Name (\_S5_, Package () { SLP_TYPa, SLP_TYPb, 0, 0 })`: the guest writes
 * SLP_TYPa << 2 | SLP_EN to the FADT's sleep control register to power off.
 */
function s5(): Uint8Array {
  const type = aml.integer(ACPI_S5_SLEEP_TYPE);
  return aml.name('_S5_', aml.packageOf([type, type, aml.integer(0), aml.integer(0)]));
}

/** Checks a virtio slot fits the 32-bit Memory32Fixed and Extended Interrupt fields. */
function checkSlot(slot: VirtioMmioSlot, index: number): void {
  const ok =
    Number.isSafeInteger(slot.base) &&
    Number.isSafeInteger(slot.size) &&
    Number.isSafeInteger(slot.irq) &&
    slot.base >= 0 &&
    slot.size > 0 &&
    slot.base + slot.size <= 0x1_0000_0000 &&
    slot.irq >= 0 &&
    slot.irq <= 0xffff_ffff;
  if (!ok) {
    throw new AcpiError(
      'invalid-config',
      `virtio-mmio slot ${index} (base 0x${slot.base.toString(16)}, size 0x${slot.size.toString(16)}, irq ${slot.irq}) must lie below 4 GiB with a 32-bit GSI`,
    );
  }
}

/** The DSDT's AML body (everything after the header): `nodes` inside \_SB_ in order, then \_S5_. */
export function dsdtAml(nodes: ReadonlyArray<Uint8Array>): Uint8Array {
  return aml.concat([aml.scope('_SB_', [...nodes]), s5()]);
}

/** The complete DSDT holding `nodes` (each device's AML Device() node) in \_SB_. */
export function buildDsdt(nodes: ReadonlyArray<Uint8Array>): Uint8Array {
  return buildSdt({ signature: 'DSDT', revision: DSDT_REVISION }, dsdtAml(nodes));
}
