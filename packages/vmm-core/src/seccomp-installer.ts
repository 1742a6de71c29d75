// SECCOMP_INSTALLER_URL's module: the addon's installSeccompFilter, for a worker thread of a
// package that does not load the addon itself (the API worker imports it only with a filter).
export { installSeccompFilter } from '@workervisor/native';
