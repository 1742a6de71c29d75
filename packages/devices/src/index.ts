export type { BusDevice, IrqTrigger, VmExitRequester } from './bus-device.js';
export type { GuestMemory } from './guest-memory.js';
export { Bus, BusError, type BusMetrics } from './bus.js';
export { VmmError, RemoteError, toErrorData, fromErrorData, type ErrorData } from './errors.js';
export { createLogger, configureLogging, logLevel, RateLimitedLog, type Logger, type LogLevel } from './log.js';
export * as le from './le.js';
