export { VcpuHandle, VcpuError, type VcpuHandleOptions } from './handle.js';
export { ExitServer, EXIT_SPIN } from './exit-server.js';
export { AccessKind, type AccessHandler } from './access.js';
export type { VcpuSnapshot, VcpuState, VcpuStats, VcpuEvent, VcpuExitRequest, PortHandling, WorkerState } from './protocol.js';
