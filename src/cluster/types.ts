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

/** Health flags that make a host unhealthy (Envoy coarseHealth() == Unhealthy). */
export const UNHEALTHY_FLAGS = HealthFlag.FailedActiveHc | HealthFlag.FailedOutlierCheck | HealthFlag.FailedEdsHealth | HealthFlag.EdsStatusDraining;
/** Health flags that make a host degraded (used only when healthy hosts are insufficient). */
export const DEGRADED_FLAGS = HealthFlag.DegradedActiveHc | HealthFlag.DegradedEdsHealth;
/** Health flags that take a host out of the healthy/degraded sets entirely (Envoy excludedHosts()). */
export const EXCLUDED_FLAGS = HealthFlag.PendingActiveHc | HealthFlag.ExcludedViaImmediateHcFail | HealthFlag.EdsStatusDraining;

/** Envoy Host::Health. */
export const enum HostHealth { Unhealthy = 0, Degraded = 1, Healthy = 2 }

/** Outlier detection's success-rate monitors (Envoy SuccessRateMonitorType). */
export type SuccessRateMonitorType = 'external' | 'local';

/** What /clusters reads from a cluster's outlier detector (src/cluster outlier detection sets it). */
export interface OutlierDetectorView {
  successRateAverage(type: SuccessRateMonitorType): number;
  successRateEjectionThreshold(type: SuccessRateMonitorType): number;
}

/** What /clusters reads from a host's outlier monitor; successRate is -1 when not computed. */
export interface HostOutlierView {
  successRate(type: SuccessRateMonitorType): number;
}

export interface HostStats {
  cx_active: Gauge; cx_connect_fail: Counter; cx_total: Counter;
  rq_active: Gauge; rq_error: Counter; rq_success: Counter; rq_timeout: Counter; rq_total: Counter;
}

export interface Locality { region: string; zone: string; sub_zone: string; }

export interface Host {
  /** 'ip:port' ('[v6]:port' for IPv6, the path for a pipe); unique within a cluster. Envoy's address()->asString(). */
  readonly key: string;
  readonly address: string;
  readonly port: number;
  /** Unix socket path for a `pipe` address ('' for IP hosts); address is the path too and port is 0. */
  readonly pipePath: string;
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
  /** Envoy coarseHealth(): Unhealthy / Degraded / Healthy from the flags. */
  health(): HostHealth;
  /** metadata filter_metadata['envoy.lb'].canary === true */
  readonly canary: boolean;
  /** Set by outlier detection; null until then (success rates render as -1). */
  outlier: HostOutlierView | null;
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
  update_rejected: Counter;
  max_host_weight: Gauge; lb_healthy_panic: Counter;
  upstream_cx_connect_ms: Histogram; upstream_cx_length_ms: Histogram;
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
  /** eds_cluster_config.service_name ('' when unset). */
  readonly edsServiceName: string;
  /** The load-balancing policy in effect ('ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM'). */
  readonly lbPolicy: string;
  /**
   * auto_config in HttpProtocolOptions: upstreamProtocol is 'http1', and a pool that
   * negotiates TLS may offer ALPN h2,http/1.1 and use what the server picks.
   */
  readonly autoProtocol: boolean;
  /** Http1ProtocolOptions (plain), if configured. */
  readonly http1Options: Plain | undefined;
  /** common_http_protocol_options.max_stream_duration, 0 = none. */
  readonly maxStreamDurationMs: number;
  /** circuit_breakers.per_host_thresholds max_connections (Envoy honours only that one); Infinity = unlimited. */
  readonly perHostMaxConnections: number;
  /** xDS version this cluster came from ('' for static), and when it was (re)built (ms since epoch). */
  readonly versionInfo: string;
  readonly lastUpdated: number;
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

/** One priority level's hosts as the load balancers see them (Envoy HostSet). */
export interface HostSetView {
  readonly priority: number;
  readonly hosts: readonly Host[];
  readonly healthyHosts: readonly Host[];
  readonly degradedHosts: readonly Host[];
  readonly excludedHosts: readonly Host[];
  /** Hosts grouped by locality; index i matches localities[i] and localityWeights[i]. */
  readonly localities: readonly Locality[];
  readonly hostsPerLocality: readonly (readonly Host[])[];
  readonly healthyHostsPerLocality: readonly (readonly Host[])[];
  readonly degradedHostsPerLocality: readonly (readonly Host[])[];
  readonly excludedHostsPerLocality: readonly (readonly Host[])[];
  /** Locality load_balancing_weight (0 = unset). */
  readonly localityWeights: readonly number[];
  /** ClusterLoadAssignment.policy.overprovisioning_factor, default 140. */
  readonly overprovisioningFactor: number;
  /** ClusterLoadAssignment.policy.weighted_priority_health. */
  readonly weightedPriorityHealth: boolean;
}

export interface PrioritySetView {
  readonly hostSets: readonly HostSetView[];
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
  /** Hosts per priority with health partitions (for LBs, health checking, outlier detection). */
  readonly prioritySet: PrioritySetView;
  /**
   * Replace the hosts of one priority (the seam EDS, DNS and ORIGINAL_DST use). Hosts are
   * matched to existing ones by key so their stats and pools survive.
   */
  updateHosts(priority: number, hosts: Host[], params?: HostSetUpdateParams): void;
  /** Recompute healthy/degraded/excluded sets after health flags changed (health checker, outlier detector). */
  refreshHealth(): void;
  /** Set by outlier detection; null when the cluster has none. */
  outlierDetector: OutlierDetectorView | null;
}

export interface HostSetUpdateParams {
  /** Locality load_balancing_weight keyed by localityKey(locality); missing = 0. */
  localityWeights?: ReadonlyMap<string, number>;
  overprovisioningFactor?: number;
  weightedPriorityHealth?: boolean;
}

export interface ClusterUpdateCallbacks {
  /** A cluster was added or replaced (the new object; in-flight users keep the old one). */
  onClusterAddOrUpdate?(cluster: Cluster): void;
  onClusterRemoval?(name: string): void;
}

export interface ClusterManager {
  get(name: string): Cluster | undefined;
  all(): Iterable<Cluster>;
  /**
   * Add or replace a cluster from its plain config. Throws ConfigError on invalid config;
   * its path is relative to the cluster, prefixed with opts.path when given
   * (e.g. 'static_resources.clusters[2]'). An identical config is a no-op that returns the existing cluster.
   */
  addOrUpdate(config: Plain, opts?: { addedViaApi?: boolean; versionInfo?: string; path?: string }): Cluster;
  remove(name: string): boolean;
  /**
   * EDS seam: apply a ClusterLoadAssignment (plain) to the named cluster. Throws ConfigError
   * (path relative to the assignment) on invalid endpoints; false when the cluster is unknown.
   */
  applyLoadAssignment?(clusterName: string, cla: Plain): boolean;
  addUpdateCallbacks?(cb: ClusterUpdateCallbacks): () => void;
  /** Stop DNS timers, close pools (server shutdown). */
  shutdown(): void;
}
