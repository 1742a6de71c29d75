// Schema building blocks shared by the Cloud Hypervisor bodies: integer widths named after the
// spec's `format`s, string enums, strict objects, and the rate limiter (Cloud Hypervisor's spec,
// vendored as packages/api/src/routes/fixtures/cloud-hypervisor.yaml).
import { Type, type TLiteral, type TProperties, type TUnion, type ObjectOptions } from '@sinclair/typebox';

/** An object that rejects properties the spec does not declare. */
export function Strict<T extends TProperties>(properties: T, options: ObjectOptions = {}) {
  return Type.Object(properties, { additionalProperties: false, ...options });
}

/** A string enum, e.g. `StringEnum(['Off', 'Pty'])`; rendered as `enum` in the OpenAPI document. */
export function StringEnum<const T extends readonly string[]>(
  values: T,
  options: { default?: T[number]; description?: string } = {},
): TUnion<TLiteral<T[number]>[]> {
  return Type.Union(
    values.map((v) => Type.Literal(v)),
    options,
  ) as TUnion<TLiteral<T[number]>[]>;
}

// Integers: JSON numbers must stay exact, so int64/uint64 are capped at 2^53 - 1.
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
type IntOptions = { default?: number; description?: string; minimum?: number; maximum?: number };

/** int64 per the spec (bounded to the safe-integer range of a JS number). */
export const Int64 = (o: IntOptions = {}) => Type.Integer({ format: 'int64', minimum: -MAX_SAFE, maximum: MAX_SAFE, ...o });
/** A non-negative int64 (sizes in bytes, counts). */
export const UInt64 = (o: IntOptions = {}) => Type.Integer({ format: 'int64', minimum: 0, maximum: MAX_SAFE, ...o });
export const Int32 = (o: IntOptions = {}) => Type.Integer({ format: 'int32', minimum: -(2 ** 31), maximum: 2 ** 31 - 1, ...o });
export const UInt32 = (o: IntOptions = {}) => Type.Integer({ format: 'uint32', minimum: 0, maximum: 2 ** 32 - 1, ...o });
/** The spec says int16 for PCI segments; Cloud Hypervisor stores them as u16. */
export const Int16 = (o: IntOptions = {}) => Type.Integer({ format: 'int16', minimum: 0, maximum: 0xffff, ...o });
export const UInt16 = (o: IntOptions = {}) => Type.Integer({ format: 'uint16', minimum: 0, maximum: 0xffff, ...o });
export const Int8 = (o: IntOptions = {}) => Type.Integer({ format: 'int8', minimum: -128, maximum: 127, ...o });
export const UInt8 = (o: IntOptions = {}) => Type.Integer({ format: 'uint8', minimum: 0, maximum: 0xff, ...o });
/** An integer the spec gives no format for (queue counts, vCPU indexes). */
export const Int = (o: IntOptions = {}) => Type.Integer({ minimum: -MAX_SAFE, maximum: MAX_SAFE, ...o });

export const Bool = (d?: boolean) => (d === undefined ? Type.Boolean() : Type.Boolean({ default: d }));

/** Token bucket: capacity `size`, initial `one_time_burst`, full refill every `refill_time` ms. */
export const TokenBucketSchema = Strict({
  size: UInt64({ description: 'The total number of tokens this bucket can hold.' }),
  one_time_burst: Type.Optional(UInt64({ description: 'The initial size of a token bucket.' })),
  refill_time: UInt64({ description: 'The amount of milliseconds it takes for the bucket to refill.' }),
});

/** Independent bytes/s (`bandwidth`) and ops/s (`ops`) limits. */
export const RateLimiterConfigSchema = Strict({
  bandwidth: Type.Optional(TokenBucketSchema),
  ops: Type.Optional(TokenBucketSchema),
});

export const RateLimitGroupConfigSchema = Strict({
  id: Type.String(),
  rate_limiter_config: RateLimiterConfigSchema,
});

export const VirtQueueAffinitySchema = Strict({
  queue_index: Int({ minimum: 0 }),
  host_cpus: Type.Array(Int({ minimum: 0 })),
});

export const VmMemoryZoneUpdateDataSchema = Strict({
  id: Type.String({ minLength: 1 }),
  host_numa_node: UInt32(),
});
