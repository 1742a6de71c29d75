// The guest agent's wire protocol, version 1 (PROTOCOL.md; guest/protocol.h is the agent's copy of
// these numbers): 12-byte little-endian headers (u32 payload length, u16 type, u16 flags, u32 id),
// payloads of u32/u64 fields, strings (u32 length + UTF-8) and raw bytes.

export const AGENT_PROTOCOL_VERSION = 1;
export const HEADER_SIZE = 12;
/** The largest payload either side accepts; a bigger length ends the connection. */
export const MAX_PAYLOAD = 1 << 20;
/** The vsock port the agent listens on by default. */
export const AGENT_VSOCK_PORT = 52;

/** Frame types, host -> agent (0x01-0x3f) and agent -> host (0x40-). */
export const FrameType = {
  Exec: 0x01,
  Stdin: 0x02,
  Kill: 0x03,
  WriteFile: 0x04,
  ReadFile: 0x05,
  Stat: 0x06,
  Mkdir: 0x07,
  Ping: 0x08,
  Ready: 0x40,
  Started: 0x41,
  Stdout: 0x42,
  Stderr: 0x43,
  Exit: 0x44,
  Ok: 0x45,
  Error: 0x46,
  Data: 0x47,
  End: 0x48,
  StatReply: 0x49,
  Pong: 0x4a,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** Header flags; their meaning depends on the frame type. */
export const Flag = {
  /** EXEC: give the command a stdin pipe (else /dev/null). */
  Stdin: 0x1,
  /** STDIN: close the command's stdin after this data. */
  Eof: 0x1,
  /** WRITE_FILE: create or truncate (else append). */
  Truncate: 0x1,
  /** MKDIR: create missing parents; an existing directory is fine. */
  Parents: 0x1,
  /** EXIT: the agent killed the command at its timeout. */
  TimedOut: 0x1,
} as const;

export interface Frame {
  type: number;
  flags: number;
  id: number;
  payload: Buffer;
}

/** Builds a payload field by field. */
export class PayloadWriter {
  private readonly parts: Buffer[] = [];
  private size = 0;

  u32(v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(v >>> 0);
    return this.push(b);
  }

  u64(v: bigint): this {
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64LE(v);
    return this.push(b);
  }

  str(s: string): this {
    const b = Buffer.from(s, 'utf8');
    return this.u32(b.length).push(b);
  }

  bytes(b: Uint8Array): this {
    return this.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  }

  finish(): Buffer {
    return Buffer.concat(this.parts, this.size);
  }

  private push(b: Buffer): this {
    this.parts.push(b);
    this.size += b.length;
    return this;
  }
}

/** Reads a payload field by field; every read past the end throws a PayloadError. */
export class PayloadReader {
  private off = 0;
  constructor(private readonly b: Buffer) {}

  u32(): number {
    this.need(4);
    const v = this.b.readUInt32LE(this.off);
    this.off += 4;
    return v;
  }

  i32(): number {
    this.need(4);
    const v = this.b.readInt32LE(this.off);
    this.off += 4;
    return v;
  }

  u64(): bigint {
    this.need(8);
    const v = this.b.readBigUInt64LE(this.off);
    this.off += 8;
    return v;
  }

  str(): string {
    const n = this.u32();
    this.need(n);
    const s = this.b.toString('utf8', this.off, this.off + n);
    this.off += n;
    return s;
  }

  rest(): Buffer {
    const r = this.b.subarray(this.off);
    this.off = this.b.length;
    return r;
  }

  /** Throws unless every byte was read. */
  end(): void {
    if (this.off !== this.b.length) throw new PayloadError(`${this.b.length - this.off} unexpected trailing bytes`);
  }

  private need(n: number): void {
    if (this.b.length - this.off < n) throw new PayloadError(`payload ends ${n - (this.b.length - this.off)} bytes early`);
  }
}

/** A payload that does not have the fields its type promises. */
export class PayloadError extends Error {}

/** One frame as bytes. Throws a RangeError for a payload over MAX_PAYLOAD. */
export function encodeFrame(type: number, flags: number, id: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  if (payload.length > MAX_PAYLOAD) throw new RangeError(`a payload of ${payload.length} bytes exceeds the agent's limit of ${MAX_PAYLOAD}`);
  const h = Buffer.allocUnsafe(HEADER_SIZE);
  h.writeUInt32LE(payload.length, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt16LE(flags, 6);
  h.writeUInt32LE(id >>> 0, 8);
  return payload.length === 0 ? h : Buffer.concat([h, payload]);
}

/**
 * Splits a byte stream into frames. `push` returns the complete frames so far; a header with a
 * length over MAX_PAYLOAD throws a FrameTooLargeError (the stream cannot be resynchronised).
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Frame[] = [];
    while (this.buffered >= HEADER_SIZE) {
      const head = this.peek(HEADER_SIZE);
      const len = head.readUInt32LE(0);
      if (len > MAX_PAYLOAD) throw new FrameTooLargeError(len);
      if (this.buffered < HEADER_SIZE + len) break;
      const whole = this.take(HEADER_SIZE + len);
      frames.push({ type: whole.readUInt16LE(4), flags: whole.readUInt16LE(6), id: whole.readUInt32LE(8), payload: whole.subarray(HEADER_SIZE) });
    }
    return frames;
  }

  private peek(n: number): Buffer {
    if ((this.chunks[0]?.length ?? 0) < n) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    return (this.chunks[0] as Buffer).subarray(0, n);
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.buffered);
    this.chunks = all.length > n ? [all.subarray(n)] : [];
    this.buffered -= n;
    return all.subarray(0, n);
  }
}

export class FrameTooLargeError extends Error {
  constructor(readonly length: number) {
    super(`a frame announced ${length} bytes of payload, over the limit of ${MAX_PAYLOAD}`);
  }
}
