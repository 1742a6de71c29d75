import { describe, expect, it } from 'vitest';
import { ConsoleBuffer } from './console-buffer.js';
import { SerialWaitError } from './errors.js';

describe('ConsoleBuffer', () => {
  it('resolves a wait on text that arrives later, with its index in the whole text', async () => {
    const c = new ConsoleBuffer();
    c.append('booting\n');
    const waiting = c.wait(/READY nproc=(\d+)/, 1_000);
    c.append('READY nproc=2\n');
    const m = await waiting;
    expect(m[1]).toBe('2');
    expect(m.index).toBe(c.text.indexOf('READY'));
  });

  it('consumes each match, so the next wait sees only later text', async () => {
    const c = new ConsoleBuffer();
    c.append('tick 1 tick 2');
    expect((await c.wait(/tick (\d)/, 100))[1]).toBe('1');
    expect((await c.wait(/tick (\d)/g, 100))[1]).toBe('2');
    await expect(c.wait('tick', 50)).rejects.toMatchObject({ kind: 'timeout' });
  });

  it('matches a string literally', async () => {
    const c = new ConsoleBuffer();
    c.append('a+b (c)');
    expect((await c.wait('+b (c', 100)).index).toBe(1);
  });

  it('rejects pending and later waits once the text has ended, quoting its tail and context', async () => {
    const c = new ConsoleBuffer({ name: 'the serial socket', describe: () => ' (pid 7)' });
    const pending = c.wait(/never/, 5_000);
    c.append('last words');
    c.end('the socket closed');
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SerialWaitError);
    expect(err).toMatchObject({ kind: 'exited' });
    expect((err as Error).message).toBe('the socket closed before the serial socket matched /never/ (pid 7); the serial socket tail: "last words"');
    await expect(c.wait('last', 100)).resolves.toMatchObject({ index: 0 });
  });

  it('drops the oldest text past maxChars and keeps matching', async () => {
    const c = new ConsoleBuffer({ maxChars: 8 });
    c.append('0123456789');
    expect(c.text).toBe('23456789');
    expect((await c.wait('89', 100)).index).toBe(6);
  });
});
