// Routes that move VM state in or out: snapshot, restore, coredump, send/receive migration.
import {
  ReceiveMigrationDataSchema,
  RestoreConfigSchema,
  SendMigrationDataSchema,
  VmCoredumpDataSchema,
  VmSnapshotConfigSchema,
} from '@workervisor/schema';
import { actionRoute } from '../action-route.js';
import { lifecycle } from './doc.js';

export const vmStateRoutes = [
  actionRoute({
    method: 'PUT',
    path: '/vm.snapshot',
    action: 'VmSnapshot',
    body: VmSnapshotConfigSchema,
    status: 204,
    doc: lifecycle('Returns a VM snapshot.', 'snapshotted', 'booted'),
  }),
  actionRoute({
    method: 'PUT',
    path: '/vm.coredump',
    action: 'VmCoredump',
    body: VmCoredumpDataSchema,
    status: 204,
    doc: lifecycle('Takes a VM coredump.', 'coredumped', 'booted'),
  }),
  actionRoute({
    method: 'PUT',
    path: '/vm.restore',
    action: 'VmRestore',
    body: RestoreConfigSchema,
    status: 204,
    doc: {
      summary: 'Restore a VM from a snapshot.',
      responses: {
        204: { description: 'The VM instance was successfully restored.' },
        400: { description: 'The VM could not be restored because the restore configuration is not valid.' },
        409: { description: 'The VM could not be restored because a VM is already created, or a device with the same identifier or path already exists.' },
      },
    },
  }),
  actionRoute({
    method: 'PUT',
    path: '/vm.receive-migration',
    action: 'VmReceiveMigration',
    body: ReceiveMigrationDataSchema,
    status: 204,
    doc: {
      summary: 'Receive a VM migration from URL',
      responses: {
        204: { description: 'The VM migration was successfully received.' },
        500: { description: 'The VM migration could not be received.' },
      },
    },
  }),
  actionRoute({
    method: 'PUT',
    path: '/vm.send-migration',
    action: 'VmSendMigration',
    body: SendMigrationDataSchema,
    status: 204,
    doc: {
      summary: 'Send a VM migration to URL',
      responses: {
        204: { description: 'The VM migration was successfully sent.' },
        500: { description: 'The VM migration could not be sent.' },
      },
    },
  }),
];
