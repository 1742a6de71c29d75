// @workervisor/seccomp: Firecracker's seccompiler in TypeScript. Reads its JSON filter format,
// compiles each thread category's filter to classic BPF for seccomp(2), and reads and writes the
// compiled file `workervisor seccompiler` produces. Pure: installing a program is the addon's job.
export { SeccompError, describeLocation, type SeccompErrorKind, type FilterLocation } from './errors.js';
export { parseJson, type JsonValue, type JsonObject } from './json.js';
export {
  parseFilterFile, readFilterSet, parseTargetArch, TARGET_ARCHES,
  type SeccompAction, type SeccompCondition, type ConditionOp, type SyscallRule, type SeccompFilter, type SeccompFilterSet, type TargetArch,
} from './filter-file.js';
export { compileFilter, compileFilterSet, compileFilterFile, actionValue } from './compile.js';
export {
  encodeCompiledFilters, decodeCompiledFilters, isCompiledFilterFile, loadFilterFile, COMPILED_MAGIC, COMPILED_VERSION, MAX_FILTER_FILE_BYTES,
  type CompiledFilters,
} from './compiled-file.js';
export { withLogActions } from './log-mode.js';
export * from './bpf.js';
export { X86_64_SYSCALLS } from './syscalls-x86_64.js';
