// Routes that move VM state in or out: snapshot, restore, coredump, send/receive migration.
import {
  ReceiveMigrationDataSchema,
  RestoreConfigSchema,
  SendMigrationDataSchema,
  VmCoredumpDataSchema,
  VmSnapshotConfigSchema,
} from '@workervisor/schema';
import type { ApiRequest } from '../protocol.js';
import { body, route } from '../router.js';
import { lifecycle } from './doc.js';

export const vmStateRoutes = [
  route('PUT', '/vm.snapshot', [body(VmSnapshotConfigSchema)], (b): ApiRequest => ({ type: 'VmSnapshot', body: b }), {
    doc: lifecycle('Returns a VM snapshot.', 'snapshotted', 'booted'),
  }),
  route('PUT', '/vm.coredump', [body(VmCoredumpDataSchema)], (b): ApiRequest => ({ type: 'VmCoredump', body: b }), {
    doc: lifecycle('Takes a VM coredump.', 'coredumped', 'booted'),
  }),
  route('PUT', '/vm.restore', [body(RestoreConfigSchema)], (b): ApiRequest => ({ type: 'VmRestore', body: b }), {
    doc: {
      summary: 'Restore a VM from a snapshot.',
      responses: {
        204: { description: 'The VM instance was successfully restored.' },
        400: { description: 'The VM could not be restored because the restore configuration is not valid.' },
        409: { description: 'The VM could not be restored because a VM is already created, or a device with the same identifier or path already exists.' },
      },
    },
  }),
  route('PUT', '/vm.receive-migration', [body(ReceiveMigrationDataSchema)], (b): ApiRequest => ({ type: 'VmReceiveMigration', body: b }), {
    doc: {
      summary: 'Receive a VM migration from URL',
      responses: {
        204: { description: 'The VM migration was successfully received.' },
        500: { description: 'The VM migration could not be received.' },
      },
    },
  }),
  route('PUT', '/vm.send-migration', [body(SendMigrationDataSchema)], (b): ApiRequest => ({ type: 'VmSendMigration', body: b }), {
    doc: {
      summary: 'Send a VM migration to URL',
      responses: {
        204: { description: 'The VM migration was successfully sent.' },
        500: { description: 'The VM migration could not be sent.' },
      },
    },
  }),
];
