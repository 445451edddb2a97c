// RetryPolicy and HedgePolicy, compiled (envoy.config.route.v3.RetryPolicy / HedgePolicy).
// retry_on is parsed into Envoy's RetryPolicy bit set; the router filter uses the same
// parser for x-envoy-retry-on / x-envoy-retry-grpc-on request headers.
import { ConfigError, joinPath } from '../config/errors';
import type { Plain } from '../config/plain';
import { lookup } from '../common/registry';
import { type Fraction, type HeaderMatcher, compileFraction, compileHeaderMatchers, isValidHeaderName, asciiLower } from './matchers';

// Bit values match Envoy's Router::RetryPolicy constants.
export const RETRY_ON_5XX = 0x1;
export const RETRY_ON_GATEWAY_ERROR = 0x2;
export const RETRY_ON_CONNECT_FAILURE = 0x4;
export const RETRY_ON_RETRIABLE_4XX = 0x8;
export const RETRY_ON_REFUSED_STREAM = 0x10;
export const RETRY_ON_GRPC_CANCELLED = 0x20;
export const RETRY_ON_GRPC_DEADLINE_EXCEEDED = 0x40;
export const RETRY_ON_GRPC_RESOURCE_EXHAUSTED = 0x80;
export const RETRY_ON_GRPC_UNAVAILABLE = 0x100;
export const RETRY_ON_GRPC_INTERNAL = 0x200;
export const RETRY_ON_RETRIABLE_STATUS_CODES = 0x400;
export const RETRY_ON_RESET = 0x800;
export const RETRY_ON_RETRIABLE_HEADERS = 0x1000;
export const RETRY_ON_ENVOY_RATE_LIMITED = 0x2000;
export const RETRY_ON_HTTP3_POST_CONNECT_FAILURE = 0x4000;
export const RETRY_ON_RESET_BEFORE_REQUEST = 0x8000;

/** x-envoy-retry-on / retry_on HTTP tokens. */
export const HTTP_RETRY_ON: Readonly<Record<string, number>> = {
  '5xx': RETRY_ON_5XX,
  'gateway-error': RETRY_ON_GATEWAY_ERROR,
  'connect-failure': RETRY_ON_CONNECT_FAILURE,
  'envoy-ratelimited': RETRY_ON_ENVOY_RATE_LIMITED,
  'retriable-4xx': RETRY_ON_RETRIABLE_4XX,
  'refused-stream': RETRY_ON_REFUSED_STREAM,
  'retriable-status-codes': RETRY_ON_RETRIABLE_STATUS_CODES,
  'retriable-headers': RETRY_ON_RETRIABLE_HEADERS,
  'reset': RETRY_ON_RESET,
  'reset-before-request': RETRY_ON_RESET_BEFORE_REQUEST,
  'http3-post-connect-failure': RETRY_ON_HTTP3_POST_CONNECT_FAILURE,
};

/** x-envoy-retry-grpc-on / retry_on gRPC tokens. */
export const GRPC_RETRY_ON: Readonly<Record<string, number>> = {
  'cancelled': RETRY_ON_GRPC_CANCELLED,
  'deadline-exceeded': RETRY_ON_GRPC_DEADLINE_EXCEEDED,
  'internal': RETRY_ON_GRPC_INTERNAL,
  'resource-exhausted': RETRY_ON_GRPC_RESOURCE_EXHAUSTED,
  'unavailable': RETRY_ON_GRPC_UNAVAILABLE,
};

export interface ParsedRetryOn {
  bits: number;
  /** Tokens that are neither HTTP nor gRPC retry conditions (Envoy ignores them). */
  unknown: string[];
}

/**
 * Parse a comma-separated retry_on list (whitespace around tokens trimmed, empty tokens
 * skipped). `which` limits the vocabulary: 'http' for x-envoy-retry-on, 'grpc' for
 * x-envoy-retry-grpc-on, 'both' for the route config's retry_on.
 */
export function parseRetryOn(s: string, which: 'http' | 'grpc' | 'both' = 'both'): ParsedRetryOn {
  let bits = 0;
  const unknown: string[] = [];
  if (!s) return { bits, unknown };
  for (const raw of s.split(',')) {
    const t = raw.trim();
    if (!t) continue;
    const h = which !== 'grpc' ? HTTP_RETRY_ON[t] : undefined;
    const g = which !== 'http' ? GRPC_RETRY_ON[t] : undefined;
    if (h !== undefined) bits |= h;
    else if (g !== undefined) bits |= g;
    else unknown.push(t);
  }
  return { bits, unknown };
}

export interface RetryExtension {
  /** Canonical extension name, e.g. 'envoy.retry_host_predicates.previous_hosts'. */
  name: string;
  /** The typed_config (plain Any), if any. */
  config: Plain | undefined;
}

export interface CompiledRetryPolicy {
  retryOn: number;
  /** retry_on tokens that matched no known condition (ignored, as Envoy does). */
  unknownRetryOn: string[];
  /** Default 1 when a policy is present. */
  numRetries: number;
  /** 0 = none. */
  perTryTimeoutMs: number;
  /** 0 = none. */
  perTryIdleTimeoutMs: number;
  /** base_interval (default 25 ms) and max_interval (default 10 x base). */
  baseIntervalMs: number;
  maxIntervalMs: number;
  /** Whether retry_back_off was configured (else the router uses the defaults above). */
  backOffConfigured: boolean;
  rateLimitedRetryBackOff: { resetHeaders: Array<{ name: string; format: 'SECONDS' | 'UNIX_TIMESTAMP' }>; maxIntervalMs: number } | null;
  retriableStatusCodes: ReadonlySet<number>;
  retriableHeaders: HeaderMatcher[];
  retriableRequestHeaders: HeaderMatcher[];
  retryHostPredicates: RetryExtension[];
  retryPriority: RetryExtension | null;
  /** Default 1. */
  hostSelectionRetryMaxAttempts: number;
}

export interface CompiledHedgePolicy {
  /** Default 1. */
  initialRequests: number;
  /** Default 0%. */
  additionalRequestChance: Fraction;
  hedgeOnPerTryTimeout: boolean;
}

const DEFAULT_BASE_INTERVAL_MS = 25;

// Extension type names -> canonical names, for retry host predicates and priorities.
const HOST_PREDICATES: Record<string, string> = {
  'envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate': 'envoy.retry_host_predicates.previous_hosts',
  'envoy.extensions.retry.host.omit_canary_hosts.v3.OmitCanaryHostsPredicate': 'envoy.retry_host_predicates.omit_canary_hosts',
  'envoy.extensions.retry.host.omit_host_metadata.v3.OmitHostMetadataConfig': 'envoy.retry_host_predicates.omit_host_metadata',
};
const PRIORITIES: Record<string, string> = {
  'envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig': 'envoy.retry_priorities.previous_priorities',
};

function typeName(any: Plain | undefined): string {
  const t: string = any?.['@type'] ?? '';
  const slash = t.lastIndexOf('/');
  return slash >= 0 ? t.slice(slash + 1) : t;
}

function compileRetryExtension(e: Plain, path: string, known: Record<string, string>,
  category: 'retry_host_predicate' | 'retry_priority'): RetryExtension {
  const tn = typeName(e.typed_config);
  let name: string = e.name ?? '';
  if (tn && known[tn]) return { name: known[tn], config: e.typed_config };
  if (!tn && Object.values(known).includes(name)) return { name, config: e.typed_config };
  if ((tn && lookup(category, tn)) || (name && lookup(category, name))) return { name: name || tn, config: e.typed_config };
  if (!tn && !name) throw new ConfigError(joinPath(path, 'name'), 'value length must be at least 1 characters');
  throw new ConfigError(tn ? joinPath(path, 'typed_config') : joinPath(path, 'name'),
    `Didn't find a registered implementation for name: '${name || tn}'`);
}

function ms(v: unknown, dflt: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? Math.max(0, Math.floor(v)) : dflt;
}

export function compileRetryPolicy(p: Plain, path: string): CompiledRetryPolicy {
  const parsed = parseRetryOn(typeof p.retry_on === 'string' ? p.retry_on : '', 'both');
  let baseIntervalMs = DEFAULT_BASE_INTERVAL_MS;
  let maxIntervalMs = DEFAULT_BASE_INTERVAL_MS * 10;
  let backOffConfigured = false;
  if (p.retry_back_off) {
    const bp = joinPath(path, 'retry_back_off');
    const b = p.retry_back_off;
    if (b.base_interval === undefined) throw new ConfigError(joinPath(bp, 'base_interval'), 'value is required');
    if (!(b.base_interval > 0)) throw new ConfigError(joinPath(bp, 'base_interval'), 'value must be greater than 0s');
    baseIntervalMs = Math.max(1, Math.floor(b.base_interval));
    maxIntervalMs = baseIntervalMs * 10;
    if (b.max_interval !== undefined) {
      if (!(b.max_interval > 0)) throw new ConfigError(joinPath(bp, 'max_interval'), 'value must be greater than 0s');
      maxIntervalMs = Math.max(1, Math.floor(b.max_interval));
      if (maxIntervalMs < baseIntervalMs) {
        throw new ConfigError(joinPath(bp, 'max_interval'), 'retry_policy.max_interval must greater than or equal to the base_interval');
      }
    }
    backOffConfigured = true;
  }
  let rateLimitedRetryBackOff: CompiledRetryPolicy['rateLimitedRetryBackOff'] = null;
  if (p.rate_limited_retry_back_off) {
    const rp = joinPath(path, 'rate_limited_retry_back_off');
    const r = p.rate_limited_retry_back_off;
    const hs: Plain[] = r.reset_headers ?? [];
    if (hs.length === 0) throw new ConfigError(joinPath(rp, 'reset_headers'), 'value must contain at least 1 item(s)');
    const resetHeaders = hs.map((h, i) => {
      const name = h.name ?? '';
      if (!isValidHeaderName(name)) throw new ConfigError(`${joinPath(rp, 'reset_headers')}[${i}].name`, `invalid header name "${name}"`);
      const format = (h.format ?? 'SECONDS') as 'SECONDS' | 'UNIX_TIMESTAMP';
      if (format !== 'SECONDS' && format !== 'UNIX_TIMESTAMP') {
        throw new ConfigError(`${joinPath(rp, 'reset_headers')}[${i}].format`, `unknown enum value "${String(h.format)}"`);
      }
      return { name: asciiLower(name), format };
    });
    rateLimitedRetryBackOff = { resetHeaders, maxIntervalMs: r.max_interval !== undefined ? Math.max(1, Math.floor(r.max_interval)) : 300000 };
  }
  const codes = new Set<number>();
  for (const c of p.retriable_status_codes ?? []) codes.add(Number(c));
  const hostPredicates: RetryExtension[] = [];
  const hps: Plain[] = p.retry_host_predicate ?? [];
  for (let i = 0; i < hps.length; i++) {
    hostPredicates.push(compileRetryExtension(hps[i], `${joinPath(path, 'retry_host_predicate')}[${i}]`, HOST_PREDICATES, 'retry_host_predicate'));
  }
  let retryPriority: RetryExtension | null = null;
  if (p.retry_priority && (p.retry_priority.name || p.retry_priority.typed_config)) {
    retryPriority = compileRetryExtension(p.retry_priority, joinPath(path, 'retry_priority'), PRIORITIES, 'retry_priority');
  }
  if ((p.retry_options_predicates ?? []).length > 0) {
    throw new ConfigError(joinPath(path, 'retry_options_predicates'), 'retry options predicates are not supported');
  }
  const hsma = Number(p.host_selection_retry_max_attempts ?? 0);
  return {
    retryOn: parsed.bits,
    unknownRetryOn: parsed.unknown,
    numRetries: p.num_retries === undefined || p.num_retries === null ? 1 : Number(p.num_retries),
    perTryTimeoutMs: ms(p.per_try_timeout, 0),
    perTryIdleTimeoutMs: ms(p.per_try_idle_timeout, 0),
    baseIntervalMs,
    maxIntervalMs,
    backOffConfigured,
    rateLimitedRetryBackOff,
    retriableStatusCodes: codes,
    retriableHeaders: compileHeaderMatchers(p.retriable_headers, joinPath(path, 'retriable_headers')),
    retriableRequestHeaders: compileHeaderMatchers(p.retriable_request_headers, joinPath(path, 'retriable_request_headers')),
    retryHostPredicates: hostPredicates,
    retryPriority,
    hostSelectionRetryMaxAttempts: hsma > 0 ? hsma : 1,
  };
}

export function compileHedgePolicy(p: Plain, path: string): CompiledHedgePolicy {
  const ir = p.initial_requests === undefined || p.initial_requests === null ? 1 : Number(p.initial_requests);
  if (ir < 1) throw new ConfigError(joinPath(path, 'initial_requests'), 'value must be greater than or equal to 1');
  return {
    initialRequests: ir,
    additionalRequestChance: compileFraction(p.additional_request_chance, joinPath(path, 'additional_request_chance'), { numerator: 0, denominator: 100 }),
    hedgeOnPerTryTimeout: p.hedge_on_per_try_timeout === true,
  };
}
