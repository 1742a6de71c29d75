import { describe, expect, it } from 'vitest';
import { ManualClock, RecordingExitRequester, RecordingIrq, RecordingOutput } from './recorders.js';

describe('test recorders', () => {
  it('RecordingIrq counts triggers and take() restarts the count', () => {
    const irq = new RecordingIrq();
    irq.trigger();
    irq.trigger();
    expect(irq.take()).toBe(2);
    irq.trigger();
    expect(irq.count).toBe(1);
    expect(irq.total).toBe(3);
  });

  it('RecordingOutput keeps copies of what was written', () => {
    const out = new RecordingOutput();
    const chunk = Uint8Array.of(0x61, 0x62);
    out.write(chunk);
    chunk[0] = 0x7a;
    out.write(Uint8Array.of(0xe9));
    expect(out.text()).toBe('ab\u00e9');
    expect(out.writes).toBe(2);
    out.clear();
    expect(out.bytes.length).toBe(0);
  });

  it('RecordingOutput throws once when failNext is set', () => {
    const out = new RecordingOutput();
    out.failNext = new Error('EPIPE');
    expect(() => out.write(Uint8Array.of(1))).toThrow('EPIPE');
    out.write(Uint8Array.of(2));
    expect([...out.bytes]).toEqual([2]);
  });

  it('RecordingExitRequester records requests in order', () => {
    const exit = new RecordingExitRequester();
    exit.reset('i8042');
    exit.powerOff('acpi-s5');
    expect(exit.requests).toEqual([
      { kind: 'reset', reason: 'i8042' },
      { kind: 'power-off', reason: 'acpi-s5' },
    ]);
    expect([exit.resets, exit.powerOffs]).toEqual([1, 1]);
    expect(exit.last?.reason).toBe('acpi-s5');
  });

  it('ManualClock advances in microseconds and nanoseconds', () => {
    const clock = new ManualClock(10n);
    clock.advanceUs(2);
    clock.advanceNs(5n);
    expect(clock.now()).toBe(2_015n);
  });
});
