// Test doubles for device unit tests, exported as "@workervisor/devices/testing" only.
export { FakeGuestMemory, GuestMemoryError, type FakeRegion } from './fake-guest-memory.js';
export { RecordingIrq, RecordingOutput, RecordingExitRequester, ManualClock, type ExitRequest } from './recorders.js';
export {
  MockVirtqueue,
  mmioInitialize,
  mmioRead32,
  mmioWrite32,
  type MockBuffer,
  type MockVirtqueueOptions,
  type PlacedBuffer,
  type QueueAddresses,
  type RawDescriptor,
  type UsedElement,
} from './mock-virtqueue.js';
export { MemoryBlockBackend } from './memory-block-backend.js';
export { MockVsockGuest, type ReceivedVsockPacket } from './mock-vsock-guest.js';
export { FakeTap } from './fake-tap.js';
