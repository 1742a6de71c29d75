// The legacy and platform devices of the x86_64 machine as registrations: COM1 with its host end,
// the i8042, the ACPI shutdown port, the debug port, pvpanic, the boot timer and the ACPI GED.
// Addresses and GSIs come from layout.ts; the AML nodes from acpi/.
import {
  ACPI_SHUTDOWN_PORT_COUNT,
  AcpiGed,
  AcpiShutdown,
  BootTimer,
  BytePortBusDevice,
  DEBUG_PORT_COUNT,
  DebugPort,
  I8042,
  I8042_PORT_SPAN,
  PVPANIC_PORT_COUNT,
  PvPanic,
  Serial,
  SERIAL_PORT_COUNT,
} from '@workervisor/devices';
import * as aml from './arch/x86_64/acpi/aml.js';
import { com1Node, gedAml, i8042Node, pvpanicNode } from './arch/x86_64/acpi/index.js';
import * as L from './arch/x86_64/layout.js';
import { numericFields, type DeviceContext, type DeviceRegistration } from './device-manager.js';
import type { SerialSink } from './machine-config.js';
import { attachSerialInput, serialOutput } from './serial-host.js';
import { serialSocket } from './serial-socket.js';
import type { TeardownStep } from './teardown.js';

/** COM1 (16550A, PNP0501) on its host end: stdout, a file, a Unix socket or nothing; stdin in tty mode. */
export async function com1(ctx: DeviceContext, sink: SerialSink): Promise<DeviceRegistration> {
  // The host end feeds input to the UART and the UART writes to the host end: the input side
  // looks the UART up when bytes arrive (until it exists they wait in the socket's backlog).
  let serial: Serial | undefined;
  const sock = sink.kind === 'socket' ? serialSocket(sink.path, () => serial) : undefined;
  const out = sock ?? serialOutput(sink);
  try {
    await sock?.ready;
  } catch (err) {
    out.close();
    throw err;
  }
  const input = sink.kind === 'tty' ? attachSerialInput(() => serial) : sock;
  const teardown: TeardownStep[] = [{ name: 'host output', run: out.close }];
  if (input !== undefined && input !== sock) teardown.push({ name: 'stdin', run: input.close });
  const uart = new Serial({ irq: ctx.irq(L.COM1_IRQ), output: out.output, name: 'com1', ...(input === undefined ? {} : { onInputDrained: input.onDrained }) });
  serial = uart;
  return {
    name: 'com1',
    ranges: [{ bus: 'pio', base: L.COM1_PORT, size: SERIAL_PORT_COUNT, device: new BytePortBusDevice(uart) }],
    gsis: [L.COM1_IRQ],
    acpi: com1Node(),
    counters: () => numericFields(uart.metrics),
    state: uart,
    teardown,
  };
}

/** The i8042 (PNP0303): keyboard IRQ 1, reset through command 0xFE. */
export function i8042(ctx: DeviceContext): DeviceRegistration {
  const device = new I8042({ kbdIrq: ctx.irq(L.I8042_IRQ), exit: ctx.exit });
  return {
    name: 'i8042',
    ranges: [{ bus: 'pio', base: L.I8042_DATA_PORT, size: I8042_PORT_SPAN, device: new BytePortBusDevice(device) }],
    gsis: [L.I8042_IRQ],
    acpi: i8042Node(),
    counters: () => numericFields(device.metrics),
    state: device,
  };
}

/** The FADT's sleep control/status and reset register: S5 powers off, ACPI_RESET_VALUE resets. */
export function acpiShutdown(ctx: DeviceContext): DeviceRegistration {
  const device = new AcpiShutdown({ exit: ctx.exit, resetValue: L.ACPI_RESET_VALUE, s5SleepType: L.ACPI_S5_SLEEP_TYPE });
  return { name: 'acpi-shutdown', ranges: [{ bus: 'pio', base: L.ACPI_SHUTDOWN_PORT, size: ACPI_SHUTDOWN_PORT_COUNT, device: new BytePortBusDevice(device) }], gsis: [], stateless: true };
}

/** Port 0x80: POST codes with timestamps. */
export function debugPort(): DeviceRegistration {
  const device = new DebugPort();
  return {
    name: 'debug-port',
    ranges: [{ bus: 'pio', base: L.DEBUG_PORT, size: DEBUG_PORT_COUNT, device: new BytePortBusDevice(device) }],
    gsis: [],
    counters: () => numericFields(device.metrics),
    state: device,
  };
}

/** QEMU's pvpanic port (QEMU0001): a guest kernel panic ends the VM as a panic, not a reset. */
export function pvpanic(ctx: DeviceContext): DeviceRegistration {
  const device = new PvPanic({ onPanic: (reason) => ctx.exit.panic(reason) });
  return { name: 'pvpanic', ranges: [{ bus: 'pio', base: L.PVPANIC_PORT, size: PVPANIC_PORT_COUNT, device: new BytePortBusDevice(device) }], gsis: [], acpi: pvpanicNode(), stateless: true };
}

/** Firecracker's boot timer: a guest write of 123 logs the time since start. */
export function bootTimer(): DeviceRegistration {
  // Its start instant is this process's: a restored guest measures from the restore.
  return { name: 'boot-timer', ranges: [{ bus: 'mmio', base: L.BOOT_TIMER_START, size: L.BOOT_TIMER_SIZE, device: new BootTimer() }], gsis: [], stateless: true };
}

/**
 * The ACPI power button: vm.power-button sets the GED's event bit and raises GED_IRQ; the DSDT's
 * GED _EVT reads the register (a 1-byte MMIO load) and notifies \_SB.PWRB.
 */
export function acpiGed(ctx: DeviceContext): DeviceRegistration & { readonly device: AcpiGed } {
  const device = new AcpiGed({ irq: ctx.irq(L.GED_IRQ) });
  return {
    name: 'acpi-ged',
    device,
    ranges: [{ bus: 'mmio', base: L.GED_START, size: L.GED_SIZE, device: new BytePortBusDevice(device) }],
    gsis: [L.GED_IRQ],
    acpi: aml.concat(gedAml({ base: L.GED_START, irq: L.GED_IRQ })),
    counters: () => numericFields(device.metrics),
    state: device,
  };
}
