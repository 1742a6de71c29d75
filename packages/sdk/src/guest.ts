// A launched VM's guest agent (packages/agent): reached over the VM's hybrid vsock socket on the
// agent's port, connected on first use and again after a broken connection. While the guest is
// still booting the VMM answers the CONNECT with a reset; that is retried until `readyTimeoutMs`.
import { AGENT_VSOCK_PORT, AgentClient, AgentUnavailableError, connectHybridVsock, type AgentInfo, type AgentProcess, type ExecOptions, type ExecResult, type FileStat, type SpawnOptions } from '@workervisor/agent';

export interface GuestAgentOptions {
  /** The VM's vsock Unix socket (its `vsock.socket`). */
  socketPath: string;
  /** The agent's vsock port. Default 52. */
  port?: number;
  /** How long to keep trying while the guest boots. Default 120 000 ms. */
  readyTimeoutMs?: number;
}

/** Files in the guest, through the agent. */
export interface GuestFiles {
  write(path: string, data: string | Uint8Array, options?: { mode?: number }): Promise<void>;
  read(path: string, options?: { maxBytes?: number }): Promise<Buffer>;
  stat(path: string): Promise<FileStat>;
  mkdir(path: string, options?: { parents?: boolean; mode?: number }): Promise<void>;
}

const RETRY_MS = 250;

/** GuestFiles that ask `agent()` for the agent at each call (so a missing one rejects, never throws). */
export function agentFiles(agent: () => GuestAgent): GuestFiles {
  return {
    write: async (path, data, o) => agent().files.write(path, data, o),
    read: async (path, o) => agent().files.read(path, o),
    stat: async (path) => agent().files.stat(path),
    mkdir: async (path, o) => agent().files.mkdir(path, o),
  };
}

export class GuestAgent {
  readonly files: GuestFiles;
  #client: Promise<AgentClient> | undefined;
  #closed = false;

  constructor(private readonly options: GuestAgentOptions) {
    this.files = {
      write: async (path, data, o) => (await this.client()).writeFile(path, data, o),
      read: async (path, o) => (await this.client()).readFile(path, o),
      stat: async (path) => (await this.client()).stat(path),
      mkdir: async (path, o) => (await this.client()).mkdir(path, o),
    };
  }

  /** Waits until the agent answers; resolves with what it says about the guest. */
  async waitReady(): Promise<AgentInfo> {
    return (await this.client()).info;
  }

  async exec(command: string | readonly string[], options?: ExecOptions): Promise<ExecResult> {
    return (await this.client()).exec(command, options);
  }

  async spawn(command: string | readonly string[], options?: SpawnOptions): Promise<AgentProcess> {
    return (await this.client()).spawn(command, options);
  }

  /** The host end of the guest's hybrid vsock this agent is reached through. */
  get socketPath(): string {
    return this.options.socketPath;
  }

  /** The connected client, connecting (with retries while the guest boots) when there is none. */
  client(): Promise<AgentClient> {
    if (this.#closed) return Promise.reject(new AgentUnavailableError('no-connection', 'the guest agent connection was closed'));
    const current = this.#client;
    if (current !== undefined) {
      return current.then((c) => (c.closed ? this.#reconnect() : c), () => this.#reconnect());
    }
    return this.#reconnect();
  }

  close(): void {
    this.#closed = true;
    void this.#client?.then((c) => c.close(), () => undefined);
  }

  #reconnect(): Promise<AgentClient> {
    this.#client = this.#connect();
    return this.#client;
  }

  async #connect(): Promise<AgentClient> {
    const { socketPath, port = AGENT_VSOCK_PORT, readyTimeoutMs = 120_000 } = this.options;
    const deadline = Date.now() + readyTimeoutMs;
    let last: unknown;
    while (!this.#closed && Date.now() < deadline) {
      try {
        const socket = await connectHybridVsock(socketPath, port, { timeoutMs: Math.max(1000, Math.min(10_000, deadline - Date.now())) });
        return await AgentClient.connect(socket, { readyTimeoutMs: Math.max(1000, deadline - Date.now()) });
      } catch (err) {
        last = err;
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
    throw new AgentUnavailableError('not-ready', `the guest agent on vsock port ${port} (${socketPath}) did not answer within ${readyTimeoutMs} ms${last instanceof Error ? `: ${last.message}` : ''}`, { cause: last });
  }
}
