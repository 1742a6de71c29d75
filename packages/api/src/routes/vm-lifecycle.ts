// VM lifecycle routes: create, boot, info, counters, pause/resume, shutdown, reboot, power button,
// NMI and delete. The core decides whether the VM is in a state that allows each.
import { VmCountersSchema, VmInfoSchema } from '@workervisor/schema';
import { VmConfigSchema } from '@workervisor/schema';
import type { ApiRequest } from '../protocol.js';
import { body, route } from '../router.js';
import { lifecycle } from './doc.js';

export const vmLifecycleRoutes = [
  route('PUT', '/vm.create', [body(VmConfigSchema)], (config): ApiRequest => ({ type: 'VmCreate', body: config }), {
    doc: {
      summary: 'Create the VM instance. The instance is not booted, only created.',
      responses: {
        204: { description: 'The VM instance was successfully created.' },
        400: { description: 'The VM configuration is not valid.' },
        409: { description: 'A VM instance is already created.' },
      },
    },
  }),
  route('PUT', '/vm.boot', [], (): ApiRequest => ({ type: 'VmBoot' }), { doc: lifecycle('Boot the previously created VM instance.', 'booted') }),
  route('PUT', '/vm.delete', [], (): ApiRequest => ({ type: 'VmDelete' }), {
    doc: { summary: 'Delete the VM instance.', responses: { 204: { description: 'The VM instance was successfully deleted.' } } },
  }),
  route('GET', '/vm.info', [], (): ApiRequest => ({ type: 'VmInfo' }), {
    doc: {
      summary: 'Returns general information about the VM instance.',
      responses: {
        200: { description: 'The VM information', schema: VmInfoSchema },
        404: { description: 'The VM information is not available because the VM is not created.' },
      },
    },
  }),
  route('GET', '/vm.counters', [], (): ApiRequest => ({ type: 'VmCounters' }), {
    doc: { summary: 'Get counters from the VM', responses: { 200: { description: 'The VM counters', schema: VmCountersSchema } } },
  }),
  route('PUT', '/vm.pause', [], (): ApiRequest => ({ type: 'VmPause' }), { doc: lifecycle('Pause a previously booted VM instance.', 'paused', 'booted') }),
  route('PUT', '/vm.resume', [], (): ApiRequest => ({ type: 'VmResume' }), { doc: lifecycle('Resume a previously paused VM instance.', 'resumed', 'paused') }),
  route('PUT', '/vm.shutdown', [], (): ApiRequest => ({ type: 'VmShutdown' }), { doc: lifecycle('Shut the VM instance down.', 'shut down', 'started') }),
  route('PUT', '/vm.reboot', [], (): ApiRequest => ({ type: 'VmReboot' }), { doc: lifecycle('Reboot the VM instance.', 'rebooted', 'booted') }),
  route('PUT', '/vm.power-button', [], (): ApiRequest => ({ type: 'VmPowerButton' }), {
    doc: lifecycle('Trigger a power button in the VM', 'powered off by the button', 'booted'),
  }),
  route('PUT', '/vm.nmi', [], (): ApiRequest => ({ type: 'VmNmi' }), {
    doc: { summary: 'Inject an NMI.', responses: { 204: { description: 'The NMI successfully injected.' } } },
  }),
];
