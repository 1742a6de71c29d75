// Response documentation shared by the route files, worded after Cloud Hypervisor's spec
// (fixtures/cloud-hypervisor.yaml).
import type { TSchema } from '@sinclair/typebox';
import { PciDeviceInfoSchema } from '@workervisor/schema';
import type { RouteDoc } from '../router.js';

type Responses = Record<number, { description: string; schema?: TSchema }>;

/** Responses of the lifecycle actions: 204, 404 before vm.create, 405 in the wrong state. */
export function lifecycle(summary: string, what: string, wrongState?: string): RouteDoc {
  const responses: Responses = {
    204: { description: `The VM instance was successfully ${what}.` },
    404: { description: `The VM instance could not be ${what} because it is not created.` },
  };
  if (wrongState !== undefined) responses[405] = { description: `The VM instance could not be ${what} because it is not ${wrongState}.` };
  return { summary, responses };
}

/** Responses of the hot-plug routes: 200 with the PCI address, 204 when cold-added. */
export function hotplug(summary: string, what: string): RouteDoc {
  return {
    summary,
    responses: {
      200: { description: `The new ${what} was successfully added to the VM instance.`, schema: PciDeviceInfoSchema },
      204: { description: `The new ${what} was successfully (cold) added to the VM instance.` },
      400: { description: `The new ${what} could not be added because the configuration is not valid.` },
      404: { description: `The new ${what} could not be added because the VM is not created.` },
      409: { description: `The new ${what} could not be added because a device with the same identifier already exists.` },
      500: { description: `The new ${what} could not be added to the VM instance.` },
    },
  };
}
