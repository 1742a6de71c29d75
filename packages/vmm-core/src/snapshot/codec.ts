// JSON for snapshot state: plain JSON plus two tagged values, a bigint as {"$bigint": "<decimal>"}
// and bytes as {"$bytes": "<base64>"}, so registers (u64) and raw KVM structs survive the trip.

const BIGINT_TAG = '$bigint';
const BYTES_TAG = '$bytes';

/** `value` as JSON text; bigints and Uint8Arrays become tagged objects. */
export function encodeState(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (typeof v === 'bigint') return { [BIGINT_TAG]: v.toString() };
      if (v instanceof Uint8Array) return { [BYTES_TAG]: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
      return v;
    },
    1,
  );
}

/** Parses encodeState() output back; throws SyntaxError on text that is not JSON or a malformed tag. */
export function decodeState(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
    const keys = Object.keys(v);
    if (keys.length !== 1) return v;
    const tagged = (v as Record<string, unknown>)[keys[0]!];
    if (keys[0] === BIGINT_TAG) {
      if (typeof tagged !== 'string' || !/^-?\d+$/.test(tagged)) throw new SyntaxError(`${BIGINT_TAG} holds ${JSON.stringify(tagged)}, not a decimal integer`);
      return BigInt(tagged);
    }
    if (keys[0] === BYTES_TAG) {
      if (typeof tagged !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(tagged)) throw new SyntaxError(`${BYTES_TAG} holds a value that is not base64`);
      return new Uint8Array(Buffer.from(tagged, 'base64'));
    }
    return v;
  });
}
