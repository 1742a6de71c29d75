// What every request in flight implements, and the error an agent's answer stands for.
import { AgentError, errnoName } from './errors.js';
import { FrameType, PayloadReader, type Frame } from './protocol.js';

/** A request in flight: it sees every frame with its id and the connection's end. */
export interface Pending {
  frame(frame: Frame): void;
  closed(err: AgentError): void;
}

/** The error an ERROR frame (or any unexpected frame) stands for. */
export function replyError(f: Frame, what: string): AgentError {
  if (f.type !== FrameType.Error) return new AgentError('protocol', `${what}: the agent answered with frame type 0x${f.type.toString(16)}`);
  const r = new PayloadReader(f.payload);
  const errno = r.u32();
  const message = r.str();
  return new AgentError('remote', `${what} failed in the guest: ${message} (${errnoName(errno)})`, { errno, guestMessage: message });
}

