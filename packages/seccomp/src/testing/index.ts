// Test helpers of @workervisor/seccomp, exported only as "@workervisor/seccomp/testing".
export { runBpf, checkProgram, actionName, evaluate, type SeccompData, type BpfResult } from './bpf-interpreter.js';
