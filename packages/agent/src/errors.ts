// Errors of the host side of the guest agent: the agent misbehaved or failed a request
// (AgentError), there is no agent to talk to (AgentUnavailableError), or a command outlived its
// timeout (ExecTimeoutError, with the output it had produced).
import { constants } from 'node:os';
import { VmmError, type ErrorKind } from '@workervisor/base';

export type AgentErrorKind = ErrorKind<'AGENT'>;

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** The errno name for a number the guest sent (ENOENT for 2), or `errno N`. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
}

/**
 * `remote`: the agent refused the request; `guestMessage` is its message and `errno` its errno
 * (a guest-side failure such as a missing program or file). The others are the connection's.
 */
export class AgentError extends VmmError<'AGENT'> {
  readonly errno: number | undefined;
  readonly guestMessage: string | undefined;
  constructor(kind: AgentErrorKind, message: string, options?: { cause?: unknown; errno?: number; guestMessage?: string }) {
    const details: Record<string, string | number> = {};
    if (options?.errno !== undefined) details['errno'] = errnoName(options.errno);
    super('AGENT', kind, message, { details, ...(options?.cause === undefined ? {} : { cause: options.cause }) });
    this.errno = options?.errno;
    this.guestMessage = options?.guestMessage;
  }
}

export class AgentUnavailableError extends VmmError<'AGENT_UNAVAILABLE'> {
  constructor(kind: ErrorKind<'AGENT_UNAVAILABLE'>, message: string, options?: { cause?: unknown }) {
    super('AGENT_UNAVAILABLE', kind, message, options);
  }
}

/** The command ran past its timeout and was killed; the output it wrote until then is kept. */
export class ExecTimeoutError extends VmmError<'EXEC_TIMEOUT'> {
  constructor(
    readonly argv: readonly string[],
    readonly timeoutMs: number,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super('EXEC_TIMEOUT', 'expired', `${argv.join(' ')} did not finish within ${timeoutMs} ms and was killed`, { details: { timeoutMs } });
  }
}
