// 16550A UART register core (COM1). Register map, FIFO control and interrupt priorities:
// National/TI PC16550D datasheet, section 8 (Tables II-IV); probe quirks: Linux 8250_port.c.
import type { IrqTrigger } from '../bus-device.js';
import { VmmError } from '@workervisor/base';
import type { ErrorKind } from '@workervisor/base';
import { createLogger, RateLimitedLog } from '@workervisor/base';
import type { ByteRegisterDevice } from './byte-port-bus.js';
import { boolField, byteArrayField, intField } from './shared.js';

/** Ports a 16550A decodes: map it with this length (e.g. COM1 at 0x3f8 + 8). */
export const SERIAL_PORT_COUNT = 8;
/** Default RX FIFO bound (Firecracker's FIFO_SIZE); input beyond it is refused, not lost. */
export const SERIAL_RX_CAPACITY = 64;

// Register offsets (datasheet Table II). DLAB=1 turns offsets 0/1 into the divisor latch.
const REG_DATA = 0; // RBR (read) / THR (write) / DLL
const REG_IER = 1; // IER / DLM
const REG_IIR_FCR = 2; // IIR (read) / FCR (write)
const REG_LCR = 3;
const REG_MCR = 4;
const REG_LSR = 5;
const REG_MSR = 6;
const REG_SCR = 7;

export const IER_RDA_BIT = 0b0000_0001; // received data available
export const IER_THRE_BIT = 0b0000_0010; // transmitter holding register empty
export const IER_RLS_BIT = 0b0000_0100; // receiver line status
export const IER_MSI_BIT = 0b0000_1000; // modem status
// Bits 4-7 read as 0 on a 16550A; Linux's scratch test (IER 0x0f round trip) and its XScale
// UUE probe (bit 6 must not stick) both rely on it.
const IER_MASK = 0b0000_1111;

export const IIR_NO_INT = 0b0000_0001;
export const IIR_RLS_ID = 0b0000_0110;
export const IIR_RDA_ID = 0b0000_0100;
export const IIR_THRE_ID = 0b0000_0010;
export const IIR_MSI_ID = 0b0000_0000;
// FIFOs enabled: 0b11 in IIR bits 6-7 is what makes Linux's autoconfig say "16550A".
export const IIR_FIFO_BITS = 0b1100_0000;

const FCR_FIFO_ENABLE = 0b0000_0001;
const FCR_CLEAR_RX = 0b0000_0010;
// Bit 2 clears the TX FIFO, which is always empty here (output is immediate).
const FCR_KEPT = 0b1100_1001; // enable, DMA mode, RX trigger level

export const LCR_DLAB_BIT = 0b1000_0000;

const MCR_DTR = 0b0000_0001;
const MCR_RTS = 0b0000_0010;
const MCR_OUT1 = 0b0000_0100;
export const MCR_OUT2_BIT = 0b0000_1000;
export const MCR_LOOP_BIT = 0b0001_0000;
const MCR_MASK = 0b0001_1111;

export const LSR_DR_BIT = 0b0000_0001;
export const LSR_OE_BIT = 0b0000_0010;
const LSR_ERROR_BITS = 0b0001_1110; // OE, PE, FE, BI: cleared by reading LSR
export const LSR_THRE_BIT = 0b0010_0000;
export const LSR_TEMT_BIT = 0b0100_0000;

const MSR_DCTS = 0b0000_0001;
const MSR_DDSR = 0b0000_0010;
const MSR_TERI = 0b0000_0100;
const MSR_DDCD = 0b0000_1000;
const MSR_CTS = 0b0001_0000;
const MSR_DSR = 0b0010_0000;
const MSR_RI = 0b0100_0000;
const MSR_DCD = 0b1000_0000;
// With no real line behind it the port reports a connected, ready peer (vm-superio's default).
const MSR_IDLE_LINES = MSR_DCD | MSR_DSR | MSR_CTS;

// Power-on values. LCR 8N1, OUT2 and divisor 12 (9600 baud) follow vm-superio so a guest that
// never programs the port still works; the datasheet's reset values are all zero.
const DEFAULT_LCR = 0b0000_0011;
const DEFAULT_MCR = MCR_OUT2_BIT;
const DEFAULT_DLL = 12;

/** Where transmitted bytes go (stdout, a file, a socket). May throw; the UART counts and drops. */
export interface SerialOutput {
  write(bytes: Uint8Array): void;
}

export interface SerialOptions {
  /** The UART's interrupt line (COM1: GSI 4). Triggered on each rising edge of INTR. */
  readonly irq: IrqTrigger;
  /** Transmit sink; omitted = output discarded (still counted). */
  readonly output?: SerialOutput | undefined;
  /** RX FIFO bound in bytes; default SERIAL_RX_CAPACITY. */
  readonly rxCapacity?: number;
  /** Called when the guest empties the RX FIFO, so the host can resume feeding input. */
  readonly onInputDrained?: () => void;
  /** Name used in log lines; default `serial`. */
  readonly name?: string;
}

/** Counters, all monotonically increasing. */
export interface SerialMetrics {
  /** Bytes the guest transmitted (outside loopback). */
  bytesOut: number;
  /** Bytes accepted into the RX FIFO from the host. */
  bytesIn: number;
  /** Host bytes refused by enqueueInput (FIFO full, or loopback mode). */
  inputRefused: number;
  /** Loopback bytes lost to a full RX FIFO (reported to the guest as LSR.OE). */
  overruns: number;
  /** Output sink failures (the byte is dropped). */
  outputErrors: number;
  /** Interrupt edges raised. */
  interrupts: number;
  /** Accesses of the wrong width (counted by the bus adapter). */
  invalidAccesses: number;
  /** Reads/writes at offsets past the 8 registers. */
  missedReads: number;
  missedWrites: number;
}

/** JSON-safe snapshot of the UART (registers, pending THRE interrupt, RX FIFO contents). */
export interface SerialState {
  dll: number;
  dlm: number;
  ier: number;
  fcr: number;
  lcr: number;
  mcr: number;
  /** LSR error bits (OE/PE/FE/BI) latched until LSR is read. */
  lsrErrors: number;
  /** MSR delta bits (0-3) latched until MSR is read. */
  msrDeltas: number;
  scr: number;
  thrInterruptPending: boolean;
  /** Level of the INTR output when saved (edges are raised only on 0 -> 1). */
  irqLine: boolean;
  rxFifo: number[];
}

export class SerialError extends VmmError<'SERIAL'> {
  constructor(kind: ErrorKind<'SERIAL'>, message: string) {
    super('SERIAL', kind, message);
  }
}

const log = createLogger('serial');

/**
 * The 16550A register core. Output is immediate, so THRE and TEMT always read 1 and the TX
 * FIFO never fills. Received-data interrupts are reported as RDA (0x04) whenever the RX FIFO
 * holds data, regardless of the FCR trigger level and without character timeouts (0x0C): Linux
 * drains on either. The FIFO bound applies in 16450 mode too (FCR0 = 0), acting as a host-side
 * buffer instead of overrunning. The INTR output is not gated by MCR.OUT2 (as in QEMU and
 * vm-superio), so guests that never set OUT2 still get interrupts.
 */
export class Serial implements ByteRegisterDevice {
  readonly name: string;
  readonly metrics: SerialMetrics = {
    bytesOut: 0,
    bytesIn: 0,
    inputRefused: 0,
    overruns: 0,
    outputErrors: 0,
    interrupts: 0,
    invalidAccesses: 0,
    missedReads: 0,
    missedWrites: 0,
  };

  private readonly irq: IrqTrigger;
  private readonly output: SerialOutput | undefined;
  private readonly rxCapacity: number;
  private readonly onInputDrained: (() => void) | undefined;
  private readonly warnLog = new RateLimitedLog(log);

  private dll = DEFAULT_DLL;
  private dlm = 0;
  private ier = 0;
  private fcr = 0;
  private lcr = DEFAULT_LCR;
  private mcr = DEFAULT_MCR;
  private lsrErrors = 0;
  private msrDeltas = 0;
  private scr = 0;
  private thrInterruptPending = false;
  private irqLine = false;
  private rx: number[] = [];

  constructor(options: SerialOptions) {
    const capacity = options.rxCapacity ?? SERIAL_RX_CAPACITY;
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new SerialError('invalid-config', `RX capacity must be a positive integer, got ${capacity}`);
    }
    this.irq = options.irq;
    this.output = options.output;
    this.rxCapacity = capacity;
    this.onInputDrained = options.onInputDrained;
    this.name = options.name ?? 'serial';
  }

  /** Free space in the RX FIFO (0 in loopback mode, where the serial input is disconnected). */
  get inputSpace(): number {
    return this.loopback ? 0 : this.rxCapacity - this.rx.length;
  }

  /**
   * Host input (keyboard, socket). Accepts as many bytes as fit and returns that count; the rest
   * are counted in `inputRefused` and stay with the caller, who can retry after onInputDrained.
   */
  enqueueInput(bytes: Uint8Array): number {
    const n = Math.min(bytes.length, this.inputSpace);
    for (let i = 0; i < n; i++) this.rx.push(bytes[i] ?? 0);
    this.metrics.bytesIn += n;
    this.metrics.inputRefused += bytes.length - n;
    if (n > 0) this.updateIrq();
    return n;
  }

  readRegister(offset: number): number {
    const dlab = (this.lcr & LCR_DLAB_BIT) !== 0;
    switch (offset) {
      case REG_DATA:
        return dlab ? this.dll : this.readRbr();
      case REG_IER:
        return dlab ? this.dlm : this.ier;
      case REG_IIR_FCR:
        return this.readIir();
      case REG_LCR:
        return this.lcr;
      case REG_MCR:
        return this.mcr;
      case REG_LSR:
        return this.readLsr();
      case REG_MSR:
        return this.readMsr();
      case REG_SCR:
        return this.scr;
      default:
        this.metrics.missedReads++;
        this.warnLog.warn(`${this.name}: read of unknown register offset ${offset}`);
        return 0;
    }
  }

  writeRegister(offset: number, value: number): void {
    const v = value & 0xff;
    const dlab = (this.lcr & LCR_DLAB_BIT) !== 0;
    switch (offset) {
      case REG_DATA:
        if (dlab) this.dll = v;
        else this.writeThr(v);
        return;
      case REG_IER:
        if (dlab) this.dlm = v;
        else this.writeIer(v);
        return;
      case REG_IIR_FCR:
        this.writeFcr(v);
        return;
      case REG_LCR:
        this.lcr = v;
        return;
      case REG_MCR:
        this.writeMcr(v);
        return;
      case REG_LSR:
      case REG_MSR:
        // Read-only status registers; the datasheet reserves writes for factory test.
        return;
      case REG_SCR:
        this.scr = v;
        return;
      default:
        this.metrics.missedWrites++;
        this.warnLog.warn(`${this.name}: write of 0x${v.toString(16)} to unknown register offset ${offset}`);
    }
  }

  /** Baud-rate divisor (DLM:DLL); baud = 115200 / divisor. */
  get divisor(): number {
    return (this.dlm << 8) | this.dll;
  }

  /** Power-on reset of every register; the RX FIFO is emptied. */
  reset(): void {
    this.applyState({
      dll: DEFAULT_DLL,
      dlm: 0,
      ier: 0,
      fcr: 0,
      lcr: DEFAULT_LCR,
      mcr: DEFAULT_MCR,
      lsrErrors: 0,
      msrDeltas: 0,
      scr: 0,
      thrInterruptPending: false,
      irqLine: false,
      rxFifo: [],
    });
  }

  save(): SerialState {
    return {
      dll: this.dll,
      dlm: this.dlm,
      ier: this.ier,
      fcr: this.fcr,
      lcr: this.lcr,
      mcr: this.mcr,
      lsrErrors: this.lsrErrors,
      msrDeltas: this.msrDeltas,
      scr: this.scr,
      thrInterruptPending: this.thrInterruptPending,
      irqLine: this.irqLine,
      rxFifo: [...this.rx],
    };
  }

  /**
   * Restores a save(). Raises no interrupt: a pending edge lives in the restored irqchip state.
   * Throws SerialError('invalid-state') on a malformed state, leaving the UART unchanged.
   */
  restore(state: SerialState): void {
    const fail = (message: string): never => {
      throw new SerialError('invalid-state', message);
    };
    if (typeof state !== 'object' || state === null) fail('serial state must be an object');
    this.applyState({
      dll: intField(state, 'dll', 0xff, fail),
      dlm: intField(state, 'dlm', 0xff, fail),
      ier: intField(state, 'ier', 0xff, fail) & IER_MASK,
      fcr: intField(state, 'fcr', 0xff, fail) & FCR_KEPT,
      lcr: intField(state, 'lcr', 0xff, fail),
      mcr: intField(state, 'mcr', 0xff, fail) & MCR_MASK,
      lsrErrors: intField(state, 'lsrErrors', 0xff, fail) & LSR_ERROR_BITS,
      msrDeltas: intField(state, 'msrDeltas', 0x0f, fail),
      scr: intField(state, 'scr', 0xff, fail),
      thrInterruptPending: boolField(state, 'thrInterruptPending', fail),
      irqLine: boolField(state, 'irqLine', fail),
      rxFifo: byteArrayField(state, 'rxFifo', this.rxCapacity, fail),
    });
  }

  private applyState(s: SerialState): void {
    this.dll = s.dll;
    this.dlm = s.dlm;
    this.ier = s.ier;
    this.fcr = s.fcr;
    this.lcr = s.lcr;
    this.mcr = s.mcr;
    this.lsrErrors = s.lsrErrors;
    this.msrDeltas = s.msrDeltas;
    this.scr = s.scr;
    this.thrInterruptPending = s.thrInterruptPending;
    this.irqLine = s.irqLine;
    this.rx = [...s.rxFifo];
  }

  private get loopback(): boolean {
    return (this.mcr & MCR_LOOP_BIT) !== 0;
  }

  private readRbr(): number {
    const byte = this.rx.shift();
    if (byte === undefined) return 0;
    this.updateIrq();
    if (this.rx.length === 0) this.onInputDrained?.();
    return byte;
  }

  private writeThr(v: number): void {
    // Writing THR clears a pending THRE interrupt; the byte leaves at once, so THR is empty
    // again and THRE re-asserts: a falling then rising edge of INTR when THRE is its only cause.
    this.thrInterruptPending = false;
    this.updateIrq();
    if (this.loopback) this.loopBack(v);
    else this.transmit(v);
    this.thrInterruptPending = true;
    this.updateIrq();
  }

  private transmit(v: number): void {
    this.metrics.bytesOut++;
    if (this.output === undefined) return;
    try {
      this.output.write(Uint8Array.of(v));
    } catch (err) {
      this.metrics.outputErrors++;
      this.warnLog.warn(`${this.name}: output sink failed, byte dropped`, { error: err instanceof Error ? err.message : String(err) });
    }
  }

  private loopBack(v: number): void {
    // Datasheet 8.6 (MCR bit 4): the transmitter shift register feeds the receiver directly.
    if (this.rx.length >= this.rxCapacity) {
      this.lsrErrors |= LSR_OE_BIT;
      this.metrics.overruns++;
      return;
    }
    this.rx.push(v);
  }

  private writeIer(v: number): void {
    const before = this.ier;
    this.ier = v & IER_MASK;
    // Enabling THRI while THR is empty raises THRE even if an IIR read had cleared it: Linux's
    // startup THRE test (serial8250_do_startup) toggles IER 0 -> THRI twice and expects it each
    // time. Like QEMU and Bochs, resample on the rising edge of the enable bit only.
    if ((this.ier & ~before & IER_THRE_BIT) !== 0) this.thrInterruptPending = true;
    this.updateIrq();
  }

  private writeFcr(v: number): void {
    const enable = v & FCR_FIFO_ENABLE;
    // Changing FCR0 clears both FIFOs; other bits are only programmed while FCR0 is 1 (8.4).
    if (enable !== (this.fcr & FCR_FIFO_ENABLE) || (enable !== 0 && (v & FCR_CLEAR_RX) !== 0)) this.clearRx();
    this.fcr = enable !== 0 ? v & FCR_KEPT : 0;
    this.updateIrq();
  }

  private clearRx(): void {
    if (this.rx.length === 0) return;
    this.rx = [];
    this.onInputDrained?.();
  }

  private writeMcr(v: number): void {
    const before = this.modemLines();
    const wasLoopback = this.loopback;
    this.mcr = v & MCR_MASK;
    const after = this.modemLines();
    const changed = before ^ after;
    if (changed & MSR_CTS) this.msrDeltas |= MSR_DCTS;
    if (changed & MSR_DSR) this.msrDeltas |= MSR_DDSR;
    if (before & MSR_RI & ~after) this.msrDeltas |= MSR_TERI; // trailing edge only
    if (changed & MSR_DCD) this.msrDeltas |= MSR_DDCD;
    // Host input that arrives in loopback is refused; leaving loopback is when it can resume.
    if (wasLoopback && !this.loopback) this.onInputDrained?.();
    this.updateIrq();
  }

  /** MSR bits 4-7. In loopback DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD (8.6, Linux's loopback probe expects 0x90 for MCR 0x1a). */
  private modemLines(): number {
    if (!this.loopback) return MSR_IDLE_LINES;
    return (
      (this.mcr & MCR_DTR ? MSR_DSR : 0) |
      (this.mcr & MCR_RTS ? MSR_CTS : 0) |
      (this.mcr & MCR_OUT1 ? MSR_RI : 0) |
      (this.mcr & MCR_OUT2_BIT ? MSR_DCD : 0)
    );
  }

  private readIir(): number {
    const id = this.interruptId();
    // Reading IIR clears a THRE interrupt only when THRE is the cause reported (Table IV).
    if (id === IIR_THRE_ID) {
      this.thrInterruptPending = false;
      this.updateIrq();
    }
    return id | (this.fcr & FCR_FIFO_ENABLE ? IIR_FIFO_BITS : 0);
  }

  private readLsr(): number {
    const v = (this.rx.length > 0 ? LSR_DR_BIT : 0) | this.lsrErrors | LSR_THRE_BIT | LSR_TEMT_BIT;
    if (this.lsrErrors !== 0) {
      this.lsrErrors = 0;
      this.updateIrq();
    }
    return v;
  }

  private readMsr(): number {
    const v = this.modemLines() | this.msrDeltas;
    if (this.msrDeltas !== 0) {
      this.msrDeltas = 0;
      this.updateIrq();
    }
    return v;
  }

  /** The highest-priority pending, enabled interrupt (datasheet Table IV), or IIR_NO_INT. */
  private interruptId(): number {
    if (this.ier & IER_RLS_BIT && this.lsrErrors !== 0) return IIR_RLS_ID;
    if (this.ier & IER_RDA_BIT && this.rx.length > 0) return IIR_RDA_ID;
    if (this.ier & IER_THRE_BIT && this.thrInterruptPending) return IIR_THRE_ID;
    if (this.ier & IER_MSI_BIT && this.msrDeltas !== 0) return IIR_MSI_ID;
    return IIR_NO_INT;
  }

  /** Tracks the INTR level and raises an edge when it goes from inactive to active. */
  private updateIrq(): void {
    const active = this.interruptId() !== IIR_NO_INT;
    if (active && !this.irqLine) {
      this.metrics.interrupts++;
      this.irq.trigger();
    }
    this.irqLine = active;
  }
}
