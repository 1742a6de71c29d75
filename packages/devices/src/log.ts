// Process-wide logger: levels, optional file sink, and a rate limiter for anything a guest can trigger.
import { appendFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
const ORDER: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

interface Sink {
  level: LogLevel;
  file: string | undefined;
}

// Shared by every logger in this thread; workers configure their own copy from workerData.
const sink: Sink = { level: (process.env.WORKERVISOR_LOG as LogLevel | undefined) ?? 'warn', file: process.env.WORKERVISOR_LOG_FILE };

/** Sets the level and destination (stderr when file is undefined) for this thread. */
export function configureLogging(level: LogLevel, file?: string): void {
  sink.level = level;
  sink.file = file;
}

export function logLevel(): LogLevel {
  return sink.level;
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
  if (sink.file !== undefined) appendFileSync(sink.file, line);
  else process.stderr.write(line);
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
