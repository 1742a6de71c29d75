// A stand-in VMM API for tests: a real node:http server on a temporary Unix socket that records
// every request and answers from a per-route table (Cloud Hypervisor's status codes by default).
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RecordedRequest {
  method: string;
  /** Path including the /api/v1 prefix. */
  path: string;
  contentType: string | undefined;
  /** Raw body ('' when none). */
  body: string;
}

/** A canned answer, or a function that writes the response itself. */
export type FakeReply = { status: number; body?: unknown; raw?: string } | ((req: IncomingMessage, res: ServerResponse) => void);

export interface FakeVmm {
  readonly socketPath: string;
  readonly requests: RecordedRequest[];
  /** Sets the answer for a route such as `vm.boot`. */
  reply(route: string, reply: FakeReply): void;
  close(): Promise<void>;
}

const DEFAULT_REPLIES: Record<string, FakeReply> = {
  'vmm.ping': { status: 200, body: { version: 'fake-0.1.0', pid: process.pid, features: [] } },
  'vm.info': { status: 200, body: { config: { payload: { kernel: '/k' } }, state: 'Running' } },
  'vm.counters': { status: 200, body: { serial: { tx_bytes: 12 } } },
};

/** Starts a fake VMM API; unknown routes answer 204 with no body. */
export async function startFakeVmm(): Promise<FakeVmm> {
  const dir = mkdtempSync(join(tmpdir(), 'wv-fake-'));
  const socketPath = join(dir, 'api.sock');
  const requests: RecordedRequest[] = [];
  const replies = new Map<string, FakeReply>(Object.entries(DEFAULT_REPLIES));
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '';
      requests.push({ method: req.method ?? '', path, contentType: req.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') });
      const reply = replies.get(path.replace(/^\/api\/v1\//, '')) ?? { status: 204 };
      if (typeof reply === 'function') return reply(req, res);
      if (reply.raw !== undefined) {
        res.writeHead(reply.status, { 'content-type': 'text/plain' }).end(reply.raw);
      } else if (reply.body !== undefined) {
        res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
      } else {
        res.writeHead(reply.status).end();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, resolve);
  });
  return {
    socketPath,
    requests,
    reply: (route, reply) => void replies.set(route, reply),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
