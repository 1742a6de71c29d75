// virtio-vsock: packet codec, connection bookkeeping, the device (muxer) and its host-side contract.
export * from './packet.js';
export * from './backend.js';
export { VsockConnection, connectionKey, VSOCK_CONN_BUF_ALLOC, VSOCK_CONN_PENDING_LIMIT, type VsockConnectionState, type PendingControl } from './connection.js';
export * from './vsock.js';
