// virtio-net: the device, its queues' halves and the shared constants.
export * from './header.js';
export { VirtioNet, DEFAULT_NET_QUEUE_SIZE, RX_RETRY_MS, type VirtioNetOptions, type VirtioNetState } from './device.js';
export { NetRx, type RxStop } from './rx.js';
export { NetTx, MAX_IOV } from './tx.js';
