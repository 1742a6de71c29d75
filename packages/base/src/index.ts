// @workervisor/base: what every package shares and nothing else: errors (one registry of codes),
// logging, little-endian byte helpers, the checks on host files the VMM reads or writes, and the
// Unix sockets it serves.
export { VmmError, RemoteError, toErrorData, fromErrorData, type ErrorData } from './errors.js';
export { createLogger, configureLogging, logLevel, logFileDescriptor, droppedLogLines, RateLimitedLog, type Logger, type LogLevel } from './log.js';
export { HostFileError, readHostFile, openOutputFile, appendNonBlocking, fileTypeName, type HostFileErrorKind, type HostOutputFile, type ReadHostFileOptions } from './host-file.js';
export { UnixSocketError, probeSocket, prepareSocketPath, listenPrivately, removeBoundSocket, removeBoundSocketSync, SUN_PATH_MAX, type BoundSocket, type UnixSocketErrorKind } from './unix-socket.js';
export * as le from './le.js';
export { memoryFence } from './fence.js';
export { ERROR_CODES, ERR_VMM_INTERNAL, errorCode, allErrorCodes, type ErrorPrefix, type ErrorKind } from './error-codes.js';
