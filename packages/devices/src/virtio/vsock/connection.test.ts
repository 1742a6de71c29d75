import { describe, expect, it } from 'vitest';
import { VsockConnection, VSOCK_CONN_PENDING_LIMIT } from './connection.js';
import { VSOCK_SHUTDOWN_F_RECEIVE, VSOCK_SHUTDOWN_F_SEND } from './packet.js';

const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill);

describe('VsockConnection credit accounting', () => {
  it('gives peer_buf_alloc - (tx_cnt - peer_fwd_cnt) of credit and never more', () => {
    const c = new VsockConnection(1024, 5000, 'established');
    expect(c.peerCredit).toBe(0); // no header from the guest yet
    c.updatePeerCredit(100, 0);
    c.pushHostData(bytes(250));
    expect(c.takeHostData(4096).length).toBe(100);
    expect(c.peerCredit).toBe(0);
    expect(c.takeHostData(4096).length).toBe(0);
    expect(c.canSendData).toBe(false);
    c.updatePeerCredit(100, 60); // the guest consumed 60
    expect(c.peerCredit).toBe(60);
    expect(c.takeHostData(4096).length).toBe(60);
    expect(c.pending).toBe(90);
    expect(c.txCnt).toBe(160);
  });

  it('keeps the u32 counters right across wrap-around', () => {
    const c = new VsockConnection(1, 2, 'established');
    c.txCnt = 0xffff_fff0;
    c.updatePeerCredit(64, 0xffff_ffe0); // 16 bytes in flight
    expect(c.peerCredit).toBe(48);
    c.pushHostData(bytes(48));
    c.takeHostData(100);
    expect(c.txCnt).toBe(0x20);
    expect(c.peerCredit).toBe(0);
    c.updatePeerCredit(64, 0x10);
    expect(c.peerCredit).toBe(48);
  });

  it('treats a guest fwd_cnt ahead of tx_cnt as no credit rather than a huge one', () => {
    const c = new VsockConnection(1, 2, 'established');
    c.updatePeerCredit(64, 10); // in flight = (0 - 10) mod 2^32: nonsense from the guest
    expect(c.peerCredit).toBe(0);
  });

  it('splits chunks across packets in order', () => {
    const c = new VsockConnection(1, 2, 'established');
    c.updatePeerCredit(1 << 20, 0);
    c.pushHostData(Uint8Array.of(1, 2, 3));
    c.pushHostData(Uint8Array.of(4, 5));
    expect([...c.takeHostData(2)]).toEqual([1, 2]);
    expect([...c.takeHostData(2)]).toEqual([3, 4]);
    expect([...c.takeHostData(9)]).toEqual([5]);
  });

  it('asks for a CREDIT_UPDATE once a quarter of buf_alloc was forwarded unannounced', () => {
    const c = new VsockConnection(1, 2, 'established', 1000);
    c.rxCnt = 1000;
    expect(c.localCredit).toBe(0);
    expect(c.forwarded(249)).toBe(false);
    expect(c.forwarded(1)).toBe(true);
    expect(c.localCredit).toBe(250);
    c.lastSentFwdCnt = c.fwdCnt;
    expect(c.forwarded(10)).toBe(false);
  });

  it('pauses the host while it holds what the guest cannot take, or past the pending bound', () => {
    const c = new VsockConnection(1, 2, 'established');
    c.updatePeerCredit(10, 0);
    c.pushHostData(bytes(5));
    expect(c.shouldPause).toBe(false);
    c.pushHostData(bytes(5));
    expect(c.shouldPause).toBe(true);
    c.takeHostData(10);
    expect(c.shouldPause).toBe(false);
    c.updatePeerCredit(1 << 20, 10);
    c.pushHostData(bytes(VSOCK_CONN_PENDING_LIMIT));
    expect(c.shouldPause).toBe(true);
  });

  it('drops host data once the guest shut its receive side', () => {
    const c = new VsockConnection(1, 2, 'established');
    c.updatePeerCredit(100, 0);
    c.peerShutdown = VSOCK_SHUTDOWN_F_RECEIVE;
    c.pushHostData(bytes(5));
    expect(c.pending).toBe(0);
    expect(c.hasRx).toBe(false);
  });

  it('is fully shut only when both directions are', () => {
    const c = new VsockConnection(1, 2, 'established');
    c.peerShutdown = VSOCK_SHUTDOWN_F_SEND;
    expect(c.fullyShut).toBe(false);
    c.localShutdown = VSOCK_SHUTDOWN_F_SEND;
    expect(c.fullyShut).toBe(true);
    const d = new VsockConnection(1, 2, 'established');
    d.peerShutdown = VSOCK_SHUTDOWN_F_SEND | VSOCK_SHUTDOWN_F_RECEIVE;
    expect(d.fullyShut).toBe(true);
  });
});
