// Tap: a host tap device (/dev/net/tun, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR) with the vnet
// header the virtio-net device shares with the guest, and the host end's address, mask, MAC and UP.
import { binding } from './binding.js';
import { wrap } from './errors.js';

/** Bytes of struct virtio_net_hdr_v1 (virtio 1.2 section 5.1.6): what TUNSETVNETHDRSZ is set to. */
export const VNET_HDR_V1_SIZE = 12;

/** TUN_F_* offload bits of TUNSETOFFLOAD (linux/if_tun.h). */
export const TUN_F = { CSUM: 0x01, TSO4: 0x02, TSO6: 0x04, TSO_ECN: 0x08, UFO: 0x10 } as const;

export interface TapOpenOptions {
  /** Interface name (at most 15 bytes); '' lets the kernel pick `tapN`. An existing tap is attached. */
  readonly name: string;
}

/** The offload sets tried when a tap opens, richest first (kernels since 4.14 may refuse UFO). */
const OFFLOAD_PROBES = [TUN_F.CSUM | TUN_F.TSO4 | TUN_F.TSO6 | TUN_F.TSO_ECN | TUN_F.UFO, TUN_F.CSUM | TUN_F.TSO4 | TUN_F.TSO6 | TUN_F.TSO_ECN, TUN_F.CSUM | TUN_F.TSO4 | TUN_F.TSO6, TUN_F.CSUM, 0];

/**
 * An open, non-blocking tap file descriptor with a 12-byte vnet header. `read`/`write` move one
 * frame (header + packet) per call between the tap and Uint8Array views (guest RAM: no copy).
 */
export class Tap {
  /** TUN_F_* bits the kernel accepted at open (what the device may offer the guest). */
  readonly offloads: number;
  private closed = false;

  private constructor(
    readonly fd: number,
    readonly name: string,
    /** Whether close() closes fd (false for an fd handed in by the caller). */
    private readonly owned: boolean,
  ) {
    wrap('tap', `tap ${name}: setting the vnet header size`, () => binding().tapSetVnetHdrSize(fd, VNET_HDR_V1_SIZE));
    this.offloads = this.probeOffloads();
  }

  /** Opens (creating if needed) tap `name`. Throws KvmError('tap') with errno and ioctl. */
  static open(options: TapOpenOptions): Tap {
    const b = binding();
    const flags = b.TAP.IFF_TAP | b.TAP.IFF_NO_PI | b.TAP.IFF_VNET_HDR;
    const opened = wrap('tap', `opening tap "${options.name}"`, () => b.tapOpen(options.name, flags));
    try {
      return new Tap(opened.fd, opened.name, true);
    } catch (err) {
      b.closeFd(opened.fd);
      throw err;
    }
  }

  /**
   * Adopts an already-open tap fd (Cloud Hypervisor's and Kata's `fd`): it must be a tap with
   * IFF_NO_PI and IFF_VNET_HDR. The caller keeps ownership: close() does not close it.
   */
  static fromFd(fd: number): Tap {
    const b = binding();
    const iff = wrap('tap', `tap fd ${fd}`, () => b.tapGetIff(fd));
    const need = b.TAP.IFF_TAP | b.TAP.IFF_NO_PI | b.TAP.IFF_VNET_HDR;
    if ((iff.flags & need) !== need) {
      throw new TypeError(`fd ${fd} is tun/tap device ${iff.name} with flags 0x${iff.flags.toString(16)}; it must be a tap opened with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR`);
    }
    return new Tap(fd, iff.name, false);
  }

  /** Sets the TUN_F_* offloads: which GSO/checksum-partial frames the tap may hand us. */
  setOffload(flags: number): void {
    wrap('tap', `tap ${this.name}: setting offloads 0x${flags.toString(16)}`, () => binding().tapSetOffload(this.fd, flags));
  }

  /** Reads one frame into `views`: its length (header included; more than the views hold when truncated), 0 at EOF, -1 when none waits. */
  read(views: readonly Uint8Array[]): number {
    return wrap('tap', `tap ${this.name}: read`, () => binding().fdReadv(this.fd, views));
  }

  /** Writes one frame gathered from `views`: bytes written, or -1 when the tap would block. */
  write(views: readonly Uint8Array[]): number {
    return wrap('tap', `tap ${this.name}: write`, () => binding().fdWritev(this.fd, views));
  }

  /** Gives the host end an IPv4 address and netmask (SIOCSIFADDR, SIOCSIFNETMASK). */
  setIpv4(address: string, netmask: string): void {
    wrap('tap', `tap ${this.name}: setting address ${address}`, () => binding().netifSetAddress(this.name, address));
    wrap('tap', `tap ${this.name}: setting netmask ${netmask}`, () => binding().netifSetNetmask(this.name, netmask));
  }

  /** Sets the host end's MAC (SIOCSIFHWADDR); call before up(). */
  setMac(mac: Uint8Array): void {
    wrap('tap', `tap ${this.name}: setting the MAC`, () => binding().netifSetHwaddr(this.name, mac));
  }

  /** Sets IFF_UP (SIOCSIFFLAGS). */
  up(): void {
    wrap('tap', `tap ${this.name}: setting it up`, () => binding().netifSetUp(this.name));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.owned) binding().closeFd(this.fd);
  }

  private probeOffloads(): number {
    for (const flags of OFFLOAD_PROBES) {
      try {
        binding().tapSetOffload(this.fd, flags);
        return flags;
      } catch {
        // EINVAL: this kernel refuses one of the bits; try the next smaller set.
      }
    }
    return 0;
  }
}
