// The virtio-vsock packet header, struct virtio_vsock_hdr (virtio 1.2 section 5.10.6): 44 bytes,
// little-endian, followed by `len` payload bytes in the same descriptor chain.
import { le } from '@workervisor/base';

/** Bytes of struct virtio_vsock_hdr. */
export const VSOCK_HDR_SIZE = 44;
/** The host's CID (5.10.4: CIDs 0-2 are reserved; 2 is the host). */
export const VSOCK_HOST_CID = 2n;
/** Largest payload of one packet (Linux's VIRTIO_VSOCK_MAX_PKT_BUF_SIZE). */
export const VSOCK_MAX_PKT_PAYLOAD = 64 * 1024;

/** `type` (5.10.6): only stream sockets; SEQPACKET (2) is never negotiated. */
export const VSOCK_TYPE_STREAM = 1;

/** `op` (5.10.6). */
export const VSOCK_OP_REQUEST = 1;
export const VSOCK_OP_RESPONSE = 2;
export const VSOCK_OP_RST = 3;
export const VSOCK_OP_SHUTDOWN = 4;
export const VSOCK_OP_RW = 5;
export const VSOCK_OP_CREDIT_UPDATE = 6;
export const VSOCK_OP_CREDIT_REQUEST = 7;

/** SHUTDOWN `flags` (5.10.6.5): the sender will receive / send no more data. */
export const VSOCK_SHUTDOWN_F_RECEIVE = 1;
export const VSOCK_SHUTDOWN_F_SEND = 2;

/** event queue `id` (5.10.6.6). */
export const VSOCK_EVENT_TRANSPORT_RESET = 0;

// Field offsets of struct virtio_vsock_hdr.
const SRC_CID = 0;
const DST_CID = 8;
const SRC_PORT = 16;
const DST_PORT = 20;
const LEN = 24;
const TYPE = 28;
const OP = 30;
const FLAGS = 32;
const BUF_ALLOC = 36;
const FWD_CNT = 40;

/** A decoded header. CIDs are u64 (bigint); the rest u32/u16 numbers. */
export interface VsockHeader {
  srcCid: bigint;
  dstCid: bigint;
  srcPort: number;
  dstPort: number;
  /** Payload bytes after the header. */
  len: number;
  type: number;
  op: number;
  flags: number;
  /** The sender's receive buffer size, bytes. */
  bufAlloc: number;
  /** Free-running count of bytes the sender has consumed from its receive buffer. */
  fwdCnt: number;
}

/** Decodes the first VSOCK_HDR_SIZE bytes of `bytes` (the caller checked the length). */
export function decodeHeader(bytes: Uint8Array): VsockHeader {
  if (bytes.length < VSOCK_HDR_SIZE) throw new RangeError(`a vsock header is ${VSOCK_HDR_SIZE} bytes, got ${bytes.length}`);
  return {
    srcCid: le.readU64(bytes, SRC_CID),
    dstCid: le.readU64(bytes, DST_CID),
    srcPort: le.u32(bytes, SRC_PORT),
    dstPort: le.u32(bytes, DST_PORT),
    len: le.u32(bytes, LEN),
    type: le.u16(bytes, TYPE),
    op: le.u16(bytes, OP),
    flags: le.u32(bytes, FLAGS),
    bufAlloc: le.u32(bytes, BUF_ALLOC),
    fwdCnt: le.u32(bytes, FWD_CNT),
  };
}

/** Encodes `h` into a fresh VSOCK_HDR_SIZE-byte array. */
export function encodeHeader(h: VsockHeader): Uint8Array {
  const out = new Uint8Array(VSOCK_HDR_SIZE);
  le.writeU64(out, SRC_CID, h.srcCid);
  le.writeU64(out, DST_CID, h.dstCid);
  le.putU32(out, SRC_PORT, h.srcPort >>> 0);
  le.putU32(out, DST_PORT, h.dstPort >>> 0);
  le.putU32(out, LEN, h.len >>> 0);
  le.putU16(out, TYPE, h.type & 0xffff);
  le.putU16(out, OP, h.op & 0xffff);
  le.putU32(out, FLAGS, h.flags >>> 0);
  le.putU32(out, BUF_ALLOC, h.bufAlloc >>> 0);
  le.putU32(out, FWD_CNT, h.fwdCnt >>> 0);
  return out;
}

/** The op's name for log lines (`op 9` when unknown). */
export function opName(op: number): string {
  return ['', 'REQUEST', 'RESPONSE', 'RST', 'SHUTDOWN', 'RW', 'CREDIT_UPDATE', 'CREDIT_REQUEST'][op] || `op ${op}`;
}
