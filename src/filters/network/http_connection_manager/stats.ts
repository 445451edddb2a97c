// The HCM's stats, Envoy names (ALL_HTTP_CONN_MAN_STATS), resolved once per HCM config:
//   http.<stat_prefix>.<name>
import { Counter, Gauge, Histogram, Scope, Store } from '../../../stats/stats';

const COUNTERS = [
  'downstream_cx_delayed_close_timeout', 'downstream_cx_destroy', 'downstream_cx_destroy_active_rq',
  'downstream_cx_destroy_local', 'downstream_cx_destroy_local_active_rq', 'downstream_cx_destroy_remote',
  'downstream_cx_destroy_remote_active_rq', 'downstream_cx_drain_close', 'downstream_cx_http1_total',
  'downstream_cx_http2_total', 'downstream_cx_http3_total', 'downstream_cx_idle_timeout',
  'downstream_cx_max_duration_reached', 'downstream_cx_max_requests_reached', 'downstream_cx_overload_disable_keepalive',
  'downstream_cx_protocol_error', 'downstream_cx_rx_bytes_total', 'downstream_cx_ssl_total', 'downstream_cx_total',
  'downstream_cx_tx_bytes_total', 'downstream_cx_upgrades_total', 'downstream_flow_control_paused_reading_total',
  'downstream_flow_control_resumed_reading_total', 'downstream_rq_1xx', 'downstream_rq_2xx', 'downstream_rq_3xx',
  'downstream_rq_4xx', 'downstream_rq_5xx', 'downstream_rq_completed', 'downstream_rq_failed_path_normalization',
  'downstream_rq_header_timeout', 'downstream_rq_http1_total', 'downstream_rq_http2_total', 'downstream_rq_http3_total',
  'downstream_rq_idle_timeout', 'downstream_rq_max_duration_reached', 'downstream_rq_non_relative_path',
  'downstream_rq_overload_close', 'downstream_rq_redirected_with_normalized_path', 'downstream_rq_rejected_via_ip_detection',
  'downstream_rq_response_before_rq_complete', 'downstream_rq_rx_reset', 'downstream_rq_timeout', 'downstream_rq_too_large',
  'downstream_rq_too_many_premature_resets', 'downstream_rq_total', 'downstream_rq_tx_reset',
  'downstream_rq_ws_on_non_ws_route', 'rs_too_large',
] as const;

const GAUGES = [
  'downstream_cx_active', 'downstream_cx_http1_active', 'downstream_cx_http2_active', 'downstream_cx_http3_active',
  'downstream_cx_rx_bytes_buffered', 'downstream_cx_ssl_active', 'downstream_cx_tx_bytes_buffered',
  'downstream_cx_upgrades_active', 'downstream_rq_active',
] as const;

type CounterName = typeof COUNTERS[number];
type GaugeName = typeof GAUGES[number];

export type HcmStats = { readonly [K in CounterName]: Counter } & { readonly [K in GaugeName]: Gauge } & {
  readonly downstream_cx_length_ms: Histogram;
  readonly downstream_rq_time: Histogram;
  /** 'http.<stat_prefix>.' scope, handed to HTTP filter factories (router: no_route, rq_total, ...). */
  readonly scope: Scope;
  readonly prefix: string;
  /** downstream_rq_<1xx..5xx> by status class index (1..5). */
  readonly rqClass: readonly Counter[];
};

/** Resolve every HCM stat once. */
export function createHcmStats(store: Store, statPrefix: string): HcmStats {
  const prefix = `http.${statPrefix}.`;
  const scope = store.scope(prefix);
  const o: Record<string, unknown> = { scope, prefix };
  for (const n of COUNTERS) o[n] = scope.counter(n);
  for (const n of GAUGES) o[n] = scope.gauge(n);
  o.downstream_cx_length_ms = scope.histogram('downstream_cx_length_ms', 'Milliseconds');
  o.downstream_rq_time = scope.histogram('downstream_rq_time', 'Milliseconds');
  o.rqClass = [undefined, o.downstream_rq_1xx, o.downstream_rq_2xx, o.downstream_rq_3xx, o.downstream_rq_4xx, o.downstream_rq_5xx];
  return Object.freeze(o) as unknown as HcmStats;
}
