// VMM-level routes: vmm.ping and vmm.shutdown.
import { VmmPingResponseSchema } from '@workervisor/schema';
import type { ApiRequest } from '../protocol.js';
import { route } from '../router.js';

export const vmmRoutes = [
  route('GET', '/vmm.ping', [], (): ApiRequest => ({ type: 'VmmPing' }), {
    doc: {
      summary: 'Ping the VMM to check for API server availability',
      responses: { 200: { description: 'The VMM information', schema: VmmPingResponseSchema } },
    },
  }),
  route('PUT', '/vmm.shutdown', [], (): ApiRequest => ({ type: 'VmmShutdown' }), {
    doc: { summary: 'Shuts the VMM.', responses: { 204: { description: 'The VMM successfully shutdown.' } } },
  }),
];
