// cluster.<observability name>.* stats with Envoy's names, resolved once per cluster build.
import type { Counter, Scope, Store } from '../stats/stats';
import type { ClusterStats } from './types';

const COUNTERS = [
  'upstream_cx_total', 'upstream_cx_connect_fail', 'upstream_cx_connect_timeout', 'upstream_cx_destroy',
  'upstream_cx_destroy_local', 'upstream_cx_destroy_remote', 'upstream_cx_rx_bytes_total', 'upstream_cx_tx_bytes_total',
  'upstream_cx_http1_total', 'upstream_cx_http2_total', 'upstream_cx_overflow', 'upstream_cx_max_requests',
  'upstream_cx_idle_timeout', 'upstream_cx_none_healthy', 'upstream_rq_total', 'upstream_rq_pending_total',
  'upstream_rq_pending_overflow', 'upstream_rq_pending_failure_eject', 'upstream_rq_cancelled', 'upstream_rq_timeout',
  'upstream_rq_per_try_timeout', 'upstream_rq_rx_reset', 'upstream_rq_tx_reset', 'upstream_rq_retry',
  'upstream_rq_retry_success', 'upstream_rq_retry_overflow', 'upstream_rq_retry_limit_exceeded',
  'upstream_rq_maintenance_mode', 'upstream_rq_completed', 'upstream_rq_1xx', 'upstream_rq_2xx', 'upstream_rq_3xx',
  'upstream_rq_4xx', 'upstream_rq_5xx', 'membership_change', 'update_attempt', 'update_success', 'update_failure',
  'update_empty', 'update_rejected', 'lb_healthy_panic',
] as const;

// Envoy registers the membership gauges NeverImport (they are not summed across hot restarts).
const GAUGES_ACCUMULATE = ['upstream_cx_active', 'upstream_rq_active', 'upstream_rq_pending_active'] as const;
const GAUGES_NEVER_IMPORT = ['membership_total', 'membership_healthy', 'membership_degraded', 'membership_excluded', 'max_host_weight'] as const;

export class ClusterStatsImpl {
  /** Exact stat names created for this cluster (to remove them without touching clusters whose name has this one as a prefix). */
  private readonly names: string[] = [];
  private readonly codes: (Counter | undefined)[] = [];
  readonly stats: ClusterStats;

  constructor(readonly scope: Scope) {
    const s: Record<string, unknown> = { scope };
    for (const n of COUNTERS) { s[n] = scope.counter(n); this.names.push(scope.prefix + n); }
    for (const n of GAUGES_ACCUMULATE) { s[n] = scope.gauge(n, 'Accumulate'); this.names.push(scope.prefix + n); }
    for (const n of GAUGES_NEVER_IMPORT) { s[n] = scope.gauge(n, 'NeverImport'); this.names.push(scope.prefix + n); }
    s.upstream_rq_time = scope.histogram('upstream_rq_time', 'Milliseconds');
    s.upstream_cx_connect_ms = scope.histogram('upstream_cx_connect_ms', 'Milliseconds');
    s.upstream_cx_length_ms = scope.histogram('upstream_cx_length_ms', 'Milliseconds');
    for (const n of ['upstream_rq_time', 'upstream_cx_connect_ms', 'upstream_cx_length_ms']) this.names.push(scope.prefix + n);
    s.rqCode = (code: number): Counter => {
      let c = this.codes[code];
      if (c === undefined) {
        c = scope.counter('upstream_rq_' + code);
        this.codes[code] = c;
        this.names.push(scope.prefix + 'upstream_rq_' + code);
      }
      return c;
    };
    this.stats = s as unknown as ClusterStats;
  }

  /** Delete every stat of this cluster from the store (cluster removed). */
  remove(store: Store): void {
    for (const n of this.names) { store.counters.delete(n); store.gauges.delete(n); store.histograms.delete(n); }
    for (const prio of ['default', 'high']) {
      for (const n of CB_STATS) store.gauges.delete(`${this.scope.prefix}circuit_breakers.${prio}.${n}`);
    }
  }
}

const CB_STATS = ['cx_open', 'cx_pool_open', 'rq_open', 'rq_pending_open', 'rq_retry_open',
  'remaining_cx', 'remaining_cx_pools', 'remaining_pending', 'remaining_retries', 'remaining_rq'];
