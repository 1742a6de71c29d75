// Process-wide logger: levels, an optional file sink opened once, and a rate limiter for anything
// a guest can trigger.
import { closeSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import { appendNonBlocking, openOutputFile } from './host-file.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
const ORDER: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

interface Sink {
  level: LogLevel;
  /** Where lines go: an fd (2 = stderr). */
  fd: number;
  /** The path the fd was opened from, when this thread opened it (and closes it on reconfiguring). */
  path: string | undefined;
  /** A path still to open (WORKERVISOR_LOG_FILE), at the first line. */
  pending: string | undefined;
  /** Lines lost to a full FIFO or a failed write. */
  dropped: number;
}

const STDERR_FD = 2;
// Shared by every logger in this thread; workers get the main thread's fd (logFileDescriptor).
const sink: Sink = { level: (process.env.WORKERVISOR_LOG as LogLevel | undefined) ?? 'warn', fd: STDERR_FD, path: undefined, pending: process.env.WORKERVISOR_LOG_FILE, dropped: 0 };

function release(): void {
  if (sink.path !== undefined && sink.fd !== STDERR_FD) closeSync(sink.fd);
  sink.path = undefined;
  sink.fd = STDERR_FD;
}

/**
 * Sets the level and destination of this thread's log: stderr when `file` is undefined, a path
 * (opened once, here: appending, mode 0600 when created, never blocking; see openOutputFile), or
 * `{ fd }`, a log file another thread opened (workers write to the main thread's). Throws
 * HostFileError when the path cannot be a log file; the previous destination is then kept.
 */
export function configureLogging(level: LogLevel, file?: string | { fd: number }): void {
  sink.pending = undefined;
  if (typeof file === 'string') {
    if (file !== sink.path) {
      const out = openOutputFile(file, 'log file');
      release();
      sink.fd = out.fd;
      sink.path = out.owned ? file : undefined;
    }
  } else {
    release();
    if (file !== undefined) sink.fd = file.fd;
  }
  sink.level = level;
}

export function logLevel(): LogLevel {
  return sink.level;
}

/** The fd this thread logs to, for a worker's configureLogging({ fd }); undefined for stderr. */
export function logFileDescriptor(): number | undefined {
  openPending();
  return sink.fd === STDERR_FD ? undefined : sink.fd;
}

/** Lines this thread could not write (a full FIFO, a vanished reader). */
export function droppedLogLines(): number {
  return sink.dropped;
}

function openPending(): void {
  const path = sink.pending;
  if (path === undefined) return;
  sink.pending = undefined;
  try {
    const out = openOutputFile(path, 'log file');
    sink.fd = out.fd;
    sink.path = out.owned ? path : undefined;
  } catch (err) {
    process.stderr.write(`WORKERVISOR_LOG_FILE: ${(err as Error).message}; logging to stderr\n`);
  }
}

export interface Logger {
  error(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
  enabled(level: LogLevel): boolean;
}

function emit(scope: string, level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
  const extra = fields === undefined ? '' : ' ' + JSON.stringify(fields, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v));
  const line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [${scope}${threadId === 0 ? '' : `#${threadId}`}] ${msg}${extra}\n`;
  openPending();
  if (sink.fd === STDERR_FD) process.stderr.write(line);
  // A log line never blocks the core: a full FIFO or a failing file loses the line, counted.
  else if (!appendNonBlocking(sink.fd, Buffer.from(line))) sink.dropped++;
}

/** A logger tagged with a scope such as `serial` or `vcpu`. */
export function createLogger(scope: string): Logger {
  const at = (level: LogLevel) => (msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] <= ORDER[sink.level]) emit(scope, level, msg, fields);
  };
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), enabled: (l) => ORDER[l] <= ORDER[sink.level] };
}

/**
 * Logs at most `burst` messages per `intervalMs` for one key, then counts the rest and reports
 * how many were suppressed when the window reopens. For guest-triggerable conditions.
 */
export class RateLimitedLog {
  private windowStart = 0;
  private inWindow = 0;
  private suppressed = 0;
  constructor(
    private readonly log: Logger,
    private readonly burst = 10,
    private readonly intervalMs = 5_000,
  ) {}

  warn(msg: string, fields?: Record<string, unknown>): void {
    const now = Date.now();
    if (now - this.windowStart >= this.intervalMs) {
      if (this.suppressed > 0) this.log.warn(`suppressed ${this.suppressed} similar messages`);
      this.windowStart = now;
      this.inWindow = 0;
      this.suppressed = 0;
    }
    if (this.inWindow < this.burst) {
      this.inWindow++;
      this.log.warn(msg, fields);
    } else {
      this.suppressed++;
    }
  }
}
