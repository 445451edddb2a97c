// envoy.filters.network.tcp_proxy (envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy):
// config validation/compilation and registration in the 'network_filter' registry.
import { register, type FactoryContext } from '../../../common/registry';
import { ConfigError, joinPath } from '../../../config/errors';
import type { PlainAny, Plain } from '../../../config/plain';
import type { ClusterManager } from '../../../cluster/types';
import type { Counter, Gauge, Store } from '../../../stats/stats';
import { rootStore } from '../../../stats/stats';
import type { Logger } from '../../../server/context';
import { createLogger } from '../../../common/log';
import { createAccessLogs, type AccessLog } from '../../../access_loggers';
import type { NetworkFilterFactory } from '../../../listener/types';
import { defaultRandom, type RandomSource } from '../../../lb/random_source';
import { jsRelayFactory, type RelayFactory } from './relay';
import { TcpProxySession } from './tcp_proxy';

export const TCP_PROXY_TYPE = 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
export const TCP_PROXY_NAME = 'envoy.filters.network.tcp_proxy';

const DEFAULT_IDLE_TIMEOUT_MS = 60 * 60 * 1000;

/** Envoy's ALL_TCP_PROXY_STATS under tcp.<stat_prefix>. */
export interface TcpProxyStats {
  downstream_cx_total: Counter;
  downstream_cx_no_route: Counter;
  downstream_cx_tx_bytes_total: Counter;
  downstream_cx_tx_bytes_buffered: Gauge;
  downstream_cx_rx_bytes_total: Counter;
  downstream_cx_rx_bytes_buffered: Gauge;
  downstream_flow_control_paused_reading_total: Counter;
  downstream_flow_control_resumed_reading_total: Counter;
  idle_timeout: Counter;
  max_downstream_connection_duration: Counter;
  upstream_flush_total: Counter;
  upstream_flush_active: Gauge;
}

function makeStats(store: Store, prefix: string): TcpProxyStats {
  const s = store.scope(prefix);
  return {
    downstream_cx_total: s.counter('downstream_cx_total'),
    downstream_cx_no_route: s.counter('downstream_cx_no_route'),
    downstream_cx_tx_bytes_total: s.counter('downstream_cx_tx_bytes_total'),
    downstream_cx_tx_bytes_buffered: s.gauge('downstream_cx_tx_bytes_buffered'),
    downstream_cx_rx_bytes_total: s.counter('downstream_cx_rx_bytes_total'),
    downstream_cx_rx_bytes_buffered: s.gauge('downstream_cx_rx_bytes_buffered'),
    downstream_flow_control_paused_reading_total: s.counter('downstream_flow_control_paused_reading_total'),
    downstream_flow_control_resumed_reading_total: s.counter('downstream_flow_control_resumed_reading_total'),
    idle_timeout: s.counter('idle_timeout'),
    max_downstream_connection_duration: s.counter('max_downstream_connection_duration'),
    upstream_flush_total: s.counter('upstream_flush_total'),
    upstream_flush_active: s.gauge('upstream_flush_active'),
  };
}

export type HashPolicy = { kind: 'source_ip' } | { kind: 'filter_state'; key: string };

/** The compiled, frozen TcpProxy config shared by every connection of a filter chain. */
export class TcpProxyConfig {
  readonly statPrefix: string;
  readonly stats: TcpProxyStats;
  /** The single cluster, or '' with weightedClusters. */
  readonly cluster: string;
  readonly weightedClusters: ReadonlyArray<{ name: string; weight: number }>;
  readonly totalWeight: number;
  /** 0 = disabled. */
  readonly idleTimeoutMs: number;
  readonly maxConnectAttempts: number;
  /** 0 = none. */
  readonly maxDownstreamConnectionDurationMs: number;
  readonly accessLogs: ReadonlyArray<AccessLog>;
  readonly flushAccessLogOnConnected: boolean;
  /** 0 = no periodic access log. */
  readonly accessLogFlushIntervalMs: number;
  readonly hashPolicy: HashPolicy | undefined;
  readonly clusterManager: ClusterManager;
  readonly log: Logger;
  readonly relayFactory: RelayFactory;
  /** Uniform uint32 source for weighted cluster picks (ctx.random, e.g. a seeded one in tests). */
  readonly random: RandomSource;

  constructor(cfg: Plain, ctx: FactoryContext) {
    const path = ctx.path;
    const p = (f: string) => joinPath(path, f);
    const cm = ctx.clusterManager as ClusterManager | undefined;
    if (!cm) throw new ConfigError(path, 'tcp_proxy needs a cluster manager');
    this.clusterManager = cm;
    this.log = (ctx.log as Logger | undefined) ?? createLogger('filter');
    this.relayFactory = (ctx.tcpRelayFactory as RelayFactory | undefined) ?? jsRelayFactory;
    this.random = typeof ctx.random === 'function' ? ctx.random as RandomSource : defaultRandom;

    if (!cfg.stat_prefix) throw new ConfigError(p('stat_prefix'), 'value length must be at least 1 characters');
    this.statPrefix = cfg.stat_prefix;

    if (cfg.tunneling_config !== undefined) {
      throw new ConfigError(p('tunneling_config'), 'TCP tunneling over HTTP (tunneling_config) is not supported by this remora build yet');
    }
    if (cfg.on_demand !== undefined) throw new ConfigError(p('on_demand'), 'on-demand cluster discovery is not supported');
    rejectLbMetadata(cfg.metadata_match, p('metadata_match'));

    if (cfg.cluster !== undefined && cfg.cluster !== '') {
      this.cluster = cfg.cluster;
      this.weightedClusters = [];
      this.totalWeight = 0;
    } else if (cfg.weighted_clusters !== undefined) {
      const list = (cfg.weighted_clusters.clusters ?? []) as Plain[];
      if (list.length === 0) throw new ConfigError(p('weighted_clusters.clusters'), 'value must contain at least 1 item(s)');
      let total = 0;
      this.weightedClusters = list.map((c, i) => {
        const cp = `${p('weighted_clusters.clusters')}[${i}]`;
        if (!c.name) throw new ConfigError(joinPath(cp, 'name'), 'value length must be at least 1 characters');
        const w = c.weight ?? 0;
        if (!Number.isInteger(w) || w < 1) throw new ConfigError(joinPath(cp, 'weight'), 'value must be greater than or equal to 1');
        rejectLbMetadata(c.metadata_match, joinPath(cp, 'metadata_match'));
        total += w;
        return { name: c.name as string, weight: w };
      });
      this.totalWeight = total;
      this.cluster = '';
    } else {
      throw new ConfigError(path, 'one of cluster or weighted_clusters is required');
    }

    this.idleTimeoutMs = cfg.idle_timeout === undefined ? DEFAULT_IDLE_TIMEOUT_MS : Math.max(0, Math.floor(cfg.idle_timeout));
    const mca = cfg.max_connect_attempts ?? 1;
    if (!Number.isInteger(mca) || mca < 1) throw new ConfigError(p('max_connect_attempts'), 'value must be greater than or equal to 1');
    this.maxConnectAttempts = mca;
    this.maxDownstreamConnectionDurationMs = cfg.max_downstream_connection_duration ?? 0;

    const opts = cfg.access_log_options;
    if (opts !== undefined) {
      if (cfg.flush_access_log_on_connected) {
        throw new ConfigError(p('access_log_options'), 'Only one of flush_access_log_on_connected or access_log_options can be specified.');
      }
      if (cfg.access_log_flush_interval !== undefined) {
        throw new ConfigError(p('access_log_options'), 'Only one of access_log_flush_interval or access_log_options can be specified.');
      }
      this.flushAccessLogOnConnected = !!opts.flush_access_log_on_connected;
      this.accessLogFlushIntervalMs = opts.access_log_flush_interval ?? 0;
    } else {
      this.flushAccessLogOnConnected = !!cfg.flush_access_log_on_connected;
      this.accessLogFlushIntervalMs = cfg.access_log_flush_interval ?? 0;
    }
    if (this.accessLogFlushIntervalMs !== 0 && this.accessLogFlushIntervalMs < 1) {
      throw new ConfigError(p('access_log_flush_interval'), 'value must be greater than or equal to 1ms');
    }

    const hp = (cfg.hash_policy ?? []) as Plain[];
    if (hp.length > 1) throw new ConfigError(p('hash_policy'), 'value must contain no more than 1 item(s)');
    if (hp.length === 1) {
      if (hp[0].source_ip !== undefined) this.hashPolicy = { kind: 'source_ip' };
      else if (hp[0].filter_state !== undefined) {
        const key = hp[0].filter_state.key ?? '';
        if (!key) throw new ConfigError(`${p('hash_policy')}[0].filter_state.key`, 'value length must be at least 1 characters');
        this.hashPolicy = { kind: 'filter_state', key };
      } else {
        throw new ConfigError(`${p('hash_policy')}[0]`, 'exactly one of source_ip or filter_state is required');
      }
    }

    this.stats = makeStats((ctx.stats as Store | undefined) ?? rootStore, `tcp.${this.statPrefix}.`);
    this.accessLogs = createAccessLogs(cfg.access_log ?? [], p('access_log'), ctx);
  }

  /** The cluster for a new connection (weighted: random by weight). */
  pickCluster(): string {
    if (this.cluster) return this.cluster;
    // Envoy WeightedClusterUtil::pickCluster: random() % total_weight.
    let r = this.random() % this.totalWeight;
    const list = this.weightedClusters;
    for (let i = 0; i < list.length; i++) {
      if (r < list[i].weight) return list[i].name;
      r -= list[i].weight;
    }
    return list[list.length - 1].name;
  }
}

/** metadata_match with envoy.lb criteria selects subset endpoints; remora has no subset LB. */
function rejectLbMetadata(md: Plain, path: string): void {
  if (md === undefined) return;
  const fm = md.filter_metadata ?? {};
  if (fm['envoy.lb'] !== undefined && Object.keys(fm['envoy.lb'] ?? {}).length > 0) {
    throw new ConfigError(joinPath(path, 'filter_metadata'), 'metadata_match (subset load balancing) is not supported');
  }
}

export class TcpProxyFilterFactory implements NetworkFilterFactory {
  readonly name = TCP_PROXY_NAME;
  readonly terminal = true;
  constructor(readonly config: TcpProxyConfig) {}
  createFilter(): TcpProxySession { return new TcpProxySession(this.config); }
}

register<NetworkFilterFactory>('network_filter', {
  typeNames: [TCP_PROXY_TYPE],
  names: [TCP_PROXY_NAME],
  create(config: PlainAny, ctx: FactoryContext): NetworkFilterFactory {
    return new TcpProxyFilterFactory(new TcpProxyConfig(config, ctx));
  },
});
