// The e2e test framework: a Microvm fixture around the workervisor CLI, KVM checks, paths.
export { repoRoot, cliPath, guestsOutDir, guestPath } from './paths.js';
export { readCpio, type CpioEntry } from './cpio.js';
export { kvmStatus, isNestedPvm, type Readiness } from './kvm.js';
export {
  Microvm,
  microvmArgs,
  DEFAULT_EXPECT_TIMEOUT_MS,
  DEFAULT_EXIT_TIMEOUT_MS,
  type MicrovmOptions,
  type ExitStatus,
  type ExpectOptions,
} from './microvm.js';
export { linuxGuest, linuxOutDir, linuxTierStatus, LINUX_CMDLINE, GUEST_READY, GUEST_PROMPT } from './linux.js';
export { describeWhen, describeKvm, itKvm } from './vitest.js';
export { bootMachine, type TestMachine } from './machine.js';
export { readGuestU32, guestRamAllocatedBytes } from './guest-ram.js';
export { GUEST_KERNEL } from './linux.js';
export { hybridConnect, echoRoundTrip, echoStreams, type EchoRun } from './guest-vsock.js';
export { makeTap, guestToHost, hostToGuest, guestPingRtt, until, type Transfer } from './guest-net.js';
export { workervisorVmm, qemuKvmVmm, qemuKvmArgs, qemuKvmStatus, type LinuxBoot, type LinuxVmm } from './linux-vmm.js';
export {
  BOOT_TIMEOUT_MS,
  COMMAND_TIMEOUT_MS,
  waitReady,
  guestRun,
  guestCheck,
  guestPowerOff,
  linuxTest,
  referenceTest,
  SerialSocketClient,
  type Console,
  type GuestReady,
  type Scenario,
  type ScenarioContext,
} from './linux-session.js';
export { runNested, nestedRunnerStatus, nestedL1, nestedOutDir, type NestedRunOptions, type NestedRunResult } from './nested.js';
