// Test doubles for device unit tests, exported as "@workervisor/devices/testing" only.
export { FakeGuestMemory, GuestMemoryError, type FakeRegion } from './fake-guest-memory.js';
export { RecordingIrq, RecordingOutput, RecordingExitRequester, ManualClock, type ExitRequest } from './recorders.js';
