// A comlink Endpoint over a Node MessagePort or Worker (comlink speaks the DOM's addEventListener;
// Node's ports have on/off and hand the data itself to the listener).
import type { Endpoint } from 'comlink';
import type { MessagePort, Worker } from 'node:worker_threads';

type Listener = Parameters<Endpoint['addEventListener']>[1];

export function portEndpoint(port: MessagePort | Worker): Endpoint {
  const bound = new Map<Listener, (data: unknown) => void>();
  return {
    postMessage: (message: unknown, transfer?: readonly unknown[]) => port.postMessage(message, transfer as never),
    addEventListener: (_type: string, listener: Listener) => {
      const onMessage = (data: unknown): void => {
        const event = { data } as MessageEvent;
        if (typeof listener === 'function') listener(event);
        else listener.handleEvent(event);
      };
      bound.set(listener, onMessage);
      port.on('message', onMessage);
    },
    removeEventListener: (_type: string, listener: Listener) => {
      const onMessage = bound.get(listener);
      if (onMessage === undefined) return;
      port.off('message', onMessage);
      bound.delete(listener);
    },
  };
}
