// Connects the virtio-console (hvc0) to the host the way COM1 is: output to stdout, a file or a
// Unix socket, input from stdin (Tty) or the socket's client, paused while the device's input
// buffer is full (serial-host.ts and serial-socket.ts, shared with the serial port).
import { VirtioConsole, type ConsoleOutput } from '@workervisor/devices';
import type { DeviceContext } from './device-manager.js';
import type { ConsoleSpec } from './machine-config.js';
import { attachSerialInput, serialOutput } from './serial-host.js';
import { serialSocket } from './serial-socket.js';
import { virtioDevice, type VirtioRegistration } from './virtio-wiring.js';

/** A virtio-console and the host resources behind it. */
export interface HostedConsole {
  readonly name: string;
  readonly device: VirtioConsole;
  /** Stops reading input and closes the file or socket. Idempotent. */
  close(): void;
}

/** Creates the device and its host end; resolves once a socket is listening. */
export async function createHostedConsole(spec: ConsoleSpec): Promise<HostedConsole> {
  const name = spec.id ?? 'console';
  let device: VirtioConsole | undefined;
  const getDevice = (): VirtioConsole | undefined => device;
  let output: ConsoleOutput | undefined;
  let onDrained: (() => void) | undefined;
  const closers: Array<() => void> = [];
  const sink = spec.sink;
  switch (sink.kind) {
    case 'tty': {
      const out = serialOutput({ kind: 'tty' });
      output = out.output;
      const input = attachSerialInput(getDevice);
      onDrained = input.onDrained;
      closers.push(input.close, out.close);
      break;
    }
    case 'file': {
      const out = serialOutput({ kind: 'file', path: sink.path });
      output = out.output;
      closers.push(out.close);
      break;
    }
    case 'socket': {
      const sock = serialSocket(sink.path, getDevice, 'console');
      closers.push(sock.close);
      try {
        await sock.ready;
      } catch (err) {
        sock.close();
        throw err;
      }
      output = sock.output;
      onDrained = sock.onDrained;
      break;
    }
  }
  device = new VirtioConsole({ name, output, ...(onDrained === undefined ? {} : { onInputDrained: onDrained }) });
  let closed = false;
  return {
    name,
    device,
    close: () => {
      if (closed) return;
      closed = true;
      for (const c of closers) c();
    },
  };
}

/** The virtio-console registration: its host end is released after the device is reset. */
export async function consoleDevice(ctx: DeviceContext, spec: ConsoleSpec): Promise<VirtioRegistration> {
  const hosted = await createHostedConsole(spec);
  return virtioDevice(ctx, hosted.name, hosted.device, [{ name: 'host end', run: hosted.close }]);
}
