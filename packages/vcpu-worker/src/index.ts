export { VcpuHandle, VcpuError, type VcpuHandleOptions } from './handle.js';
export { MailboxServer, AccessKind, type AccessHandler } from './mailbox.js';
export type { VcpuSnapshot, VcpuState, VcpuStats, VcpuEvent, VcpuExitRequest, PortHandling, WorkerState } from './protocol.js';
