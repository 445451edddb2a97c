// envoy.filters.http.router (envoy.extensions.filters.http.router.v3.Router):
// config validation, the frozen per-HCM RouterConfig, and registration in the
// 'http_filter' registry.
//
// Factory context keys read (ctx is the HCM's FactoryContext):
//   clusterManager: ClusterManager   (required)
//   stats?: Store                    (default: rootStore)
//   scope?: Scope                    (the HCM's http.<stat_prefix>. scope; router stats live there)
//   statPrefix?: string              (else: the HCM stat_prefix, bare or as 'http.<stat_prefix>.')
//   runtime?, log?                   (passed on to upstream access loggers)
import { register, type FactoryContext } from '../../../common/registry';
import { ConfigError, joinPath } from '../../../config/errors';
import type { Plain, PlainAny } from '../../../config/plain';
import type { ClusterManager } from '../../../cluster/types';
import { type Counter, Scope, type Store, rootStore } from '../../../stats/stats';
import type { HttpFilterFactory } from '../../../http/filter';
import { createAccessLogs, type AccessLog } from '../../../access_loggers';
import { RouterFilter } from './router';
import { watchClusterManager } from './upstream/pools';

export const ROUTER_TYPE = 'envoy.extensions.filters.http.router.v3.Router';
export const ROUTER_NAME = 'envoy.filters.http.router';

/** Envoy's ALL_ROUTER_STATS (http.<stat_prefix>.*). */
export interface RouterStats {
  no_route: Counter;
  no_cluster: Counter;
  rq_redirect: Counter;
  rq_direct_response: Counter;
  rq_total: Counter;
  rq_reset_after_downstream_response_started: Counter;
}

/** Headers strict_check_headers may name (Envoy's FilterUtility::StrictHeaderChecker). */
export const STRICT_CHECKABLE = new Set([
  'x-envoy-upstream-rq-timeout-ms', 'x-envoy-upstream-rq-per-try-timeout-ms', 'x-envoy-max-retries',
  'x-envoy-retry-grpc-on', 'x-envoy-retry-on',
]);

export class RouterConfig {
  readonly stats: RouterStats;
  /** dynamic_stats (default true): per-code upstream stats and upstream_rq_time. */
  readonly dynamicStats: boolean;
  readonly suppressEnvoyHeaders: boolean;
  readonly respectExpectedRqTimeout: boolean;
  readonly strictCheckHeaders: ReadonlyArray<string>;
  readonly suppressGrpcRequestFailureCodeStats: boolean;
  readonly upstreamLogs: ReadonlyArray<AccessLog>;
  readonly clusterManager: ClusterManager;
  readonly statsStore: Store;

  constructor(cfg: Plain, ctx: FactoryContext) {
    const path = ctx.path;
    const cm = ctx.clusterManager as ClusterManager | undefined;
    if (!cm) throw new ConfigError(path, 'router filter needs a cluster manager');
    this.clusterManager = cm;
    watchClusterManager(cm);
    this.dynamicStats = cfg.dynamic_stats === undefined || cfg.dynamic_stats === null ? true : cfg.dynamic_stats !== false;
    this.suppressEnvoyHeaders = cfg.suppress_envoy_headers === true;
    this.respectExpectedRqTimeout = cfg.respect_expected_rq_timeout === true;
    this.suppressGrpcRequestFailureCodeStats = cfg.suppress_grpc_request_failure_code_stats === true;
    const strict: string[] = [];
    const sch: unknown[] = Array.isArray(cfg.strict_check_headers) ? cfg.strict_check_headers : [];
    sch.forEach((h, i) => {
      const name = String(h).toLowerCase();
      if (!STRICT_CHECKABLE.has(name)) {
        throw new ConfigError(`${joinPath(path, 'strict_check_headers')}[${i}]`,
          `value must be in list [x-envoy-upstream-rq-timeout-ms x-envoy-upstream-rq-per-try-timeout-ms x-envoy-max-retries x-envoy-retry-grpc-on x-envoy-retry-on]`);
      }
      strict.push(name);
    });
    this.strictCheckHeaders = strict;
    const uhf: unknown[] = Array.isArray(cfg.upstream_http_filters) ? cfg.upstream_http_filters : [];
    // The implicit upstream codec filter is all remora runs; a lone explicit codec filter is the same thing.
    const nonCodec = uhf.filter((f) => {
      const t = String((f as Plain)?.typed_config?.['@type'] ?? (f as Plain)?.name ?? '');
      return !t.endsWith('envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec') && t !== 'envoy.filters.http.upstream_codec';
    });
    if (nonCodec.length > 0) {
      throw new ConfigError(joinPath(path, 'upstream_http_filters'), 'upstream HTTP filters are not supported');
    }
    const { path: _p, ...rest } = ctx;
    void _p;
    this.upstreamLogs = createAccessLogs(cfg.upstream_log, joinPath(path, 'upstream_log'), rest);
    const store = (ctx.stats as Store | undefined) ?? rootStore;
    this.statsStore = store;
    const s = routerScope(ctx, store);
    this.stats = {
      no_route: s.counter('no_route'),
      no_cluster: s.counter('no_cluster'),
      rq_redirect: s.counter('rq_redirect'),
      rq_direct_response: s.counter('rq_direct_response'),
      rq_total: s.counter('rq_total'),
      rq_reset_after_downstream_response_started: s.counter('rq_reset_after_downstream_response_started'),
    };
    Object.freeze(this);
  }
}

/**
 * The http.<stat_prefix>. scope: ctx.scope when the HCM hands one over, else built from
 * ctx.statPrefix (either the bare HCM stat_prefix or the full 'http.<stat_prefix>.').
 */
function routerScope(ctx: FactoryContext, store: Store): Scope {
  const sc = ctx.scope;
  if (sc instanceof Scope) return sc;
  const p = typeof ctx.statPrefix === 'string' ? ctx.statPrefix : '';
  if (p.startsWith('http.') && p.endsWith('.')) return store.scope(p);
  return store.scope(p ? `http.${p}.` : 'http.');
}

export class RouterFilterFactory implements HttpFilterFactory {
  readonly terminal = true;
  constructor(readonly name: string, readonly config: RouterConfig) {}
  createFilter(): RouterFilter { return new RouterFilter(this.config); }
}

register<HttpFilterFactory>('http_filter', {
  typeNames: [ROUTER_TYPE],
  names: [ROUTER_NAME, 'envoy.router'],
  create(config: PlainAny, ctx: FactoryContext): HttpFilterFactory {
    const name = typeof ctx.filterName === 'string' && ctx.filterName ? ctx.filterName : ROUTER_NAME;
    return new RouterFilterFactory(name, new RouterConfig(config, ctx));
  },
});
