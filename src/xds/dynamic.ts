// Dynamic resources: the bootstrap's dynamic_resources (LDS/CDS over ADS) wired to the
// resource handlers, the RDS provider factory the HCM uses for `rds`, the secret store,
// readiness, /config_dump dynamic sections and admin /xds_status.
//
// Init order (Envoy's): static clusters -> CDS wildcard -> every cluster warm (EDS) ->
// LDS wildcard -> every listener warm (RDS) -> initialized (the server goes LIVE).
// cds_config / lds_config initial_fetch_timeout (default 15 s, 0 = wait forever) ends the
// wait for the first response of that type; cluster warming (eds_config) and listener
// warming (rds.config_source) have their own initial fetch timeouts.
//
// Usage (src/server/server.ts):
//   const dyn = new DynamicResources(server);   // before static listeners compile (`rds` needs it)
//   dyn.start(client);                            // any XdsClient: AdsClient, or a test double
//   await dyn.initialized();
import { ConfigError, joinPath } from '../config/errors';
import type { Plain } from '../config/plain';
import type { Logger, ServerContext } from '../server/context';
import type { Store } from '../stats/stats';
import type { ClusterManagerImpl } from '../cluster/cluster_manager';
import type { ListenerManager } from '../listener/listener_manager';
import type { AdminExtraHandler } from '../admin/types';
import type { RdsProviderFactory } from '../filters/network/http_connection_manager/route_provider';
import { createLogger } from '../common/log';
import { SecretStore } from '../secret/secret_store';
import { TYPE, type TypeStatus, type XdsClient } from './types';
import { AdsClient } from './client';
import { grpcTargetFromAddress } from './target';
import { CdsHandler } from './handlers/cds';
import { EdsHandler } from './handlers/eds';
import { LdsHandler } from './handlers/lds';
import { RouteConfigStore } from './handlers/rds';
import { SdsHandler } from './handlers/sds';
import { fetchTimer, initialFetchTimeoutMs } from './handlers/common';

/** What DynamicResources needs from the server (src/server/server.ts Server has all of it). */
export interface DynamicHost {
  readonly bootstrap: Plain;
  readonly stats: Store;
  readonly clusterManager: ClusterManagerImpl;
  readonly listenerManager: ListenerManager;
  readonly ctx: ServerContext;
  /** When the host owns a secret store (static secrets), DynamicResources feeds it SDS. */
  readonly secretStore?: SecretStore;
}

/** Extra members the server puts on its ServerContext (and so on every factory context). */
export interface XdsFactoryContext {
  /** HCM `rds` support (src/filters/network/http_connection_manager/route_provider.ts). */
  rdsProviderFactory?: RdsProviderFactory;
  /** Secrets by name (static and SDS). */
  secretStore?: SecretStore;
}

export interface DynamicConfigDump {
  clusters: { version_info?: string; dynamic_active_clusters?: object[]; dynamic_warming_clusters?: object[] };
  endpoints: { dynamic_endpoint_configs?: object[] };
  listeners: { version_info?: string; dynamic_listeners?: object[] };
  routes: { dynamic_route_configs?: object[] };
  secrets: { static_secrets?: object[]; dynamic_active_secrets?: object[]; dynamic_warming_secrets?: object[] };
}

type Phase = 'idle' | 'cds' | 'lds' | 'done';

/** True when the bootstrap asks for xDS (lds_config, cds_config or ads_config). */
export function hasDynamicResources(bootstrap: Plain): boolean {
  const dr = bootstrap?.dynamic_resources;
  return !!(dr && (dr.lds_config || dr.cds_config || dr.ads_config));
}

/** Validate dynamic_resources: only ADS is supported. Throws ConfigError naming the field. */
export function validateDynamicResources(dr: Plain): void {
  const base = 'dynamic_resources';
  if (!dr) return;
  if (dr.lds_resources_locator) throw new ConfigError(joinPath(base, 'lds_resources_locator'), 'xdstp:// resource locators are not supported');
  if (dr.cds_resources_locator) throw new ConfigError(joinPath(base, 'cds_resources_locator'), 'xdstp:// resource locators are not supported');
  for (const f of ['lds_config', 'cds_config'] as const) {
    const cs = dr[f];
    if (!cs) continue;
    if (!cs.ads) {
      const which = cs.api_config_source ? 'api_config_source' : cs.path_config_source ? 'path_config_source' : cs.path ? 'path' : cs.self ? 'self' : '';
      throw new ConfigError(joinPath(base, which ? `${f}.${which}` : f), 'only ADS config sources (ads: {}) are supported');
    }
    if (!dr.ads_config) throw new ConfigError(joinPath(base, 'ads_config'), `required: ${f} uses ads`);
  }
  if (dr.ads_config) {
    const a = dr.ads_config;
    const p = joinPath(base, 'ads_config');
    const apiType = a.api_type ?? 'GRPC';
    if (!['GRPC', 'DELTA_GRPC', 'AGGREGATED_GRPC', 'AGGREGATED_DELTA_GRPC'].includes(apiType)) {
      throw new ConfigError(joinPath(p, 'api_type'), `unsupported api_type ${apiType} (GRPC or DELTA_GRPC)`);
    }
    const services: Plain[] = Array.isArray(a.grpc_services) ? a.grpc_services : [];
    if (services.length === 0) throw new ConfigError(joinPath(p, 'grpc_services'), 'one gRPC service is required');
    if (Array.isArray(a.config_validators) && a.config_validators.length > 0) {
      throw new ConfigError(joinPath(p, 'config_validators'), 'config validators are not supported');
    }
  }
}

export class DynamicResources {
  readonly secrets: SecretStore;
  readonly eds: EdsHandler;
  readonly cds: CdsHandler;
  readonly routes: RouteConfigStore;
  readonly lds: LdsHandler;
  readonly sds: SdsHandler;
  private readonly log: Logger;
  private readonly dr: Plain;
  private client: XdsClient | null = null;
  private phase: Phase = 'idle';
  private cdsTimedOut = false;
  private ldsTimedOut = false;
  private cdsTimer: NodeJS.Timeout | undefined;
  private ldsTimer: NodeJS.Timeout | undefined;
  private readonly ready: Promise<void>;
  private resolveReady!: () => void;
  private checking = false;

  constructor(private readonly host: DynamicHost, opts: { log?: Logger } = {}) {
    this.log = opts.log ?? createLogger('config');
    this.dr = host.bootstrap?.dynamic_resources ?? {};
    validateDynamicResources(this.dr);
    this.ready = new Promise((resolve) => { this.resolveReady = resolve; });
    this.secrets = host.secretStore ?? new SecretStore(this.log);
    const onChange = () => this.check();
    this.eds = new EdsHandler(this.log);
    this.cds = new CdsHandler({ clusterManager: host.clusterManager, eds: this.eds, stats: host.stats, log: this.log, onChange });
    this.routes = new RouteConfigStore({ stats: host.stats, log: this.log, onReady: () => this.lds.onRouteReady() });
    this.lds = new LdsHandler({ listenerManager: host.listenerManager, routes: this.routes, stats: host.stats, log: this.log, onChange });
    this.sds = new SdsHandler(this.secrets, this.log);
    const ctx = host.ctx as ServerContext & XdsFactoryContext;
    if (this.dr.ads_config) ctx.rdsProviderFactory = this.routes.providerFactory;
    if (!ctx.secretStore) ctx.secretStore = this.secrets;
  }

  /** Register the handlers on the client, subscribe CDS (then LDS once clusters are warm) and start it. */
  start(client: XdsClient): void {
    if (this.client) throw new Error('dynamic resources already started');
    this.client = client;
    client.setHandler(TYPE.CLUSTER, this.cds);
    client.setHandler(TYPE.ENDPOINT, this.eds);
    client.setHandler(TYPE.LISTENER, this.lds);
    client.setHandler(TYPE.ROUTE, this.routes);
    client.setHandler(TYPE.SECRET, this.sds);
    this.eds.subscriptions.attach(client);
    this.routes.subscriptions.attach(client);
    this.sds.attach(client);
    this.cds.watchStaticEdsClusters();
    this.phase = 'cds';
    if (this.dr.cds_config) {
      client.subscribe(TYPE.CLUSTER, '*');
      const ms = initialFetchTimeoutMs(this.dr.cds_config);
      this.cdsTimer = fetchTimer(ms, () => {
        this.cdsTimer = undefined;
        if (this.cds.received) return;
        this.log.warn(`cds: no response within the initial fetch timeout (${ms} ms); continuing initialization`);
        this.cdsTimedOut = true;
        this.check();
      });
    }
    client.start();
    this.check();
  }

  /** Resolves once the first CDS and LDS passes (and the warming they started) are done. */
  initialized(): Promise<void> { return this.ready; }

  get isInitialized(): boolean { return this.phase === 'done'; }

  private check(): void {
    if (this.checking || !this.client) return;
    this.checking = true;
    try {
      if (this.phase === 'cds') {
        const first = !this.dr.cds_config || this.cds.received || this.cdsTimedOut;
        if (first && this.cds.isWarm()) {
          if (this.cdsTimer) { clearTimeout(this.cdsTimer); this.cdsTimer = undefined; }
          this.log.info('cm init: all clusters initialized');
          this.phase = 'lds';
          if (this.dr.lds_config) {
            this.client.subscribe(TYPE.LISTENER, '*');
            const ms = initialFetchTimeoutMs(this.dr.lds_config);
            this.ldsTimer = fetchTimer(ms, () => {
              this.ldsTimer = undefined;
              if (this.lds.received) return;
              this.log.warn(`lds: no response within the initial fetch timeout (${ms} ms); continuing initialization`);
              this.ldsTimedOut = true;
              this.check();
            });
          }
        }
      }
      if (this.phase === 'lds') {
        const first = !this.dr.lds_config || this.lds.received || this.ldsTimedOut;
        if (first && this.lds.isWarm() && this.routes.pendingNames().length === 0) {
          if (this.ldsTimer) { clearTimeout(this.ldsTimer); this.ldsTimer = undefined; }
          this.phase = 'done';
          this.log.info('all dynamic resources initialized');
          this.resolveReady();
        }
      }
    } finally {
      this.checking = false;
    }
  }

  /** Stop the client and every timer (server shutdown). */
  stop(): void {
    if (this.cdsTimer) clearTimeout(this.cdsTimer);
    if (this.ldsTimer) clearTimeout(this.ldsTimer);
    this.cdsTimer = this.ldsTimer = undefined;
    this.cds.stop();
    this.lds.stop();
    this.routes.stop();
    this.eds.stop();
    this.secrets.setFetcher(null);
    try { this.client?.stop(); } catch (e) { this.log.error(`xds client stop failed: ${(e as Error).message}`); }
  }

  status(): TypeStatus[] { return this.client?.status() ?? []; }

  /** The dynamic parts of /config_dump (proto3 JSON, sensitive fields redacted). */
  configDump(includeEds: boolean): DynamicConfigDump {
    const eps = includeEds ? this.eds.configDump() : [];
    const routes = this.routes.configDump();
    return {
      clusters: this.cds.configDump(),
      endpoints: eps.length ? { dynamic_endpoint_configs: eps } : {},
      listeners: this.lds.configDump(),
      routes: routes.length ? { dynamic_route_configs: routes } : {},
      secrets: this.secrets.configDump(),
    };
  }

  /** GET /xds_status: per type the subscribed names, last ACKed version, last NACK; plus what is warming. */
  xdsStatus(): object {
    return {
      connected: this.client?.connected() ?? false,
      initialized: this.isInitialized,
      types: this.status().map((s) => {
        const o: Record<string, unknown> = {
          type_url: s.typeUrl,
          wildcard: s.wildcard,
          subscribed: s.subscribed,
          last_acked_version: s.lastAckedVersion,
          last_acked_nonce: s.lastAckedNonce,
          last_updated: s.lastUpdated,
        };
        if (s.lastNack) o.last_nack = { version: s.lastNack.version, nonce: s.lastNack.nonce, error: s.lastNack.error, time: s.lastNack.time };
        return o;
      }),
      warming: {
        clusters: this.cds.warmingNames(),
        listeners: this.lds.warmingNames(),
        route_configs: this.routes.pendingNames(),
      },
    };
  }

  /** Admin handlers to add (AdminProviders.extraHandlers). */
  adminHandlers(): Map<string, AdminExtraHandler> {
    return new Map<string, AdminExtraHandler>([['/xds_status', {
      help: 'print xDS subscription status (subscribed names, last ACKed version, last NACK) as JSON',
      handler: (_req, res) => {
        let body: string;
        try { body = JSON.stringify(this.xdsStatus(), null, 1); } catch (e) { body = JSON.stringify({ error: (e as Error).message }); }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
      },
    }]]);
  }
}

/** Create DynamicResources for a host and start it with `client`. */
export function startDynamicResources(host: DynamicHost, client: XdsClient): DynamicResources {
  const d = new DynamicResources(host);
  d.start(client);
  return d;
}

/**
 * The production client for the bootstrap's ads_config: an AdsClient to the address of the
 * static cluster its envoy_grpc names (Istio: xds-grpc, a pipe to pilot-agent), or to a
 * google_grpc target_uri. Plaintext only. Throws ConfigError naming the field.
 */
export function createAdsClient(host: DynamicHost): AdsClient {
  const b = host.bootstrap;
  const a = b?.dynamic_resources?.ads_config;
  const base = 'dynamic_resources.ads_config';
  if (!a) throw new ConfigError(base, 'required');
  const svc = (Array.isArray(a.grpc_services) ? a.grpc_services : [])[0];
  const sp = `${base}.grpc_services[0]`;
  if (!svc) throw new ConfigError(joinPath(base, 'grpc_services'), 'one gRPC service is required');
  let target: string;
  if (svc.envoy_grpc) {
    const name = svc.envoy_grpc.cluster_name;
    const clusters: Plain[] = b.static_resources?.clusters ?? [];
    const idx = clusters.findIndex((c) => c?.name === name);
    if (idx < 0) throw new ConfigError(`${sp}.envoy_grpc.cluster_name`, `unknown static cluster "${name}" (the ADS cluster must be a static cluster)`);
    const c = clusters[idx];
    const cp = `static_resources.clusters[${idx}]`;
    if (c.transport_socket) throw new ConfigError(`${cp}.transport_socket`, 'TLS to the xDS server is not supported (use a plaintext or unix-socket xDS cluster, e.g. pilot-agent)');
    const addr = c.load_assignment?.endpoints?.[0]?.lb_endpoints?.[0]?.endpoint?.address;
    target = grpcTargetFromAddress(addr, `${cp}.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address`);
  } else if (svc.google_grpc) {
    if (svc.google_grpc.channel_credentials?.ssl_credentials) throw new ConfigError(`${sp}.google_grpc.channel_credentials`, 'TLS to the xDS server is not supported');
    target = String(svc.google_grpc.target_uri ?? '');
    if (!target) throw new ConfigError(`${sp}.google_grpc.target_uri`, 'required');
  } else {
    throw new ConfigError(sp, 'envoy_grpc or google_grpc is required');
  }
  const md: Record<string, string> = {};
  for (const h of Array.isArray(svc.initial_metadata) ? svc.initial_metadata : []) if (h?.key) md[String(h.key).toLowerCase()] = String(h.value ?? '');
  const dr = b.dynamic_resources;
  const apiType = String(a.api_type ?? 'GRPC');
  const rl = a.rate_limit_settings;
  return new AdsClient({
    target,
    apiType: apiType.includes('DELTA') ? 'DELTA_GRPC' : 'GRPC',
    node: host.ctx.localInfo.node,
    setNodeOnFirstMessageOnly: a.set_node_on_first_message_only === true,
    // The handlers time EDS/RDS warming per resource; the client's timers cover CDS/LDS.
    initialFetchTimeoutMs: {
      [TYPE.CLUSTER]: initialFetchTimeoutMs(dr.cds_config),
      [TYPE.LISTENER]: initialFetchTimeoutMs(dr.lds_config),
      [TYPE.ENDPOINT]: 0,
      [TYPE.ROUTE]: 0,
      [TYPE.SECRET]: 0,
    },
    stats: host.stats,
    initialMetadata: md,
    rateLimit: rl ? { maxTokens: rl.max_tokens, fillRatePerSec: rl.fill_rate } : undefined,
  });
}
