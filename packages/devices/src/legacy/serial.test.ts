import { describe, expect, it } from 'vitest';
import { Bus } from '../bus.js';
import { RecordingIrq, RecordingOutput } from '../testing/index.js';
import { BytePortBusDevice } from './byte-port-bus.js';
import {
  IER_MSI_BIT,
  IER_RDA_BIT,
  IER_RLS_BIT,
  IER_THRE_BIT,
  IIR_FIFO_BITS,
  IIR_MSI_ID,
  IIR_NO_INT,
  IIR_RDA_ID,
  IIR_RLS_ID,
  IIR_THRE_ID,
  LSR_DR_BIT,
  LSR_OE_BIT,
  LSR_TEMT_BIT,
  LSR_THRE_BIT,
  MCR_LOOP_BIT,
  Serial,
  SERIAL_PORT_COUNT,
  SERIAL_RX_CAPACITY,
  SerialError,
  type SerialState,
} from './serial.js';

const RBR = 0;
const THR = 0;
const DLL = 0;
const IER = 1;
const DLM = 1;
const IIR = 2;
const FCR = 2;
const LCR = 3;
const MCR = 4;
const LSR = 5;
const MSR = 6;
const SCR = 7;

function setup(options: { rxCapacity?: number; onInputDrained?: () => void } = {}) {
  const irq = new RecordingIrq();
  const output = new RecordingOutput();
  const serial = new Serial({ irq, output, ...options });
  const r = (offset: number) => serial.readRegister(offset);
  const w = (offset: number, value: number) => serial.writeRegister(offset, value);
  return { irq, output, serial, r, w };
}

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

describe('Serial (16550A) Linux probing', () => {
  it('passes the 8250 scratch test on IER (0 then 0x0f read back, upper bits zero)', () => {
    const { r, w } = setup();
    const saved = r(IER);
    w(IER, 0);
    expect(r(IER) & 0x0f).toBe(0);
    w(IER, 0xff);
    expect(r(IER)).toBe(0x0f);
    w(IER, saved);
    expect(r(IER)).toBe(saved);
  });

  it('keeps the scratch register', () => {
    const { r, w } = setup();
    w(SCR, 0x5a);
    expect(r(SCR)).toBe(0x5a);
    w(SCR, 0xa5);
    expect(r(SCR)).toBe(0xa5);
  });

  it('answers the loopback probe: MCR LOOP|OUT2|RTS reads MSR top nibble 0x90', () => {
    const { r, w } = setup();
    const savedMcr = r(MCR);
    w(MCR, MCR_LOOP_BIT | 0x0a);
    expect(r(MSR) & 0xf0).toBe(0x90);
    w(MCR, savedMcr);
    expect(r(MSR) & 0xf0).toBe(0xb0);
  });

  it('maps every MCR output onto its MSR input in loopback', () => {
    const { r, w } = setup();
    w(MCR, MCR_LOOP_BIT | 0x01);
    expect(r(MSR) & 0xf0).toBe(0x20); // DTR -> DSR
    w(MCR, MCR_LOOP_BIT | 0x02);
    expect(r(MSR) & 0xf0).toBe(0x10); // RTS -> CTS
    w(MCR, MCR_LOOP_BIT | 0x04);
    expect(r(MSR) & 0xf0).toBe(0x40); // OUT1 -> RI
    w(MCR, MCR_LOOP_BIT | 0x08);
    expect(r(MSR) & 0xf0).toBe(0x80); // OUT2 -> DCD
  });

  it('reports FIFOs as 0b11 in IIR bits 6-7 once FCR enables them, which autoconfig reads as a 16550A', () => {
    const { r, w } = setup();
    // autoconfig(): LCR 0xBF, EFR(=FCR here) 0, LCR 0, FCR enable, IIR >> 6.
    w(LCR, 0xbf);
    w(FCR, 0);
    w(LCR, 0);
    w(FCR, 0x01);
    expect(r(IIR) >> 6).toBe(3);
  });

  it('reads IIR bits 6-7 as zero while FIFOs are disabled', () => {
    const { r, w } = setup();
    w(FCR, 0);
    expect(r(IIR) & IIR_FIFO_BITS).toBe(0);
  });

  it('does not look like an EFR-capable 16650 in autoconfig_16550a (IIR never reads 0 under LCR 0x80/0xBF)', () => {
    const { r, w } = setup();
    w(FCR, 0x01);
    w(LCR, 0x80);
    expect(r(2)).not.toBe(0);
    w(LCR, 0xbf);
    expect(r(2)).not.toBe(0);
    w(LCR, 0);
  });

  it('is not mistaken for a 16750: FCR bit 5 never shows in IIR bit 5', () => {
    const { r, w } = setup();
    w(FCR, 0x01 | 0x20);
    expect(r(IIR) & 0x20).toBe(0);
    w(LCR, 0x80);
    w(FCR, 0x01 | 0x20);
    expect(r(IIR) & 0x20).toBe(0);
    w(LCR, 0);
  });

  it('does not let the XScale UUE bit (IER bit 6) stick', () => {
    const { r, w } = setup();
    w(IER, 0x40);
    expect(r(IER) & 0x40).toBe(0);
  });

  it('re-asserts THRE each time THRI is enabled, as the 8250 startup THRE test requires', () => {
    const { irq, r, w } = setup();
    w(IER, IER_THRE_BIT);
    const iir1 = r(IIR);
    w(IER, 0);
    w(IER, IER_THRE_BIT);
    const iir2 = r(IIR);
    w(IER, 0);
    expect(iir1 & 0x0f).toBe(IIR_THRE_ID);
    expect(iir2 & 0x0f).toBe(IIR_THRE_ID);
    expect(irq.count).toBe(2);
  });

  it('never reads LSR as 0xff and reports the transmitter idle', () => {
    const { r } = setup();
    expect(r(LSR)).toBe(LSR_THRE_BIT | LSR_TEMT_BIT);
  });
});

describe('Serial registers', () => {
  it('exposes the divisor latch at offsets 0 and 1 while DLAB is set', () => {
    const { serial, r, w } = setup();
    w(IER, 0x05);
    w(LCR, 0x83);
    w(DLL, 0x01);
    w(DLM, 0x02);
    expect(r(DLL)).toBe(0x01);
    expect(r(DLM)).toBe(0x02);
    expect(serial.divisor).toBe(0x0201);
    w(LCR, 0x03);
    expect(r(IER)).toBe(0x05);
    expect(r(LCR)).toBe(0x03);
  });

  it('does not transmit bytes written to the divisor latch', () => {
    const { output, w } = setup();
    w(LCR, 0x80);
    w(THR, 0x41);
    expect(output.bytes.length).toBe(0);
  });

  it('powers up 8N1 at 9600 baud with OUT2 set and no interrupt pending', () => {
    const { serial, r } = setup();
    expect(r(LCR)).toBe(0x03);
    expect(r(MCR)).toBe(0x08);
    expect(serial.divisor).toBe(12);
    expect(r(IIR)).toBe(IIR_NO_INT);
  });

  it('masks MCR to its five defined bits', () => {
    const { r, w } = setup();
    w(MCR, 0xff);
    expect(r(MCR)).toBe(0x1f);
  });

  it('ignores writes to LSR and MSR', () => {
    const { r, w } = setup();
    w(LSR, 0xff);
    w(MSR, 0xff);
    expect(r(LSR)).toBe(LSR_THRE_BIT | LSR_TEMT_BIT);
    expect(r(MSR)).toBe(0xb0);
  });

  it('counts accesses past the eight registers and reads them as 0', () => {
    const { serial, r, w } = setup();
    expect(r(8)).toBe(0);
    w(9, 1);
    expect(serial.metrics.missedReads).toBe(1);
    expect(serial.metrics.missedWrites).toBe(1);
  });
});

describe('Serial transmit', () => {
  it('sends each THR byte to the output sink and counts it', () => {
    const { serial, output, w } = setup();
    for (const b of bytes('hi\n')) w(THR, b);
    expect(output.text()).toBe('hi\n');
    expect(serial.metrics.bytesOut).toBe(3);
  });

  it('counts output with no sink attached', () => {
    const serial = new Serial({ irq: new RecordingIrq() });
    serial.writeRegister(THR, 0x41);
    expect(serial.metrics.bytesOut).toBe(1);
  });

  it('drops a byte and counts the error when the sink throws, without throwing to the guest', () => {
    const { serial, output, w } = setup();
    output.failNext = new Error('EAGAIN');
    expect(() => w(THR, 0x41)).not.toThrow();
    w(THR, 0x42);
    expect(output.text()).toBe('B');
    expect(serial.metrics.outputErrors).toBe(1);
  });

  it('raises THRE after every THR write while THRI is enabled', () => {
    const { irq, r, w } = setup();
    w(IER, IER_THRE_BIT);
    expect(irq.take()).toBe(1);
    expect(r(IIR)).toBe(IIR_THRE_ID);
    expect(r(IIR)).toBe(IIR_NO_INT); // the IIR read cleared it
    w(THR, 0x41);
    expect(irq.take()).toBe(1);
    w(THR, 0x42);
    expect(irq.take()).toBe(1);
    expect(r(IIR)).toBe(IIR_THRE_ID);
  });

  it('raises no THRE interrupt while THRI is disabled, and one when it is enabled', () => {
    const { irq, r, w } = setup();
    w(THR, 0x41);
    expect(irq.count).toBe(0);
    expect(r(IIR)).toBe(IIR_NO_INT);
    w(IER, IER_THRE_BIT);
    expect(irq.count).toBe(1);
  });

  it('clears a pending THRE when the guest disables THRI', () => {
    const { r, w } = setup();
    w(IER, IER_THRE_BIT);
    w(IER, 0);
    expect(r(IIR)).toBe(IIR_NO_INT);
  });

  it('does not re-raise THRE when IER is rewritten with THRI already set', () => {
    const { irq, r, w } = setup();
    w(IER, IER_THRE_BIT);
    r(IIR);
    w(IER, IER_THRE_BIT | IER_RDA_BIT);
    expect(r(IIR)).toBe(IIR_NO_INT);
    expect(irq.count).toBe(1);
  });
});

describe('Serial receive', () => {
  it('delivers host input through RBR with LSR.DR and an RDA interrupt', () => {
    const { irq, serial, r, w } = setup();
    w(IER, IER_RDA_BIT);
    expect(serial.enqueueInput(bytes('ok'))).toBe(2);
    expect(irq.count).toBe(1);
    expect(r(IIR)).toBe(IIR_RDA_ID);
    expect(r(LSR) & LSR_DR_BIT).toBe(LSR_DR_BIT);
    expect(r(RBR)).toBe(0x6f);
    expect(r(RBR)).toBe(0x6b);
    expect(r(LSR) & LSR_DR_BIT).toBe(0);
    expect(r(IIR)).toBe(IIR_NO_INT);
    expect(serial.metrics.bytesIn).toBe(2);
  });

  it('raises one edge while data stays pending and another after the FIFO was drained', () => {
    const { irq, serial, r, w } = setup();
    w(IER, IER_RDA_BIT);
    serial.enqueueInput(bytes('a'));
    serial.enqueueInput(bytes('b'));
    expect(irq.take()).toBe(1);
    r(RBR);
    r(RBR);
    serial.enqueueInput(bytes('c'));
    expect(irq.take()).toBe(1);
  });

  it('reads RBR as 0 when the FIFO is empty', () => {
    const { r } = setup();
    expect(r(RBR)).toBe(0);
  });

  it('accepts input up to the FIFO bound and counts the refused rest', () => {
    const { serial } = setup({ rxCapacity: 4 });
    expect(serial.enqueueInput(bytes('abcdef'))).toBe(4);
    expect(serial.inputSpace).toBe(0);
    expect(serial.enqueueInput(bytes('g'))).toBe(0);
    expect(serial.metrics.inputRefused).toBe(3);
  });

  it('defaults to a 64-byte FIFO', () => {
    const { serial } = setup();
    expect(serial.enqueueInput(new Uint8Array(100))).toBe(SERIAL_RX_CAPACITY);
  });

  it('tells the host when the guest has drained the FIFO', () => {
    let drained = 0;
    const { serial, r } = setup({ onInputDrained: () => drained++ });
    serial.enqueueInput(bytes('ab'));
    r(RBR);
    expect(drained).toBe(0);
    r(RBR);
    expect(drained).toBe(1);
  });

  it('gives RDA priority over THRE in IIR', () => {
    const { serial, r, w } = setup();
    w(IER, IER_RDA_BIT | IER_THRE_BIT);
    serial.enqueueInput(bytes('x'));
    expect(r(IIR)).toBe(IIR_RDA_ID);
    r(RBR);
    expect(r(IIR)).toBe(IIR_THRE_ID);
    expect(r(IIR)).toBe(IIR_NO_INT);
  });

  it('clears the RX FIFO on FCR clear-receiver and when FIFOs are toggled', () => {
    const { serial, r, w } = setup();
    w(FCR, 0x01);
    serial.enqueueInput(bytes('abc'));
    w(FCR, 0x01 | 0x02);
    expect(r(LSR) & LSR_DR_BIT).toBe(0);
    serial.enqueueInput(bytes('abc'));
    w(FCR, 0x00);
    expect(r(LSR) & LSR_DR_BIT).toBe(0);
  });

  it('survives Linux serial8250_clear_fifos followed by FIFO enable with IIR still 16550A', () => {
    const { serial, r, w } = setup();
    serial.enqueueInput(bytes('junk'));
    w(FCR, 0x01);
    w(FCR, 0x07);
    w(FCR, 0x00);
    w(FCR, 0x81); // set_termios: enable, RX trigger 8
    expect(r(LSR) & LSR_DR_BIT).toBe(0);
    expect(r(IIR)).toBe(IIR_FIFO_BITS | IIR_NO_INT);
  });
});

describe('Serial loopback', () => {
  it('feeds transmitted bytes back into the receiver instead of the output', () => {
    const { output, serial, r, w } = setup();
    w(MCR, MCR_LOOP_BIT);
    w(THR, 0x55);
    expect(output.bytes.length).toBe(0);
    expect(serial.metrics.bytesOut).toBe(0);
    expect(r(LSR) & LSR_DR_BIT).toBe(LSR_DR_BIT);
    expect(r(RBR)).toBe(0x55);
  });

  it('refuses host input while in loopback', () => {
    const { serial, w } = setup();
    w(MCR, MCR_LOOP_BIT);
    expect(serial.enqueueInput(bytes('x'))).toBe(0);
    w(MCR, 0);
    expect(serial.enqueueInput(bytes('x'))).toBe(1);
  });

  it('signals an overrun in LSR (and an RLS interrupt) when the looped-back FIFO is full', () => {
    const { irq, serial, r, w } = setup({ rxCapacity: 2 });
    w(MCR, MCR_LOOP_BIT);
    w(IER, IER_RLS_BIT);
    w(THR, 1);
    w(THR, 2);
    expect(irq.count).toBe(0);
    w(THR, 3);
    expect(irq.count).toBe(1);
    expect(r(IIR)).toBe(IIR_RLS_ID);
    expect(r(LSR) & LSR_OE_BIT).toBe(LSR_OE_BIT);
    expect(r(LSR) & LSR_OE_BIT).toBe(0); // cleared by the read
    expect(r(IIR)).toBe(IIR_NO_INT);
    expect(serial.metrics.overruns).toBe(1);
  });

  it('latches modem-status deltas, raises MSI and clears both on an MSR read', () => {
    const { irq, r, w } = setup();
    w(IER, IER_MSI_BIT);
    w(MCR, MCR_LOOP_BIT | 0x0a); // DSR drops: DDSR
    expect(irq.count).toBe(1);
    expect(r(IIR)).toBe(IIR_MSI_ID);
    expect(r(MSR)).toBe(0x90 | 0x02);
    expect(r(MSR)).toBe(0x90);
    expect(r(IIR)).toBe(IIR_NO_INT);
  });

  it('reports RI only on its trailing edge (TERI)', () => {
    const { r, w } = setup();
    w(MCR, MCR_LOOP_BIT | 0x04 | 0x0b);
    r(MSR);
    w(MCR, MCR_LOOP_BIT | 0x0b);
    expect(r(MSR) & 0x0f).toBe(0x04);
  });
});

describe('Serial reset and snapshots', () => {
  it('restores registers, FIFO and pending interrupts from a JSON round trip', () => {
    const a = setup();
    a.w(LCR, 0x80);
    a.w(DLL, 1);
    a.w(DLM, 0);
    a.w(LCR, 0x1b);
    a.w(FCR, 0xc1);
    a.w(SCR, 0x77);
    a.w(IER, IER_RDA_BIT | IER_THRE_BIT);
    a.serial.enqueueInput(bytes('xyz'));
    const state = JSON.parse(JSON.stringify(a.serial.save())) as SerialState;

    const b = setup();
    b.serial.restore(state);
    expect(b.irq.count).toBe(0);
    expect(b.serial.save()).toEqual(a.serial.save());
    expect(b.r(LCR)).toBe(0x1b);
    expect(b.r(SCR)).toBe(0x77);
    expect(b.serial.divisor).toBe(1);
    expect(b.r(IIR)).toBe(IIR_FIFO_BITS | IIR_RDA_ID);
    expect(String.fromCharCode(b.r(RBR), b.r(RBR), b.r(RBR))).toBe('xyz');
    expect(b.r(IIR)).toBe(IIR_FIFO_BITS | IIR_THRE_ID);
  });

  it('rejects a malformed state with SerialError and keeps its registers', () => {
    const { serial, r, w } = setup();
    w(SCR, 9);
    const bad = { ...serial.save(), lcr: 300 };
    expect(() => serial.restore(bad)).toThrow(SerialError);
    expect(() => serial.restore({ ...serial.save(), rxFifo: new Array<number>(65).fill(0) })).toThrow(/rxFifo/);
    try {
      serial.restore({ ...serial.save(), thrInterruptPending: 'yes' as unknown as boolean });
    } catch (err) {
      expect((err as SerialError).code).toBe('ERR_VMM_SERIAL_INVALID_STATE');
    }
    expect(r(SCR)).toBe(9);
  });

  it('returns to power-on values on reset()', () => {
    const { serial, r, w } = setup();
    w(IER, 0x0f);
    w(MCR, 0x1f);
    w(SCR, 1);
    serial.enqueueInput(bytes('a'));
    serial.reset();
    expect(r(IER)).toBe(0);
    expect(r(MCR)).toBe(0x08);
    expect(r(SCR)).toBe(0);
    expect(r(LSR)).toBe(LSR_THRE_BIT | LSR_TEMT_BIT);
  });

  it('rejects a zero RX capacity at construction', () => {
    expect(() => new Serial({ irq: new RecordingIrq(), rxCapacity: 0 })).toThrow(SerialError);
  });
});

describe('Serial on the PIO bus', () => {
  function onBus() {
    const irq = new RecordingIrq();
    const output = new RecordingOutput();
    const serial = new Serial({ irq, output, name: 'com1' });
    const bus = new Bus('pio');
    bus.insert(new BytePortBusDevice(serial), 0x3f8, SERIAL_PORT_COUNT, 'com1');
    return { bus, serial, output };
  }

  it('transmits a byte written to 0x3f8 and reads LSR at 0x3fd', () => {
    const { bus, output } = onBus();
    bus.write(0x3f8, Uint8Array.of(0x41));
    const lsr = new Uint8Array(1);
    bus.read(0x3fd, lsr);
    expect(output.text()).toBe('A');
    expect(lsr[0]).toBe(LSR_THRE_BIT | LSR_TEMT_BIT);
  });

  it('ignores and counts 2- and 4-byte accesses; such reads return zeros', () => {
    const { bus, output, serial } = onBus();
    bus.write(0x3f8, Uint8Array.of(0x41, 0x42));
    const data = Uint8Array.of(0xff, 0xff, 0xff, 0xff);
    bus.read(0x3fc, data);
    expect(output.bytes.length).toBe(0);
    expect([...data]).toEqual([0, 0, 0, 0]);
    expect(serial.metrics.invalidAccesses).toBe(2);
  });
});
