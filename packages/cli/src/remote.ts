// `workervisor remote`: drives a running VMM through its API socket, in the manner of ch-remote.
// Results go to stdout as pretty JSON; failures print the VMM's own message to stderr.
import { readHostFile } from '@workervisor/base';
import { ResponseError, ConnectionError, connect, type ConnectOptions, type VmConfig, type VmmClient } from '@workervisor/sdk';
import { describeJsonError } from '@workervisor/api/core';
import type { RemoteCommand } from './args.js';

/** Where runRemote reads and writes; defaults to the process's streams and files. */
export interface RemoteIo {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown };
  /** Reads the VmConfig file of `create` (`-` is stdin). */
  readFile?: (path: string) => Promise<string>;
  connect?: ConnectOptions;
}

const processIo: RemoteIo = { stdout: process.stdout, stderr: process.stderr };

/** Exit status of runRemote: 0 success, 1 the VMM refused or could not be reached (or bad input). */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;

/**
 * Runs one remote command against the VMM at `socket` and returns the exit status. Never throws
 * for API, connection or input errors: they are printed to `io.stderr`.
 */
export async function runRemote(request: { socket: string; command: RemoteCommand }, io: RemoteIo = processIo): Promise<number> {
  const { socket, command } = request;
  let body: VmConfig | undefined;
  if (command.name === 'create') {
    try {
      body = await readConfig(command.file, io);
    } catch (err) {
      io.stderr.write(`Error: ${(err as Error).message}\n`);
      return EXIT_FAILURE;
    }
  }
  const client = connect(socket, io.connect);
  try {
    const result = await send(client, command, body);
    if (result !== undefined) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return EXIT_OK;
  } catch (err) {
    // shutdown-vmm: a VMM that exits before its answer is flushed has still done what was asked.
    if (command.name === 'shutdown-vmm' && err instanceof ConnectionError && err.kind === 'closed') return EXIT_OK;
    io.stderr.write(`Error: ${describe(err)}\n`);
    return EXIT_FAILURE;
  } finally {
    await client.destroy();
  }
}

function send(client: VmmClient, command: RemoteCommand, config: VmConfig | undefined): Promise<unknown> {
  switch (command.name) {
    case 'ping':
      return client.ping();
    case 'create':
      return client.create(config!);
    case 'boot':
      return client.boot();
    case 'info':
      return client.info();
    case 'pause':
      return client.pause();
    case 'resume':
      return client.resume();
    case 'reboot':
      return client.reboot();
    case 'power-button':
      return client.powerButton();
    case 'shutdown':
      return client.shutdown();
    case 'delete':
      return client.delete();
    case 'counters':
      return client.counters();
    case 'nmi':
      return client.nmi();
    case 'shutdown-vmm':
      return client.shutdownVmm();
    case 'snapshot':
      return client.snapshot({ destination_url: command.destinationUrl });
    case 'restore':
      return client.restore({ source_url: command.sourceUrl });
    case 'remove-device':
      return client.removeDevice({ id: command.id });
  }
}

async function readConfig(file: string, io: RemoteIo): Promise<VmConfig> {
  const read = io.readFile ?? ((path: string) => (path === '-' ? readStdin() : Promise.resolve(Buffer.from(readHostFile(path, { what: 'VM config', maxBytes: MAX_CONFIG_BYTES, limit: 'the config limit' })).toString('utf8'))));
  let text: string;
  try {
    text = await read(file);
  } catch (err) {
    throw new Error(`cannot read the VM config ${file}: ${(err as Error).message}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // V8's message quotes the text: a position only.
    throw new Error(`the VM config ${file} is not valid JSON (${describeJsonError(text)})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error(`the VM config ${file} must be a JSON object (a Cloud Hypervisor VmConfig)`);
  }
  // The VMM validates the fields and answers 400 with the reason.
  return parsed as VmConfig;
}

/** A VmConfig is a few KiB; 1 MiB, like --config-file's limit, refuses /dev/zero or a stray pipe. */
const MAX_CONFIG_BYTES = 1 << 20;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > MAX_CONFIG_BYTES) throw new Error(`stdin is larger than ${MAX_CONFIG_BYTES} bytes, more than any VM config`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function describe(err: unknown): string {
  if (err instanceof ResponseError || err instanceof ConnectionError) return err.message;
  return err instanceof Error ? err.message : String(err);
}
