// Test helpers: an HTTP call over the Unix socket and a fake backend that records requests.
import { request as httpRequest, type Agent } from 'node:http';
import { connect } from 'node:net';
import { VmmError, type ErrorKind } from '@workervisor/base';
import type { ActionResult, VmmAction } from '@workervisor/vmm-core';
import { failure, type ApiBackend } from '../protocol.js';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function call(socketPath: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}, agent?: Agent): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = httpRequest(
      { socketPath, method, path, ...(agent === undefined ? {} : { agent }), headers: text === undefined ? headers : { 'Content-Type': 'application/json', ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

/** A backend that answers like a created-but-not-booted VM and records what it got. */
export class FakeBackend implements ApiBackend {
  readonly seen: VmmAction[] = [];
  async handle(action: VmmAction): Promise<ActionResult> {
    this.seen.push(action);
    switch (action.type) {
      case 'VmmPing':
        return { ok: true, value: { version: '0.1.0', pid: process.pid, features: [] } };
      case 'VmInfo':
        return { ok: true, value: { config: { payload: { kernel: '/k' } }, state: 'Created' } };
      case 'VmCounters':
        return { ok: true, value: { disk0: { read_bytes: 0 } } };
      case 'VmAddDisk':
        return { ok: true, value: { id: 'disk0', bdf: '0000:00:05.0' } };
      case 'VmPause':
        return failure(new FakeCoreError('not-booted', 'The VM is not booted'));
      case 'VmAddVdpa':
        return failure(new FakeCoreError('not-supported', 'VmAddVdpa is not supported', { details: { action: 'VmAddVdpa', reason: 'no vDPA here' } }));
      case 'VmNmi':
        throw new Error('backend bug');
      default:
        return { ok: true, value: undefined };
    }
  }
}

/** The core's VmError, without loading the core: only its code and data cross to the API. */
class FakeCoreError extends VmmError<'VM'> {
  constructor(kind: ErrorKind<'VM'>, message: string, options?: { details?: Record<string, string> }) {
    super('VM', kind, message, options);
  }
}

/** Writes raw bytes, half-closes, and collects whatever comes back until the server closes. */
export function raw(socketPath: string, bytes: string | Buffer, endAfterWrite = true): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ path: socketPath, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => s.destroy(), 3_000);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    s.on('error', () => {});
    s.write(bytes, () => {
      if (endAfterWrite) s.end();
    });
  });
}

