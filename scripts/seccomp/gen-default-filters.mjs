#!/usr/bin/env node
// Regenerates the default seccomp filters (packages/vmm-core/seccomp/default-filters.json) from an
// `strace -f -qq -X verbose -s 256` trace of VMM processes that ran with allow-everything filters
// (scripts/seccomp/measure.sh makes one from the e2e tier). Per VMM process it takes:
//   vmm  = every syscall of every thread after the main thread's TSYNC install (a worker runs
//          under the vmm filter too, so its calls count here as well as in its own filter);
//   vcpu = the calls of a thread after its own install, for threads that made a KVM ioctl (KVM_RUN, or a restore's KVM_SET_*), with ioctl
//          restricted to the request numbers seen;
//   api  = the same for the other thread that installed its own filter (the API worker).
// Processes started with --seccomp-filter or --seccomp false ran other filters and are skipped.
// Usage: node scripts/seccomp/gen-default-filters.mjs [--out OUT.json] TRACE...   (counts to stderr)
import { createReadStream, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const outPath = outAt < 0 ? undefined : args.splice(outAt, 2)[1];
if (args.length === 0) {
  console.error('usage: gen-default-filters.mjs [--out OUT.json] TRACE...');
  process.exit(2);
}

/**
 * Calls the vDSO answers in user space, so strace never sees them; the kernel takes them as real
 * syscalls when the clocksource has no vDSO support (seen under nested virtualisation).
 */
const VDSO_FALLBACKS = ['clock_gettime', 'clock_getres', 'gettimeofday', 'time', 'getcpu'];
/** What the SIGSYS report (native/src/seccomp-report.cc) calls on the trapped thread, whichever it is. */
const REPORT_CALLS = ['gettid', 'write', 'exit_group'];

const counts = { vmm: new Map(), api: new Map(), vcpu: new Map() };
const vcpuIoctls = new Map(); // request -> name
const threads = { api: 0, vcpu: 0 };
let processes = 0;
// Per trace (tids repeat between traces):
let tgidOf; // tid -> tgid
let vmm; // tgid -> { measured: boolean, skip: boolean }
let perThread; // tid -> Map(name -> count) after its own install
let threadIoctls; // tid -> Map(request -> name)
let kvmRunThreads;
let early; // tid -> calls made before its parent's clone returned (strace prints those first)

const bump = (m, k, n = 1) => m.set(k, (m.get(k) ?? 0) + n);

function onCall(tid, name, rest) {
  if (!tgidOf.has(tid) && name !== 'execve') {
    if (!early.has(tid)) early.set(tid, []);
    early.get(tid).push([name, rest]);
    return;
  }
  const tgid = tgidOf.get(tid) ?? tid;
  if (name === 'execve' && / = 0$/.test(rest)) {
    const argv = /\[(.*?)\]/.exec(rest)?.[1] ?? '';
    if (/bin\/workervisor\.js"/.test(argv)) {
      tgidOf.set(tid, tid);
      vmm.set(tid, { measured: false, skip: /"--seccomp-filter"|"--seccomp=|"--seccomp", "(false|log)"/.test(argv) });
    } else vmm.delete(tid);
    return;
  }
  if (name === 'clone' || name === 'clone3' || name === 'vfork' || name === 'fork') {
    const child = Number(/= (\d+)$/.exec(rest)?.[1]);
    if (Number.isInteger(child) && child > 0) {
      tgidOf.set(child, /CLONE_THREAD/.test(rest) ? tgid : child);
      const calls = early.get(child);
      early.delete(child);
      for (const [n, r] of calls ?? []) onCall(child, n, r);
    }
  }
  const proc = vmm.get(tgid);
  if (proc === undefined || proc.skip) return;
  if (name === 'seccomp' && /SECCOMP_SET_MODE_FILTER/.test(rest)) {
    if (tid === tgid && /SECCOMP_FILTER_FLAG_TSYNC/.test(rest)) {
      proc.measured = true;
      return;
    }
    if (proc.measured) {
      bump(counts.vmm, name);
      perThread.set(tid, new Map());
      return;
    }
  }
  if (!proc.measured) return;
  bump(counts.vmm, name);
  const mine = perThread.get(tid);
  if (mine === undefined) return;
  bump(mine, name);
  if (name === 'ioctl') {
    const m = /^\(\d+, (0x[0-9a-f]+)(?: \/\* (\w+) \*\/)?/.exec(rest);
    if (m === null) throw new Error(`ioctl with an undecoded request on thread ${tid}: ${rest}`);
    if (!threadIoctls.has(tid)) threadIoctls.set(tid, new Map());
    threadIoctls.get(tid).set(Number(m[1]), m[2] ?? m[1]);
    // A vCPU thread is one that touched its vCPU: KVM_RUN, or only the KVM_SET_* of a restore
    // (a restored VMM that ends before it resumes never runs KVM_RUN). The API thread makes no
    // KVM ioctl.
    if (m[2]?.startsWith('KVM_') === true) kvmRunThreads.add(tid);
  }
}

for (const tracePath of args) {
  tgidOf = new Map();
  vmm = new Map();
  perThread = new Map();
  threadIoctls = new Map();
  kvmRunThreads = new Set();
  early = new Map();
  const pending = new Map(); // tid -> [name, args so far] of its unfinished call
  const lines = createInterface({ input: createReadStream(tracePath), crlfDelay: Infinity });
  for await (const line of lines) {
    const m = /^(\d+) +(?:<\.\.\. (\w+) resumed>(.*)|(\w+)(\(.*))$/.exec(line);
    if (m === null) continue;
    const tid = Number(m[1]);
    if (m[4] !== undefined) {
      if (m[5].endsWith('<unfinished ...>')) pending.set(tid, [m[4], m[5].replace(/ <unfinished \.\.\.>$/, '')]);
      else onCall(tid, m[4], m[5]);
    } else {
      const started = pending.get(tid);
      pending.delete(tid);
      onCall(tid, m[2], (started?.[0] === m[2] ? started[1] : '(') + m[3]);
    }
  }
  for (const [tid, calls] of perThread) {
    const kind = kvmRunThreads.has(tid) ? 'vcpu' : 'api';
    threads[kind]++;
    for (const [name, n] of calls) bump(counts[kind], name, n);
    if (kind === 'vcpu') for (const [nr, label] of threadIoctls.get(tid) ?? []) vcpuIoctls.set(nr, label);
  }
  const measured = [...vmm.values()].filter((p) => p.measured).length;
  if (measured === 0) throw new Error(`${tracePath}: no VMM process installed the TSYNC filter; was it traced with allow-everything defaults (measure.sh)?`);
  processes += measured;
}


function filter(kind) {
  const names = new Set([...counts[kind].keys(), ...VDSO_FALLBACKS, ...REPORT_CALLS]);
  const rules = [];
  for (const name of [...names].sort()) {
    const n = counts[kind].get(name) ?? 0;
    const comment =
      n > 0 ? `measured: ${n} calls` : REPORT_CALLS.includes(name) ? 'not measured: the SIGSYS report (seccomp-report.cc) makes it' : 'not seen by strace: a vDSO call the kernel takes when the clocksource has no vDSO';
    if (kind === 'vcpu' && name === 'ioctl') {
      for (const [nr, label] of [...vcpuIoctls].sort((a, b) => a[0] - b[0])) {
        rules.push({ syscall: 'ioctl', args: [{ index: 1, type: 'dword', op: 'eq', val: nr, comment: label }], comment });
      }
    } else rules.push({ syscall: name, comment });
  }
  return { default_action: 'trap', filter_action: 'allow', filter: rules };
}

const out = { vmm: filter('vmm'), api: filter('api'), vcpu: filter('vcpu') };
const text = JSON.stringify(out, null, 2) + '\n';
if (outPath === undefined) process.stdout.write(text);
else writeFileSync(outPath, text);
const total = (m) => [...m.values()].reduce((a, b) => a + b, 0);
console.error(`measured ${processes} VMM processes (${threads.vcpu} vCPU threads, ${threads.api} API threads):`);
for (const kind of ['vmm', 'api', 'vcpu']) console.error(`  ${kind}: ${counts[kind].size} distinct syscalls, ${total(counts[kind])} calls`);
console.error(`  vcpu ioctls: ${[...vcpuIoctls.values()].join(', ')}`);
