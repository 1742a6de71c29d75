// Little-endian helpers: the one place byte order is spelled out (STYLE.md).

/** Reads an unsigned little-endian integer of data.length (1, 2 or 4) bytes. */
export function readUint(data: Uint8Array): number {
  let v = 0;
  for (let i = data.length - 1; i >= 0; i--) v = v * 256 + (data[i] ?? 0);
  return v;
}

/** Writes value into data as little-endian, truncated to data.length bytes (up to 6 for numbers). */
export function writeUint(data: Uint8Array, value: number): void {
  let v = value;
  for (let i = 0; i < data.length; i++) {
    data[i] = v & 0xff;
    v = Math.floor(v / 256);
  }
}

/** Reads a little-endian u64 from data (length 8). */
export function readU64(data: Uint8Array, offset = 0): bigint {
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getBigUint64(offset, true);
}

/** Writes a little-endian u64. */
export function writeU64(data: Uint8Array, offset: number, value: bigint): void {
  new DataView(data.buffer, data.byteOffset, data.byteLength).setBigUint64(offset, value, true);
}

export function u16(data: Uint8Array, offset: number): number {
  return (data[offset] ?? 0) | ((data[offset + 1] ?? 0) << 8);
}

export function u32(data: Uint8Array, offset: number): number {
  return ((data[offset] ?? 0) | ((data[offset + 1] ?? 0) << 8) | ((data[offset + 2] ?? 0) << 16) | ((data[offset + 3] ?? 0) << 24)) >>> 0;
}

export function putU16(data: Uint8Array, offset: number, v: number): void {
  data[offset] = v & 0xff;
  data[offset + 1] = (v >>> 8) & 0xff;
}

export function putU32(data: Uint8Array, offset: number, v: number): void {
  data[offset] = v & 0xff;
  data[offset + 1] = (v >>> 8) & 0xff;
  data[offset + 2] = (v >>> 16) & 0xff;
  data[offset + 3] = (v >>> 24) & 0xff;
}
