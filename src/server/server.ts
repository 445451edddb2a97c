// Server lifecycle: bootstrap -> stats/local info -> extensions -> clusters ->
// listeners -> admin; readiness; SIGTERM drain. Envoy's init order for static config.
import * as fs from 'node:fs';
import { Options, defaultOptions } from './options';
import { VERSION } from './version';
import { ServerContext, LocalInfo } from './context';
import { createLogger, setLogLevel, setLogSink } from '../common/log';
import { Store, rootStore } from '../stats/stats';
import { loadBootstrapMessage } from '../config/bootstrap';
import { toPlain } from '../config/json';

const BOOTSTRAP_TYPE = 'envoy.config.bootstrap.v3.Bootstrap';
import { ConfigError } from '../config/errors';
import type { Plain } from '../config/plain';
import { ClusterManagerImpl } from '../cluster/cluster_manager';
import { ListenerManager } from '../listener/listener_manager';
import { startAdmin, AdminServer } from '../admin/server';
import { renderClustersText, renderClustersJson } from '../cluster/admin_format';
import { flushAllAccessLogs, configureAccessLogFlush, bindAccessLogStats } from '../access_loggers';
import { closeAllPools } from '../filters/http/router/upstream/pools';
import '../extensions';
import type { XdsClient } from '../xds/types';
import { DynamicResources, createAdsClient, hasDynamicResources, type XdsFactoryContext } from '../xds/dynamic';
import { SecretStore } from '../secret/secret_store';

export type ServerState = 'PRE_INITIALIZING' | 'INITIALIZING' | 'LIVE' | 'DRAINING';

const log = createLogger('main');

export class Server {
  readonly opts: Options;
  readonly stats: Store;
  state: ServerState = 'PRE_INITIALIZING';
  bootstrap: Plain;
  ctx!: ServerContext;
  clusterManager!: ClusterManagerImpl;
  listenerManager!: ListenerManager;
  admin: AdminServer | undefined;
  /** xDS (bootstrap dynamic_resources): handlers, readiness, dynamic config_dump; undefined without xDS. */
  dynamic: DynamicResources | undefined;
  /** Secrets by name: bootstrap static_resources.secrets and SDS (also ctx.secretStore). */
  secretStore!: SecretStore;
  /** An XdsClient to use instead of the AdsClient built from ads_config (tests). */
  private readonly xdsClient: XdsClient | undefined;
  readonly startedAtMs = Date.now();
  /** The bootstrap as a protobufjs message (for /config_dump), when loaded from a file or YAML. */
  bootstrapMessage: object | undefined;
  private healthFailed = false;
  private stopHistogramMerging: (() => void) | undefined;
  private exiting = false;
  private onExit: ((code: number) => void) | undefined;

  constructor(opts: Partial<Options> & { bootstrap?: Plain; xdsClient?: XdsClient }, stats: Store = rootStore) {
    const { xdsClient, ...rest } = opts;
    this.opts = { ...defaultOptions(), ...rest };
    this.xdsClient = xdsClient;
    this.stats = stats;
    if (opts.bootstrap) {
      this.bootstrap = opts.bootstrap;
    } else {
      this.bootstrapMessage = loadBootstrapMessage({ configPath: this.opts.configPath || undefined, configYaml: this.opts.configYaml || undefined });
      this.bootstrap = toPlain(BOOTSTRAP_TYPE, this.bootstrapMessage);
    }
  }

  /** Build everything from the bootstrap. With bind=false (validate mode) nothing listens. */
  async start(bind = true): Promise<void> {
    const b = this.bootstrap;
    this.state = 'INITIALIZING';
    const node = b.node ?? {};
    const localInfo: LocalInfo = {
      nodeId: this.opts.serviceNode || node.id || '',
      clusterName: this.opts.serviceCluster || node.cluster || '',
      zone: this.opts.serviceZone || node.locality?.zone || '',
      node: {
        ...node, id: this.opts.serviceNode || node.id || '', cluster: this.opts.serviceCluster || node.cluster || '',
        // --service-zone overrides node.locality.zone, as in Envoy.
        ...(this.opts.serviceZone ? { locality: { ...node.locality, zone: this.opts.serviceZone } } : {}),
        user_agent_name: 'remora', user_agent_version: VERSION,
      },
    };
    const clusterManager = new ClusterManagerImpl({ stats: this.stats, log: createLogger('upstream'), localZone: localInfo.zone });
    this.clusterManager = clusterManager;
    this.ctx = {
      stats: this.stats,
      clusterManager,
      localInfo,
      log: createLogger('config'),
      drainTimeMs: this.opts.drainTimeS * 1000,
      runtime: staticRuntime(b),
    };
    const sr = b.static_resources ?? { clusters: [], listeners: [] };
    this.secretStore = new SecretStore(createLogger('secret'));
    (this.ctx as ServerContext & XdsFactoryContext).secretStore = this.secretStore;
    (sr.secrets ?? []).forEach((s: Plain, i: number) => {
      try { this.secretStore.addStatic(s, undefined); }
      catch (e) { throw prefixError(e, `static_resources.secrets[${i}]`); }
    });
    const staticNames = new Set<string>();
    sr.clusters.forEach((c: Plain, i: number) => {
      if (staticNames.has(c.name)) throw new ConfigError(`static_resources.clusters[${i}]`, `cluster manager: duplicate cluster '${c.name}'`);
      staticNames.add(c.name);
      try { clusterManager.addOrUpdate(c, { addedViaApi: false }); }
      catch (e) { throw prefixError(e, `static_resources.clusters[${i}]`); }
    });
    this.listenerManager = new ListenerManager(this.ctx, { bind });
    // Before static listeners compile: an HCM with `rds` needs ctx.rdsProviderFactory.
    if (hasDynamicResources(b)) this.dynamic = new DynamicResources(this);
    // Built (not connected) now so a bad ads_config fails the bootstrap, also in validate mode.
    const xdsClient = this.dynamic ? this.xdsClient ?? createAdsClient(this) : undefined;
    for (let i = 0; i < sr.listeners.length; i++) {
      try { await this.listenerManager.addOrUpdate(sr.listeners[i]); }
      catch (e) { throw prefixError(e, `static_resources.listeners[${i}]`); }
    }
    if (!bind) return;
    this.serverStats();
    if (b.stats_config) this.stats.configure(b.stats_config);
    this.stopHistogramMerging = this.stats.startHistogramMerging(b.stats_flush_interval || 5000);
    configureAccessLogFlush({ intervalMs: this.opts.fileFlushIntervalMsec });
    bindAccessLogStats(this.stats);
    if (b.admin?.address?.socket_address) {
      const sa = b.admin.address.socket_address;
      this.admin = await startAdmin({ address: sa.address, port: sa.port_value }, this.adminProviders());
      if (this.opts.adminAddressPath) fs.writeFileSync(this.opts.adminAddressPath, `${sa.address}:${this.admin.port}`);
      log.info(`admin address: ${sa.address}:${this.admin.port}`);
    }
    if (this.dynamic && xdsClient) {
      // Readiness follows xDS: INITIALIZING until the first CDS/LDS passes and their warming are done.
      this.dynamic.start(xdsClient);
      void this.dynamic.initialized().then(() => {
        if (this.state !== 'INITIALIZING') return;
        this.state = 'LIVE';
        log.info('all dynamic resources initialized; server is LIVE');
      });
      return;
    }
    await this.waitClustersInitialized();
    this.state = 'LIVE';
    log.info('all clusters initialized. initializing init manager');
    log.info('starting main dispatch loop');
  }

  private waitClustersInitialized(): Promise<void> {
    const pending = [...this.clusterManager.all()].filter((c) => !c.initialized);
    if (pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      let left = pending.length;
      for (const c of pending) c.onInitialized(() => { if (--left === 0) resolve(); });
    });
  }

  private serverStats(): void {
    const s = this.stats;
    s.gauge('server.concurrency', 'NeverImport').set(Math.max(1, this.opts.concurrency || 1));
    s.gauge('server.live', 'NeverImport');
    s.gauge('server.state', 'NeverImport');
    s.gauge('server.uptime', 'Accumulate');
    s.gauge('server.memory_allocated', 'Accumulate');
    s.gauge('server.memory_heap_size', 'Accumulate');
    s.gauge('server.version', 'NeverImport').set(0);
    s.gauge('server.hot_restart_epoch', 'NeverImport').set(this.opts.restartEpoch);
    this.refreshServerStats();
  }

  /** Envoy's Utility::serverState: DRAINING while /healthcheck/fail is in effect. */
  serverState(): ServerState {
    return this.state === 'LIVE' && this.healthFailed ? 'DRAINING' : this.state;
  }

  /** Called before each stats render. */
  refreshServerStats(): void {
    const s = this.stats;
    const mu = process.memoryUsage();
    const state = this.serverState();
    // Envoy: failHealthcheck() clears `live`, and serverState() reports DRAINING while it is failed.
    s.gauge('server.live').set(state === 'LIVE' ? 1 : 0);
    s.gauge('server.state').set({ LIVE: 0, DRAINING: 1, PRE_INITIALIZING: 2, INITIALIZING: 3 }[state]);
    s.gauge('server.uptime').set(Math.floor((Date.now() - this.startedAtMs) / 1000));
    s.gauge('server.memory_allocated').set(mu.heapUsed + mu.external);
    s.gauge('server.memory_heap_size').set(mu.heapTotal);
  }

  private adminProviders() {
    return {
      stats: this.stats,
      beforeStats: () => this.refreshServerStats(),
      serverInfo: () => ({
        version: VERSION,
        state: this.serverState(),
        uptimeCurrentEpochS: Math.floor((Date.now() - this.startedAtMs) / 1000),
        uptimeAllEpochsS: Math.floor((Date.now() - this.startedAtMs) / 1000),
        commandLineOptions: commandLineOptions(this.opts),
        node: this.ctx.localInfo.node,
        nativePath: 'js',
      }),
      clustersText: () => renderClustersText(this.clusterManager),
      clustersJson: () => renderClustersJson(this.clusterManager),
      configDump: (q: { resource?: string; mask?: string; nameRegex?: string; includeEds: boolean }) => this.configDump(q),
      listeners: () => this.listenerManager.listeners(),
      drainListeners: (o: { inboundOnly: boolean; graceful: boolean; skipExit: boolean }) => {
        void this.listenerManager.drainAll({ graceful: o.graceful, inboundOnly: o.inboundOnly });
      },
      healthcheckFail: () => { this.healthFailed = true; },
      healthcheckOk: () => { this.healthFailed = false; },
      quit: () => { void this.shutdown(0, false); },
      extraHandlers: this.dynamic?.adminHandlers(),
    };
  }

  /** admin.v3.ConfigDump: bootstrap, static clusters, static listeners, static routes. */
  configDump(q: { resource?: string; mask?: string; nameRegex?: string; includeEds: boolean }): object {
    return buildConfigDump(this, q);
  }

  /** SIGTERM: stop accepting, let in-flight requests finish within the drain time, then exit. */
  async shutdown(code = 0, graceful = true): Promise<void> {
    if (this.exiting) return;
    this.exiting = true;
    this.state = 'DRAINING';
    this.dynamic?.stop();
    log.info(`shutting down (${graceful ? 'draining for up to ' + this.opts.drainTimeS + 's' : 'immediately'})`);
    try {
      await this.listenerManager.shutdown(graceful ? this.opts.drainTimeS * 1000 : 0);
    } catch (e) { log.error(`drain failed: ${String(e)}`); }
    this.listenerManager.close();
    this.clusterManager.shutdown();
    closeAllPools();
    this.stopHistogramMerging?.();
    await flushAllAccessLogs();
    if (this.admin) await this.admin.close();
    this.onExit?.(code);
  }

  setExitHandler(fn: (code: number) => void): void { this.onExit = fn; }
}

function prefixError(e: unknown, prefix: string): Error {
  if (e instanceof ConfigError) return new ConfigError(e.path ? `${prefix}.${e.path}` : prefix, e.detail);
  const err = e as Error & { path?: string };
  if (err && typeof err.path === 'string') return new ConfigError(err.path ? `${prefix}.${err.path}` : prefix, err.message);
  return err instanceof Error ? err : new Error(String(err));
}

function staticRuntime(b: Plain): ServerContext['runtime'] {
  const values: Record<string, unknown> = {};
  for (const layer of b.layered_runtime?.layers ?? []) {
    if (layer.static_layer) flatten(layer.static_layer, '', values);
  }
  return {
    getNumber: (k, d) => (typeof values[k] === 'number' ? values[k] as number : d),
    getBool: (k, d) => (typeof values[k] === 'boolean' ? values[k] as boolean : d),
  };
}

function flatten(o: Record<string, unknown>, prefix: string, out: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(o)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v as Record<string, unknown>, prefix + k + '.', out);
    else out[prefix + k] = v;
  }
}

function commandLineOptions(o: Options): object {
  return {
    base_id: String(o.baseId), concurrency: o.concurrency, config_path: o.configPath, config_yaml: o.configYaml,
    log_level: o.logLevel, component_log_level: o.componentLogLevel, log_path: o.logPath,
    service_cluster: o.serviceCluster, service_node: o.serviceNode, service_zone: o.serviceZone,
    mode: o.mode === 'validate' ? 'Validate' : o.mode === 'init_only' ? 'InitOnly' : 'Serve',
    drain_time: `${o.drainTimeS}s`, parent_shutdown_time: `${o.parentShutdownTimeS}s`,
    drain_strategy: o.drainStrategy === 'immediate' ? 'Immediate' : 'Gradual',
    file_flush_interval: `${o.fileFlushIntervalMsec / 1000}s`, restart_epoch: o.restartEpoch,
    local_address_ip_version: o.localAddressIpVersion, admin_address_path: o.adminAddressPath,
    disable_hot_restart: true,
  };
}

import { buildConfigDump } from './config_dump';

/** CLI entry: run until SIGTERM/SIGINT or /quitquitquit. Returns the exit code. */
export async function runServer(opts: Options): Promise<number> {
  setLogLevel(opts.logLevel);
  if (opts.componentLogLevel) {
    for (const part of opts.componentLogLevel.split(',')) {
      const [name, level] = part.split(':');
      if (!name || !level || !setLogLevel(level, name)) { process.stderr.write(`remora: --component-log-level: bad entry "${part}"\n`); return 1; }
    }
  }
  if (opts.logPath) {
    // Envoy --log-path: the leveled log goes to this file (appended) instead of stderr.
    let fd: number;
    try {
      fd = fs.openSync(opts.logPath, 'a');
    } catch (e) {
      process.stderr.write(`remora: --log-path: cannot open ${opts.logPath}: ${(e as Error).message}\n`);
      return 1;
    }
    setLogSink((line) => {
      try { fs.writeSync(fd, line); } catch { /* a full disk must not stop the proxy */ }
    });
  }
  if (!opts.configPath && !opts.configYaml) {
    process.stderr.write('remora: no config: pass -c <path> or --config-yaml <yaml>\n');
    return 1;
  }
  let server: Server;
  try {
    server = new Server(opts);
    await server.start(opts.mode !== 'validate');
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`remora: error initializing configuration '${opts.configPath || '--config-yaml'}': ${msg}\n`);
    if (process.env.REMORA_DEBUG && e instanceof Error) process.stderr.write(String(e.stack) + '\n');
    return 1;
  }
  if (opts.mode === 'validate') {
    process.stdout.write(`configuration '${opts.configPath || '--config-yaml'}' OK\n`);
    server.clusterManager.shutdown();
    server.listenerManager.close();
    return 0;
  }
  if (opts.mode === 'init_only') {
    await server.shutdown(0, false);
    return 0;
  }
  return new Promise<number>((resolve) => {
    server.setExitHandler((code) => resolve(code));
    const onSignal = (sig: string) => {
      log.info(`caught ${sig}`);
      void server.shutdown(0, true);
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
    // Envoy reopens access logs on SIGUSR1; remora's file loggers reopen per flush.
    process.on('SIGUSR1', () => log.info('caught SIGUSR1'));
  });
}
