// @workervisor/testing: vitest fixtures that give each test a fresh VM with a guest agent.
export { vmTest, type VmTestOptions, type VmFixtures } from './fixture.js';
export { Slots } from './slots.js';
