// VMM-level routes: vmm.ping and vmm.shutdown.
import { VmmPingResponseSchema } from '@workervisor/schema';
import { actionRoute } from '../action-route.js';

export const vmmRoutes = [
  actionRoute({
    method: 'GET',
    path: '/vmm.ping',
    action: 'VmmPing',
    status: 200,
    doc: {
      summary: 'Ping the VMM to check for API server availability',
      responses: { 200: { description: 'The VMM information', schema: VmmPingResponseSchema } },
    },
  }),
  actionRoute({
    method: 'PUT',
    path: '/vmm.shutdown',
    action: 'VmmShutdown',
    status: 204,
    doc: { summary: 'Shuts the VMM.', responses: { 204: { description: 'The VMM successfully shutdown.' } } },
  }),
];
