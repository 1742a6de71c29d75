import { describe, expect, it } from 'vitest';
import { Bus } from '../bus.js';
import { RecordingExitRequester, RecordingIrq } from '../testing/index.js';
import { BytePortBusDevice } from './byte-port-bus.js';
import {
  CTR_AUXDIS,
  CTR_AUXINT,
  CTR_KBDDIS,
  CTR_KBDINT,
  CTRL_ALT_DEL_SET2,
  I8042,
  I8042_BUFFER_SIZE,
  I8042_COMMAND_OFFSET,
  I8042_DATA_OFFSET,
  I8042_PORT_SPAN,
  I8042Error,
  type I8042State,
  KBD_ACK,
  STATUS_AUXDATA,
  STATUS_OBF,
} from './i8042.js';

const DATA = I8042_DATA_OFFSET;
const CMD = I8042_COMMAND_OFFSET;

function setup(withAux = false) {
  const kbdIrq = new RecordingIrq();
  const auxIrq = new RecordingIrq();
  const exit = new RecordingExitRequester();
  const dev = new I8042(withAux ? { kbdIrq, auxIrq, exit } : { kbdIrq, exit });
  const status = () => dev.readRegister(CMD);
  const data = () => dev.readRegister(DATA);
  /** Linux's __i8042_command: command byte, optional parameter, optional polled reply. */
  const command = (cmd: number, param?: number, reply = true): number | undefined => {
    dev.writeRegister(CMD, cmd);
    if (param !== undefined) dev.writeRegister(DATA, param);
    if (!reply) return undefined;
    if ((status() & STATUS_OBF) === 0) return undefined; // i8042_wait_read would time out
    return data();
  };
  /** Drains the output buffer the way i8042_flush does. */
  const flush = (): number[] => {
    const out: number[] = [];
    while (status() & STATUS_OBF && out.length <= I8042_BUFFER_SIZE) out.push(data());
    return out;
  };
  /** A byte to the keyboard, then everything it answered. */
  const kbd = (...bytes: number[]): number[] => {
    for (const b of bytes) dev.writeRegister(DATA, b);
    return flush();
  };
  return { dev, kbdIrq, auxIrq, exit, status, data, command, flush, kbd };
}

describe('I8042 Linux controller probing', () => {
  it('has an empty output buffer at power-on and a status that is not 0xff', () => {
    const { status, flush } = setup();
    expect(status()).not.toBe(0xff);
    expect(flush()).toEqual([]);
  });

  it('reports the keyboard unlocked, so Linux does not warn "Keylock active"', () => {
    const { status } = setup();
    expect(status() & 0x10).toBe(0x10);
  });

  it('answers the controller self-test 0xAA with 0x55 and sets the system flag', () => {
    const { command, status } = setup();
    expect(command(0xaa)).toBe(0x55);
    expect(status() & 0x04).toBe(0x04);
  });

  it('answers the keyboard and aux interface tests 0xAB and 0xA9 with 0x00', () => {
    const { command } = setup();
    expect(command(0xab)).toBe(0x00);
    expect(command(0xa9)).toBe(0x00);
  });

  it('gives a stable CTR on repeated 0x20 reads, with translation off so Linux uses set 2 directly', () => {
    const { command } = setup();
    const a = command(0x20);
    const b = command(0x20);
    expect(a).toBe(b);
    expect(a).toBe(CTR_KBDINT | 0x04);
    expect(a! & 0x40).toBe(0);
  });

  it('stores a CTR written with 0x60 and reads it back with 0x20', () => {
    const { command } = setup();
    command(0x60, 0x74, false);
    expect(command(0x20)).toBe(0x74);
  });

  it('sets the command bit in status after a write to 0x64 and clears it after a write to 0x60', () => {
    const { dev, status } = setup();
    dev.writeRegister(CMD, 0x60);
    expect(status() & 0x08).toBe(0x08);
    dev.writeRegister(DATA, 0x05);
    expect(status() & 0x08).toBe(0);
  });

  it('toggles the keyboard and aux disable bits in the CTR with 0xAD/0xAE and 0xA7/0xA8', () => {
    const { command } = setup();
    command(0xad, undefined, false);
    command(0xa7, undefined, false);
    expect(command(0x20)! & (CTR_KBDDIS | CTR_AUXDIS)).toBe(CTR_KBDDIS | CTR_AUXDIS);
    command(0xae, undefined, false);
    expect(command(0x20)! & CTR_KBDDIS).toBe(0);
    command(0xa8, undefined, false);
    expect(command(0x20)! & CTR_AUXDIS).toBe(0);
  });

  it('echoes 0xD3 (AUX_LOOP) data back as aux data with the aux interrupt when enabled', () => {
    const { command, auxIrq, kbdIrq, status, data } = setup(true);
    command(0x60, CTR_KBDINT | CTR_AUXINT, false);
    command(0xd3, 0x5a, false);
    expect(status() & (STATUS_OBF | STATUS_AUXDATA)).toBe(STATUS_OBF | STATUS_AUXDATA);
    expect(data()).toBe(0x5a);
    expect(auxIrq.count).toBe(1);
    expect(kbdIrq.count).toBe(0);
  });

  it('echoes 0xD2 (KBD_LOOP) data back as keyboard data with IRQ 1', () => {
    const { command, kbdIrq, status, data } = setup();
    command(0xd2, 0x42, false);
    expect(status() & (STATUS_OBF | STATUS_AUXDATA)).toBe(STATUS_OBF);
    expect(data()).toBe(0x42);
    expect(kbdIrq.count).toBe(1);
  });

  it('answers bytes sent to the absent mouse (0xD4) with 0xFE and the timeout bit', () => {
    const { command, status, data } = setup();
    command(0xd4, 0xff, false);
    expect(status() & 0x61).toBe(0x61);
    expect(data()).toBe(0xfe);
    expect(status() & STATUS_OBF).toBe(0);
  });

  it('reads the output port with 0xD0 and keeps the reset line high', () => {
    const { command } = setup();
    expect(command(0xd0)! & 0x01).toBe(0x01);
  });

  it('counts and ignores unknown controller commands', () => {
    const { dev, command, flush } = setup();
    command(0x99, undefined, false);
    expect(flush()).toEqual([]);
    expect(dev.metrics.unknownCommands).toBe(1);
  });
});

describe('I8042 keyboard', () => {
  it('answers reset 0xFF with ACK then BAT passed 0xAA', () => {
    const { kbd } = setup();
    expect(kbd(0xff)).toEqual([0xfa, 0xaa]);
  });

  it('answers GETID 0xF2 with ACK, 0xAB, 0x83 as atkbd_probe expects', () => {
    const { kbd } = setup();
    expect(kbd(0xf2)).toEqual([0xfa, 0xab, 0x83]);
  });

  it('acknowledges the atkbd_activate sequence: LEDs, typematic, enable', () => {
    const { kbd } = setup();
    expect(kbd(0xed)).toEqual([KBD_ACK]);
    expect(kbd(0x00)).toEqual([KBD_ACK]);
    expect(kbd(0xf3, 0x00)).toEqual([KBD_ACK, KBD_ACK]);
    expect(kbd(0xf4)).toEqual([KBD_ACK]);
    expect(kbd(0xf5)).toEqual([KBD_ACK]);
  });

  it('reports and changes the scan code set through 0xF0', () => {
    const { kbd } = setup();
    expect(kbd(0xf0, 0x00)).toEqual([KBD_ACK, KBD_ACK, 0x02]);
    expect(kbd(0xf0, 0x03)).toEqual([KBD_ACK, KBD_ACK]);
    expect(kbd(0xf0, 0x00)).toEqual([KBD_ACK, KBD_ACK, 0x03]);
    expect(kbd(0xf0, 0x07)).toEqual([KBD_ACK, 0xfe]);
  });

  it('answers echo with 0xEE and resend with the last byte sent', () => {
    const { kbd } = setup();
    expect(kbd(0xee)).toEqual([0xee]);
    kbd(0xf2);
    expect(kbd(0xfe)).toEqual([0x83]);
  });

  it('rejects an unknown keyboard command with 0xFE', () => {
    const { dev, kbd } = setup();
    expect(kbd(0x12)).toEqual([0xfe]);
    expect(dev.metrics.unknownCommands).toBe(1);
  });

  it('raises IRQ 1 for each reply byte as it reaches the output buffer', () => {
    const { kbdIrq, kbd } = setup();
    kbd(0xf2);
    expect(kbdIrq.count).toBe(3);
  });

  it('raises no keyboard interrupt while the CTR disables it, and one when it is enabled with data waiting', () => {
    const { command, kbdIrq, dev, data } = setup();
    command(0x60, 0x04, false);
    dev.writeRegister(DATA, 0xf4);
    expect(kbdIrq.count).toBe(0);
    command(0x60, 0x05, false);
    expect(kbdIrq.count).toBe(1);
    expect(data()).toBe(KBD_ACK);
  });

  it('puts a controller reply ahead of unread keyboard bytes without an interrupt of its own', () => {
    const { dev, command, kbdIrq, data } = setup();
    dev.writeRegister(DATA, 0xf2);
    expect(kbdIrq.take()).toBe(1);
    expect(command(0x20)).toBe(0x05);
    expect(kbdIrq.take()).toBe(1); // the keyboard byte is back in the output buffer
    expect([data(), data(), data()]).toEqual([0xfa, 0xab, 0x83]);
  });

  it('reads 0 from an empty data port', () => {
    const { data } = setup();
    expect(data()).toBe(0);
  });
});

describe('I8042 reset and Ctrl-Alt-Del', () => {
  it('asks the VMM for a reset on command 0xFE', () => {
    const { dev, exit } = setup();
    dev.writeRegister(CMD, 0xfe);
    expect(exit.requests).toEqual([{ kind: 'reset', reason: 'i8042' }]);
    expect(dev.metrics.resetRequests).toBe(1);
  });

  it('ignores a CPU reset written to the data port', () => {
    const { dev, exit, flush } = setup();
    dev.writeRegister(DATA, 0xfe);
    expect(exit.requests).toEqual([]);
    expect(flush()).toEqual([0x00]); // the keyboard resends its last byte
  });

  it('treats other pulses of output bit 0 as reset and 0xFF as a no-op', () => {
    const { dev, exit } = setup();
    dev.writeRegister(CMD, 0xff);
    expect(exit.resets).toBe(0);
    dev.writeRegister(CMD, 0xf0);
    expect(exit.resets).toBe(1);
  });

  it('resets when the output port is written with the reset line low', () => {
    const { command, exit } = setup();
    command(0xd1, 0xdf, false);
    expect(exit.resets).toBe(0);
    command(0xd1, 0xde, false);
    expect(exit.resets).toBe(1);
  });

  it('injects Ctrl-Alt-Del as set 2 make codes and raises IRQ 1 once per byte read', () => {
    const { dev, kbdIrq, flush } = setup();
    dev.sendCtrlAltDel();
    expect(kbdIrq.take()).toBe(1);
    expect(flush()).toEqual([...CTRL_ALT_DEL_SET2]);
    expect(kbdIrq.take()).toBe(3);
    expect(dev.metrics.keysInjected).toBe(4);
  });

  it('refuses Ctrl-Alt-Del with I8042Error when the buffer lacks room for four bytes', () => {
    const { dev } = setup();
    for (let i = 0; i < 4; i++) dev.writeRegister(DATA, 0xf2);
    expect(dev.pendingBytes).toBe(12);
    dev.writeRegister(DATA, 0xee);
    expect(() => dev.sendCtrlAltDel()).toThrow(I8042Error);
    expect(dev.pendingBytes).toBe(13);
  });

  it('drops and counts keyboard bytes when the guest never reads', () => {
    const { dev } = setup();
    for (let i = 0; i < 10; i++) dev.writeRegister(DATA, 0xf2);
    expect(dev.pendingBytes).toBe(I8042_BUFFER_SIZE);
    expect(dev.metrics.bufferOverflows).toBe(14);
  });
});

describe('I8042 snapshots', () => {
  it('restores CTR, pending commands and buffered bytes from a JSON round trip', () => {
    const a = setup();
    a.command(0x60, 0x47, false);
    a.dev.writeRegister(DATA, 0xf2);
    a.dev.writeRegister(DATA, 0xed); // keyboard now waits for the LED byte
    a.dev.writeRegister(CMD, 0xd2); // controller waits for its data byte
    const state = JSON.parse(JSON.stringify(a.dev.save())) as I8042State;

    const b = setup();
    b.dev.restore(state);
    expect(b.kbdIrq.count).toBe(0);
    expect(b.dev.save()).toEqual(a.dev.save());
    b.dev.writeRegister(DATA, 0x33); // completes 0xD2
    expect(b.flush()).toEqual([0xfa, 0xab, 0x83, 0xfa, 0x33]);
    expect(b.kbd(0x02)).toEqual([KBD_ACK]); // the LED parameter
    expect(b.command(0x20)).toBe(0x47);
  });

  it('rejects a malformed state with I8042Error', () => {
    const { dev } = setup();
    expect(() => dev.restore({ ...dev.save(), ctr: -1 })).toThrow(I8042Error);
    expect(() => dev.restore({ ...dev.save(), buffer: [{ value: 1, source: 'x' as 'kbd', timeout: false }] })).toThrow(/source/);
    expect(() => dev.restore({ ...dev.save(), buffer: new Array(17).fill({ value: 0, source: 'kbd', timeout: false }) })).toThrow(
      I8042Error,
    );
  });

  it('returns to the power-on CTR and an empty buffer on reset()', () => {
    const { dev, command, flush } = setup();
    command(0x60, 0x00, false);
    dev.writeRegister(DATA, 0xf2);
    dev.reset();
    expect(flush()).toEqual([]);
    expect(command(0x20)).toBe(0x05);
  });
});

describe('I8042 on the PIO bus', () => {
  function onBus() {
    const exit = new RecordingExitRequester();
    const dev = new I8042({ kbdIrq: new RecordingIrq(), exit });
    const bus = new Bus('pio');
    bus.insert(new BytePortBusDevice(dev), 0x60, I8042_PORT_SPAN, 'i8042');
    return { bus, dev, exit };
  }

  it('maps data at 0x60 and command/status at 0x64', () => {
    const { bus, exit } = onBus();
    bus.write(0x64, Uint8Array.of(0xaa));
    const status = new Uint8Array(1);
    bus.read(0x64, status);
    expect(status[0]! & STATUS_OBF).toBe(STATUS_OBF);
    const data = new Uint8Array(1);
    bus.read(0x60, data);
    expect(data[0]).toBe(0x55);
    bus.write(0x64, Uint8Array.of(0xfe));
    expect(exit.resets).toBe(1);
  });

  it('counts accesses to 0x61-0x63 as missed', () => {
    const { bus, dev } = onBus();
    const data = Uint8Array.of(0xff);
    bus.read(0x62, data);
    bus.write(0x61, Uint8Array.of(1));
    expect(data[0]).toBe(0);
    expect(dev.metrics.missedReads).toBe(1);
    expect(dev.metrics.missedWrites).toBe(1);
  });

  it('ignores and counts a 2-byte write to the data port', () => {
    const { bus, dev } = onBus();
    bus.write(0x60, Uint8Array.of(0xff, 0x00));
    expect(dev.pendingBytes).toBe(0);
    expect(dev.metrics.invalidAccesses).toBe(1);
  });
});
