// Envoy's RetryStateImpl: whether an attempt's outcome is retried, the retry
// budget (num_retries / x-envoy-max-retries), the max_retries circuit breaker,
// fully jittered exponential back-off, and the previous_hosts host predicate.
import type { ClusterStats, Host, ResourceManager } from '../../../cluster/types';
import type { Headers } from '../../../http/headers';
import {
  type CompiledRetryPolicy, parseRetryOn,
  RETRY_ON_5XX, RETRY_ON_GATEWAY_ERROR, RETRY_ON_CONNECT_FAILURE, RETRY_ON_RETRIABLE_4XX, RETRY_ON_REFUSED_STREAM,
  RETRY_ON_GRPC_CANCELLED, RETRY_ON_GRPC_DEADLINE_EXCEEDED, RETRY_ON_GRPC_RESOURCE_EXHAUSTED, RETRY_ON_GRPC_UNAVAILABLE,
  RETRY_ON_GRPC_INTERNAL, RETRY_ON_RETRIABLE_STATUS_CODES, RETRY_ON_RESET, RETRY_ON_RETRIABLE_HEADERS,
  RETRY_ON_ENVOY_RATE_LIMITED, RETRY_ON_RESET_BEFORE_REQUEST,
} from '../../../router/retry';
import { matchHeaders, type HeaderMatcher } from '../../../router/matchers';
import { ResetReason } from './upstream/types';

export const enum RetryStatus { No = 0, NoOverflow = 1, NoRetryLimitExceeded = 2, Yes = 3 }

const GRPC_BITS = RETRY_ON_GRPC_CANCELLED | RETRY_ON_GRPC_DEADLINE_EXCEEDED | RETRY_ON_GRPC_RESOURCE_EXHAUSTED |
  RETRY_ON_GRPC_UNAVAILABLE | RETRY_ON_GRPC_INTERNAL;

const PREVIOUS_HOSTS = 'envoy.retry_host_predicates.previous_hosts';

function first(v: string | string[] | undefined): string | undefined {
  return v === undefined ? undefined : typeof v === 'string' ? v : v[0];
}

/** Unsigned decimal (Envoy absl::SimpleAtoi on uint): undefined when not a plain number. */
export function parseUint(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = s.trim();
  if (t.length === 0 || t.length > 15) return undefined;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  return Number(t);
}

export class RetryState {
  retryOn: number;
  retriesRemaining: number;
  private retriableStatusCodes: ReadonlySet<number> | number[];
  private readonly retriableHeaders: HeaderMatcher[];
  private nextIntervalMs: number;
  private readonly maxIntervalMs: number;
  readonly hostSelectionMaxAttempts: number;
  private readonly previousHosts: boolean;
  private attempted: Host[] | null = null;
  /** A retry was scheduled and holds a max_retries slot until the next decision. */
  private armed = false;

  private constructor(
    policy: CompiledRetryPolicy | null,
    retryOn: number,
    private readonly rm: ResourceManager,
    private readonly stats: ClusterStats,
  ) {
    this.retryOn = retryOn;
    this.retriesRemaining = policy !== null ? policy.numRetries : 1;
    this.retriableStatusCodes = policy !== null ? policy.retriableStatusCodes : [];
    this.retriableHeaders = policy !== null ? policy.retriableHeaders : [];
    this.nextIntervalMs = policy !== null ? policy.baseIntervalMs : 25;
    this.maxIntervalMs = policy !== null ? policy.maxIntervalMs : 250;
    this.hostSelectionMaxAttempts = policy !== null ? policy.hostSelectionRetryMaxAttempts : 1;
    let prev = false;
    if (policy !== null) for (const p of policy.retryHostPredicates) if (p.name === PREVIOUS_HOSTS) prev = true;
    this.previousHosts = prev;
  }

  /**
   * RetryStateImpl::create: null when nothing can be retried. Consumes the retry
   * request headers (they never reach the upstream).
   */
  static create(policy: CompiledRetryPolicy | null, headers: Headers, rm: ResourceManager, stats: ClusterStats): RetryState | null {
    const hOn = first(headers['x-envoy-retry-on']);
    const hGrpcOn = first(headers['x-envoy-retry-grpc-on']);
    const hMax = first(headers['x-envoy-max-retries']);
    const hCodes = first(headers['x-envoy-retriable-status-codes']);
    let st: RetryState | null = null;
    const routeOn = policy !== null ? policy.retryOn : 0;
    if (hOn !== undefined || hGrpcOn !== undefined || routeOn !== 0) {
      let on = routeOn;
      if (hOn !== undefined) on |= parseRetryOn(hOn, 'http').bits;
      if (hGrpcOn !== undefined) on |= parseRetryOn(hGrpcOn, 'grpc').bits;
      if (policy !== null && policy.retriableRequestHeaders.length > 0) {
        let any = false;
        for (const m of policy.retriableRequestHeaders) if (m.matches(headers)) { any = true; break; }
        if (!any) on = 0;
      }
      st = new RetryState(policy, on, rm, stats);
      if (on !== 0 && hMax !== undefined) {
        const n = parseUint(hMax);
        if (n !== undefined) st.retriesRemaining = n;
      }
      if (hCodes !== undefined) {
        const codes = [...st.retriableStatusCodes];
        for (const t of hCodes.split(',')) {
          const n = parseUint(t);
          if (n !== undefined) codes.push(n);
        }
        st.retriableStatusCodes = codes;
      }
    }
    if (hOn !== undefined) delete headers['x-envoy-retry-on'];
    if (hGrpcOn !== undefined) delete headers['x-envoy-retry-grpc-on'];
    if (hMax !== undefined) delete headers['x-envoy-max-retries'];
    if (hCodes !== undefined) delete headers['x-envoy-retriable-status-codes'];
    if (headers['x-envoy-retriable-header-names'] !== undefined) delete headers['x-envoy-retriable-header-names'];
    if (headers['x-envoy-hedge-on-per-try-timeout'] !== undefined) delete headers['x-envoy-hedge-on-per-try-timeout'];
    return st;
  }

  enabled(): boolean { return this.retryOn !== 0; }

  private hasCode(code: number): boolean {
    const c = this.retriableStatusCodes;
    if (Array.isArray(c)) return c.includes(code);
    return (c as ReadonlySet<number>).has(code);
  }

  wouldRetryFromHeaders(status: number, headers: Headers): boolean {
    const on = this.retryOn;
    if (headers['x-envoy-ratelimited'] !== undefined) return (on & RETRY_ON_ENVOY_RATE_LIMITED) !== 0;
    if ((on & RETRY_ON_5XX) !== 0 && status >= 500 && status < 600) return true;
    if ((on & RETRY_ON_GATEWAY_ERROR) !== 0 && status >= 502 && status <= 504) return true;
    if ((on & RETRY_ON_RETRIABLE_4XX) !== 0 && status === 409) return true;
    if ((on & RETRY_ON_RETRIABLE_STATUS_CODES) !== 0 && this.hasCode(status)) return true;
    if ((on & RETRY_ON_RETRIABLE_HEADERS) !== 0) {
      for (const m of this.retriableHeaders) if (m.matches(headers)) return true;
    }
    if ((on & GRPC_BITS) !== 0) {
      const g = parseUint(first(headers['grpc-status']));
      if (g !== undefined) {
        if ((g === 1 && (on & RETRY_ON_GRPC_CANCELLED) !== 0) ||
            (g === 4 && (on & RETRY_ON_GRPC_DEADLINE_EXCEEDED) !== 0) ||
            (g === 8 && (on & RETRY_ON_GRPC_RESOURCE_EXHAUSTED) !== 0) ||
            (g === 14 && (on & RETRY_ON_GRPC_UNAVAILABLE) !== 0) ||
            (g === 13 && (on & RETRY_ON_GRPC_INTERNAL) !== 0)) return true;
      }
    }
    return false;
  }

  /** `requestStarted`: the attempt reached a connection (for reset-before-request). */
  wouldRetryFromReset(reason: ResetReason, requestStarted: boolean): boolean {
    const on = this.retryOn;
    if (reason === ResetReason.Overflow) return false;
    if ((reason === ResetReason.ConnectionFailure || reason === ResetReason.ConnectionTimeout) &&
        (on & RETRY_ON_CONNECT_FAILURE) !== 0) return true;
    if ((on & RETRY_ON_RESET) !== 0) return true;
    if ((on & (RETRY_ON_5XX | RETRY_ON_GATEWAY_ERROR)) !== 0) return true;
    if ((on & RETRY_ON_REFUSED_STREAM) !== 0 && reason === ResetReason.RemoteRefusedStreamReset) return true;
    if ((on & RETRY_ON_RESET_BEFORE_REQUEST) !== 0 && !requestStarted) return true;
    return false;
  }

  /** RetryStateImpl::shouldRetry: budget, circuit breaker, stats. */
  shouldRetry(would: boolean): RetryStatus {
    if (this.armed && !would) this.stats.upstream_rq_retry_success.inc();
    this.release();
    if (!would) return RetryStatus.No;
    if (this.retriesRemaining <= 0) {
      this.stats.upstream_rq_retry_limit_exceeded.inc();
      return RetryStatus.NoRetryLimitExceeded;
    }
    this.retriesRemaining--;
    if (!this.rm.retries.canCreate()) {
      this.stats.upstream_rq_retry_overflow.inc();
      return RetryStatus.NoOverflow;
    }
    this.armed = true;
    this.rm.retries.inc();
    this.stats.upstream_rq_retry.inc();
    return RetryStatus.Yes;
  }

  /** JitteredExponentialBackOffStrategy::nextBackOffMs. */
  nextBackoffMs(): number {
    const b = this.nextIntervalMs;
    this.nextIntervalMs = this.maxIntervalMs / 2 < b ? this.maxIntervalMs : b * 2;
    return Math.min(Math.floor(Math.random() * b), this.maxIntervalMs);
  }

  onHostAttempted(host: Host): void {
    if (!this.previousHosts) return;
    (this.attempted ??= []).push(host);
  }

  /** The previous_hosts predicate: reject hosts already tried. */
  shouldSelectAnotherHost(host: Host): boolean {
    const a = this.attempted;
    return a !== null && a.includes(host);
  }

  /** Drop the max_retries slot (end of the request, or the next decision). */
  release(): void {
    if (this.armed) {
      this.armed = false;
      this.rm.retries.dec();
    }
  }
}
