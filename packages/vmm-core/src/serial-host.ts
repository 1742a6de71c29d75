// Connects COM1 (and the virtio-console) to the host: output to stdout or a file (or nowhere), input
// from stdin in 'tty' mode.
import { closeSync } from 'node:fs';
import { type SerialOutput } from '@workervisor/devices';
import { appendNonBlocking, openOutputFile } from '@workervisor/base';
import type { SerialSink } from './machine-config.js';

/** The transmit side for a sink, plus its cleanup. */
export function serialOutput(sink: SerialSink): { output: SerialOutput | undefined; close: () => void } {
  switch (sink.kind) {
    case 'off':
      return { output: undefined, close: () => {} };
    case 'file': {
      // Opened without blocking (a FIFO with no reader fails at once) and written without
      // blocking: a full FIFO loses output rather than stalling the core's event loop.
      const out = openOutputFile(sink.path, 'serial output file');
      return { output: { write: (bytes) => void appendNonBlocking(out.fd, bytes) }, close: () => (out.owned ? closeSync(out.fd) : undefined) };
    }
    case 'socket':
      throw new Error('socket sinks are created by serialSocket()');
    case 'tty':
      // process.stdout keeps order; it is asynchronous for pipes, which is what a child VMM uses.
      return { output: { write: (bytes) => void process.stdout.write(Buffer.from(bytes)) }, close: () => {} };
  }
}

const CTRL_A = 0x01;

/** Whatever takes host input with Serial's contract: as many bytes as fit, the count returned. */
export interface InputSink {
  enqueueInput(bytes: Uint8Array): number;
}

/**
 * Feeds stdin to the UART's receive FIFO in 'tty' mode, pausing stdin while the FIFO is full and
 * resuming when the guest drains it. A terminal is put in raw mode so keys reach the guest as typed;
 * Ctrl-A x (as in QEMU) ends the VMM.
 * Returns the drain callback for Serial's onInputDrained and a cleanup.
 */
export function attachSerialInput(getSerial: () => InputSink | undefined, onEscape: () => void = () => process.kill(process.pid, 'SIGTERM')): { onDrained: () => void; close: () => void } {
  const stdin = process.stdin;
  let backlog: Buffer | undefined;
  // In raw mode Ctrl-C goes to the guest, so the way out is QEMU's: Ctrl-A then x.
  let sawCtrlA = false;
  const pump = (): void => {
    const serial = getSerial();
    if (serial === undefined || backlog === undefined) return;
    const n = serial.enqueueInput(backlog);
    backlog = n >= backlog.length ? undefined : backlog.subarray(n);
    if (backlog === undefined) stdin.resume();
  };
  const onData = (chunk: Buffer): void => {
    if (stdin.isTTY) {
      for (const byte of chunk) {
        if (sawCtrlA && byte === 0x78 /* x */) return onEscape();
        sawCtrlA = byte === CTRL_A;
      }
    }
    backlog = backlog === undefined ? chunk : Buffer.concat([backlog, chunk]);
    stdin.pause();
    pump();
  };
  const wasRaw = stdin.isTTY ? stdin.isRaw : false;
  if (stdin.isTTY) stdin.setRawMode(true);
  stdin.on('data', onData);
  stdin.resume();
  return {
    onDrained: pump,
    close: () => {
      stdin.off('data', onData);
      stdin.pause();
      if (stdin.isTTY) stdin.setRawMode(wasRaw);
    },
  };
}
