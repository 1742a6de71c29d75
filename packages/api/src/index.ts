// @workervisor/api: the Cloud Hypervisor-compatible REST API (schemas, router, routes, the
// worker-thread HTTP server) and the Firecracker config-file translation.
export * from '@workervisor/schema';
export {
  ApiError,
  apiErrorCode,
  errorBody,
  statusForCode,
  STATUS_BY_CODE,
  ERR_NOT_SUPPORTED,
  type ApiErrorKind,
  type ErrorBody,
} from './errors.js';
export {
  ok,
  fail,
  notSupported,
  ENDPOINT_OF,
  type ApiRequest,
  type ApiRequestType,
  type ApiResponse,
  type ApiBackend,
} from './protocol.js';
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
} from './router.js';
export { API_PREFIX, API_ROUTES, createApiRouter } from './routes/index.js';
export { buildOpenApiDocument } from './openapi.js';
export { startApiServer, type ApiServerOptions, type ApiServerHandle } from './server/server.js';
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
