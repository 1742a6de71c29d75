export { resolveMachineConfig, MIN_MEMORY_BYTES } from './resolve.js';
