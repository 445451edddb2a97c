// What the rest of remora sees of clusters and hosts. src/cluster implements it.
import type { Counter, Gauge, Histogram, Scope } from '../stats/stats';
import type { Plain } from '../config/plain';

/** Health flag bits; rendered in /clusters in Envoy's order. */
export const enum HealthFlag {
  FailedActiveHc = 1 << 0,
  FailedOutlierCheck = 1 << 1,
  FailedEdsHealth = 1 << 2,
  DegradedActiveHc = 1 << 3,
  DegradedEdsHealth = 1 << 4,
  PendingDynamicRemoval = 1 << 5,
  PendingActiveHc = 1 << 6,
  ExcludedViaImmediateHcFail = 1 << 7,
  ActiveHcTimeout = 1 << 8,
  EdsStatusDraining = 1 << 9,
}

export interface HostStats {
  cx_active: Gauge; cx_connect_fail: Counter; cx_total: Counter;
  rq_active: Gauge; rq_error: Counter; rq_success: Counter; rq_timeout: Counter; rq_total: Counter;
}

export interface Locality { region: string; zone: string; sub_zone: string; }

export interface Host {
  /** 'ip:port' (or 'hostname:port' before resolution); unique within a cluster. */
  readonly key: string;
  readonly address: string;
  readonly port: number;
  /** The DNS name this host came from, '' for static IPs (shown as hostname in /clusters). */
  readonly hostname: string;
  weight: number;
  readonly priority: number;
  readonly locality: Locality;
  /** Endpoint metadata (filter_metadata), plain JSON. */
  readonly metadata: Plain;
  healthFlags: number;
  /** Requests currently outstanding to this host (for LEAST_REQUEST). */
  activeRequests: number;
  readonly stats: HostStats;
  /** Opaque per-host storage for connection pools, keyed by pool kind (e.g. 'h1', 'h2'). Owned by the pool code. */
  readonly pools: Map<string, unknown>;
  /** True when the host may receive traffic (no failing health flag). */
  healthy(): boolean;
}

/** Envoy's cluster.<name>.* stats that the data path increments (resolved once). */
export interface ClusterStats {
  scope: Scope;
  upstream_cx_total: Counter; upstream_cx_active: Gauge; upstream_cx_connect_fail: Counter;
  upstream_cx_connect_timeout: Counter; upstream_cx_destroy: Counter; upstream_cx_destroy_local: Counter;
  upstream_cx_destroy_remote: Counter; upstream_cx_rx_bytes_total: Counter; upstream_cx_tx_bytes_total: Counter;
  upstream_cx_http1_total: Counter; upstream_cx_http2_total: Counter; upstream_cx_overflow: Counter;
  upstream_cx_max_requests: Counter; upstream_cx_idle_timeout: Counter; upstream_cx_none_healthy: Counter;
  upstream_rq_total: Counter; upstream_rq_active: Gauge; upstream_rq_pending_total: Counter;
  upstream_rq_pending_active: Gauge; upstream_rq_pending_overflow: Counter; upstream_rq_pending_failure_eject: Counter;
  upstream_rq_cancelled: Counter; upstream_rq_timeout: Counter; upstream_rq_per_try_timeout: Counter;
  upstream_rq_rx_reset: Counter; upstream_rq_tx_reset: Counter; upstream_rq_retry: Counter;
  upstream_rq_retry_success: Counter; upstream_rq_retry_overflow: Counter; upstream_rq_retry_limit_exceeded: Counter;
  upstream_rq_maintenance_mode: Counter; upstream_rq_completed: Counter;
  upstream_rq_1xx: Counter; upstream_rq_2xx: Counter; upstream_rq_3xx: Counter; upstream_rq_4xx: Counter; upstream_rq_5xx: Counter;
  upstream_rq_time: Histogram;
  membership_total: Gauge; membership_healthy: Gauge; membership_degraded: Gauge; membership_excluded: Gauge;
  membership_change: Counter; update_attempt: Counter; update_success: Counter; update_failure: Counter; update_empty: Counter;
  max_host_weight: Gauge; lb_healthy_panic: Counter;
  /** upstream_rq_<code> counters, created on first use. */
  rqCode(code: number): Counter;
}

/** One priority's circuit-breaker thresholds and live counts (Envoy ResourceManager). */
export interface ResourceLimit {
  readonly max: number;
  count: number;
  /** true when count < max (can create). */
  canCreate(): boolean;
  inc(): void;
  dec(): void;
}
export interface ResourceManager {
  connections: ResourceLimit;
  pendingRequests: ResourceLimit;
  requests: ResourceLimit;
  retries: ResourceLimit;
  connectionPools: ResourceLimit;
}

export type UpstreamProtocol = 'http1' | 'http2';

export interface ClusterInfo {
  readonly name: string;
  readonly observabilityName: string;
  readonly type: string;               // 'STATIC' | 'STRICT_DNS' | 'LOGICAL_DNS' | 'EDS' | 'ORIGINAL_DST'
  readonly connectTimeoutMs: number;   // default 5000
  readonly perConnectionBufferLimitBytes: number; // default 1 MiB
  readonly stats: ClusterStats;
  /** circuit_breakers: [0] = DEFAULT priority, [1] = HIGH. */
  readonly resourceManagers: [ResourceManager, ResourceManager];
  /**
   * Upstream protocol choice from typed_extension_protocol_options
   * ('envoy.extensions.upstreams.http.v3.HttpProtocolOptions'): explicit http1/http2,
   * or 'downstream' for use_downstream_protocol_config. Default http1.
   */
  readonly upstreamProtocol: UpstreamProtocol | 'downstream';
  /** common_http_protocol_options */
  readonly idleTimeoutMs: number;              // default 3600000 (1h)
  readonly maxRequestsPerConnection: number;   // 0 = unlimited
  readonly maxConnectionDurationMs: number;    // 0 = none
  readonly maxHeadersCount: number;            // default 100
  /** http2_protocol_options (plain), if any. */
  readonly http2Options: Plain | undefined;
  /** The cluster's plain config, for config_dump and extensions. */
  readonly config: Plain;
  readonly addedViaApi: boolean;
}

/** What the router filter and tcp_proxy hand the load balancer. */
export interface LoadBalancerContext {
  /** Hash from the route's hash_policy, or undefined. */
  hashKey?: bigint | number;
  /** Hosts to avoid (retry previous_hosts predicate). */
  shouldSelectAnotherHost?(host: Host): boolean;
  hostSelectionRetryCount?: number;
  /** Downstream connection, for source-IP based policies. */
  downstreamRemoteAddress?: string;
  /** ORIGINAL_DST clusters: the original destination 'ip:port' (or x-envoy-original-dst-host). */
  originalDst?: string;
}

export interface Cluster {
  readonly info: ClusterInfo;
  /** Pick a host, or null when none is available (the caller replies 503 UH / no_healthy_upstream). */
  chooseHost(ctx: LoadBalancerContext | undefined): Host | null;
  /** All hosts by priority (for /clusters and health checking). */
  hostsByPriority(): ReadonlyArray<ReadonlyArray<Host>>;
  /** Resolves when the cluster finished its initial host discovery (DNS first answer, EDS first assignment). */
  readonly initialized: boolean;
  onInitialized(cb: () => void): void;
}

export interface ClusterManager {
  get(name: string): Cluster | undefined;
  all(): Iterable<Cluster>;
  /** Add or replace a cluster from its plain config. Throws ConfigError on invalid config. */
  addOrUpdate(config: Plain, opts?: { addedViaApi?: boolean; versionInfo?: string }): Cluster;
  remove(name: string): boolean;
  /** Stop DNS timers, close pools (server shutdown). */
  shutdown(): void;
}
