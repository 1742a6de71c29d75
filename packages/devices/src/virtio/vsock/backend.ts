// The host side of virtio-vsock as the device sees it: streams to host programs, opened for a
// guest's REQUEST or handed in for a host-initiated connection. vmm-core implements it over Unix
// sockets (Firecracker's hybrid model); unit tests implement it with plain objects.

/** One host stream behind a vsock connection; the device calls it. None of these may throw. */
export interface VsockHostStream {
  /**
   * Payload the guest sent (a copy the stream may keep). The stream reports each byte's
   * departure through VsockStreamEvents.forwarded: that is what returns credit to the guest.
   */
  write(bytes: Uint8Array): void;
  /** The guest will send no more (SHUTDOWN with F_SEND): half-close toward the host program. */
  end(): void;
  /** The connection is over (RST, both directions shut, device reset): flush what was written, then close. */
  close(): void;
  /** Stop delivering data (the guest's credit is exhausted or the pending bytes hit their bound). */
  pause(): void;
  resume(): void;
}

/** What a host stream tells the device about its connection; returned by the device. */
export interface VsockStreamEvents {
  /** Bytes from the host program for the guest. */
  data(bytes: Uint8Array): void;
  /** `n` bytes given to write() have left for the host program. */
  forwarded(n: number): void;
  /** The host program will send no more (EOF): the guest gets SHUTDOWN with F_SEND after the data. */
  end(): void;
  /** The host stream is gone (closed or failed): the guest gets RST. Idempotent. */
  close(): void;
}

/** How the device reaches host listeners for guest-initiated connections. */
export interface VsockBackend {
  /**
   * The guest asked for host port `port`. Call `done` exactly once, later or right away, with the
   * stream or with undefined when nothing listens there (the guest gets RST). `events` is the
   * connection's side; calls on it before `done` are allowed only once done got a stream.
   */
  connectToHost(port: number, events: VsockStreamEvents, done: (stream: VsockHostStream | undefined) => void): void;
}

/** How a host-initiated connection (VirtioVsock.connectToGuest) ended its handshake. */
export type VsockConnectResult =
  /** The guest's listener answered RESPONSE; `hostPort` is the local port the VMM assigned. */
  | { ok: true; hostPort: number }
  /** RST, no answer in time, the device not active, or too many connections. */
  | { ok: false; reason: string };
