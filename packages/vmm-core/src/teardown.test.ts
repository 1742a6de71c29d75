import diagnostics from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { Teardown, type TeardownStepEvent } from './teardown.js';

describe('Teardown', () => {
  const events: TeardownStepEvent[] = [];
  const onStep = (e: unknown): void => void events.push(e as TeardownStepEvent);
  diagnostics.subscribe('workervisor:teardown:step', onStep);
  afterEach(() => {
    events.length = 0;
  });

  it('runs steps last pushed first', async () => {
    const ran: string[] = [];
    const t = new Teardown();
    for (const name of ['ram', 'vm', 'vcpus']) t.push(name, () => void ran.push(name));
    expect(t.pending).toEqual(['vcpus', 'vm', 'ram']);
    await t.run();
    expect(ran).toEqual(['vcpus', 'vm', 'ram']);
    expect(t.pending).toEqual([]);
  });

  it('awaits an async step before starting the next', async () => {
    const ran: string[] = [];
    const t = new Teardown();
    t.push('after', () => void ran.push('after'));
    t.push('slow', async () => {
      await new Promise((r) => setTimeout(r, 20));
      ran.push('slow');
    });
    await t.run();
    expect(ran).toEqual(['slow', 'after']);
  });

  it('runs the other steps when one throws or rejects, and reports the failures', async () => {
    const ran: string[] = [];
    const t = new Teardown();
    t.push('first', () => void ran.push('first'));
    t.push('rejects', () => Promise.reject(new Error('no')));
    t.push('throws', () => {
      throw new Error('boom');
    });
    t.push('last', () => void ran.push('last'));
    await expect(t.run()).resolves.toBeUndefined();
    expect(ran).toEqual(['last', 'first']);
    expect(events).toEqual([{ name: 'last' }, { name: 'throws', error: 'boom' }, { name: 'rejects', error: 'no' }, { name: 'first' }]);
  });

  it('is idempotent: a second run, even a concurrent one, runs nothing again', async () => {
    let runs = 0;
    const t = new Teardown();
    t.push('once', async () => {
      await new Promise((r) => setTimeout(r, 5));
      runs++;
    });
    const [a, b] = [t.run(), t.run()];
    expect(a).toBe(b);
    await Promise.all([a, b]);
    await t.run();
    expect(runs).toBe(1);
    expect(t.started).toBe(true);
  });

  it('releases at once what is pushed after teardown began', async () => {
    const ran: string[] = [];
    const t = new Teardown();
    await t.run();
    t.push('late', () => void ran.push('late'));
    await new Promise((r) => setImmediate(r));
    expect(ran).toEqual(['late']);
  });
});
