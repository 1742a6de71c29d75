// Validates the tables with ACPICA (Debian's acpica-tools): each table is dumped as <SIG>.dat,
// disassembled with `iasl -d` and recompiled to the same bytes; acpiexec runs the DSDT,
// including the GED's _EVT.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GuestMemory } from '@workervisor/devices';
import { afterAll, describe, expect, it } from 'vitest';
import { GED_IRQ, GED_START, VIRTIO_IRQ_BASE, VIRTIO_MMIO_SIZE, VIRTIO_MMIO_START } from '../layout.js';
import { com1Node, createAcpiTables, gedAml, i8042Node, pvpanicNode, virtioMmioNode, type AcpiTable } from './index.js';
import { SDT_HEADER_SIZE } from './sdt.js';

const iaslProbe = spawnSync('iasl', ['-v'], { encoding: 'utf8' });
const hasIasl = iaslProbe.error === undefined;
if (iaslProbe.error !== undefined) {
  console.log(`skipping iasl tests: iasl is not on PATH (${iaslProbe.error.message}); install acpica-tools`);
}

/** Accepts every write; the tables come back from createAcpiTables' result. */
const sinkMemory = { checkRange: () => true, write: () => undefined } as unknown as GuestMemory;
const dirs: string[] = [];

function run(cwd: string, args: string[]): { status: number | null; output: string } {
  const r = spawnSync('iasl', args, { cwd, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** Builds tables for `vcpus` and `virtio` slots (and the GED, as the builder does), dumps them as <SIG>.dat and disassembles each. */
function dumpAndDisassemble(vcpus: number, virtio: number): { dir: string; tables: ReadonlyArray<AcpiTable>; dsl: Map<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), 'workervisor-acpi-'));
  dirs.push(dir);
  const { tables } = createAcpiTables(sinkMemory, {
    vcpus,
    devices: [
      com1Node(),
      i8042Node(),
      pvpanicNode(),
      ...gedAml({ base: GED_START, irq: GED_IRQ }),
      ...Array.from({ length: virtio }, (_, i) => virtioMmioNode({ base: VIRTIO_MMIO_START + i * VIRTIO_MMIO_SIZE, size: VIRTIO_MMIO_SIZE, irq: VIRTIO_IRQ_BASE + i }, i)),
    ],
  });
  const dsl = new Map<string, string>();
  for (const t of tables) {
    writeFileSync(join(dir, `${t.signature}.dat`), t.bytes);
    // iasl cannot load an RSDP from a file ("Loading an RSDP is not supported" in acfileio.c);
    // its two checksums are covered by rsdp.test.ts and the legacy scan in index.test.ts.
    if (t.signature === 'RSDP') continue;
    const r = run(dir, ['-d', `${t.signature}.dat`]);
    expect(r.status, r.output).toBe(0);
    expect(r.output).not.toMatch(/error|warning/i);
    dsl.set(t.signature, readFileSync(join(dir, `${t.signature}.dsl`), 'utf8'));
  }
  return { dir, tables, dsl };
}

const acpiexecProbe = spawnSync('acpiexec', ['-v'], { encoding: 'utf8' });
const hasAcpiexec = acpiexecProbe.error === undefined;
if (hasIasl && acpiexecProbe.error !== undefined) {
  console.log(`skipping acpiexec test: acpiexec is not on PATH (${acpiexecProbe.error.message})`);
}

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(!hasIasl)('iasl -d', () => {
  it.each([1, 2, 8])('disassembles the tables of a %i-vCPU machine with that many Processor Local APICs', (vcpus) => {
    const { dsl } = dumpAndDisassemble(vcpus, 3);
    expect([...dsl.keys()]).toEqual(['XSDT', 'FACP', 'APIC', 'DSDT']);
    const madt = dsl.get('APIC')!;
    expect(madt.match(/Subtable Type : 00 \[Processor Local APIC\]/g) ?? []).toHaveLength(vcpus);
    expect(madt.match(/Processor Enabled : 1/g) ?? []).toHaveLength(vcpus);
    expect(madt).toMatch(/Subtable Type : 01 \[I\/O APIC\]/);
    expect(madt).toMatch(/Subtable Type : 02 \[Interrupt Source Override\]/);
    expect(madt).toMatch(/Subtable Type : 04 \[Local APIC NMI\]/);
  });

  it('finds COM1, the i8042, the virtio-mmio nodes and _S5_ in the DSDT', () => {
    const dsdt = dumpAndDisassemble(2, 3).dsl.get('DSDT')!;
    expect(dsdt).toMatch(/Name \(_HID, EisaId \("PNP0501"\)/);
    expect(dsdt).toMatch(/Name \(_HID, EisaId \("PNP0303"\)/);
    expect(dsdt.match(/Name \(_HID, "LNRO0005"\)/g) ?? []).toHaveLength(3);
    // Three virtio nodes and the GED.
    expect(dsdt.match(/Interrupt \(ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, \)/g) ?? []).toHaveLength(4);
    // The disassembler drops NameSeg padding: \_S5_ prints as _S5 with a "_S5_" comment.
    expect(dsdt).toMatch(/Name \(_S5_?, Package \(0x04\)/);
    expect(dsdt).toContain('_S5_');
  });

  it('finds the power button and the GED with its interrupt, register field and _EVT', () => {
    const dsdt = dumpAndDisassemble(1, 1).dsl.get('DSDT')!;
    const device = (name: string): string => {
      const start = dsdt.indexOf(`Device (${name})`);
      expect(start, name).toBeGreaterThan(0);
      const next = dsdt.indexOf('Device (', start + 1);
      return dsdt.slice(start, next < 0 ? undefined : next);
    };
    expect(device('PWRB')).toMatch(/Name \(_HID, EisaId \("PNP0C0C"\) \/\* Power Button Device \*\/\)/);
    const ged = device('GED');
    expect(ged).toMatch(/Name \(_HID, "ACPI0013" \/\* Generic Event Device \*\/\)/);
    // _CRS holds the interrupt and nothing else (evged rejects other resources).
    const crs = ged.slice(ged.indexOf('Name (_CRS'), ged.indexOf('})') + 2);
    expect(crs).toMatch(/Interrupt \(ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, \)\s*\{\s*0x00000017,\s*\}/);
    expect(crs).not.toMatch(/Memory32|IO \(/);
    expect(ged).toContain('OperationRegion (GEVR, SystemMemory, 0xC0001000, One)');
    expect(ged).toMatch(/Field \(GEVR, ByteAcc, NoLock, WriteAsZeros\)\s*\{\s*GEVT,\s*8\s*\}/);
    expect(ged).toMatch(/Method \(_EVT, 1, Serialized\)/);
    expect(ged).toMatch(/Local0 = GEVT/);
    expect(ged).toMatch(/If \(\(\(Local0 & 0x08\) == 0x08\)\)\s*\{\s*Notify \(PWRB, 0x80\) \/\/ Status Change/);
  });

  it('decodes the FADT as hardware-reduced with the shutdown port registers', () => {
    const fadt = dumpAndDisassemble(1, 0).dsl.get('FACP')!;
    expect(fadt).toMatch(/Hardware Reduced \(V5\) : 1/);
    // Set = "control method" power and sleep buttons (or none): no fixed-feature button.
    expect(fadt).toMatch(/Control Method Power Button \(V1\) : 1/);
    expect(fadt).toMatch(/Control Method Sleep Button \(V1\) : 1/);
    expect(fadt).toMatch(/Reset Register Supported \(V2\) : 1/);
    expect(fadt.match(/Address : 0000000000000600/g) ?? []).toHaveLength(3);
  });

  it('recompiles every disassembly to the same table body without warnings', () => {
    const { dir, tables } = dumpAndDisassemble(8, 16);
    for (const t of tables) {
      if (t.signature === 'RSDP') continue;
      const r = run(dir, [`${t.signature}.dsl`]);
      expect(r.status, r.output).toBe(0);
      expect(r.output).toMatch(/0 Errors, 0 Warnings, 0 Remarks/);
      // Only the header's compiler id/revision and checksum differ: iasl writes its own.
      const recompiled = readFileSync(join(dir, `${t.signature}.aml`));
      expect(recompiled.length).toBe(t.bytes.length);
      expect(recompiled.subarray(SDT_HEADER_SIZE).equals(Buffer.from(t.bytes.subarray(SDT_HEADER_SIZE))), t.signature).toBe(true);
    }
  });
});

// acpiexec runs ACPICA's interpreter, the one Linux uses, over the DSDT: it loads the
// namespace, evaluates \_S5_ and converts every _CRS to resources and back.
describe.skipIf(!hasIasl || !hasAcpiexec)('acpiexec', () => {
  function acpiexec(dir: string, commands: string[], tables: string[]): string {
    const r = spawnSync('acpiexec', ['-b', commands.join('; '), ...tables], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
    const out = `${r.stdout}${r.stderr}`;
    expect(r.status, out).toBe(0);
    expect(out).not.toMatch(/mismatch|AE_AML|AE_BAD|ACPI Error|ACPI Warning/i);
    return out;
  }

  it('loads the DSDT and converts every _CRS without a mismatch', () => {
    const { dir } = dumpAndDisassemble(1, 2);
    const devices = ['COM1', 'PS2K', 'PEVT', 'VR00', 'VR01', 'GED'];
    const out = acpiexec(dir, ['Evaluate \\_S5', ...devices.map((d) => `Resources \\_SB.${d}`)], ['DSDT.dat']);
    expect(out).toMatch(/\b7 Devices/); // COM1, PS2K, PEVT (pvpanic), VR00, VR01, PWRB, GED
    expect(out.match(/\[Integer\] = 0000000000000005/g) ?? []).toHaveLength(2); // SLP_TYPa, SLP_TYPb
    expect(out.match(/32-Bit Fixed Memory Range Resource/g) ?? []).toHaveLength(2);
    expect(out.match(/Extended IRQ Resource/g) ?? []).toHaveLength(3);
    expect(out.match(/I\/O Resource/g) ?? []).toHaveLength(4); // COM1, i8042 x2, pvpanic
  });

  // acpiexec backs a SystemMemory OperationRegion with a plain buffer: it reads what AML last
  // stored there (no read-to-clear). A small SSDT stores the power-button bit, standing in for
  // AcpiGed.powerButton(), so _EVT(GSI) runs both ways.
  const PRESS_SSDT = `DefinitionBlock ("", "SSDT", 2, "WRKV", "PRESS", 1)
{
    External (\\_SB.GED.GEVT, FieldUnitObj)
    Method (\\PRES, 0, NotSerialized) { \\_SB.GED.GEVT = 0x08 }
}
`;

  it('runs the GED _EVT(GSI): no Notify with the register clear, Notify (PWRB, 0x80) with bit 3 set', () => {
    const { dir } = dumpAndDisassemble(1, 0);
    writeFileSync(join(dir, 'press.asl'), PRESS_SSDT);
    const compiled = run(dir, ['press.asl']);
    expect(compiled.status, compiled.output).toBe(0);
    const evt = `Execute \\_SB.GED._EVT 0x${GED_IRQ.toString(16)}`;

    const idle = acpiexec(dir, [evt], ['DSDT.dat']);
    expect(idle).toContain('Evaluating \\_SB.GED._EVT');
    expect(idle).not.toMatch(/Notify/);

    const pressed = acpiexec(dir, ['Execute \\PRES', evt], ['DSDT.dat', 'press.aml']);
    expect(pressed.match(/Received a Device Notify on \[PWRB\] \S+ Value 0x80 \(Status Change\)/g) ?? []).toHaveLength(1);
  });
});
