export * from './types.js';
export { binding, AddonLoadError, type NativeBinding } from './binding.js';
export { KvmError, type KvmErrorKind } from './errors.js';
export { Kvm, VmFd, KVM_CAP, KVM_API_VERSION } from './kvm.js';
export { VcpuFd, RUN_KICKED, RUN_STOPPED, currentTid } from './vcpu.js';
export { EventFd, FdWatcher, eventfdWrite } from './eventfd.js';
export { Tap, TUN_F, VNET_HDR_V1_SIZE, type TapOpenOptions } from './tap.js';
export { allocateGuestRam, releaseGuestRam, guestRamDataRanges, mapGuestRamFile, pageSize, stopAllVcpus } from './memory.js';
export { tryOfdLock, ofdUnlock, ofdLockConflict, type OfdLockType, type OfdLockRange, type OfdLockConflict } from './file-lock.js';
