// Envoy's FilterUtility::finalTimeout and the gRPC timeout header codec.
import type { Headers } from '../../../http/headers';
import { parseUint } from './retry_state';

/** grpc-timeout values have at most 8 digits. */
const MAX_GRPC_TIMEOUT_VALUE = 99999999;

/** Parse a grpc-timeout header into ms (rounded up for u/n), or undefined when absent/invalid. */
export function parseGrpcTimeout(v: string | undefined): number | undefined {
  if (v === undefined || v.length < 2) return undefined;
  const n = parseUint(v.slice(0, -1));
  if (n === undefined || n > MAX_GRPC_TIMEOUT_VALUE) return undefined;
  switch (v.charCodeAt(v.length - 1)) {
    case 72: return n * 3600_000;           // H
    case 77: return n * 60_000;             // M
    case 83: return n * 1000;               // S
    case 109: return n;                     // m
    case 117: return Math.ceil(n / 1000);   // u
    case 110: return Math.ceil(n / 1e6);    // n
    default: return undefined;
  }
}

/** Envoy Grpc::Common::toGrpcTimeout. */
export function formatGrpcTimeout(ms: number): string {
  let time = Math.floor(ms);
  const units = 'mSMH';
  let u = 0;
  if (time > MAX_GRPC_TIMEOUT_VALUE) { time = Math.floor(time / 1000); u = 1; }
  while (time > MAX_GRPC_TIMEOUT_VALUE) {
    if (u === 3) time = MAX_GRPC_TIMEOUT_VALUE;
    else { time = Math.floor(time / 60); u++; }
  }
  return time + units[u];
}

/** What finalTimeout reads from the route (src/router CompiledRoute satisfies it). */
export interface TimeoutRoute {
  /** Route timeout in ms (default 15000; 0 = disabled). */
  readonly timeoutMs: number;
  /** max_stream_duration.max_stream_duration (its presence selects Envoy's "new timeouts"). */
  readonly maxStreamDurationMs: number | undefined;
  /** Legacy max_grpc_timeout / grpc_timeout_offset (undefined when unset). */
  readonly maxGrpcTimeoutMs: number | undefined;
  readonly grpcTimeoutOffsetMs: number | undefined;
  /** max_stream_duration.grpc_timeout_header_max / _offset (undefined when unset). */
  readonly grpcTimeoutHeaderMaxMs: number | undefined;
  readonly grpcTimeoutHeaderOffsetMs: number | undefined;
  readonly retryPolicy: { readonly perTryTimeoutMs: number; readonly perTryIdleTimeoutMs: number } | null;
}

function usingNewTimeouts(r: TimeoutRoute): boolean {
  return r.maxStreamDurationMs !== undefined || r.grpcTimeoutHeaderMaxMs !== undefined || r.grpcTimeoutHeaderOffsetMs !== undefined;
}

/** The result; the router filter passes itself (no allocation). */
export interface TimeoutData {
  globalMs: number;
  perTryMs: number;
  perTryIdleMs: number;
}

// Most requests announce their route's (constant) timeout: keep the last string.
let lastMs = -1;
let lastMsString = '';
function msString(n: number): string {
  if (n !== lastMs) { lastMs = n; lastMsString = String(n); }
  return lastMsString;
}

function first(v: string | string[] | undefined): string | undefined {
  return v === undefined ? undefined : typeof v === 'string' ? v : v[0];
}

/**
 * FilterUtility::finalTimeout: the global and per-try timeouts for this request,
 * consuming x-envoy-upstream-rq-timeout-ms / -per-try-timeout-ms and setting
 * x-envoy-expected-rq-timeout-ms (unless suppressed) and, with max_grpc_timeout,
 * grpc-timeout.
 */
export function finalTimeout(route: TimeoutRoute, headers: Headers, insertExpected: boolean, grpc: boolean,
  respectExpected: boolean, out: TimeoutData): TimeoutData {
  let globalMs: number;
  const newTimeouts = usingNewTimeouts(route);
  const grpcMax = newTimeouts ? route.grpcTimeoutHeaderMaxMs : route.maxGrpcTimeoutMs;
  const grpcOffset = newTimeouts ? route.grpcTimeoutHeaderOffsetMs : route.grpcTimeoutOffsetMs;
  if (grpc && grpcMax !== undefined) {
    let g = parseGrpcTimeout(first(headers['grpc-timeout'])) ?? 0;
    if (grpcOffset !== undefined && grpcOffset < g) g -= grpcOffset;
    if (grpcMax !== 0 && (g === 0 || g > grpcMax)) g = grpcMax;
    globalMs = g;
  } else {
    globalMs = route.timeoutMs;
  }
  const rp = route.retryPolicy;
  let perTryMs = rp !== null ? rp.perTryTimeoutMs : 0;
  const perTryIdleMs = rp !== null ? rp.perTryIdleTimeoutMs : 0;

  if (respectExpected && headers['x-envoy-expected-rq-timeout-ms'] !== undefined) {
    const n = parseUint(first(headers['x-envoy-expected-rq-timeout-ms']));
    if (n !== undefined) globalMs = n;
  } else {
    const h = headers['x-envoy-upstream-rq-timeout-ms'];
    if (h !== undefined) {
      const n = parseUint(first(h));
      if (n !== undefined) globalMs = n;
      delete headers['x-envoy-upstream-rq-timeout-ms'];
    }
  }
  const pt = headers['x-envoy-upstream-rq-per-try-timeout-ms'];
  if (pt !== undefined) {
    const n = parseUint(first(pt));
    if (n !== undefined) perTryMs = n;
    delete headers['x-envoy-upstream-rq-per-try-timeout-ms'];
  }
  if (perTryMs >= globalMs && globalMs !== 0) perTryMs = 0;

  out.globalMs = globalMs;
  out.perTryMs = perTryMs;
  out.perTryIdleMs = perTryIdleMs;
  setTimeoutHeaders(0, out, route, headers, insertExpected, grpc);
  return out;
}

/** FilterUtility::setTimeoutHeaders (also called before each retry with the elapsed time). */
export function setTimeoutHeaders(elapsedMs: number, t: TimeoutData, route: TimeoutRoute, headers: Headers,
  insertExpected: boolean, grpc: boolean): void {
  const global = t.globalMs;
  let expected = t.perTryMs;
  if (expected === 0) expected = global;
  if (expected > 0) {
    if (global > 0) expected = elapsedMs >= global ? 1 : Math.min(expected, global - elapsedMs);
    expected = Math.max(1, Math.floor(expected));
    if (insertExpected) headers['x-envoy-expected-rq-timeout-ms'] = msString(expected);
    if (grpc && !usingNewTimeouts(route) && route.maxGrpcTimeoutMs !== undefined) {
      headers['grpc-timeout'] = formatGrpcTimeout(expected);
    }
  }
}
