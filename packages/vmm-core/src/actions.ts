// The operations the core performs (Firecracker's VmmAction, Cloud Hypervisor's ApiRequest enum in
// vmm/src/api/mod.rs), the value each succeeds with, and the result that crosses threads. No HTTP
// here: the api package maps requests to actions and results to statuses.
import type { ErrorData } from '@workervisor/base';
import type {
  DeviceConfig,
  DiskConfig,
  FsConfig,
  GenericVhostUserConfig,
  NetConfig,
  PciDeviceInfo,
  PmemConfig,
  ReceiveMigrationData,
  RestoreConfig,
  SendMigrationData,
  VdpaConfig,
  VmAddUserDevice,
  VmConfig,
  VmCoredumpData,
  VmCounters,
  VmInfo,
  VmmPingResponse,
  VmRemoveDevice,
  VmResize,
  VmResizeDisk,
  VmResizeZone,
  VmSnapshotConfig,
  VsockConfig,
} from '@workervisor/schema';

/** One operation on the VMM. `body` is the validated VmConfig or device config (defaults not applied). */
export type VmmAction =
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

export type VmmActionType = VmmAction['type'];

/** The action of one type: `ActionOf<'VmCreate'>` is `{ type: 'VmCreate'; body: VmConfig }`. */
export type ActionOf<T extends VmmActionType> = Extract<VmmAction, { type: T }>;

/** The actions that succeed with a value; every other one succeeds with none. */
interface ActionValues {
  VmmPing: VmmPingResponse;
  VmInfo: VmInfo;
  VmCounters: VmCounters;
  // A hot-plugged device's PCI address; none when it is cold-added (Cloud Hypervisor's 204).
  VmAddDevice: PciDeviceInfo | undefined;
  VmAddUserDevice: PciDeviceInfo | undefined;
  VmAddDisk: PciDeviceInfo | undefined;
  VmAddFs: PciDeviceInfo | undefined;
  VmAddGenericVhostUser: PciDeviceInfo | undefined;
  VmAddPmem: PciDeviceInfo | undefined;
  VmAddNet: PciDeviceInfo | undefined;
  VmAddVsock: PciDeviceInfo | undefined;
  VmAddVdpa: PciDeviceInfo | undefined;
}

/** What action `T` succeeds with: `ActionValue<'VmInfo'>` is VmInfo, `ActionValue<'VmBoot'>` undefined. */
export type ActionValue<T extends VmmActionType> = T extends keyof ActionValues ? ActionValues[T] : undefined;

/**
 * The core's answer to one action, structured-clone safe: the value, or the failure as data
 * (toErrorData) whose `code` names it, e.g. `ERR_VMM_VM_NOT_BOOTED` or `ERR_VMM_LOADER_TRUNCATED`.
 */
export type ActionResult<T extends VmmActionType = VmmActionType> =
  | { ok: true; value: ActionValue<T> }
  | { ok: false; error: ErrorData };

/** What performs actions: the core (Vmm), or a test double. Never rejects; failures are `{ ok: false }`. */
export interface ActionHandler {
  handle<A extends VmmAction>(action: A): Promise<ActionResult<A['type']>>;
}
