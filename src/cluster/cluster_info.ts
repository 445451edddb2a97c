// ClusterInfo (Envoy ClusterInfoImpl): the compiled, immutable settings of one cluster version.
import { ConfigError, joinPath } from '../config/errors';
import type { Plain } from '../config/plain';
import type { Scope } from '../stats/stats';
import { lookup } from '../common/registry';
import { ClusterStatsImpl } from './cluster_stats';
import { buildCircuitBreakers } from './resource_manager';
import type { ClusterInfo, ClusterStats, ResourceManager, UpstreamProtocol } from './types';

export const HTTP_PROTOCOL_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
export const TCP_PROTOCOL_OPTIONS = 'envoy.extensions.upstreams.tcp.v3.TcpProtocolOptions';

export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
export const DEFAULT_BUFFER_LIMIT = 1024 * 1024;
export const DEFAULT_IDLE_TIMEOUT_MS = 3600_000;
export const DEFAULT_MAX_HEADERS_COUNT = 100;

export function typeName(url: string | undefined): string {
  if (!url) return '';
  const slash = url.lastIndexOf('/');
  return slash >= 0 ? url.slice(slash + 1) : url;
}

export interface ProtocolSettings {
  upstreamProtocol: UpstreamProtocol | 'downstream';
  autoProtocol: boolean;
  http1Options: Plain | undefined;
  http2Options: Plain | undefined;
  idleTimeoutMs: number;
  maxRequestsPerConnection: number;
  maxConnectionDurationMs: number;
  maxHeadersCount: number;
  maxStreamDurationMs: number;
  /** TcpProtocolOptions.idle_timeout for TCP pools; undefined when not configured. */
  tcpIdleTimeoutMs: number | undefined;
}

/** Upstream protocol selection and common HTTP protocol options (path = the cluster's path). */
export function parseProtocolSettings(c: Plain, path: string): ProtocolSettings {
  const tepo: Record<string, Plain> = c.typed_extension_protocol_options ?? {};
  let hpo: Plain | undefined;
  let hpoPath = '';
  let tcpIdleTimeoutMs: number | undefined;
  for (const key of Object.keys(tepo)) {
    const v = tepo[key];
    const p = `${joinPath(path, 'typed_extension_protocol_options')}[${key}]`;
    const t = typeName(v?.['@type']);
    if (t === HTTP_PROTOCOL_OPTIONS) { hpo = v; hpoPath = p; continue; }
    if (t === TCP_PROTOCOL_OPTIONS) { tcpIdleTimeoutMs = v.idle_timeout; continue; }
    if (!lookup('upstream_protocol_options', t || key)) throw new ConfigError(p, `unsupported protocol options type "${v?.['@type'] ?? key}"`);
  }

  let upstreamProtocol: UpstreamProtocol | 'downstream' = 'http1';
  let autoProtocol = false;
  let http1Options: Plain | undefined;
  let http2Options: Plain | undefined;
  let common: Plain | undefined;
  let commonPath = '';

  if (hpo) {
    for (const f of ['http_protocol_options', 'http2_protocol_options', 'common_http_protocol_options', 'upstream_http_protocol_options'] as const) {
      if (c[f] !== undefined) throw new ConfigError(joinPath(path, f), `cannot be combined with ${HTTP_PROTOCOL_OPTIONS} in typed_extension_protocol_options`);
    }
    if (c.protocol_selection === 'USE_DOWNSTREAM_PROTOCOL') {
      throw new ConfigError(joinPath(path, 'protocol_selection'), `cannot be combined with ${HTTP_PROTOCOL_OPTIONS} in typed_extension_protocol_options`);
    }
    if (Array.isArray(hpo.http_filters) && hpo.http_filters.length > 0) {
      throw new ConfigError(joinPath(hpoPath, 'http_filters'), 'upstream HTTP filters are not supported');
    }
    if (hpo.header_validation_config) throw new ConfigError(joinPath(hpoPath, 'header_validation_config'), 'not supported');
    if (hpo.explicit_http_config) {
      const e = hpo.explicit_http_config;
      const ep = joinPath(hpoPath, 'explicit_http_config');
      if (e.http3_protocol_options) throw new ConfigError(joinPath(ep, 'http3_protocol_options'), 'HTTP/3 upstreams are not supported');
      if (e.http2_protocol_options) { upstreamProtocol = 'http2'; http2Options = e.http2_protocol_options; }
      else { upstreamProtocol = 'http1'; http1Options = e.http_protocol_options; }
    } else if (hpo.use_downstream_protocol_config) {
      const d = hpo.use_downstream_protocol_config;
      upstreamProtocol = 'downstream';
      http1Options = d.http_protocol_options;
      http2Options = d.http2_protocol_options;
      // http3_protocol_options only applies to HTTP/3 downstreams, which remora does not accept.
    } else if (hpo.auto_config) {
      const a = hpo.auto_config;
      if (a.http3_protocol_options) throw new ConfigError(joinPath(hpoPath, 'auto_config.http3_protocol_options'), 'HTTP/3 upstreams are not supported');
      // Auto: HTTP/1.1 unless a TLS pool negotiates h2 by ALPN (see ClusterInfo.autoProtocol).
      upstreamProtocol = 'http1';
      autoProtocol = true;
      http1Options = a.http_protocol_options;
      http2Options = a.http2_protocol_options;
    }
    common = hpo.common_http_protocol_options;
    commonPath = joinPath(hpoPath, 'common_http_protocol_options');
  } else {
    http1Options = c.http_protocol_options;
    http2Options = c.http2_protocol_options;
    if (http2Options) upstreamProtocol = 'http2';
    if (c.protocol_selection === 'USE_DOWNSTREAM_PROTOCOL') upstreamProtocol = 'downstream';
    common = c.common_http_protocol_options;
    commonPath = joinPath(path, 'common_http_protocol_options');
  }

  let maxRequestsPerConnection = 0;
  if (c.max_requests_per_connection !== undefined) maxRequestsPerConnection = c.max_requests_per_connection;
  if (common?.max_requests_per_connection !== undefined) {
    if (c.max_requests_per_connection !== undefined) {
      throw new ConfigError(joinPath(path, 'max_requests_per_connection'),
        'only one of max_requests_per_connection from Cluster or HttpProtocolOptions can be specified');
    }
    maxRequestsPerConnection = common.max_requests_per_connection;
  }
  const maxHeadersCount = common?.max_headers_count ?? DEFAULT_MAX_HEADERS_COUNT;
  if (!(maxHeadersCount >= 1)) throw new ConfigError(joinPath(commonPath, 'max_headers_count'), 'must be at least 1');
  return {
    upstreamProtocol, autoProtocol, http1Options, http2Options,
    idleTimeoutMs: common?.idle_timeout ?? DEFAULT_IDLE_TIMEOUT_MS,
    maxRequestsPerConnection,
    maxConnectionDurationMs: common?.max_connection_duration ?? 0,
    maxHeadersCount,
    maxStreamDurationMs: common?.max_stream_duration ?? 0,
    tcpIdleTimeoutMs,
  };
}

export interface ClusterInfoOptions {
  addedViaApi: boolean;
  versionInfo: string;
  lbPolicy: string;
}

export class ClusterInfoImpl implements ClusterInfo {
  readonly name: string;
  readonly observabilityName: string;
  readonly type: string;
  readonly connectTimeoutMs: number;
  readonly perConnectionBufferLimitBytes: number;
  readonly stats: ClusterStats;
  readonly statsImpl: ClusterStatsImpl;
  readonly resourceManagers: [ResourceManager, ResourceManager];
  readonly perHostMaxConnections: number;
  readonly upstreamProtocol: UpstreamProtocol | 'downstream';
  readonly autoProtocol: boolean;
  readonly idleTimeoutMs: number;
  readonly maxRequestsPerConnection: number;
  readonly maxConnectionDurationMs: number;
  readonly maxHeadersCount: number;
  readonly maxStreamDurationMs: number;
  readonly http1Options: Plain | undefined;
  readonly http2Options: Plain | undefined;
  readonly tcpIdleTimeoutMs: number | undefined;
  readonly config: Plain;
  readonly addedViaApi: boolean;
  readonly edsServiceName: string;
  readonly lbPolicy: string;
  readonly versionInfo: string;
  readonly lastUpdated: number;

  /** `scopeFor(observabilityName)` gives the stats scope (normally store.scope('cluster.<name>.')). */
  constructor(c: Plain, path: string, scopeFor: (observabilityName: string) => Scope, opts: ClusterInfoOptions) {
    this.config = c;
    this.name = c.name;
    this.observabilityName = c.alt_stat_name ? c.alt_stat_name : c.name;
    this.type = c.type ?? 'STATIC';
    const ct = c.connect_timeout ?? DEFAULT_CONNECT_TIMEOUT_MS;
    if (!(ct > 0)) throw new ConfigError(joinPath(path, 'connect_timeout'), 'must be greater than 0');
    this.connectTimeoutMs = ct;
    this.perConnectionBufferLimitBytes = c.per_connection_buffer_limit_bytes ?? DEFAULT_BUFFER_LIMIT;
    const proto = parseProtocolSettings(c, path);
    this.upstreamProtocol = proto.upstreamProtocol;
    this.autoProtocol = proto.autoProtocol;
    this.http1Options = proto.http1Options;
    this.http2Options = proto.http2Options;
    this.idleTimeoutMs = proto.idleTimeoutMs;
    this.maxRequestsPerConnection = proto.maxRequestsPerConnection;
    this.maxConnectionDurationMs = proto.maxConnectionDurationMs;
    this.maxHeadersCount = proto.maxHeadersCount;
    this.maxStreamDurationMs = proto.maxStreamDurationMs;
    this.tcpIdleTimeoutMs = proto.tcpIdleTimeoutMs;
    this.addedViaApi = opts.addedViaApi;
    this.versionInfo = opts.versionInfo;
    this.lbPolicy = opts.lbPolicy;
    this.edsServiceName = c.eds_cluster_config?.service_name ?? '';
    this.lastUpdated = Date.now();
    // Stats last: nothing is registered for a config that fails validation.
    const scope = scopeFor(this.observabilityName);
    const cb = buildCircuitBreakers(c.circuit_breakers, scope, path);
    this.statsImpl = new ClusterStatsImpl(scope);
    this.stats = this.statsImpl.stats;
    this.resourceManagers = cb.managers;
    this.perHostMaxConnections = cb.perHostMaxConnections;
  }
}
