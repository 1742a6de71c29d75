import { describe, expect, it } from 'vitest';
import { Slots } from './slots.js';

describe('Slots', () => {
  it('lets at most `limit` holders in at once, in arrival order', async () => {
    const slots = new Slots(2);
    const order: string[] = [];
    const hold = async (name: string, ms: number): Promise<void> => {
      await slots.acquire();
      order.push(`+${name}`);
      await new Promise((r) => setTimeout(r, ms));
      order.push(`-${name}`);
      slots.release();
    };
    await Promise.all([hold('a', 30), hold('b', 60), hold('c', 10)]);
    expect(order.slice(0, 3)).toEqual(['+a', '+b', '-a']);
    expect(order.indexOf('+c')).toBe(3);
  });

  it('refuses a limit that is not a positive integer', () => {
    expect(() => new Slots(0)).toThrow(/positive integer/);
  });
});
