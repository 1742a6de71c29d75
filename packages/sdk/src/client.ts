// Typed client of the Cloud Hypervisor-compatible REST API (packages/api/src/routes/fixtures/cloud-hypervisor.yaml), HTTP/1.1
// over the VMM's Unix socket with undici. One method per route; errors become ResponseError/ConnectionError.
import { Client } from 'undici';
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
} from './api-types.js';
import { ResponseError, ConnectionError, connectionErrorKind, parseErrorBody } from './errors.js';
import { snapshotVm, type SnapshotOptions } from './snapshot.js';

/** Every route lives under this prefix. */
export const API_PREFIX = '/api/v1';

export type HttpMethod = 'GET' | 'PUT';

export interface ConnectOptions {
  /**
   * Milliseconds to wait for a response (headers, then each body chunk). Default 60 000: boot,
   * snapshot and restore of a large VM are slow, a hung VMM should still surface.
   */
  timeoutMs?: number;
  /** Milliseconds to wait for the socket connection. Default 5 000. */
  connectTimeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/**
 * A client of one VMM's API socket. Connects lazily on the first request and keeps the
 * connection alive; requests are sent one at a time. Call `close()` when done.
 */
export class VmmClient {
  /** Path of the VMM's API Unix socket. */
  readonly socketPath: string;
  readonly #http: Client;
  #closed = false;

  constructor(socketPath: string, options: ConnectOptions = {}) {
    this.socketPath = socketPath;
    const timeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    // The origin is only used for the Host header; the socket path decides where bytes go.
    this.#http = new Client('http://localhost', {
      socketPath,
      connectTimeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      headersTimeout: timeout,
      bodyTimeout: timeout,
    });
  }

  /**
   * Sends one request to `/api/v1/<route>` and returns the parsed JSON body, or undefined for an
   * empty body (204). Non-2xx -> ResponseError; no connection or a broken one -> ConnectionError.
   */
  async request(method: HttpMethod, route: string, body?: unknown): Promise<unknown> {
    if (this.#closed) throw new ConnectionError('client-closed', this.socketPath, route);
    const path = `${API_PREFIX}/${route}`;
    let text: string;
    let status: number;
    try {
      const res = await this.#http.request(
        body === undefined
          ? { method, path }
          : { method, path, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
      );
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      throw new ConnectionError(connectionErrorKind(err), this.socketPath, route, err);
    }
    if (status < 200 || status > 299) throw new ResponseError(method, route, status, parseErrorBody(status, text));
    if (text.trim() === '') return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new ResponseError(method, route, status, { message: `the response body is not JSON: ${text.slice(0, 200)}` }, { kind: 'bad-response', cause: err });
    }
  }

  /** A route that must answer with a JSON body (200). */
  async #json<T>(method: HttpMethod, route: string, body?: unknown): Promise<T> {
    const result = await this.request(method, route, body);
    if (result === undefined) {
      throw new ResponseError(method, route, 204, { message: 'the response has no body, a JSON document was expected' }, { kind: 'bad-response' });
    }
    return result as T;
  }

  /** A route that answers 204 (any body is ignored). */
  async #action(route: string, body?: unknown): Promise<void> {
    await this.request('PUT', route, body);
  }

  /** A hot-plug route: 200 with the device's PCI info, or 204 (cold plug, VM not booted). */
  async #plug(route: string, body: unknown): Promise<PciDeviceInfo | undefined> {
    return (await this.request('PUT', route, body)) as PciDeviceInfo | undefined;
  }

  // --- VMM ---

  /** `GET vmm.ping`: the VMM's version, pid and features. Doubles as a liveness check. */
  ping(): Promise<VmmPingResponse> {
    return this.#json('GET', 'vmm.ping');
  }

  /** `PUT vmm.shutdown`: stops the VM (if any) and ends the VMM process. */
  shutdownVmm(): Promise<void> {
    return this.#action('vmm.shutdown');
  }

  // --- VM lifecycle ---

  /** `PUT vm.create`: creates (does not boot) the VM. */
  create(config: VmConfig): Promise<void> {
    return this.#action('vm.create', config);
  }

  /** `PUT vm.boot`. */
  boot(): Promise<void> {
    return this.#action('vm.boot');
  }

  /** `GET vm.info`: the VM's config and state. 404 (ResponseError `not-found`) before vm.create. */
  info(): Promise<VmInfo> {
    return this.#json('GET', 'vm.info');
  }

  /** `PUT vm.pause`. */
  pause(): Promise<void> {
    return this.#action('vm.pause');
  }

  /** `PUT vm.resume`. */
  resume(): Promise<void> {
    return this.#action('vm.resume');
  }

  /** `PUT vm.reboot`. */
  reboot(): Promise<void> {
    return this.#action('vm.reboot');
  }

  /** `PUT vm.power-button`: an ACPI power button press; the guest decides what to do. */
  powerButton(): Promise<void> {
    return this.#action('vm.power-button');
  }

  /** `PUT vm.shutdown`: stops the VM; the VMM stays up. */
  shutdown(): Promise<void> {
    return this.#action('vm.shutdown');
  }

  /** `PUT vm.delete`: shuts the VM down if needed and forgets its config. */
  delete(): Promise<void> {
    return this.#action('vm.delete');
  }

  /** `PUT vm.nmi`: injects an NMI into every vCPU. */
  nmi(): Promise<void> {
    return this.#action('vm.nmi');
  }

  /** `GET vm.counters`: device id -> counter -> value. */
  counters(): Promise<VmCounters> {
    return this.#json('GET', 'vm.counters');
  }

  // --- Snapshot, migration ---

  /**
   * `PUT vm.snapshot` into a directory (made a `file://` URL) or a VmSnapshotConfig
   * (`destination_url`, e.g. `file:///var/snap`). The VM must be paused, unless `{ pause: true }`:
   * then a running VM is paused for the snapshot and resumed after it.
   */
  snapshot(target: string | VmSnapshotConfig, options?: SnapshotOptions): Promise<void> {
    return snapshotVm({ info: () => this.info(), pause: () => this.pause(), resume: () => this.resume(), sendSnapshot: (c) => this.#action('vm.snapshot', c) }, target, options);
  }

  /** `PUT vm.restore`: creates the VM from a snapshot (`source_url`). */
  restore(config: RestoreConfig): Promise<void> {
    return this.#action('vm.restore', config);
  }

  /** `PUT vm.coredump`. */
  coredump(config: VmCoredumpData): Promise<void> {
    return this.#action('vm.coredump', config);
  }

  /** `PUT vm.send-migration`. */
  sendMigration(config: SendMigrationData): Promise<void> {
    return this.#action('vm.send-migration', config);
  }

  /** `PUT vm.receive-migration`. */
  receiveMigration(config: ReceiveMigrationData): Promise<void> {
    return this.#action('vm.receive-migration', config);
  }

  // --- Resize ---

  /** `PUT vm.resize`: vCPUs, RAM (bytes) or balloon (bytes). */
  resize(config: VmResize): Promise<void> {
    return this.#action('vm.resize', config);
  }

  /** `PUT vm.resize-zone`: one memory zone's RAM (bytes). */
  resizeZone(config: VmResizeZone): Promise<void> {
    return this.#action('vm.resize-zone', config);
  }

  /** `PUT vm.resize-disk`: a disk's size (bytes). */
  resizeDisk(config: VmResizeDisk): Promise<void> {
    return this.#action('vm.resize-disk', config);
  }

  // --- Devices: each add answers the PCI info (hot plug) or undefined (cold plug) ---

  /** `PUT vm.add-device` (VFIO). */
  addDevice(config: DeviceConfig): Promise<PciDeviceInfo | undefined> {
    return this.#plug('vm.add-device', config);
  }

  /** `PUT vm.add-disk`. */
  addDisk(config: DiskConfig): Promise<PciDeviceInfo | undefined> {
    return this.#plug('vm.add-disk', config);
  }

  /** `PUT vm.add-net`. */
  addNet(config: NetConfig): Promise<PciDeviceInfo | undefined> {
    return this.#plug('vm.add-net', config);
  }

  /** `PUT vm.add-vsock`. */
  addVsock(config: VsockConfig): Promise<PciDeviceInfo | undefined> {
    return this.#plug('vm.add-vsock', config);
  }

  /** `PUT vm.add-fs`. */
  addFs(config: FsConfig): Promise<PciDeviceInfo | undefined> {
    return this.#plug('vm.add-fs', config);
  }

  /** `PUT vm.add-pmem`. */
  addPmem(config: PmemConfig): Promise<PciDeviceInfo | undefined> {
    return this.#plug('vm.add-pmem', config);
  }

  /** `PUT vm.add-vdpa`. */
  addVdpa(config: VdpaConfig): Promise<PciDeviceInfo | undefined> {
    return this.#plug('vm.add-vdpa', config);
  }

  /** `PUT vm.add-user-device`. */
  addUserDevice(config: VmAddUserDevice): Promise<PciDeviceInfo | undefined> {
    return this.#plug('vm.add-user-device', config);
  }

  /** `PUT vm.add-generic-vhost-user`. */
  addGenericVhostUser(config: GenericVhostUserConfig): Promise<PciDeviceInfo | undefined> {
    return this.#plug('vm.add-generic-vhost-user', config);
  }

  /** `PUT vm.remove-device`. */
  removeDevice(config: VmRemoveDevice): Promise<void> {
    return this.#action('vm.remove-device', config);
  }

  /** Closes the connection (waits for requests in flight). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#http.close();
  }

  /** Drops the connection at once, failing requests in flight. Idempotent. */
  async destroy(): Promise<void> {
    this.#closed = true;
    if (!this.#http.destroyed) await this.#http.destroy();
  }

  /** True once close() or destroy() was called. */
  get closed(): boolean {
    return this.#closed;
  }
}

/** A client of the VMM listening on `socketPath`. Nothing is sent until the first call. */
export function connect(socketPath: string, options?: ConnectOptions): VmmClient {
  return new VmmClient(socketPath, options);
}
