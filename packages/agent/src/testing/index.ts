export { hostAgentUnavailable, startHostAgent, type HostAgent } from './host-agent.js';
