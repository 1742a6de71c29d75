// Token-bucket rate limiter with Firecracker's semantics (src/vmm/src/rate_limiter): a bucket of
// `size` tokens refilled continuously over `refillTimeMs`, plus a `oneTimeBurst` spent first and
// never refilled; a limiter pairs a bytes bucket and an ops bucket. Consumption is all or nothing.
import { VmmError } from '@workervisor/base';
import type { ErrorKind } from '@workervisor/base';

/** One bucket's configuration; size or refillTimeMs 0 means "no limit" (Firecracker's rule). */
export interface TokenBucketConfig {
  /** Capacity in tokens (bytes or operations); the bucket starts full. */
  readonly size: number;
  /** Extra tokens available once at start, spent before the bucket; default 0. */
  readonly oneTimeBurst?: number;
  /** Milliseconds for an empty bucket to refill to `size`. */
  readonly refillTimeMs: number;
}

export interface RateLimiterConfig {
  /** Tokens are bytes. */
  readonly bandwidth?: TokenBucketConfig;
  /** Tokens are requests. */
  readonly ops?: TokenBucketConfig;
}

/** JSON-safe bucket state for snapshots (the refill clock restarts at restore). */
export interface TokenBucketState {
  budget: number;
  oneTimeBurst: number;
}

export interface RateLimiterState {
  bandwidth?: TokenBucketState;
  ops?: TokenBucketState;
}

export class RateLimiterError extends VmmError<'RATE_LIMITER'> {
  constructor(kind: ErrorKind<'RATE_LIMITER'>, message: string) {
    super('RATE_LIMITER', kind, message);
  }
}

/** A monotonic clock in milliseconds. */
export type MillisecondClock = () => number;

const defaultClock: MillisecondClock = () => performance.now();

function checkCount(what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new RateLimiterError('invalid-config', `${what} must be a non-negative integer, got ${String(v)}`);
  return v;
}

/** One token bucket. Tokens are fractional internally so slow refills lose nothing to rounding. */
export class TokenBucket {
  readonly size: number;
  readonly refillTimeMs: number;
  private budget: number;
  private burst: number;
  private last: number;

  constructor(
    config: TokenBucketConfig,
    private readonly now: MillisecondClock = defaultClock,
  ) {
    this.size = checkCount('token bucket size', config.size);
    this.refillTimeMs = checkCount('token bucket refill_time', config.refillTimeMs);
    if (this.size === 0 || this.refillTimeMs === 0) throw new RateLimiterError('invalid-config', 'a token bucket needs a size and a refill_time above 0 (leave it out for no limit)');
    this.burst = checkCount('token bucket one_time_burst', config.oneTimeBurst ?? 0);
    this.budget = this.size;
    this.last = now();
  }

  /** Whole tokens available now (burst included). */
  get available(): number {
    this.refill();
    return Math.floor(this.budget + this.burst);
  }

  /** Takes `n` tokens if they are all there; otherwise takes none and returns false. */
  consume(n: number): boolean {
    this.refill();
    if (n > this.budget + this.burst) return false;
    const fromBurst = Math.min(n, this.burst);
    this.burst -= fromBurst;
    this.budget -= n - fromBurst;
    return true;
  }

  /** Whether `n` tokens are available now. */
  has(n: number): boolean {
    this.refill();
    return n <= this.budget + this.burst;
  }

  /** Milliseconds until `n` tokens (at most `size`) are available; 0 when they are now. */
  delayFor(n: number): number {
    this.refill();
    const missing = Math.min(n, this.size) - this.budget - this.burst;
    return missing <= 0 ? 0 : Math.ceil((missing * this.refillTimeMs) / this.size);
  }

  save(): TokenBucketState {
    this.refill();
    return { budget: this.budget, oneTimeBurst: this.burst };
  }

  restore(state: TokenBucketState): void {
    const { budget, oneTimeBurst } = state as Partial<TokenBucketState>;
    if (typeof budget !== 'number' || !Number.isFinite(budget) || budget < 0 || budget > this.size) throw new RateLimiterError('invalid-state', `token bucket budget must be in 0..${this.size}, got ${String(budget)}`);
    if (typeof oneTimeBurst !== 'number' || !Number.isFinite(oneTimeBurst) || oneTimeBurst < 0) throw new RateLimiterError('invalid-state', `token bucket oneTimeBurst must be a non-negative number, got ${String(oneTimeBurst)}`);
    this.budget = budget;
    this.burst = oneTimeBurst;
    this.last = this.now();
  }

  private refill(): void {
    const t = this.now();
    const elapsed = t - this.last;
    this.last = t;
    if (elapsed > 0) this.budget = Math.min(this.size, this.budget + (elapsed * this.size) / this.refillTimeMs);
  }
}

/** Token bucket from the API shape (`{size, one_time_burst, refill_time}`), or undefined for "no limit". */
export function tokenBucketFromApi(b: { size: number; one_time_burst?: number; refill_time: number } | undefined): TokenBucketConfig | undefined {
  if (b === undefined || b.size === 0 || b.refill_time === 0) return undefined;
  return { size: b.size, refillTimeMs: b.refill_time, ...(b.one_time_burst === undefined ? {} : { oneTimeBurst: b.one_time_burst }) };
}

/** A bytes bucket and an ops bucket, either optional; a request passes only if both allow it. */
export class RateLimiter {
  readonly bandwidth: TokenBucket | undefined;
  readonly ops: TokenBucket | undefined;

  constructor(config: RateLimiterConfig, now: MillisecondClock = defaultClock) {
    this.bandwidth = config.bandwidth === undefined ? undefined : new TokenBucket(config.bandwidth, now);
    this.ops = config.ops === undefined ? undefined : new TokenBucket(config.ops, now);
  }

  /** The most bytes one request may cost: the bandwidth bucket's size (Infinity without one). */
  get maxBytes(): number {
    return this.bandwidth?.size ?? Infinity;
  }

  /** Takes `bytes` bandwidth tokens and one op token, both or neither. */
  consume(bytes: number): boolean {
    if (this.ops?.has(1) === false || this.bandwidth?.has(bytes) === false) return false;
    this.ops?.consume(1);
    this.bandwidth?.consume(bytes);
    return true;
  }

  /** Milliseconds until a request of `bytes` would pass. */
  delayFor(bytes: number): number {
    return Math.max(this.ops?.delayFor(1) ?? 0, this.bandwidth?.delayFor(bytes) ?? 0);
  }

  save(): RateLimiterState {
    return { ...(this.bandwidth === undefined ? {} : { bandwidth: this.bandwidth.save() }), ...(this.ops === undefined ? {} : { ops: this.ops.save() }) };
  }

  /** Restores a save() of a limiter with the same buckets. Throws RateLimiterError('invalid-state'). */
  restore(state: RateLimiterState): void {
    if (typeof state !== 'object' || state === null) throw new RateLimiterError('invalid-state', 'rate limiter state must be an object');
    for (const key of ['bandwidth', 'ops'] as const) {
      const bucket = this[key];
      const saved = state[key];
      if ((bucket === undefined) !== (saved === undefined)) throw new RateLimiterError('invalid-state', `rate limiter state ${saved === undefined ? 'lacks' : 'has'} a ${key} bucket the limiter ${saved === undefined ? 'has' : 'lacks'}`);
      if (bucket !== undefined && saved !== undefined) bucket.restore(saved);
    }
  }
}
