// Every Cloud Hypervisor body schema, and the table of named components used by openapi.ts.
import type { TSchema } from '@sinclair/typebox';
import * as common from './common.js';
import * as api from './api.js';
import * as vm from './vm-config.js';

export {
  TokenBucketSchema,
  RateLimiterConfigSchema,
  RateLimitGroupConfigSchema,
  VirtQueueAffinitySchema,
  VmMemoryZoneUpdateDataSchema,
} from './common.js';
export * from './vm-config.js';
export * from './api.js';
export { withDefaults, DEFAULT_VCPUS, DEFAULT_MEMORY_SIZE } from './defaults.js';

/** Named schemas, keyed by their OpenAPI component name (`DiskConfigSchema` -> `DiskConfig`). */
export const COMPONENT_SCHEMAS: Readonly<Record<string, TSchema>> = Object.fromEntries(
  Object.entries({ ...common, ...vm, ...api })
    .filter(([name, value]) => name.endsWith('Schema') && typeof value === 'object' && value !== null)
    .map(([name, value]) => [name.slice(0, -'Schema'.length), value as TSchema]),
);
