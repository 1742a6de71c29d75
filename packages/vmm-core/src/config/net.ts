// Cloud Hypervisor's `net` section -> the virtio-net devices and their taps. Every option is
// honoured or refused by name: tap, fd, ip + mask (+ host_mac) to configure the host end, mac,
// queue_size, num_queues 2 (one queue pair) and the offload switches.
import { isIPv4 } from 'node:net';
import { ApiError } from '@workervisor/api/core';
import type { NetConfig } from '@workervisor/schema';
import { parseMac } from '@workervisor/devices';
import type { NetSpec } from '../machine-config.js';

/** NetConfig's defaults in Cloud Hypervisor's spec (packages/api/src/routes/fixtures/cloud-hypervisor.yaml): a tap the VMM creates gets this address. */
export const DEFAULT_NET_IP = '192.168.249.1';
export const DEFAULT_NET_MASK = '255.255.255.0';
const DEFAULT_NET_QUEUE_SIZE = 256;
const MAX_QUEUE_SIZE = 32768;
/** Linux's IFNAMSIZ minus the NUL. */
const MAX_IFNAME = 15;

function notSupported(what: string, field: string): ApiError {
  return new ApiError('not-supported', `${what} is not supported by this VMM yet`, { details: { field } });
}

function invalid(field: string, message: string): ApiError {
  return new ApiError('invalid-config', message, { details: { field } });
}

/** A dotted IPv4 netmask: contiguous ones from the top. */
function isNetmask(mask: string): boolean {
  if (!isIPv4(mask)) return false;
  const bits = mask.split('.').reduce((v, o) => v * 256 + Number(o), 0);
  const inv = 0xffff_ffff - bits;
  return (inv & (inv + 1)) === 0;
}

function checkMac(value: string | undefined, field: string): string | undefined {
  if (value === undefined) return undefined;
  const mac = parseMac(value);
  if (mac === undefined) throw invalid(field, `${field} "${value}" is not a MAC address (aa:bb:cc:dd:ee:ff)`);
  if (((mac[0] ?? 0) & 1) !== 0) throw invalid(field, `${field} ${value} is a multicast address; a NIC needs a unicast one`);
  return value.toLowerCase();
}

function resolveNet(n: NetConfig, at: string): NetSpec {
  const refused: Array<[boolean, string, string]> = [
    [n.vhost_user === true || n.vhost_socket !== undefined, `${at}.vhost_user (a vhost-user network device)`, 'vhost_user'],
    [n.vhost_mode !== undefined && n.vhost_mode !== 'Client', `${at}.vhost_mode ${n.vhost_mode ?? ''}`, 'vhost_mode'],
    [n.iommu === true, `${at}.iommu (there is no virtual IOMMU)`, 'iommu'],
    [n.pci_segment !== undefined || n.pci_device_id !== undefined, `${at}.pci_segment/pci_device_id (${at} is virtio-mmio)`, 'pci_segment'],
    [n.rate_limiter_config !== undefined, `${at}.rate_limiter_config (network rate limiting)`, 'rate_limiter_config'],
    [n.mtu !== undefined, `${at}.mtu (VIRTIO_NET_F_MTU; the tap keeps its MTU, 1500 for a new one)`, 'mtu'],
    [(n.num_queues ?? 2) > 2, `${at}.num_queues ${n.num_queues ?? 2} (multi-queue virtio-net; use 2, one queue pair)`, 'num_queues'],
  ];
  for (const [asked, what, key] of refused) if (asked) throw notSupported(what, `${at}.${key}`);
  const numQueues = n.num_queues ?? 2;
  if (numQueues !== 2) throw invalid(`${at}.num_queues`, `${at}.num_queues ${numQueues} must be 2: one receive and one transmit queue`);
  const queueSize = n.queue_size ?? DEFAULT_NET_QUEUE_SIZE;
  if (queueSize > MAX_QUEUE_SIZE || (queueSize & (queueSize - 1)) !== 0) throw invalid(`${at}.queue_size`, `${at}.queue_size ${queueSize} must be a power of two up to ${MAX_QUEUE_SIZE}`);
  const mac = checkMac(n.mac, `${at}.mac`);
  const hostMac = checkMac(n.host_mac, `${at}.host_mac`);
  const offloads = { tso: n.offload_tso ?? true, ufo: n.offload_ufo ?? true, csum: n.offload_csum ?? true };
  const common = { ...(n.id === undefined ? {} : { id: n.id }), ...(mac === undefined ? {} : { mac }), queueSize, offloads };

  if (n.fd !== undefined) {
    // The fd's owner configured its tap; changing it under them would surprise.
    for (const key of ['tap', 'ip', 'mask', 'host_mac'] as const) {
      if (n[key] !== undefined) throw invalid(`${at}.${key}`, `${at}.${key} cannot be combined with ${at}.fd: the tap behind an fd is used as it is`);
    }
    return { ...common, tap: { kind: 'fd', fd: n.fd } };
  }
  const name = n.tap ?? '';
  if (Buffer.byteLength(name) > MAX_IFNAME || /[\s/:]/.test(name) || name === '.' || name === '..') {
    throw invalid(`${at}.tap`, `${at}.tap "${name}" is not an interface name (at most ${MAX_IFNAME} bytes, no spaces, '/' or ':')`);
  }
  if (n.mask !== undefined && n.ip === undefined) throw invalid(`${at}.mask`, `${at}.mask needs ${at}.ip`);
  // Cloud Hypervisor: a tap the VMM creates (no name) gets the default address; a named tap
  // keeps its own unless ip is given.
  const ip = n.ip ?? (n.tap === undefined ? DEFAULT_NET_IP : undefined);
  let ipv4: NetSpec['ipv4'];
  if (ip !== undefined) {
    if (!isIPv4(ip)) throw (ip.includes(':') ? notSupported(`${at}.ip ${ip} (an IPv6 host address; give an IPv4 one)`, `${at}.ip`) : invalid(`${at}.ip`, `${at}.ip "${ip}" is not an IPv4 address`));
    const netmask = n.mask ?? DEFAULT_NET_MASK;
    if (!isNetmask(netmask)) throw invalid(`${at}.mask`, `${at}.mask "${netmask}" is not an IPv4 netmask`);
    ipv4 = { address: ip, netmask };
  }
  return { ...common, tap: { kind: 'name', name }, ...(ipv4 === undefined ? {} : { ipv4 }), ...(hostMac === undefined ? {} : { hostMac }) };
}

/** The `net` list, in slot order. Throws ApiError (invalid-config / not-supported) naming the field. */
export function resolveNets(list: readonly NetConfig[]): NetSpec[] {
  const specs = list.map((n, i) => resolveNet(n, `net[${i}]`));
  const taps = new Map<string, number>();
  specs.forEach((s, i) => {
    if (s.tap.kind !== 'name' || s.tap.name === '') return;
    const earlier = taps.get(s.tap.name);
    if (earlier !== undefined) throw invalid(`net[${i}].tap`, `net[${i}].tap ${s.tap.name} is also net[${earlier}].tap; one tap carries one device`);
    taps.set(s.tap.name, i);
  });
  return specs;
}
