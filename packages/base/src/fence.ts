// A full memory barrier for code sharing memory with another CPU that does not use Atomics for
// every access: guest RAM, which the guest's vCPUs write with plain stores.
//
// x86 keeps loads in order and stores in order but lets a load pass an earlier store to another
// address (the store sits in the store buffer). Protocols where each side writes one word and
// then reads the other's — virtio's avail_event/used_event suppression (virtio 1.2 2.7.10,
// 2.7.7.2), where Linux puts virtio_mb() between the two — lose a notification when both sides'
// loads pass their stores. Plain DataView/typed-array accesses in V8 are ordinary movs, so the
// device side needs the barrier too. A seq_cst read-modify-write is a `lock`-prefixed instruction
// on x64, a full barrier whatever the address; V8 does not move memory accesses across it.
const cell = new Int32Array(new SharedArrayBuffer(4));

/** Orders every store this thread made before it ahead of every load after it (mfence). */
export function memoryFence(): void {
  Atomics.add(cell, 0, 0);
}
