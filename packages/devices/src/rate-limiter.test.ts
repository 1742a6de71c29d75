import { describe, expect, it } from 'vitest';
import { RateLimiter, TokenBucket, tokenBucketFromApi } from './rate-limiter.js';

/** A clock the test moves by hand, in ms. */
function clock() {
  let t = 1000;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

describe('TokenBucket', () => {
  it('starts full and refuses a request it cannot pay in full', () => {
    const c = clock();
    const b = new TokenBucket({ size: 100, refillTimeMs: 1000 }, c.now);
    expect(b.consume(60)).toBe(true);
    expect(b.consume(60)).toBe(false);
    expect(b.available).toBe(40);
  });

  it('refills at size per refill_time, never above size', () => {
    const c = clock();
    const b = new TokenBucket({ size: 100, refillTimeMs: 1000 }, c.now);
    b.consume(100);
    c.advance(250);
    expect(b.available).toBe(25);
    c.advance(10_000);
    expect(b.available).toBe(100);
  });

  it('spends one_time_burst first and never refills it', () => {
    const c = clock();
    const b = new TokenBucket({ size: 10, oneTimeBurst: 30, refillTimeMs: 1000 }, c.now);
    expect(b.available).toBe(40);
    expect(b.consume(35)).toBe(true);
    expect(b.save()).toEqual({ budget: 5, oneTimeBurst: 0 });
    c.advance(10_000);
    expect(b.available).toBe(10);
  });

  it('says how long until n tokens are there, capped at the size', () => {
    const c = clock();
    const b = new TokenBucket({ size: 100, refillTimeMs: 1000 }, c.now);
    b.consume(100);
    expect(b.delayFor(10)).toBe(100);
    expect(b.delayFor(1000)).toBe(1000);
    c.advance(100);
    expect(b.delayFor(10)).toBe(0);
  });

  it('refuses a zero, negative or fractional size or refill time', () => {
    expect(() => new TokenBucket({ size: 0, refillTimeMs: 10 })).toThrow(/above 0/);
    expect(() => new TokenBucket({ size: 10, refillTimeMs: 0 })).toThrow(/above 0/);
    expect(() => new TokenBucket({ size: 1.5, refillTimeMs: 10 })).toThrow(expect.objectContaining({ code: 'ERR_VMM_RATE_LIMITER_INVALID_CONFIG' }));
  });

  it('restores a saved budget and refuses one above its size', () => {
    const c = clock();
    const b = new TokenBucket({ size: 10, refillTimeMs: 1000 }, c.now);
    b.restore({ budget: 3, oneTimeBurst: 2 });
    expect(b.available).toBe(5);
    expect(() => b.restore({ budget: 11, oneTimeBurst: 0 })).toThrow(expect.objectContaining({ code: 'ERR_VMM_RATE_LIMITER_INVALID_STATE' }));
  });
});

describe('RateLimiter', () => {
  it('passes a request only when both buckets allow it, taking from neither otherwise', () => {
    const c = clock();
    const r = new RateLimiter({ bandwidth: { size: 100, refillTimeMs: 1000 }, ops: { size: 2, refillTimeMs: 1000 } }, c.now);
    expect(r.consume(90)).toBe(true);
    expect(r.consume(20)).toBe(false);
    // The refused request took no op token: one op is still there.
    expect(r.ops?.available).toBe(1);
    expect(r.consume(10)).toBe(true);
    expect(r.consume(0)).toBe(false);
    expect(r.delayFor(0)).toBe(500);
  });

  it('has no limit without buckets', () => {
    const r = new RateLimiter({});
    expect(r.maxBytes).toBe(Infinity);
    expect(r.consume(1e9)).toBe(true);
    expect(r.delayFor(1e9)).toBe(0);
    expect(r.save()).toEqual({});
  });

  it('refuses a state for other buckets', () => {
    const r = new RateLimiter({ ops: { size: 1, refillTimeMs: 1 } });
    expect(() => r.restore({ bandwidth: { budget: 0, oneTimeBurst: 0 } })).toThrow(/lacks a ops bucket|has a bandwidth/);
  });

  it('reads the API bucket shape, where size or refill_time 0 means no limit', () => {
    expect(tokenBucketFromApi({ size: 10, refill_time: 100, one_time_burst: 5 })).toEqual({ size: 10, refillTimeMs: 100, oneTimeBurst: 5 });
    expect(tokenBucketFromApi({ size: 0, refill_time: 100 })).toBeUndefined();
    expect(tokenBucketFromApi({ size: 10, refill_time: 0 })).toBeUndefined();
    expect(tokenBucketFromApi(undefined)).toBeUndefined();
  });
});
