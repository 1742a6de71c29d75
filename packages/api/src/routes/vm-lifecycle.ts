// VM lifecycle routes: create, boot, info, counters, pause/resume, shutdown, reboot, power button,
// NMI and delete. The core decides whether the VM is in a state that allows each.
import { VmCountersSchema, VmInfoSchema } from '@workervisor/schema';
import { VmConfigSchema } from '@workervisor/schema';
import { actionRoute } from '../action-route.js';
import { lifecycle } from './doc.js';

export const vmLifecycleRoutes = [
  actionRoute({
    method: 'PUT',
    path: '/vm.create',
    action: 'VmCreate',
    body: VmConfigSchema,
    status: 204,
    doc: {
      summary: 'Create the VM instance. The instance is not booted, only created.',
      responses: {
        204: { description: 'The VM instance was successfully created.' },
        400: { description: 'The VM configuration is not valid.' },
        409: { description: 'A VM instance is already created.' },
      },
    },
  }),
  actionRoute({
    method: 'PUT',
    path: '/vm.boot',
    action: 'VmBoot',
    status: 204,
    doc: lifecycle('Boot the previously created VM instance.', 'booted'),
  }),
  actionRoute({
    method: 'PUT',
    path: '/vm.delete',
    action: 'VmDelete',
    status: 204,
    doc: { summary: 'Delete the VM instance.', responses: { 204: { description: 'The VM instance was successfully deleted.' } } },
  }),
  actionRoute({
    method: 'GET',
    path: '/vm.info',
    action: 'VmInfo',
    status: 200,
    doc: {
      summary: 'Returns general information about the VM instance.',
      responses: {
        200: { description: 'The VM information', schema: VmInfoSchema },
        404: { description: 'The VM information is not available because the VM is not created.' },
      },
    },
  }),
  actionRoute({
    method: 'GET',
    path: '/vm.counters',
    action: 'VmCounters',
    status: 200,
    doc: { summary: 'Get counters from the VM', responses: { 200: { description: 'The VM counters', schema: VmCountersSchema } } },
  }),
  actionRoute({
    method: 'PUT',
    path: '/vm.pause',
    action: 'VmPause',
    status: 204,
    doc: lifecycle('Pause a previously booted VM instance.', 'paused', 'booted'),
  }),
  actionRoute({
    method: 'PUT',
    path: '/vm.resume',
    action: 'VmResume',
    status: 204,
    doc: lifecycle('Resume a previously paused VM instance.', 'resumed', 'paused'),
  }),
  actionRoute({
    method: 'PUT',
    path: '/vm.shutdown',
    action: 'VmShutdown',
    status: 204,
    doc: lifecycle('Shut the VM instance down.', 'shut down', 'started'),
  }),
  actionRoute({
    method: 'PUT',
    path: '/vm.reboot',
    action: 'VmReboot',
    status: 204,
    doc: lifecycle('Reboot the VM instance.', 'rebooted', 'booted'),
  }),
  actionRoute({
    method: 'PUT',
    path: '/vm.power-button',
    action: 'VmPowerButton',
    status: 204,
    doc: lifecycle('Trigger a power button in the VM', 'powered off by the button', 'booted'),
  }),
  actionRoute({
    method: 'PUT',
    path: '/vm.nmi',
    action: 'VmNmi',
    status: 204,
    doc: { summary: 'Inject an NMI.', responses: { 204: { description: 'The NMI successfully injected.' } } },
  }),
];
