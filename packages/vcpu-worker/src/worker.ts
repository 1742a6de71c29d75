// The vCPU worker: owns one KVM vCPU fd, loops on KVM_RUN, forwards port/MMIO exits to the core
// (in native code, through the core's ExitHub: no JS per exit), and obeys control commands.
// States: created -> running <-> paused -> finished.
// Commands reach a running vCPU because the core kicks it out of KVM_RUN after posting them;
// the loop then drains its control port synchronously with receiveMessageOnPort.
import diagnostics from 'node:diagnostics_channel';
import { receiveMessageOnPort, threadId, workerData } from 'node:worker_threads';
import { configureLogging, createLogger, RateLimitedLog, toErrorData } from '@workervisor/base';
import { ExitPort, installSeccompFilter, KVM_EXIT, RUN_KICKED, RUN_STOPPED, VcpuFd } from '@workervisor/native';
import { exitName, KVM_SYSTEM_EVENT, RunPage, type AccessSink } from './exit.js';
import { VcpuError } from './error.js';
import { AccessKind } from './access.js';
import { restoreVcpu, saveVcpu } from './vcpu-snapshot.js';
import type { PortHandling, VcpuCommand, VcpuEvent, VcpuReply, VcpuState, VcpuStats, VcpuWorkerData, WorkerState } from './protocol.js';

const data = workerData as VcpuWorkerData;
configureLogging(data.logLevel, data.logFd === undefined ? undefined : { fd: data.logFd });
const log = createLogger(`vcpu${data.id}`);
const guestLog = new RateLimitedLog(log);
const exitChannel = diagnostics.channel('workervisor:vcpu:exit');

const vcpu = new VcpuFd(data.vmFd, data.id, data.mmapSize);
const page = new RunPage(vcpu.runBuffer);
// Before any command and so before the first KVM_RUN: from here this thread makes only the calls
// its vcpu filter (and the vmm filter it inherited) allows. A failure ends the worker (VcpuHandle reports it).
if (data.seccompFilter !== undefined) {
  installSeccompFilter(data.seccompFilter, { label: `vcpu${data.id}` });
  log.info('seccomp filter installed', { instructions: data.seccompFilter.length / 8 });
}
vcpu.attachExitHub(data.exitHubId, data.id);
const exitPort = new ExitPort(data.exitHubId, data.id);

let state: WorkerState = 'created';
const counters = { exits: 0, ioExits: 0, mmioExits: 0 };
/** Accesses a benchmark baseline completed in worker JS (see setPortHandling). */
let jsBaselineAccesses = 0;

/** An access JS decoded, to the core's bus through this vCPU's ExitHub slot. */
const forward: AccessSink = (kind, addr, bytes) => exitPort.call(kind, addr, bytes);
/**
 * Production: port and MMIO exits go to the core from inside runForwarding, without returning to
 * JS. A subscriber on workervisor:vcpu:exit sees every exit, so then they come back through JS.
 */
const runForwarding = (): number => (exitChannel.hasSubscribers ? vcpu.run() : vcpu.runForwarding());
// The run loop's entry into the guest and its access sink. Only setPortHandling (a benchmark
// baseline) replaces them, so the production path has no per-exit check for it (a forwarded exit
// does not even return here).
let enterGuest: () => number = runForwarding;
let sink: AccessSink = forward;

function post(event: VcpuEvent): void {
  data.events.postMessage(event);
}

function answer(reply: VcpuCommand['reply'], fn: () => unknown): void {
  let msg: VcpuReply;
  try {
    const value = fn();
    msg = value === undefined ? { ok: true } : { ok: true, value };
  } catch (err) {
    msg = { ok: false, error: toErrorData(err) };
  }
  reply.postMessage(msg);
  reply.close();
}

function getState(msrIndices: number[] | undefined): VcpuState {
  const s: VcpuState = {
    regs: vcpu.getRegs(),
    sregs: vcpu.getSregs(),
    fpu: vcpu.getFpu(),
    lapic: vcpu.getLapic(),
    mpState: vcpu.getMpState(),
  };
  if (msrIndices !== undefined) s.msrs = vcpu.getMsrs(msrIndices);
  return s;
}

/** Applies state in the order KVM needs: CPUID before MSRs, sregs before regs. */
function setState(s: VcpuState): void {
  if (s.cpuid !== undefined) vcpu.setCpuid2(s.cpuid);
  if (s.msrs !== undefined) {
    const n = vcpu.setMsrs(s.msrs);
    if (n !== s.msrs.length) log.warn(`KVM accepted ${n} of ${s.msrs.length} MSRs; first refused: 0x${s.msrs[n]?.index.toString(16)}`);
  }
  if (s.sregs !== undefined) vcpu.setSregs(s.sregs);
  if (s.regs !== undefined) vcpu.setRegs(s.regs);
  if (s.fpu !== undefined) vcpu.setFpu(s.fpu);
  if (s.lapic !== undefined) vcpu.setLapic(s.lapic);
  if (s.mpState !== undefined) vcpu.setMpState(s.mpState);
}

function stats(): VcpuStats {
  const n = vcpu.stats();
  const exits = {
    exits: counters.exits + n.forwardedIoExits + n.forwardedMmioExits,
    ioExits: counters.ioExits + n.forwardedIoExits,
    mmioExits: counters.mmioExits + n.forwardedMmioExits,
  };
  return { id: data.id, tid: n.tid, threadId, runs: n.runs, ...exits, baselineAccesses: jsBaselineAccesses + n.completedPortAccesses, state };
}

/** Benchmark baselines (protocol.ts PortHandling): where accesses to `port` are completed. */
function setPortHandling(port: number, handling: PortHandling): void {
  switch (handling) {
    case 'forward':
      enterGuest = runForwarding;
      sink = forward;
      return;
    case 'worker':
      enterGuest = () => vcpu.run();
      sink = (kind, addr, bytes) => {
        if (addr !== port || (kind !== AccessKind.PioWrite && kind !== AccessKind.PioRead)) return forward(kind, addr, bytes);
        jsBaselineAccesses++;
        if (kind === AccessKind.PioRead) bytes.fill(0);
        return true;
      };
      return;
    case 'native':
      enterGuest = () => vcpu.runCompletingPort(port);
      sink = forward;
      return;
  }
}

function readMemory(gpa: number, length: number): Uint8Array {
  const region = data.regions.find((r) => gpa >= r.gpa && gpa + length <= r.gpa + r.size);
  if (region === undefined || !Number.isSafeInteger(gpa) || length < 0) throw new RangeError(`0x${gpa.toString(16)}+${length} is outside guest RAM`);
  const start = region.offset + (gpa - region.gpa);
  // A view per call: one over all of guest RAM cannot exceed 4 GiB in Node 20.
  return new Uint8Array(data.memory, start, length).slice();
}

/** Handles one command. Returns true when the run loop must return (paused or finished). */
function handle(cmd: VcpuCommand): boolean {
  switch (cmd.type) {
    case 'get-state':
      answer(cmd.reply, () => getState(cmd.msrIndices));
      return false;
    case 'set-state':
      answer(cmd.reply, () => setState(cmd.state));
      return false;
    case 'save-snapshot':
      answer(cmd.reply, () => {
        if (state !== 'paused') throw new VcpuError('not-paused', `vCPU ${data.id} is ${state}; its state is saved only while it is paused`);
        return saveVcpu(vcpu, cmd.msrIndices, cmd.hasXsave);
      });
      return false;
    case 'restore-snapshot':
      answer(cmd.reply, () => {
        if (state !== 'created' && state !== 'paused') throw new VcpuError('not-paused', `vCPU ${data.id} is ${state}; a snapshot is restored only into a vCPU that is not running`);
        restoreVcpu(vcpu, cmd.snapshot);
      });
      return false;
    case 'stats':
      answer(cmd.reply, stats);
      return false;
    case 'read-memory':
      answer(cmd.reply, () => readMemory(cmd.gpa, cmd.length));
      return false;
    case 'set-port-handling':
      answer(cmd.reply, () => setPortHandling(cmd.port, cmd.handling));
      return false;
    case 'pause':
      if (state === 'running' || state === 'created') state = 'paused';
      answer(cmd.reply, () => state);
      return true;
    case 'resume':
      if (state === 'finished') {
        answer(cmd.reply, () => {
          throw new Error(`vCPU ${data.id} has finished and cannot resume`);
        });
        return false;
      }
      answer(cmd.reply, () => 'running');
      if (state === 'created') log.debug(`vCPU ${data.id} starting`, { threadId });
      if (state !== 'running') setImmediate(runLoop);
      state = 'running';
      return false;
    case 'stop':
      finish();
      answer(cmd.reply, () => state);
      return true;
  }
}

/** Drains commands that arrived while running; true when the loop must return. */
function drainControl(): boolean {
  let leave = false;
  for (let m = receiveMessageOnPort(data.control); m !== undefined; m = receiveMessageOnPort(data.control)) {
    if (handle(m.message as VcpuCommand)) leave = true;
  }
  return leave || state !== 'running';
}

function finish(): void {
  if (state === 'finished') return;
  state = 'finished';
  log.debug(`vCPU ${data.id} finished`, { ...counters, runs: vcpu.stats().runs });
  vcpu.close();
  post({ type: 'finished', id: data.id });
  // Let the worker end once the last reply is out.
  setImmediate(() => {
    data.control.close();
    data.events.close();
  });
}

/** The registers that locate a fault, for a log line; what cannot be read is left out. */
function cpuContext(): string {
  const hex = (n: number | bigint): string => `0x${n.toString(16)}`;
  const parts: string[] = [];
  try {
    const r = vcpu.getRegs();
    parts.push(`rip ${hex(r.rip)}`, `rsp ${hex(r.rsp)}`, `rflags ${hex(r.rflags)}`);
  } catch {
    // Context only.
  }
  try {
    const s = vcpu.getSregs();
    parts.push(`cs ${hex(s.cs.selector)}`, `cr0 ${hex(s.cr0)}`, `cr2 ${hex(s.cr2)}`, `cr3 ${hex(s.cr3)}`, `cr4 ${hex(s.cr4)}`, `efer ${hex(s.efer)}`);
  } catch {
    // Context only.
  }
  return parts.length > 0 ? parts.join(', ') : 'registers unreadable';
}

/** Acts on an exit; returns false when the vCPU must stop running. */
function onExit(reason: number): boolean {
  counters.exits++;
  if (exitChannel.hasSubscribers) exitChannel.publish({ id: data.id, reason });
  switch (reason) {
    case KVM_EXIT.IO:
      counters.ioExits++;
      page.handleIo(sink);
      return true;
    case KVM_EXIT.MMIO:
      counters.mmioExits++;
      page.handleMmio(sink);
      return true;
    case KVM_EXIT.HLT:
      // With the in-kernel LAPIC, HLT waits in KVM; seeing it here means no irqchip: stop.
      post({ type: 'shutdown', id: data.id, reason: 'hlt' });
      return false;
    case KVM_EXIT.SHUTDOWN:
      // A triple fault: real hardware resets. Where it happened goes with it (a guest crash, not an
      // orderly reboot, and otherwise invisible with a quiet console).
      post({ type: 'reset', id: data.id, reason: `triple-fault (${cpuContext()})` });
      return false;
    case KVM_EXIT.SYSTEM_EVENT: {
      const t = page.systemEventType;
      if (t === KVM_SYSTEM_EVENT.RESET) post({ type: 'reset', id: data.id, reason: 'system-event-reset' });
      else post({ type: 'shutdown', id: data.id, reason: t === KVM_SYSTEM_EVENT.CRASH ? 'system-event-crash' : 'system-event-shutdown' });
      return false;
    }
    case KVM_EXIT.FAIL_ENTRY:
    case KVM_EXIT.INTERNAL_ERROR: {
      const detail = reason === KVM_EXIT.FAIL_ENTRY ? `hardware entry failure reason 0x${page.failEntryReason.toString(16)}` : `suberror ${page.internalSuberror}`;
      let rip = '?';
      try {
        rip = `0x${vcpu.getRegs().rip.toString(16)}`;
      } catch {
        // The registers are only context for the message.
      }
      post({ type: 'failed', id: data.id, error: toErrorData(new Error(`vCPU ${data.id}: KVM_EXIT_${exitName(reason)} (${detail}) at rip ${rip}`)) });
      return false;
    }
    default:
      guestLog.warn(`vCPU ${data.id}: unhandled exit ${exitName(reason)}; continuing`);
      return true;
  }
}

function runLoop(): void {
  if (state !== 'running') return;
  try {
    for (;;) {
      const r = enterGuest();
      if (r === RUN_KICKED) {
        if (drainControl()) return;
        continue;
      }
      if (r === RUN_STOPPED) {
        drainControl();
        finish();
        return;
      }
      if (!onExit(r)) {
        state = 'paused';
        return;
      }
    }
  } catch (err) {
    log.error(`vCPU ${data.id} run loop failed`, { error: (err as Error).message });
    post({ type: 'failed', id: data.id, error: toErrorData(err) });
    finish();
  }
}

data.control.on('message', (cmd: VcpuCommand) => {
  handle(cmd);
});
