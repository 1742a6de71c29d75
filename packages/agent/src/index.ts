// @workervisor/agent: the host side of the guest agent (a static C program in guest/, built by
// guest/build.sh): the wire protocol, a client for one connection, and the hybrid-vsock dialer.
export { AgentClient, type AgentInfo, type ExecOptions, type SpawnOptions, type FileStat } from './client.js';
export { AgentProcess, type ExecResult, type ProcessExit } from './process.js';
export { AgentError, AgentUnavailableError, ExecTimeoutError, errnoName, type AgentErrorKind } from './errors.js';
export { connectHybridVsock } from './vsock.js';
export { agentBinaryPath, buildAgent } from './binary.js';
export * as protocol from './protocol.js';
export { AGENT_VSOCK_PORT, AGENT_PROTOCOL_VERSION, MAX_PAYLOAD } from './protocol.js';
