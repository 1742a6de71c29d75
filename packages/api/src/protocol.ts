// The requests the API worker sends to the core, mirroring Cloud Hypervisor's `ApiRequest` enum
// (vmm/src/api/mod.rs), and the one answer each gets. Everything here is structured-clone safe.
import { toErrorData, type ErrorData } from '@workervisor/base';
import { ApiError } from './errors.js';
import type {
  DeviceConfig,
  DiskConfig,
  FsConfig,
  GenericVhostUserConfig,
  NetConfig,
  PmemConfig,
  VdpaConfig,
  VmConfig,
  VsockConfig,
} from '@workervisor/schema';
import type {
  ReceiveMigrationData,
  RestoreConfig,
  SendMigrationData,
  VmAddUserDevice,
  VmCoredumpData,
  VmRemoveDevice,
  VmResize,
  VmResizeDisk,
  VmResizeZone,
  VmSnapshotConfig,
} from '@workervisor/schema';

/** One API call. `body` is the validated request body (defaults not applied). */
export type ApiRequest =
  | { type: 'VmmPing' }
  | { type: 'VmmShutdown' }
  | { type: 'VmCreate'; body: VmConfig }
  | { type: 'VmBoot' }
  | { type: 'VmDelete' }
  | { type: 'VmInfo' }
  | { type: 'VmCounters' }
  | { type: 'VmPause' }
  | { type: 'VmResume' }
  | { type: 'VmShutdown' }
  | { type: 'VmReboot' }
  | { type: 'VmPowerButton' }
  | { type: 'VmNmi' }
  | { type: 'VmResize'; body: VmResize }
  | { type: 'VmResizeDisk'; body: VmResizeDisk }
  | { type: 'VmResizeZone'; body: VmResizeZone }
  | { type: 'VmAddDevice'; body: DeviceConfig }
  | { type: 'VmAddUserDevice'; body: VmAddUserDevice }
  | { type: 'VmAddDisk'; body: DiskConfig }
  | { type: 'VmAddFs'; body: FsConfig }
  | { type: 'VmAddGenericVhostUser'; body: GenericVhostUserConfig }
  | { type: 'VmAddPmem'; body: PmemConfig }
  | { type: 'VmAddNet'; body: NetConfig }
  | { type: 'VmAddVsock'; body: VsockConfig }
  | { type: 'VmAddVdpa'; body: VdpaConfig }
  | { type: 'VmRemoveDevice'; body: VmRemoveDevice }
  | { type: 'VmSnapshot'; body: VmSnapshotConfig }
  | { type: 'VmCoredump'; body: VmCoredumpData }
  | { type: 'VmRestore'; body: RestoreConfig }
  | { type: 'VmReceiveMigration'; body: ReceiveMigrationData }
  | { type: 'VmSendMigration'; body: SendMigrationData };

export type ApiRequestType = ApiRequest['type'];

/**
 * The core's answer. Success is 204 without a body or 200 with a JSON body (VmInfo, VmCounters,
 * VmmPingResponse, PciDeviceInfo for a hot-plugged device). Failure carries the error as data;
 * its `code` picks the HTTP status (errors.ts STATUS_BY_CODE).
 */
export type ApiResponse = { ok: true; status: 200 | 204; body?: unknown } | { ok: false; error: ErrorData };

/** What the core implements; one call per HTTP request, never rejected for API-level errors. */
export interface ApiBackend {
  handle(request: ApiRequest): Promise<ApiResponse>;
}

/** The endpoint (under /api/v1) each request type comes from, for messages. */
export const ENDPOINT_OF: Readonly<Record<ApiRequestType, string>> = {
  VmmPing: 'GET /vmm.ping',
  VmmShutdown: 'PUT /vmm.shutdown',
  VmCreate: 'PUT /vm.create',
  VmBoot: 'PUT /vm.boot',
  VmDelete: 'PUT /vm.delete',
  VmInfo: 'GET /vm.info',
  VmCounters: 'GET /vm.counters',
  VmPause: 'PUT /vm.pause',
  VmResume: 'PUT /vm.resume',
  VmShutdown: 'PUT /vm.shutdown',
  VmReboot: 'PUT /vm.reboot',
  VmPowerButton: 'PUT /vm.power-button',
  VmNmi: 'PUT /vm.nmi',
  VmResize: 'PUT /vm.resize',
  VmResizeDisk: 'PUT /vm.resize-disk',
  VmResizeZone: 'PUT /vm.resize-zone',
  VmAddDevice: 'PUT /vm.add-device',
  VmAddUserDevice: 'PUT /vm.add-user-device',
  VmAddDisk: 'PUT /vm.add-disk',
  VmAddFs: 'PUT /vm.add-fs',
  VmAddGenericVhostUser: 'PUT /vm.add-generic-vhost-user',
  VmAddPmem: 'PUT /vm.add-pmem',
  VmAddNet: 'PUT /vm.add-net',
  VmAddVsock: 'PUT /vm.add-vsock',
  VmAddVdpa: 'PUT /vm.add-vdpa',
  VmRemoveDevice: 'PUT /vm.remove-device',
  VmSnapshot: 'PUT /vm.snapshot',
  VmCoredump: 'PUT /vm.coredump',
  VmRestore: 'PUT /vm.restore',
  VmReceiveMigration: 'PUT /vm.receive-migration',
  VmSendMigration: 'PUT /vm.send-migration',
};

/** A 204 (or 200 with `body`) success. */
export function ok(body?: unknown): ApiResponse {
  return body === undefined ? { ok: true, status: 204 } : { ok: true, status: 200, body };
}

/** A failure from any thrown value (ApiError codes keep their status; others become 500). */
export function fail(err: unknown): ApiResponse {
  return { ok: false, error: toErrorData(err) };
}

/** The answer for a route this VMM does not implement yet: ERR_VMM_API_NOT_SUPPORTED (501). */
export function notSupported(request: ApiRequest | ApiRequestType, reason?: string): ApiResponse {
  const type = typeof request === 'string' ? request : request.type;
  const [method, path] = ENDPOINT_OF[type].split(' ');
  const why = reason === undefined ? '' : `: ${reason}`;
  return fail(
    new ApiError('not-supported', `${method} /api/v1${path} is not supported by this VMM yet${why}`, {
      details: { request: type },
    }),
  );
}
