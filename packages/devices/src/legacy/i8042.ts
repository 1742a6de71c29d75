// Intel 8042 PS/2 controller with an attached AT keyboard (no mouse). Commands: IBM PS/2
// Technical Reference "Keyboard/Auxiliary Device Controller"; behaviour follows what Linux's
// drivers/input/serio/i8042.c and keyboard/atkbd.c send, and Firecracker's devices/legacy/i8042.rs.
import type { IrqTrigger, VmExitRequester } from '../bus-device.js';
import { VmmError } from '@workervisor/base';
import type { ErrorKind } from '@workervisor/base';
import { createLogger, RateLimitedLog } from '@workervisor/base';
import type { ByteRegisterDevice } from './byte-port-bus.js';
import { boolField, intField, rateLimitedAt } from './shared.js';

/** Offsets inside the device when mapped at I8042_DATA_PORT (0x60) with I8042_PORT_SPAN. */
export const I8042_DATA_OFFSET = 0;
export const I8042_COMMAND_OFFSET = 4;
/** Map 0x60..0x64 as one device, like Firecracker. Port 0x61 (PIT speaker) is served by KVM's in-kernel PIT first. */
export const I8042_PORT_SPAN = 5;
/** Output buffer depth (Firecracker's BUF_SIZE). */
export const I8042_BUFFER_SIZE = 16;

// Status register (read at 0x64).
export const STATUS_OBF = 0x01; // output buffer full: data waiting at 0x60
const STATUS_SYS = 0x04; // system flag, mirrors CTR bit 2 (set after POST / self-test)
const STATUS_CMD = 0x08; // last write was to the command port
const STATUS_UNLOCKED = 0x10; // keyboard not inhibited; Linux warns "Keylock active" when clear
export const STATUS_AUXDATA = 0x20; // the byte at 0x60 came from the aux (mouse) port
const STATUS_TIMEOUT = 0x40;

// Controller configuration byte (CTR), read/written by 0x20/0x60.
export const CTR_KBDINT = 0x01;
export const CTR_AUXINT = 0x02;
const CTR_SYS = 0x04;
export const CTR_KBDDIS = 0x10;
export const CTR_AUXDIS = 0x20;
// CTR_XLATE (0x40) is left clear at power-on: Linux then drives the keyboard untranslated in
// scan code set 2, the set our injected scancodes use (i8042_controller_init: i8042_direct).
const DEFAULT_CTR = CTR_KBDINT | CTR_SYS;

// Controller commands (port 0x64).
const CMD_READ_CTR = 0x20;
const CMD_WRITE_CTR = 0x60;
const CMD_AUX_DISABLE = 0xa7;
const CMD_AUX_ENABLE = 0xa8;
const CMD_AUX_TEST = 0xa9;
const CMD_SELF_TEST = 0xaa;
const CMD_KBD_TEST = 0xab;
const CMD_KBD_DISABLE = 0xad;
const CMD_KBD_ENABLE = 0xae;
const CMD_READ_INPUT_PORT = 0xc0;
const CMD_READ_OUTPUT_PORT = 0xd0;
const CMD_WRITE_OUTPUT_PORT = 0xd1;
const CMD_WRITE_KBD_OUTPUT = 0xd2; // Linux I8042_CMD_KBD_LOOP
const CMD_WRITE_AUX_OUTPUT = 0xd3; // Linux I8042_CMD_AUX_LOOP
const CMD_WRITE_AUX = 0xd4; // Linux I8042_CMD_AUX_SEND
const CMD_PULSE_FIRST = 0xf0; // 0xF0-0xFF pulse output-port bits 0-3 low; bit 0 is CPU reset

const SELF_TEST_OK = 0x55;
const INTERFACE_OK = 0x00;
// Output port: bit 0 = CPU reset line (active low), bit 1 = A20 gate.
const OUTPUT_PORT_RESET_LINE = 0x01;
const DEFAULT_OUTPUT_PORT = 0x03;

// Keyboard commands (port 0x60) and replies.
const KBD_SET_LEDS = 0xed;
const KBD_ECHO = 0xee;
const KBD_SCAN_SET = 0xf0;
const KBD_GET_ID = 0xf2;
const KBD_SET_TYPEMATIC = 0xf3;
const KBD_RESEND = 0xfe;
const KBD_RESET = 0xff;
export const KBD_ACK = 0xfa;
const KBD_NAK = 0xfe;
const KBD_BAT_OK = 0xaa;
const KBD_ID = [0xab, 0x83]; // MF2 keyboard; atkbd_probe checks the 0xab prefix
// 0xF4 enable, 0xF5 disable, 0xF6 defaults, 0xF7-0xFD set-3 key modes: acknowledged only.
const KBD_ACK_ONLY_FIRST = 0xf4;
const KBD_ACK_ONLY_LAST = 0xfd;

/** Ctrl, Alt, Delete make codes in scan code set 2 (Firecracker's KEY_CTRL/KEY_ALT/KEY_DEL). */
export const CTRL_ALT_DEL_SET2 = [0x14, 0x11, 0xe0, 0x71] as const;

type Source = 'ctl' | 'kbd' | 'aux';
interface OutByte {
  readonly value: number;
  readonly source: Source;
  readonly timeout: boolean;
}

export interface I8042Options {
  /** Keyboard interrupt (GSI 1), triggered when keyboard data reaches the output buffer and CTR enables it. */
  readonly kbdIrq: IrqTrigger;
  /** Aux interrupt (GSI 12); omitted = aux data raises nothing. There is no mouse either way. */
  readonly auxIrq?: IrqTrigger;
  /** Receives reset('i8042') for command 0xFE (and other pulses of the reset line). */
  readonly exit: VmExitRequester;
}

export interface I8042Metrics {
  /** Scancode bytes injected by the host (sendCtrlAltDel). */
  keysInjected: number;
  /** Keyboard and aux interrupt edges raised. */
  interrupts: number;
  /** Reset requests sent to the VMM. */
  resetRequests: number;
  /** Controller commands or keyboard commands we do not implement. */
  unknownCommands: number;
  /** Output bytes dropped because the guest was not reading. */
  bufferOverflows: number;
  invalidAccesses: number;
  missedReads: number;
  missedWrites: number;
}

/** JSON-safe snapshot of the controller and keyboard. */
export interface I8042State {
  ctr: number;
  outputPort: number;
  lastWriteWasCommand: boolean;
  /** Controller command waiting for its data byte at 0x60, or -1. */
  pendingCommand: number;
  /** Keyboard command waiting for its parameter byte, or -1. */
  pendingKeyboardCommand: number;
  scanSet: number;
  leds: number;
  typematic: number;
  lastKeyboardByte: number;
  buffer: Array<{ value: number; source: Source; timeout: boolean }>;
}

export class I8042Error extends VmmError<'I8042'> {
  constructor(kind: ErrorKind<'I8042'>, message: string) {
    super('I8042', kind, message);
  }
}

const log = createLogger('i8042');

/**
 * The 8042 register core: data at offset 0 (port 0x60), status/command at offset 4 (port 0x64).
 * The keyboard answers its commands at once; controller command replies (0x20, 0xAA, ...) are
 * put ahead of pending keyboard bytes so a polling driver reads its answer next, and raise no
 * interrupt (as in Firecracker). There is no mouse: bytes for it (0xD4) are answered with 0xFE
 * and the timeout status bit, which makes psmouse give up at once.
 */
export class I8042 implements ByteRegisterDevice {
  readonly name = 'i8042';
  readonly metrics: I8042Metrics = {
    keysInjected: 0,
    interrupts: 0,
    resetRequests: 0,
    unknownCommands: 0,
    bufferOverflows: 0,
    invalidAccesses: 0,
    missedReads: 0,
    missedWrites: 0,
  };

  private readonly kbdIrq: IrqTrigger;
  private readonly auxIrq: IrqTrigger | undefined;
  private readonly exit: VmExitRequester;
  private readonly warnLog = new RateLimitedLog(log);
  private readonly resetLog = rateLimitedAt(log, 'info', 3);

  private ctr = DEFAULT_CTR;
  private outputPort = DEFAULT_OUTPUT_PORT;
  private lastWriteWasCommand = false;
  private pendingCommand = -1;
  private pendingKeyboardCommand = -1;
  private scanSet = 2;
  private leds = 0;
  private typematic = 0;
  private lastKeyboardByte = 0;
  private buffer: OutByte[] = [];

  constructor(options: I8042Options) {
    this.kbdIrq = options.kbdIrq;
    this.auxIrq = options.auxIrq;
    this.exit = options.exit;
  }

  /**
   * Injects Ctrl-Alt-Del (set 2 make codes, as Firecracker's SendCtrlAltDel) and raises IRQ 1
   * when the CTR enables it. Throws I8042Error('buffer-full') when the 4 bytes do not fit.
   */
  sendCtrlAltDel(): void {
    if (I8042_BUFFER_SIZE - this.buffer.length < CTRL_ALT_DEL_SET2.length) {
      throw new I8042Error('buffer-full', `i8042 output buffer holds ${this.buffer.length} unread bytes; no room for Ctrl-Alt-Del`);
    }
    for (const b of CTRL_ALT_DEL_SET2) this.push({ value: b, source: 'kbd', timeout: false });
    this.metrics.keysInjected += CTRL_ALT_DEL_SET2.length;
  }

  /** Bytes waiting in the output buffer. */
  get pendingBytes(): number {
    return this.buffer.length;
  }

  readRegister(offset: number): number {
    switch (offset) {
      case I8042_DATA_OFFSET:
        return this.readData();
      case I8042_COMMAND_OFFSET:
        return this.status();
      default:
        this.metrics.missedReads++;
        this.warnLog.warn(`i8042: read of unknown port offset ${offset}`);
        return 0;
    }
  }

  writeRegister(offset: number, value: number): void {
    const v = value & 0xff;
    switch (offset) {
      case I8042_DATA_OFFSET:
        this.lastWriteWasCommand = false;
        this.writeData(v);
        return;
      case I8042_COMMAND_OFFSET:
        this.lastWriteWasCommand = true;
        this.command(v);
        return;
      default:
        this.metrics.missedWrites++;
        this.warnLog.warn(`i8042: write of 0x${v.toString(16)} to unknown port offset ${offset}`);
    }
  }

  /** Power-on state: default CTR, empty buffer, keyboard in set 2. */
  reset(): void {
    this.applyState(I8042.powerOnState());
  }

  save(): I8042State {
    return {
      ctr: this.ctr,
      outputPort: this.outputPort,
      lastWriteWasCommand: this.lastWriteWasCommand,
      pendingCommand: this.pendingCommand,
      pendingKeyboardCommand: this.pendingKeyboardCommand,
      scanSet: this.scanSet,
      leds: this.leds,
      typematic: this.typematic,
      lastKeyboardByte: this.lastKeyboardByte,
      buffer: this.buffer.map((b) => ({ ...b })),
    };
  }

  /** Restores a save() without raising interrupts. Throws I8042Error('invalid-state') on malformed input. */
  restore(state: I8042State): void {
    const fail = (message: string): never => {
      throw new I8042Error('invalid-state', message);
    };
    if (typeof state !== 'object' || state === null) fail('i8042 state must be an object');
    const pendingField = (field: string): number => {
      const v = (state as unknown as Record<string, unknown>)[field];
      return v === -1 ? -1 : intField(state, field, 0xff, fail);
    };
    const raw = (state as { buffer?: unknown }).buffer;
    if (!Array.isArray(raw) || raw.length > I8042_BUFFER_SIZE) fail(`state field buffer must hold at most ${I8042_BUFFER_SIZE} bytes`);
    const buffer = (raw as unknown[]).map((e): OutByte => {
      if (typeof e !== 'object' || e === null) return fail('buffer entries must be objects');
      const source = (e as { source?: unknown }).source;
      if (source !== 'ctl' && source !== 'kbd' && source !== 'aux') return fail(`buffer entry source ${String(source)} is unknown`);
      return { value: intField(e, 'value', 0xff, fail), source, timeout: boolField(e, 'timeout', fail) };
    });
    this.applyState({
      ctr: intField(state, 'ctr', 0xff, fail),
      outputPort: intField(state, 'outputPort', 0xff, fail),
      lastWriteWasCommand: boolField(state, 'lastWriteWasCommand', fail),
      pendingCommand: pendingField('pendingCommand'),
      pendingKeyboardCommand: pendingField('pendingKeyboardCommand'),
      scanSet: intField(state, 'scanSet', 3, fail),
      leds: intField(state, 'leds', 0xff, fail),
      typematic: intField(state, 'typematic', 0xff, fail),
      lastKeyboardByte: intField(state, 'lastKeyboardByte', 0xff, fail),
      buffer,
    });
  }

  private static powerOnState(): I8042State {
    return {
      ctr: DEFAULT_CTR,
      outputPort: DEFAULT_OUTPUT_PORT,
      lastWriteWasCommand: false,
      pendingCommand: -1,
      pendingKeyboardCommand: -1,
      scanSet: 2,
      leds: 0,
      typematic: 0,
      lastKeyboardByte: 0,
      buffer: [],
    };
  }

  private applyState(s: I8042State): void {
    this.ctr = s.ctr;
    this.outputPort = s.outputPort;
    this.lastWriteWasCommand = s.lastWriteWasCommand;
    this.pendingCommand = s.pendingCommand;
    this.pendingKeyboardCommand = s.pendingKeyboardCommand;
    this.scanSet = s.scanSet;
    this.leds = s.leds;
    this.typematic = s.typematic;
    this.lastKeyboardByte = s.lastKeyboardByte;
    this.buffer = s.buffer.map((b) => ({ ...b }));
  }

  private status(): number {
    const head = this.buffer[0];
    let s = STATUS_UNLOCKED;
    if (this.ctr & CTR_SYS) s |= STATUS_SYS;
    if (this.lastWriteWasCommand) s |= STATUS_CMD;
    if (head !== undefined) {
      s |= STATUS_OBF;
      if (head.source === 'aux') s |= STATUS_AUXDATA;
      if (head.timeout) s |= STATUS_TIMEOUT;
    }
    return s;
  }

  private readData(): number {
    const head = this.buffer.shift();
    // Each byte that moves into the output buffer is a new OBF edge for the interrupt logic
    // (Firecracker re-triggers here too): i8042_interrupt reads one byte per interrupt.
    if (head !== undefined) this.signalHead();
    return head?.value ?? 0;
  }

  private command(cmd: number): void {
    // A new command abandons one still waiting for its data byte.
    this.pendingCommand = -1;
    switch (cmd) {
      case CMD_READ_CTR:
        this.reply(this.ctr);
        return;
      case CMD_WRITE_CTR:
      case CMD_WRITE_OUTPUT_PORT:
      case CMD_WRITE_KBD_OUTPUT:
      case CMD_WRITE_AUX_OUTPUT:
      case CMD_WRITE_AUX:
        this.pendingCommand = cmd;
        return;
      case CMD_AUX_DISABLE:
        this.ctr |= CTR_AUXDIS;
        return;
      case CMD_AUX_ENABLE:
        this.ctr &= ~CTR_AUXDIS;
        return;
      case CMD_KBD_DISABLE:
        this.ctr |= CTR_KBDDIS;
        return;
      case CMD_KBD_ENABLE:
        this.ctr &= ~CTR_KBDDIS;
        return;
      case CMD_SELF_TEST:
        this.ctr |= CTR_SYS;
        this.reply(SELF_TEST_OK);
        return;
      case CMD_KBD_TEST:
      case CMD_AUX_TEST:
        this.reply(INTERFACE_OK);
        return;
      case CMD_READ_INPUT_PORT:
        this.reply(0);
        return;
      case CMD_READ_OUTPUT_PORT:
        this.reply(this.outputPort);
        return;
      default:
        if (cmd >= CMD_PULSE_FIRST) {
          // Bits 0-3 select the lines to pulse low; a 0 in bit 0 pulses CPU reset (0xFE).
          if ((cmd & OUTPUT_PORT_RESET_LINE) === 0) this.requestReset(cmd);
          return;
        }
        this.metrics.unknownCommands++;
        this.warnLog.warn(`i8042: ignored unknown controller command 0x${cmd.toString(16)}`);
    }
  }

  private writeData(v: number): void {
    const cmd = this.pendingCommand;
    this.pendingCommand = -1;
    switch (cmd) {
      case -1:
        this.keyboardWrite(v);
        return;
      case CMD_WRITE_CTR: {
        const enabled = v & ~this.ctr;
        this.ctr = v;
        // Data already waiting raises its interrupt once the guest enables it.
        const head = this.buffer[0];
        if (head !== undefined && ((head.source === 'kbd' && enabled & CTR_KBDINT) || (head.source === 'aux' && enabled & CTR_AUXINT))) {
          this.signalHead();
        }
        return;
      }
      case CMD_WRITE_OUTPUT_PORT:
        this.outputPort = v;
        if ((v & OUTPUT_PORT_RESET_LINE) === 0) this.requestReset(CMD_WRITE_OUTPUT_PORT);
        return;
      case CMD_WRITE_KBD_OUTPUT:
        this.push({ value: v, source: 'kbd', timeout: false });
        return;
      case CMD_WRITE_AUX_OUTPUT:
        this.push({ value: v, source: 'aux', timeout: false });
        return;
      case CMD_WRITE_AUX:
        // No mouse on the aux port: the controller times out waiting for its ACK.
        this.push({ value: KBD_NAK, source: 'aux', timeout: true });
        return;
      default:
        return;
    }
  }

  private keyboardWrite(v: number): void {
    const param = this.pendingKeyboardCommand;
    if (param !== -1) {
      this.pendingKeyboardCommand = -1;
      this.keyboardParameter(param, v);
      return;
    }
    switch (v) {
      case KBD_SET_LEDS:
      case KBD_SCAN_SET:
      case KBD_SET_TYPEMATIC:
        this.pendingKeyboardCommand = v;
        this.keyboardReply(KBD_ACK);
        return;
      case KBD_ECHO:
        this.keyboardReply(KBD_ECHO);
        return;
      case KBD_GET_ID:
        this.keyboardReply(KBD_ACK, ...KBD_ID);
        return;
      case KBD_RESEND:
        this.keyboardReply(this.lastKeyboardByte);
        return;
      case KBD_RESET:
        this.scanSet = 2;
        this.leds = 0;
        this.typematic = 0;
        this.keyboardReply(KBD_ACK, KBD_BAT_OK);
        return;
      default:
        if (v >= KBD_ACK_ONLY_FIRST && v <= KBD_ACK_ONLY_LAST) {
          this.keyboardReply(KBD_ACK);
          return;
        }
        this.metrics.unknownCommands++;
        this.warnLog.warn(`i8042: keyboard rejected unknown command 0x${v.toString(16)}`);
        this.keyboardReply(KBD_NAK);
    }
  }

  private keyboardParameter(cmd: number, v: number): void {
    if (cmd === KBD_SET_LEDS) this.leds = v & 0x07;
    else if (cmd === KBD_SET_TYPEMATIC) this.typematic = v & 0x7f;
    else if (v === 0) {
      this.keyboardReply(KBD_ACK, this.scanSet); // 0xF0 0x00: report the current set
      return;
    } else if (v <= 3) this.scanSet = v;
    else {
      this.keyboardReply(KBD_NAK);
      return;
    }
    this.keyboardReply(KBD_ACK);
  }

  private keyboardReply(...bytes: number[]): void {
    for (const b of bytes) {
      this.lastKeyboardByte = b;
      this.push({ value: b, source: 'kbd', timeout: false });
    }
  }

  /** A controller reply goes ahead of queued device bytes, so a polling driver reads it next. */
  private reply(v: number): void {
    if (this.buffer.length >= I8042_BUFFER_SIZE) {
      this.buffer.pop();
      this.metrics.bufferOverflows++;
    }
    this.buffer.unshift({ value: v, source: 'ctl', timeout: false });
  }

  private push(b: OutByte): void {
    if (this.buffer.length >= I8042_BUFFER_SIZE) {
      this.metrics.bufferOverflows++;
      this.warnLog.warn(`i8042: output buffer full, dropped 0x${b.value.toString(16)}`);
      return;
    }
    this.buffer.push(b);
    if (this.buffer.length === 1) this.signalHead();
  }

  /** Raises the interrupt of the byte now in the output buffer, if its source's CTR bit allows. */
  private signalHead(): void {
    const head = this.buffer[0];
    if (head === undefined) return;
    if (head.source === 'kbd' && this.ctr & CTR_KBDINT) {
      this.metrics.interrupts++;
      this.kbdIrq.trigger();
    } else if (head.source === 'aux' && this.ctr & CTR_AUXINT && this.auxIrq !== undefined) {
      this.metrics.interrupts++;
      this.auxIrq.trigger();
    }
  }

  private requestReset(cmd: number): void {
    this.metrics.resetRequests++;
    this.resetLog.warn(`i8042: guest requested a CPU reset (command 0x${cmd.toString(16)})`);
    this.exit.reset('i8042');
  }
}
