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
import { actionRoute } from '../action-route.js';
import { hotplug } from './doc.js';

export const vmDeviceRoutes = [
  actionRoute({
    method: 'PUT',
    path: '/vm.add-device',
    action: 'VmAddDevice',
    body: DeviceConfigSchema,
    status: 200,
    doc: hotplug('Add a new device to the VM', 'device'),
  }),
  actionRoute({
    method: 'PUT',
    path: '/vm.add-user-device',
    action: 'VmAddUserDevice',
    body: VmAddUserDeviceSchema,
    status: 200,
    doc: hotplug('Add a new userspace device to the VM', 'device'),
  }),
  actionRoute({
    method: 'PUT',
    path: '/vm.add-disk',
    action: 'VmAddDisk',
    body: DiskConfigSchema,
    status: 200,
    doc: hotplug('Add a new disk to the VM', 'disk'),
  }),
  actionRoute({
    method: 'PUT',
    path: '/vm.add-fs',
    action: 'VmAddFs',
    body: FsConfigSchema,
    status: 200,
    doc: hotplug('Add a new virtio-fs device to the VM', 'device'),
  }),
  actionRoute({
    method: 'PUT',
    path: '/vm.add-generic-vhost-user',
    action: 'VmAddGenericVhostUser',
    body: GenericVhostUserConfigSchema,
    status: 200,
    doc: hotplug('Add a new generic vhost-user device to the VM', 'device'),
  }),
  actionRoute({
    method: 'PUT',
    path: '/vm.add-pmem',
    action: 'VmAddPmem',
    body: PmemConfigSchema,
    status: 200,
    doc: hotplug('Add a new pmem device to the VM', 'device'),
  }),
  actionRoute({
    method: 'PUT',
    path: '/vm.add-net',
    action: 'VmAddNet',
    body: NetConfigSchema,
    status: 200,
    doc: hotplug('Add a new network device to the VM', 'device'),
  }),
  actionRoute({
    method: 'PUT',
    path: '/vm.add-vsock',
    action: 'VmAddVsock',
    body: VsockConfigSchema,
    status: 200,
    doc: hotplug('Add a new vsock device to the VM', 'device'),
  }),
  actionRoute({
    method: 'PUT',
    path: '/vm.add-vdpa',
    action: 'VmAddVdpa',
    body: VdpaConfigSchema,
    status: 200,
    doc: hotplug('Add a new vDPA device to the VM', 'vDPA device'),
  }),
  actionRoute({
    method: 'PUT',
    path: '/vm.remove-device',
    action: 'VmRemoveDevice',
    body: VmRemoveDeviceSchema,
    status: 204,
    doc: {
      summary: 'Remove a device from the VM',
      responses: {
        204: { description: 'The device was successfully removed from the VM instance.' },
        404: { description: 'The VM is not created, or no device with the given identifier exists.' },
      },
    },
  }),
  actionRoute({
    method: 'PUT',
    path: '/vm.resize',
    action: 'VmResize',
    body: VmResizeSchema,
    status: 204,
    doc: {
      summary: 'Resize the VM',
      responses: {
        204: { description: 'The VM instance was successfully resized.' },
        404: { description: 'The VM instance could not be resized because it is not created.' },
        429: { description: 'The VM instance could not be resized because a cpu removal is still pending.' },
      },
    },
  }),
  actionRoute({
    method: 'PUT',
    path: '/vm.resize-disk',
    action: 'VmResizeDisk',
    body: VmResizeDiskSchema,
    status: 204,
    doc: {
      summary: 'Resize a disk',
      responses: {
        204: { description: 'The disk was successfully resized.' },
        404: { description: 'The VM is not created, or no disk with the given identifier exists.' },
        500: { description: 'The disk could not be resized.' },
      },
    },
  }),
  actionRoute({
    method: 'PUT',
    path: '/vm.resize-zone',
    action: 'VmResizeZone',
    body: VmResizeZoneSchema,
    status: 204,
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
