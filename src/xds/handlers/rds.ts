// RDS: RouteConfigurations by name, and the RouteConfigProvider each HCM with `rds` gets.
//
// - The HCM factory calls `providerFactory(rds, compileOptions, statPrefix)` (installed in the
//   factory context as `rdsProviderFactory`). The provider holds a reference on the route
//   config name (the RDS subscription) and compiles every accepted RouteConfiguration with its
//   HCM's compile options (typed_per_filter_config through that HCM's filter registry).
// - current() returns the latest compiled table; a swap is one reference assignment, so a new
//   stream (also on an existing keep-alive / HTTP/2 connection) uses the new table and a stream
//   in flight keeps the one it snapshotted. Connections are never drained or closed by RDS.
// - Validation first: a response is compiled for every provider of every route config in it;
//   any error NACKs the whole response with `RouteConfiguration "<name>": <path>: <detail>`
//   and no provider changes. Route configs nobody subscribed to are ignored.
// - Listener warming: LDS holds references (ref/unref) on the names its listeners use and asks
//   isReady(name): true once the config arrived, or after rds.config_source.initial_fetch_timeout
//   (default 15 s; 0 = wait forever), after which the HCM has no table (404 NR) until it arrives.
// - Removal (delta removed_resources) keeps the last config (routes are deleted through their
//   listeners); TTL expiry replaces it with an empty table.
// - Stats (Envoy's RDS subscription stats, per HCM stat prefix):
//   http.<stat_prefix>.rds.<route_config_name>.{update_attempt, update_success, update_rejected,
//   config_reload, version} and the version_text text readout (the client's aggregated RDS
//   subscription counters are under remora.xds.rds.*).
import { ConfigError } from '../../config/errors';
import type { Plain } from '../../config/plain';
import type { Logger } from '../../server/context';
import type { Counter, Gauge, Store } from '../../stats/stats';
import { compileRouteConfig, type CompiledRouteConfig, type CompileRouteConfigOptions } from '../../router';
import type { RouteConfigProvider } from '../../filters/network/http_connection_manager/route_provider';
import { TYPE, type ResourceHandler, type ResourceUpdate } from '../types';
import { NamedSubscriptions, checkDuplicates, fetchTimer, fingerprint, initialFetchTimeoutMs, jsonOf, rejectResource, versionHash, type JsonSource } from './common';
import { redactJson } from '../../secret/redact';

export const ROUTE_TYPE = 'envoy.config.route.v3.RouteConfiguration';

interface RdsStats {
  prefix: string;
  update_attempt: Counter;
  update_success: Counter;
  update_rejected: Counter;
  config_reload: Counter;
  version: Gauge;
}

interface RouteEntry {
  readonly name: string;
  plain: Plain | undefined;
  json: JsonSource | undefined;
  fingerprint: string;
  versionInfo: string;
  lastUpdated: number;
  /** Received, or the initial fetch timed out. */
  ready: boolean;
  timer: NodeJS.Timeout | undefined;
  readonly providers: Set<RdsRouteConfigProvider>;
  /** Stats of every HCM stat prefix that uses this name. */
  readonly stats: Map<string, RdsStats>;
}

/** The provider an HCM with `rds` holds. */
export class RdsRouteConfigProvider implements RouteConfigProvider {
  /** The table new streams use (null until the route config arrives). */
  compiled: CompiledRouteConfig | null = null;
  private released = false;

  constructor(
    private readonly store: RouteConfigStore,
    readonly routeConfigName: string,
    readonly compileOptions: CompileRouteConfigOptions,
    readonly statPrefix: string,
  ) {}

  current(): CompiledRouteConfig | null { return this.compiled; }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.store.detach(this);
  }
}

export interface RouteConfigStoreDeps {
  stats: Store;
  log: Logger;
  /** A route config became ready (LDS re-checks its warming listeners). */
  onReady?: (name: string) => void;
}

export class RouteConfigStore implements ResourceHandler {
  readonly subscriptions: NamedSubscriptions;
  private readonly entries = new Map<string, RouteEntry>();
  private sweepScheduled: NodeJS.Immediate | undefined;
  private stopped = false;

  constructor(private readonly deps: RouteConfigStoreDeps) {
    this.subscriptions = new NamedSubscriptions(TYPE.ROUTE, deps.log);
  }

  /**
   * The HCM's RdsProviderFactory: validate the Rds message (ADS config source only) and return
   * a provider for its route_config_name. Throws ConfigError (path relative to `rds`).
   */
  readonly providerFactory = (rds: Plain, compileOptions: CompileRouteConfigOptions, statPrefix = ''): RouteConfigProvider => {
    const name = rds?.route_config_name;
    if (typeof name !== 'string' || name === '') throw new ConfigError('route_config_name', 'value length must be at least 1 characters');
    checkAdsSource(rds.config_source);
    const entry = this.ref(name, initialFetchTimeoutMs(rds.config_source));
    const p = new RdsRouteConfigProvider(this, name, compileOptions, statPrefix);
    if (entry.plain !== undefined) {
      try {
        p.compiled = compileRouteConfig(entry.plain, { ...compileOptions, path: '' });
      } catch (e) {
        this.unref(name);
        const err = rejectResource('RouteConfiguration', name, e);
        throw new ConfigError('route_config_name', err.message);
      }
    }
    entry.providers.add(p);
    if (statPrefix && !entry.stats.has(statPrefix)) entry.stats.set(statPrefix, this.makeStats(statPrefix, name, entry));
    return p;
  };

  /** Hold a reference on a route config name (subscribes it); starts its initial fetch timer. */
  ref(name: string, initialFetchTimeout = 15000): RouteEntry {
    let e = this.entries.get(name);
    if (!e) {
      e = { name, plain: undefined, json: undefined, fingerprint: '', versionInfo: '', lastUpdated: 0, ready: false, timer: undefined, providers: new Set(), stats: new Map() };
      this.entries.set(name, e);
    }
    if (!e.ready && !e.timer && !this.stopped) {
      const entry = e;
      entry.timer = fetchTimer(initialFetchTimeout, () => {
        entry.timer = undefined;
        if (entry.ready || this.entries.get(name) !== entry) return;
        this.deps.log.warn(`rds: route config "${name}" not received within the initial fetch timeout (${initialFetchTimeout} ms)`);
        entry.ready = true;
        this.deps.onReady?.(name);
      });
    }
    this.subscriptions.ref(name);
    return e;
  }

  unref(name: string): void {
    this.subscriptions.unref(name);
    if (!this.subscriptions.has(name)) this.scheduleSweep();
  }

  /** A provider was released (its HCM config destroyed). */
  detach(p: RdsRouteConfigProvider): void {
    this.entries.get(p.routeConfigName)?.providers.delete(p);
    this.unref(p.routeConfigName);
  }

  /** The config arrived, or its initial fetch timed out. */
  isReady(name: string): boolean { return this.entries.get(name)?.ready === true; }

  /** Names referenced but not ready yet. */
  pendingNames(): string[] {
    return [...this.entries.values()].filter((e) => !e.ready && this.subscriptions.has(e.name)).map((e) => e.name);
  }

  private scheduleSweep(): void {
    if (this.sweepScheduled) return;
    this.sweepScheduled = setImmediate(() => {
      this.sweepScheduled = undefined;
      for (const [name, e] of this.entries) {
        if (this.subscriptions.has(name)) continue;
        if (e.timer) clearTimeout(e.timer);
        this.entries.delete(name);
      }
    });
    this.sweepScheduled.unref();
  }

  private makeStats(prefix: string, name: string, e: RouteEntry): RdsStats {
    const s = this.deps.stats.scope(`http.${prefix}.rds.${name}.`);
    const st: RdsStats = {
      prefix,
      update_attempt: s.counter('update_attempt'),
      update_success: s.counter('update_success'),
      update_rejected: s.counter('update_rejected'),
      config_reload: s.counter('config_reload'),
      version: s.gauge('version', 'NeverImport'),
    };
    if (e.versionInfo) st.version.set(versionHash(e.versionInfo));
    return st;
  }

  apply(update: ResourceUpdate): void {
    if (this.stopped) return;
    checkDuplicates('RouteConfiguration', update.added);
    const staged: { e: RouteEntry; r: { resource: Plain; json: JsonSource; version: string }; fp: string; compiled: [RdsRouteConfigProvider, CompiledRouteConfig][] }[] = [];
    const attempted: RouteEntry[] = [];
    for (const r of update.added) {
      const e = this.entries.get(r.name);
      if (!e || !this.subscriptions.has(r.name)) {
        this.deps.log.debug(`rds: ignoring route config "${r.name}": not subscribed`);
        continue;
      }
      attempted.push(e);
      for (const st of e.stats.values()) st.update_attempt.inc();
      const fp = fingerprint(r.resource);
      const version = r.version || update.versionInfo;
      const compiled: [RdsRouteConfigProvider, CompiledRouteConfig][] = [];
      if (fp !== e.fingerprint || e.plain === undefined) {
        try {
          if (e.providers.size === 0) compileRouteConfig(r.resource, { path: '', validateClustersDefault: false });
          for (const p of e.providers) compiled.push([p, compileRouteConfig(r.resource, { ...p.compileOptions, path: '' })]);
        } catch (err) {
          for (const a of attempted) for (const st of a.stats.values()) st.update_rejected.inc();
          throw rejectResource('RouteConfiguration', r.name, err);
        }
      }
      staged.push({ e, r: { resource: r.resource, json: jsonOf(r), version }, fp, compiled });
    }
    // Commit: nothing below throws.
    const now = Date.now();
    for (const s of staged) {
      const e = s.e;
      const changed = s.fp !== e.fingerprint || e.plain === undefined;
      e.versionInfo = s.r.version;
      e.lastUpdated = now;
      e.json = s.r.json;
      if (changed) {
        e.plain = s.r.resource;
        e.fingerprint = s.fp;
        for (const [p, c] of s.compiled) p.compiled = c;
      }
      for (const st of e.stats.values()) {
        st.update_success.inc();
        if (changed) st.config_reload.inc();
        st.version.set(versionHash(e.versionInfo));
        this.deps.stats.setTextReadout(`http.${st.prefix}.rds.${e.name}.version_text`, e.versionInfo);
      }
      if (e.timer) { clearTimeout(e.timer); e.timer = undefined; }
      const wasReady = e.ready;
      e.ready = true;
      if (!wasReady || changed) this.deps.onReady?.(e.name);
    }
    for (const name of update.removed) {
      if (this.entries.has(name)) this.deps.log.info(`rds: route config "${name}" removed by the server; keeping the last one (routes go with their listeners)`);
    }
  }

  onExpired(_typeUrl: string, names: string[]): void {
    for (const name of names) {
      const e = this.entries.get(name);
      if (!e) continue;
      this.deps.log.warn(`rds: route config "${name}" expired (TTL); serving an empty route table`);
      const empty = { name, virtual_hosts: [] };
      for (const p of e.providers) {
        try { p.compiled = compileRouteConfig(empty, { ...p.compileOptions, path: '' }); } catch { p.compiled = null; }
      }
      e.plain = empty;
      e.json = () => ({ name });
      e.fingerprint = fingerprint(empty);
      e.lastUpdated = Date.now();
    }
  }

  /** RoutesConfigDump.dynamic_route_configs (proto3 JSON), sorted by name. */
  configDump(): object[] {
    const out: object[] = [];
    for (const name of [...this.entries.keys()].sort()) {
      const e = this.entries.get(name)!;
      if (e.plain === undefined) continue;
      out.push({
        version_info: e.versionInfo,
        route_config: { '@type': TYPE.ROUTE, ...redactJson(ROUTE_TYPE, (e.json?.() ?? { name }) as Record<string, unknown>) },
        last_updated: new Date(e.lastUpdated).toISOString(),
      });
    }
    return out;
  }

  stop(): void {
    this.stopped = true;
    for (const e of this.entries.values()) if (e.timer) { clearTimeout(e.timer); e.timer = undefined; }
    if (this.sweepScheduled) { clearImmediate(this.sweepScheduled); this.sweepScheduled = undefined; }
    this.subscriptions.stop();
  }
}

/** RDS over ADS only. Throws ConfigError (path relative to `rds`). */
function checkAdsSource(cs: Plain): void {
  if (!cs) throw new ConfigError('config_source', 'required');
  if (cs.ads || cs.self) return;
  const which = cs.api_config_source ? 'api_config_source' : cs.path_config_source ? 'path_config_source' : cs.path ? 'path' : '';
  throw new ConfigError(which ? `config_source.${which}` : 'config_source', 'only ADS config sources (ads: {}) are supported for RDS');
}
