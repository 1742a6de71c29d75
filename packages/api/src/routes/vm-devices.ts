// Device and resize routes: vm.add-*, vm.remove-device, vm.resize, vm.resize-disk, vm.resize-zone.
import { VmAddUserDeviceSchema, VmRemoveDeviceSchema, VmResizeDiskSchema, VmResizeSchema, VmResizeZoneSchema } from '@workervisor/schema';
import {
  DeviceConfigSchema,
  DiskConfigSchema,
  FsConfigSchema,
  GenericVhostUserConfigSchema,
  NetConfigSchema,
  PmemConfigSchema,
  VdpaConfigSchema,
  VsockConfigSchema,
} from '@workervisor/schema';
import type { ApiRequest } from '../protocol.js';
import { body, route } from '../router.js';
import { hotplug } from './doc.js';

export const vmDeviceRoutes = [
  route('PUT', '/vm.add-device', [body(DeviceConfigSchema)], (b): ApiRequest => ({ type: 'VmAddDevice', body: b }), {
    doc: hotplug('Add a new device to the VM', 'device'),
  }),
  route('PUT', '/vm.add-user-device', [body(VmAddUserDeviceSchema)], (b): ApiRequest => ({ type: 'VmAddUserDevice', body: b }), {
    doc: hotplug('Add a new userspace device to the VM', 'device'),
  }),
  route('PUT', '/vm.add-disk', [body(DiskConfigSchema)], (b): ApiRequest => ({ type: 'VmAddDisk', body: b }), {
    doc: hotplug('Add a new disk to the VM', 'disk'),
  }),
  route('PUT', '/vm.add-fs', [body(FsConfigSchema)], (b): ApiRequest => ({ type: 'VmAddFs', body: b }), {
    doc: hotplug('Add a new virtio-fs device to the VM', 'device'),
  }),
  route(
    'PUT',
    '/vm.add-generic-vhost-user',
    [body(GenericVhostUserConfigSchema)],
    (b): ApiRequest => ({ type: 'VmAddGenericVhostUser', body: b }),
    { doc: hotplug('Add a new generic vhost-user device to the VM', 'device') },
  ),
  route('PUT', '/vm.add-pmem', [body(PmemConfigSchema)], (b): ApiRequest => ({ type: 'VmAddPmem', body: b }), {
    doc: hotplug('Add a new pmem device to the VM', 'device'),
  }),
  route('PUT', '/vm.add-net', [body(NetConfigSchema)], (b): ApiRequest => ({ type: 'VmAddNet', body: b }), {
    doc: hotplug('Add a new network device to the VM', 'device'),
  }),
  route('PUT', '/vm.add-vsock', [body(VsockConfigSchema)], (b): ApiRequest => ({ type: 'VmAddVsock', body: b }), {
    doc: hotplug('Add a new vsock device to the VM', 'device'),
  }),
  route('PUT', '/vm.add-vdpa', [body(VdpaConfigSchema)], (b): ApiRequest => ({ type: 'VmAddVdpa', body: b }), {
    doc: hotplug('Add a new vDPA device to the VM', 'vDPA device'),
  }),
  route('PUT', '/vm.remove-device', [body(VmRemoveDeviceSchema)], (b): ApiRequest => ({ type: 'VmRemoveDevice', body: b }), {
    doc: {
      summary: 'Remove a device from the VM',
      responses: {
        204: { description: 'The device was successfully removed from the VM instance.' },
        404: { description: 'The VM is not created, or no device with the given identifier exists.' },
      },
    },
  }),
  route('PUT', '/vm.resize', [body(VmResizeSchema)], (b): ApiRequest => ({ type: 'VmResize', body: b }), {
    doc: {
      summary: 'Resize the VM',
      responses: {
        204: { description: 'The VM instance was successfully resized.' },
        404: { description: 'The VM instance could not be resized because it is not created.' },
        429: { description: 'The VM instance could not be resized because a cpu removal is still pending.' },
      },
    },
  }),
  route('PUT', '/vm.resize-disk', [body(VmResizeDiskSchema)], (b): ApiRequest => ({ type: 'VmResizeDisk', body: b }), {
    doc: {
      summary: 'Resize a disk',
      responses: {
        204: { description: 'The disk was successfully resized.' },
        404: { description: 'The VM is not created, or no disk with the given identifier exists.' },
        500: { description: 'The disk could not be resized.' },
      },
    },
  }),
  route('PUT', '/vm.resize-zone', [body(VmResizeZoneSchema)], (b): ApiRequest => ({ type: 'VmResizeZone', body: b }), {
    doc: {
      summary: 'Resize a memory zone',
      responses: {
        204: { description: 'The memory zone was successfully resized.' },
        404: { description: 'The memory zone could not be resized because the VM is not created.' },
        500: { description: 'The memory zone could not be resized.' },
      },
    },
  }),
];
