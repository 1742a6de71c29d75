// @workervisor/api: the Cloud Hypervisor-compatible REST API (schemas, router, routes, the
// worker-thread HTTP server) and the Firecracker config-file translation.
export * from '@workervisor/schema';
export {
  ApiError,
  apiErrorCode,
  errorBody,
  statusForCode,
  STATUS_BY_CODE,
  type ApiErrorKind,
  type ErrorBody,
} from './errors.js';
export { failure, type ApiBackend } from './protocol.js';
export { actionRoute, type ActionRoute, type ActionRouteOf, type ActionRouteSpec, type SuccessStatus } from './action-route.js';
export { endpointName, errorAnswer, successAnswer } from './outcome.js';
export {
  Router,
  route,
  body,
  query,
  param,
  header,
  contentType,
  requireHeader,
  fieldPath,
  isJsonMediaType,
  type HttpMethod,
  type RequestContext,
  type MatchedRequest,
  type Extractor,
  type ExtractorSource,
  type Extracted,
  type Guard,
  type Route,
  type RouteDoc,
  type RouteResult,
} from './router.js';
export { API_PREFIX, API_ROUTES, createApiRouter, endpointOf, routeOf } from './routes/index.js';
export { buildOpenApiDocument } from './openapi.js';
export { startApiServer, type ApiServerOptions, type ApiServerHandle } from './server/server.js';
export type { ApiSeccomp } from './server/messages.js';
export { ApiServerError, type ApiServerErrorKind } from './server/errors.js';
export { DEFAULT_MAX_BODY_BYTES } from './server/http-handler.js';
export { probeSocket, prepareSocketPath } from './server/socket.js';
export {
  translateFirecrackerConfig,
  parseFirecrackerConfig,
  FirecrackerConfigError,
  type FirecrackerConfigErrorKind,
  type FirecrackerTranslation,
  type FirecrackerLogger,
  type FirecrackerMetrics,
} from './firecracker/config.js';
export { FullVmConfigurationSchema, type FullVmConfiguration } from './firecracker/schema.js';
