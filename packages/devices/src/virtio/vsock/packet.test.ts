import { describe, expect, it } from 'vitest';
import { decodeHeader, encodeHeader, opName, VSOCK_HDR_SIZE, VSOCK_OP_CREDIT_UPDATE, VSOCK_OP_RW, VSOCK_TYPE_STREAM, type VsockHeader } from './packet.js';

const sample: VsockHeader = {
  srcCid: 2n,
  dstCid: 0x1_0000_0003n,
  srcPort: 0xdead_beef,
  dstPort: 52,
  len: 4096,
  type: VSOCK_TYPE_STREAM,
  op: VSOCK_OP_RW,
  flags: 3,
  bufAlloc: 256 * 1024,
  fwdCnt: 0xffff_fff0,
};

describe('vsock packet header', () => {
  it('is 44 bytes with the fields of struct virtio_vsock_hdr at their offsets, little-endian', () => {
    const b = encodeHeader(sample);
    expect(b.length).toBe(VSOCK_HDR_SIZE);
    const dv = new DataView(b.buffer);
    expect(dv.getBigUint64(0, true)).toBe(2n);
    expect(dv.getBigUint64(8, true)).toBe(0x1_0000_0003n);
    expect(dv.getUint32(16, true)).toBe(0xdead_beef);
    expect(dv.getUint32(20, true)).toBe(52);
    expect(dv.getUint32(24, true)).toBe(4096);
    expect(dv.getUint16(28, true)).toBe(1);
    expect(dv.getUint16(30, true)).toBe(5);
    expect(dv.getUint32(32, true)).toBe(3);
    expect(dv.getUint32(36, true)).toBe(256 * 1024);
    expect(dv.getUint32(40, true)).toBe(0xffff_fff0);
  });

  it('decodes what it encodes', () => {
    expect(decodeHeader(encodeHeader(sample))).toEqual(sample);
    expect(decodeHeader(encodeHeader({ ...sample, op: VSOCK_OP_CREDIT_UPDATE, len: 0 })).op).toBe(VSOCK_OP_CREDIT_UPDATE);
  });

  it('decodes the first 44 bytes of a longer buffer and refuses a shorter one', () => {
    const long = new Uint8Array(100);
    long.set(encodeHeader(sample));
    expect(decodeHeader(long)).toEqual(sample);
    expect(() => decodeHeader(new Uint8Array(43))).toThrow(RangeError);
  });

  it('names ops for log lines, unknown ones by number', () => {
    expect(opName(1)).toBe('REQUEST');
    expect(opName(7)).toBe('CREDIT_REQUEST');
    expect(opName(99)).toBe('op 99');
    expect(opName(0)).toBe('op 0');
  });
});
