// @workervisor/schema: Cloud Hypervisor's API vocabulary (refs: its OpenAPI spec, components.schemas) as TypeBox
// schemas and their types: the VM config, request and response bodies, and the spec's defaults.
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
export { withDefaults } from './defaults.js';
export * from './vm-defaults.js';

/** Named schemas, keyed by their OpenAPI component name (`DiskConfigSchema` -> `DiskConfig`). */
export const COMPONENT_SCHEMAS: Readonly<Record<string, TSchema>> = Object.fromEntries(
  Object.entries({ ...common, ...vm, ...api })
    .filter(([name, value]) => name.endsWith('Schema') && typeof value === 'object' && value !== null)
    .map(([name, value]) => [name.slice(0, -'Schema'.length), value as TSchema]),
);
/** The helpers the schemas are written with, for schemas of other formats (the Firecracker config file). */
export { Strict, StringEnum, Int, Int16, Int32, Int64, UInt8, UInt16, UInt32, UInt64, Bool } from './common.js';
