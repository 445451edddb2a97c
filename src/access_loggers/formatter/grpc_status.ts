// gRPC status helpers shared by %GRPC_STATUS% and the grpc_status_filter.
// Mirrors Envoy's Grpc::Common::getGrpcStatus(trailers, headers, info) and
// Grpc::Utility::httpToGrpcStatus.
import { getHeader, type Headers } from '../../http/headers';
import { httpToGrpcStatus } from '../../http/local_reply';

/** Envoy's WellKnownGrpcStatus::InvalidCode. */
export const GRPC_INVALID_CODE = -1;
/** Sentinel: no status could be determined. */
export const GRPC_NONE = -2;
export const GRPC_MAX_KNOWN = 16;

/** Proto enum names (envoy.config.accesslog.v3.GrpcStatusFilter.Status), index = code. */
export const GRPC_STATUS_ENUM = ['OK', 'CANCELED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND',
  'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE',
  'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];

/** Grpc::Utility::grpcStatusToString (the CAMEL_STRING form). */
export const GRPC_STATUS_CAMEL = ['OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound',
  'AlreadyExists', 'PermissionDenied', 'ResourceExhausted', 'FailedPrecondition', 'Aborted', 'OutOfRange',
  'Unimplemented', 'Internal', 'Unavailable', 'DataLoss', 'Unauthenticated'];

/** absl::StatusCodeToString (the SNAKE_STRING form). */
export const GRPC_STATUS_SNAKE = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND',
  'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE',
  'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];

export { httpToGrpcStatus };

function fromHeaders(h: Headers | undefined, allowUserDefined: boolean): number {
  if (h === undefined) return GRPC_NONE;
  const v = getHeader(h, 'grpc-status');
  if (v === undefined || v === '') return GRPC_NONE;
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i) - 48;
    if (c < 0 || c > 9 || i > 9) return GRPC_INVALID_CODE;
    n = n * 10 + c;
  }
  if (n > GRPC_MAX_KNOWN && !allowUserDefined) return GRPC_INVALID_CODE;
  return n;
}

/** trailers' grpc-status, else headers' grpc-status, else inferred from the HTTP status; GRPC_NONE when none. */
export function grpcStatusOf(trailers: Headers | undefined, headers: Headers | undefined, responseCode: number,
  allowUserDefined: boolean): number {
  let s = fromHeaders(trailers, allowUserDefined);
  if (s !== GRPC_NONE) return s;
  s = fromHeaders(headers, allowUserDefined);
  if (s !== GRPC_NONE) return s;
  return responseCode > 0 ? httpToGrpcStatus(responseCode) : GRPC_NONE;
}

/** Grpc::Common::isGrpcRequestHeaders: content-type application/grpc, application/grpc+..., application/grpc;... */
export function isGrpcRequest(h: Headers | undefined): boolean {
  if (h === undefined) return false;
  const ct = getHeader(h, 'content-type');
  if (ct === undefined || !ct.startsWith('application/grpc')) return false;
  if (ct.length === 16) return true;
  const c = ct.charCodeAt(16);
  return c === 43 /* + */ || c === 59 /* ; */;
}
