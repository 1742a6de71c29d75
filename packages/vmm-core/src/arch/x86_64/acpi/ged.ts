// The AML of the power button on a hardware-reduced platform: a Generic Event Device
// (ACPI0013, ACPI 6.5 section 5.6.9) whose interrupt runs _EVT, which reads the VMM's event
// register and notifies a control-method power button (PNP0C0C, section 4.8.2.2.1.2).
import * as aml from './aml.js';
import { AcpiError } from './error.js';

/** The GED _HID (ACPI 6.5 section 5.6.9; Linux drivers/acpi/evged.c matches it). */
export const GED_HID = 'ACPI0013';
/** The control-method power button's _HID (Linux drivers/acpi/button.c). */
export const POWER_BUTTON_HID = 'PNP0C0C';
/** Absolute paths of the two devices. */
export const GED_PATH = '\\_SB_.GED_';
export const POWER_BUTTON_PATH = '\\_SB_.PWRB';
/** Length in bytes of the event register the OperationRegion covers. */
export const GED_REGISTER_LENGTH = 1;
/** Register bit meaning "the power button was pressed" (devices' GED_EVENT_POWER_BUTTON). */
export const GED_POWER_BUTTON_BIT = 0x08;
/** Notify value for a button press: device-specific 0x80, "status change" (ACPI 6.5 section 4.8.2.2.1.2). */
export const POWER_BUTTON_NOTIFY = 0x80;

/** Where the GED's event register and interrupt are. */
export interface GedConfig {
  /** Guest-physical byte address of the 1-byte event register (below 4 GiB). */
  readonly base: number;
  /** Global system interrupt, edge-triggered, active high. */
  readonly irq: number;
}

/** Checks the register fits a 32-bit address and the GSI an Extended Interrupt descriptor. */
export function checkGed(ged: GedConfig): void {
  const ok =
    Number.isSafeInteger(ged.base) &&
    Number.isSafeInteger(ged.irq) &&
    ged.base >= 0 &&
    ged.base + GED_REGISTER_LENGTH <= 0x1_0000_0000 &&
    ged.irq >= 0 &&
    ged.irq <= 0xffff_ffff;
  if (!ok) {
    throw new AcpiError('invalid-config', `GED register 0x${ged.base.toString(16)} and GSI ${ged.irq} must lie below 4 GiB with a 32-bit GSI`);
  }
}

/** Device(PWRB): a control-method power button; Linux's button driver turns Notify 0x80 into KEY_POWER. */
function powerButton(): Uint8Array {
  return aml.device('PWRB', [aml.name('_HID', aml.eisaId(POWER_BUTTON_HID)), aml.name('_UID', aml.integer(0))]);
}

/**
 * Device(GED_). Its _CRS lists only the interrupt: Linux's acpi_ged_request_interrupt walks
 * _CRS and fails the probe on any resource that is not an interrupt, so the register is reached
 * through an OperationRegion instead (as QEMU's microvm does). _EVT(gsi) reads the register
 * once (reading clears it) into Local0 and tests the power-button bit:
 *
 * ```
 * Method (_EVT, 1, Serialized) {
 *   Local0 = GEVT
 *   If ((Local0 & 0x08) == 0x08) { Notify (PWRB, 0x80) }  // \_SB.PWRB
 * }
 * ```
 * Linux's evged looks for _Exx/_Lxx first (GSI <= 255) and then _EVT, passing the GSI as Arg0;
 * there is one interrupt, so Arg0 needs no test.
 */
function genericEventDevice(ged: GedConfig): Uint8Array {
  const event = aml.local(0);
  return aml.device('GED_', [
    aml.name('_HID', aml.string(GED_HID)),
    aml.name('_UID', aml.integer(0)),
    aml.name('_CRS', aml.resourceTemplate([aml.extendedInterrupt([ged.irq], { edge: true, activeLow: false, shared: false })])),
    aml.operationRegion('GEVR', 'SystemMemory', ged.base, GED_REGISTER_LENGTH),
    // WriteAsZeros: AML never writes the register; the device ignores writes anyway.
    aml.field('GEVR', { access: 'ByteAcc', update: 'WriteAsZeros' }, [{ name: 'GEVT', bits: 8 * GED_REGISTER_LENGTH }]),
    aml.method(
      '_EVT',
      [
        aml.store(aml.reference('GEVT'), event),
        aml.ifThen(aml.lEqual(aml.and(event, aml.integer(GED_POWER_BUTTON_BIT)), aml.integer(GED_POWER_BUTTON_BIT)), [
          // A bare NameSeg: the namespace search rules (ACPI 6.5 section 5.3) walk up from
          // \_SB_.GED_ to \_SB_.PWRB. It is what iasl emits for `\_SB.PWRB` here, so the
          // tables still recompile to the same bytes.
          aml.notify(aml.reference('PWRB'), POWER_BUTTON_NOTIFY),
        ]),
      ],
      // Serialized: two GED interrupts must not interleave their read-to-clear of the register.
      { argCount: 1, serialized: true },
    ),
  ]);
}

/** The terms that go inside Scope (\_SB_): the power button, then the GED. */
export function gedAml(ged: GedConfig): Uint8Array[] {
  checkGed(ged);
  return [powerButton(), genericEventDevice(ged)];
}
