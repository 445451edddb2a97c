// One listener: its compiled config (filter chains, matcher, listener filters),
// its bound sockets and its live connections.
//
// compileListener() validates a plain envoy.config.listener.v3.Listener and builds
// every runtime structure up front (throws ConfigError). ListenerImpl owns the
// net.Server(s) and swaps compiled configs atomically: new connections use the
// newest config, existing connections keep the filter chain they started with.
import * as net from 'node:net';
import * as fs from 'node:fs';
import { formatIp, normalizeIpString, parseIp } from '../common/cidr';
import { lookup } from '../common/registry';
import type { FactoryContext } from '../common/registry';
import { RF } from '../common/response_flags';
import { ConnectionInfo, StreamInfo } from '../common/stream_info';
import { ConfigError, joinPath } from '../config/errors';
import type { Plain, PlainAny } from '../config/plain';
import type { Counter, Gauge, Histogram, Store } from '../stats/stats';
import type { ServerContext, Logger } from '../server/context';
import { createAccessLogs } from '../access_loggers';
import type { AccessLog } from '../access_loggers';
import { ActiveConnection, ConnectionOwner } from './connection';
import { FilterChainMatcher, compileFilterChainMatcher } from './filter_chain_match';
import { CompiledListenerFilter, ListenerFilterRun, ListenerFilterStats, compileMatchPredicate } from './listener_filters';
import { stableStringify } from './stable';
import { NetworkFilterStatus } from './types';
import type { ListenerFilterFactory, NetworkFilter, NetworkFilterFactory } from './types';

/** What the listener manager needs from the server (a ServerContext satisfies it). */
export type ListenerContext = Pick<ServerContext, 'stats' | 'clusterManager' | 'log' | 'drainTimeMs'> & Partial<ServerContext>;

export const DEFAULT_BUFFER_LIMIT = 1024 * 1024;
const DEFAULT_LISTENER_FILTERS_TIMEOUT_MS = 15000;

const RAW_BUFFER_TYPES = new Set([
  'envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer',
  'envoy.transport_sockets.raw_buffer',
  'raw_buffer',
]);
const TLS_TYPES = new Set([
  'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
  'envoy.transport_sockets.tls',
  'tls',
]);
/** Listener filters that arrive in a later remora release: rejected with a clear message until then. */
const LATER_LISTENER_FILTERS: Record<string, string> = {
  'envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector': 'envoy.filters.listener.tls_inspector',
  'envoy.filters.listener.tls_inspector': 'envoy.filters.listener.tls_inspector',
  'envoy.extensions.filters.listener.http_inspector.v3.HttpInspector': 'envoy.filters.listener.http_inspector',
  'envoy.filters.listener.http_inspector': 'envoy.filters.listener.http_inspector',
  'envoy.extensions.filters.listener.original_dst.v3.OriginalDst': 'envoy.filters.listener.original_dst',
  'envoy.filters.listener.original_dst': 'envoy.filters.listener.original_dst',
};

export type ListenerAddress =
  | { kind: 'tcp'; ip: string; port: number; family: 4 | 6; ipv6Only: boolean; text: string }
  | { kind: 'pipe'; path: string; mode: number; text: string };

function lastSegment(typeUrl: string): string {
  const slash = typeUrl.lastIndexOf('/');
  return slash >= 0 ? typeUrl.slice(slash + 1) : typeUrl;
}

/** Envoy's stat-name sanitising: ':' is not allowed in stat names. */
export function sanitizeStatName(s: string): string {
  return s.replace(/:/g, '_').replace(/\0/g, '');
}

function parseAddress(a: Plain, path: string): ListenerAddress {
  if (!a) throw new ConfigError(path, 'an address is required');
  if (a.socket_address) {
    const sa = a.socket_address;
    const p = joinPath(path, 'socket_address');
    if (sa.protocol !== undefined && sa.protocol !== 'TCP' && sa.protocol !== 0) {
      throw new ConfigError(joinPath(p, 'protocol'), `${String(sa.protocol)} listeners are not supported (only TCP)`);
    }
    if (sa.named_port !== undefined && sa.named_port !== '') {
      throw new ConfigError(joinPath(p, 'named_port'), 'named ports are not supported; use port_value');
    }
    if (sa.resolver_name) throw new ConfigError(joinPath(p, 'resolver_name'), 'custom resolvers are not supported for listener addresses');
    const ip = parseIp(sa.address ?? '');
    if (!ip) throw new ConfigError(joinPath(p, 'address'), `malformed IP address: ${sa.address ?? ''}`);
    const port = sa.port_value ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new ConfigError(joinPath(p, 'port_value'), 'value must be less than or equal to 65535');
    }
    // Envoy listens v6-only on an IPv6 address unless ipv4_compat is set.
    const rawIsV6 = (sa.address as string).includes(':');
    const canonical = rawIsV6 && ip.family === 4 ? (sa.address as string) : formatIp(ip);
    const text = rawIsV6 ? `[${canonical}]:${port}` : `${canonical}:${port}`;
    return { kind: 'tcp', ip: sa.address, port, family: rawIsV6 ? 6 : 4, ipv6Only: rawIsV6 && !sa.ipv4_compat, text };
  }
  if (a.pipe) {
    const pp = a.pipe.path ?? '';
    if (!pp) throw new ConfigError(joinPath(path, 'pipe.path'), 'value length must be at least 1 characters');
    const mode = a.pipe.mode ?? 0;
    if (mode > 0o777) throw new ConfigError(joinPath(path, 'pipe.mode'), 'value must be less than or equal to 511');
    const nodePath = pp.startsWith('@') ? '\0' + pp.slice(1) : pp;
    return { kind: 'pipe', path: nodePath, mode, text: pp };
  }
  if (a.envoy_internal_address) {
    throw new ConfigError(joinPath(path, 'envoy_internal_address'), 'internal listeners are not supported');
  }
  throw new ConfigError(path, 'an address is required (socket_address or pipe)');
}

/** A compiled FilterChain: its network filter factories and the connections using it. */
export class FilterChainImpl {
  readonly connections = new Set<ActiveConnection>();
  draining = false;
  destroyed = false;
  drainTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly name: string,
    /** Stable serialization of the FilterChain config: equal keys = the same chain. */
    readonly key: string,
    readonly factories: ReadonlyArray<NetworkFilterFactory>,
    readonly accessLogs: ReadonlyArray<AccessLog>,
    readonly config: Plain,
  ) {}

  destroy(log: Logger): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.drainTimer) { clearTimeout(this.drainTimer); this.drainTimer = undefined; }
    for (const f of this.factories) {
      try { f.destroy?.(); } catch (e) { log.error(`filter ${f.name} destroy failed: ${(e as Error).message}`); }
    }
  }
}

export interface CompiledListener {
  readonly name: string;
  readonly config: Plain;
  /** Stable serialization of the whole config. */
  readonly hash: string;
  /** Serialization of everything but filter_chains/default_filter_chain (in-place update check). */
  readonly listenerKey: string;
  /** Serialization of what the bound sockets depend on (addresses, bind_to_port, backlog). */
  readonly socketKey: string;
  readonly addresses: ReadonlyArray<ListenerAddress>;
  readonly bindToPort: boolean;
  readonly statPrefix: string;
  readonly trafficDirection: string;
  readonly drainType: string;
  readonly bufferLimitBytes: number;
  readonly backlog: number | undefined;
  readonly listenerFilters: ReadonlyArray<CompiledListenerFilter>;
  readonly listenerFiltersTimeoutMs: number;
  readonly continueOnListenerFiltersTimeout: boolean;
  readonly chains: ReadonlyArray<FilterChainImpl>;
  readonly defaultChain: FilterChainImpl | undefined;
  readonly matcher: FilterChainMatcher<FilterChainImpl>;
  readonly accessLogs: ReadonlyArray<AccessLog>;
}

export function listenerKeyOf(config: Plain): string {
  const { filter_chains: _fc, default_filter_chain: _dfc, ...rest } = config ?? {};
  return stableStringify(rest);
}

function buildNetworkFilters(chain: Plain, path: string, base: Record<string, unknown>): NetworkFilterFactory[] {
  const out: NetworkFilterFactory[] = [];
  const filters = (chain.filters ?? []) as Plain[];
  try {
    filters.forEach((f: Plain, j: number) => {
      const fp = `${path}.filters[${j}]`;
      if (f.config_discovery !== undefined) {
        throw new ConfigError(joinPath(fp, 'config_discovery'), 'extension config discovery (ECDS) is not supported for network filters');
      }
      const tc = f.typed_config as PlainAny | undefined;
      if (!tc) throw new ConfigError(fp, `network filter '${f.name ?? ''}' has no typed_config`);
      const tpath = joinPath(fp, 'typed_config');
      const found = lookup<NetworkFilterFactory>('network_filter', tc['@type']);
      // A type the schema does not know (Istio-private protos) is only acceptable as a registered no-op.
      const factory = tc['@unknown'] && !found?.noop ? undefined : found;
      if (!factory) {
        throw new ConfigError(tpath, `unknown network filter type "${tc['@type']}" (filter '${f.name ?? ''}')`);
      }
      const fctx: FactoryContext = { ...base, path: tpath, filterName: f.name ?? '' };
      let nf: NetworkFilterFactory | undefined;
      try {
        nf = factory.create(tc, fctx) as NetworkFilterFactory | undefined;
      } catch (e) {
        // Factories name fields relative to their config (the registry's contract) or under
        // ctx.path: report the full path either way.
        if (e instanceof ConfigError && e.path !== tpath && !e.path.startsWith(tpath + '.') && !e.path.startsWith(tpath + '[')) {
          throw new ConfigError(e.path ? joinPath(tpath, e.path) : tpath, e.detail);
        }
        throw e;
      }
      // Accepted-but-inert extensions (Istio's metadata exchange, stats) pass connections on.
      if (factory.noop && (!nf || typeof nf.createFilter !== 'function')) nf = passThroughFactory(f.name || lastSegment(tc['@type']));
      if (!nf || typeof nf.createFilter !== 'function') {
        throw new ConfigError(tpath, `"${tc['@type']}" is not a network filter`);
      }
      out.push(nf);
      const last = j === filters.length - 1;
      const typeName = lastSegment(tc['@type']);
      if (nf.terminal && !last) {
        throw new ConfigError(tpath, `terminal filter named ${f.name} of type ${typeName} must be the last filter in a network filter chain.`);
      }
      if (!nf.terminal && last) {
        throw new ConfigError(tpath, `non-terminal filter named ${f.name} of type ${typeName} is the last filter in a network filter chain.`);
      }
    });
  } catch (e) {
    for (const nf of out) { try { nf.destroy?.(); } catch { /* already failing */ } }
    throw e;
  }
  return out;
}

const PASS_THROUGH_FILTER: NetworkFilter = { onNewConnection: () => NetworkFilterStatus.Continue };

function passThroughFactory(name: string): NetworkFilterFactory {
  return { name, terminal: false, createFilter: () => PASS_THROUGH_FILTER };
}

function checkTransportSocket(ts: Plain, path: string): void {
  if (!ts) return;
  const tc = ts.typed_config as PlainAny | undefined;
  const type = tc ? lastSegment(tc['@type']) : (ts.name ?? '');
  if (!tc && !ts.name) return;
  if (RAW_BUFFER_TYPES.has(type) || (!tc && RAW_BUFFER_TYPES.has(ts.name))) return;
  if (TLS_TYPES.has(type)) {
    throw new ConfigError(joinPath(path, 'typed_config'), 'downstream TLS (envoy.transport_sockets.tls) is not supported by this remora build yet');
  }
  throw new ConfigError(tc ? joinPath(path, 'typed_config') : joinPath(path, 'name'), `unknown transport socket "${tc ? tc['@type'] : ts.name}"`);
}

function buildChain(
  chain: Plain, path: string, ctx: ListenerContext, base: Record<string, unknown>,
  accessLogs: ReadonlyArray<AccessLog>, reuse: Map<string, FilterChainImpl> | undefined, created: FilterChainImpl[],
): FilterChainImpl {
  const key = stableStringify(chain);
  const old = reuse?.get(key);
  if (old && !old.destroyed && !old.draining) return old;
  if (chain.use_proxy_proto) throw new ConfigError(joinPath(path, 'use_proxy_proto'), 'use_proxy_proto is not supported; use the envoy.filters.listener.proxy_protocol listener filter');
  if (chain.on_demand_configuration !== undefined) throw new ConfigError(joinPath(path, 'on_demand_configuration'), 'on-demand filter chains are not supported');
  checkTransportSocket(chain.transport_socket, joinPath(path, 'transport_socket'));
  const factories = buildNetworkFilters(chain, path, { ...base, filterChainName: chain.name ?? '' });
  const fc = new FilterChainImpl(chain.name ?? '', key, factories, accessLogs, chain);
  created.push(fc);
  return fc;
}

function compileListenerFilters(config: Plain, ctx: ListenerContext, base: Record<string, unknown>): CompiledListenerFilter[] {
  const out: CompiledListenerFilter[] = [];
  try {
    ((config.listener_filters ?? []) as Plain[]).forEach((lf: Plain, i: number) => {
      const p = `listener_filters[${i}]`;
      if (lf.config_discovery !== undefined) {
        throw new ConfigError(joinPath(p, 'config_discovery'), 'extension config discovery (ECDS) is not supported for listener filters');
      }
      const tc = lf.typed_config as PlainAny | undefined;
      const type = tc ? tc['@type'] : (lf.name ?? '');
      const factory = tc && !tc['@unknown'] ? lookup<ListenerFilterFactory>('listener_filter', type) : undefined;
      if (!factory) {
        const later = LATER_LISTENER_FILTERS[lastSegment(type)] ?? LATER_LISTENER_FILTERS[lf.name ?? ''];
        const tp = tc ? joinPath(p, 'typed_config') : joinPath(p, 'name');
        if (later) throw new ConfigError(tp, `listener filter ${later} is not supported by this remora build yet`);
        throw new ConfigError(tp, `unknown listener filter type "${type}" (filter '${lf.name ?? ''}')`);
      }
      const made = factory.create(tc!, { ...base, path: joinPath(p, 'typed_config') });
      let disabled: CompiledListenerFilter['disabled'];
      if (lf.filter_disabled !== undefined) {
        try {
          disabled = compileMatchPredicate(lf.filter_disabled, joinPath(p, 'filter_disabled'));
        } catch (e) {
          made.destroy?.();
          throw new ConfigError(joinPath(p, 'filter_disabled'), (e as Error).message);
        }
      }
      out.push({ factory: made, disabled });
    });
  } catch (e) {
    for (const c of out) { try { c.factory.destroy?.(); } catch { /* already failing */ } }
    throw e;
  }
  return out;
}

/**
 * Validate and compile a plain Listener. `reuse` maps FilterChain keys of the
 * listener being updated in place to their compiled chains (kept, not rebuilt).
 * Throws ConfigError with a field path relative to the listener.
 */
export function compileListener(config: Plain, ctx: ListenerContext, reuse?: Map<string, FilterChainImpl>): CompiledListener {
  if (!config || typeof config !== 'object') throw new ConfigError('', 'listener config must be an object');
  const name: string = config.name ?? '';
  if (config.api_listener !== undefined) throw new ConfigError('api_listener', 'API listeners are not supported');
  if (config.internal_listener !== undefined) throw new ConfigError('internal_listener', 'internal listeners are not supported');
  if (config.udp_listener_config !== undefined) throw new ConfigError('udp_listener_config', 'UDP listeners are not supported');
  if (config.use_original_dst) {
    throw new ConfigError('use_original_dst', 'use_original_dst (original destination hand-off) is not supported by this remora build yet');
  }
  if (config.filter_chain_matcher !== undefined) {
    throw new ConfigError('filter_chain_matcher', 'filter_chain_matcher is not supported; use filter_chains[].filter_chain_match');
  }
  if (config.transparent) throw new ConfigError('transparent', 'transparent (IP_TRANSPARENT) listeners are not supported');
  if (config.freebind) throw new ConfigError('freebind', 'freebind (IP_FREEBIND) listeners are not supported');
  if (config.enable_mptcp) throw new ConfigError('enable_mptcp', 'MPTCP listeners are not supported');
  if ((config.socket_options ?? []).length) throw new ConfigError('socket_options', 'listener socket_options are not supported');
  if (config.deprecated_v1 !== undefined) throw new ConfigError('deprecated_v1', 'deprecated_v1 is not supported; use bind_to_port');

  const addresses: ListenerAddress[] = [parseAddress(config.address, 'address')];
  ((config.additional_addresses ?? []) as Plain[]).forEach((aa, i) => {
    const p = `additional_addresses[${i}]`;
    if (aa.socket_options !== undefined) throw new ConfigError(joinPath(p, 'socket_options'), 'socket option overrides are not supported');
    addresses.push(parseAddress(aa.address, joinPath(p, 'address')));
  });
  const bindToPort = config.bind_to_port === undefined ? true : !!config.bind_to_port;
  const statPrefix = `listener.${config.stat_prefix ? config.stat_prefix : sanitizeStatName(addresses[0].text)}.`;
  const bufferLimitBytes = config.per_connection_buffer_limit_bytes ?? DEFAULT_BUFFER_LIMIT;
  const backlog = config.tcp_backlog_size;
  const trafficDirection = typeof config.traffic_direction === 'string' ? config.traffic_direction : 'UNSPECIFIED';
  const drainType = typeof config.drain_type === 'string' ? config.drain_type : 'DEFAULT';
  if (config.tcp_fast_open_queue_length) ctx.log.debug(`listener '${name}': tcp_fast_open_queue_length has no effect in remora`);

  const listenerInfo = {
    name, trafficDirection, metadata: config.metadata, address: addresses[0].text, statPrefix,
  };
  const base: Record<string, unknown> = { ...ctx, serverContext: ctx, listener: listenerInfo };

  const accessLogs = createAccessLogs(config.access_log ?? [], 'access_log', base);
  const created: FilterChainImpl[] = [];
  let listenerFilters: CompiledListenerFilter[] = [];
  try {
    listenerFilters = compileListenerFilters(config, ctx, base);
    const chains: FilterChainImpl[] = ((config.filter_chains ?? []) as Plain[]).map((c, i) =>
      buildChain(c ?? {}, `filter_chains[${i}]`, ctx, base, accessLogs, reuse, created));
    const defaultChain = config.default_filter_chain
      ? buildChain(config.default_filter_chain, 'default_filter_chain', ctx, base, accessLogs, reuse, created)
      : undefined;
    const matcher = compileFilterChainMatcher(
      chains.map((c, i) => ({ match: config.filter_chains[i]?.filter_chain_match, value: c, name: c.name })),
      defaultChain,
      { listenerAddress: addresses[0].text },
    );
    if (chains.length === 0 && !defaultChain) {
      throw new ConfigError('filter_chains', `error adding listener '${addresses[0].text}': no filter chains specified`);
    }
    const timeout = config.listener_filters_timeout;
    return {
      name, config,
      hash: stableStringify(config),
      listenerKey: listenerKeyOf(config),
      socketKey: stableStringify({ a: addresses.map((a) => [a.kind, a.text, a.kind === 'tcp' ? a.ipv6Only : a.mode]), bindToPort, backlog }),
      addresses, bindToPort, statPrefix, trafficDirection, drainType, bufferLimitBytes, backlog,
      listenerFilters,
      listenerFiltersTimeoutMs: timeout === undefined ? DEFAULT_LISTENER_FILTERS_TIMEOUT_MS : timeout,
      continueOnListenerFiltersTimeout: !!config.continue_on_listener_filters_timeout,
      chains, defaultChain, matcher, accessLogs,
    };
  } catch (e) {
    for (const c of created) c.destroy(ctx.log);
    for (const lf of listenerFilters) { try { lf.factory.destroy?.(); } catch { /* already failing */ } }
    throw e;
  }
}

export interface ListenerStats {
  downstream_cx_total: Counter;
  downstream_cx_active: Gauge;
  downstream_cx_destroy: Counter;
  downstream_cx_length_ms: Histogram;
  no_filter_chain_match: Counter;
  filterStats: ListenerFilterStats;
}

function listenerStats(store: Store, prefix: string): ListenerStats {
  const s = store.scope(prefix);
  // Created up front so /stats lists them like Envoy does.
  for (const c of ['downstream_cx_overflow', 'downstream_cx_overload_reject', 'downstream_cx_transport_socket_connect_timeout',
    'downstream_global_cx_overflow', 'extension_config_missing', 'network_extension_config_missing']) s.counter(c);
  return {
    downstream_cx_total: s.counter('downstream_cx_total'),
    downstream_cx_active: s.gauge('downstream_cx_active'),
    downstream_cx_destroy: s.counter('downstream_cx_destroy'),
    downstream_cx_length_ms: s.histogram('downstream_cx_length_ms', 'Milliseconds'),
    no_filter_chain_match: s.counter('no_filter_chain_match'),
    filterStats: {
      downstream_pre_cx_active: s.gauge('downstream_pre_cx_active'),
      downstream_pre_cx_timeout: s.counter('downstream_pre_cx_timeout'),
      downstream_listener_filter_remote_close: s.counter('downstream_listener_filter_remote_close'),
      downstream_listener_filter_error: s.counter('downstream_listener_filter_error'),
    },
  };
}

/** Raised when a listener cannot bind its address. */
export class ListenerBindError extends Error {
  constructor(readonly address: string, readonly code: string, detail: string) {
    super(`cannot bind '${address}': ${detail}`);
    this.name = 'ListenerBindError';
  }
}

const BIND_ERRORS: Record<string, string> = {
  EADDRINUSE: 'Address already in use',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
};

let nextConnectionId = 1;

/** Callbacks into the manager (stats of draining chains, logging). */
export interface ListenerHooks {
  onChainDrainStart(chain: FilterChainImpl): void;
  onChainDrained(chain: FilterChainImpl): void;
}

export class ListenerImpl implements ConnectionOwner {
  compiled: CompiledListener;
  readonly servers: net.Server[] = [];
  /** Bound addresses, Envoy text form ("127.0.0.1:41234", "[::1]:80"), in address order. */
  boundAddresses: string[] = [];
  readonly connections = new Set<ActiveConnection>();
  readonly stats: ListenerStats;
  accepting = false;
  /** true while the whole listener drains (/drain_listeners or removal): new connections are born draining. */
  drainingAll = false;
  versionInfo = '';
  lastUpdated = Date.now();
  addedViaApi = false;
  private readonly pendingSockets = new Set<net.Socket>();

  constructor(
    compiled: CompiledListener,
    private readonly ctx: ListenerContext,
    private readonly hooks: ListenerHooks,
  ) {
    this.compiled = compiled;
    this.stats = listenerStats(ctx.stats, compiled.statPrefix);
  }

  get name(): string { return this.compiled.name; }

  /** Open the listening sockets (no-op for bind_to_port: false). Rejects with ListenerBindError. */
  async bind(): Promise<void> {
    const c = this.compiled;
    if (!c.bindToPort) { this.accepting = true; return; }
    try {
      for (const a of c.addresses) {
        const server = net.createServer({ noDelay: true });
        server.on('connection', (socket: net.Socket) => this.onConnection(socket));
        await listenOn(server, a, c.backlog);
        this.servers.push(server);
        server.on('error', (e) => this.ctx.log.error(`listener '${this.name}' socket error: ${(e as Error).message}`));
        const bound = server.address();
        if (a.kind === 'tcp' && bound && typeof bound === 'object') {
          if (this.port === 0) this.port = bound.port;
          this.boundAddresses.push(a.family === 6 ? `[${formatIp(parseIp(bound.address)!)}]:${bound.port}` : `${bound.address}:${bound.port}`);
        } else {
          this.boundAddresses.push(a.text);
          if (a.kind === 'pipe' && a.mode && !a.path.startsWith('\0')) {
            try { fs.chmodSync(a.path, a.mode); } catch (e) { this.ctx.log.warn(`listener '${this.name}': chmod ${a.path}: ${(e as Error).message}`); }
          }
        }
      }
    } catch (e) {
      this.stopListening();
      throw e;
    }
    this.accepting = true;
  }

  /** The first bound TCP port (0 when not bound). Kept after the listener stops. */
  port = 0;

  /** Stop accepting; existing connections continue. */
  stopListening(): void {
    this.accepting = false;
    for (const s of this.servers) { try { s.close(); } catch { /* already closed */ } }
    this.servers.length = 0;
  }

  /** Accept a socket (from this listener's server, or handed over by another listener later). */
  onConnection(socket: net.Socket): void {
    socket.on('error', onSocketError);
    if (!this.accepting) { socket.destroy(); return; }
    const c = this.compiled;
    const local = c.addresses[0];
    const info: ConnectionInfo = {
      id: nextConnectionId++,
      remoteAddress: normalizeIpString(socket.remoteAddress ?? ''),
      remotePort: socket.remotePort ?? 0,
      directRemoteAddress: '',
      directRemotePort: 0,
      localAddress: socket.localAddress !== undefined ? normalizeIpString(socket.localAddress) : (local.kind === 'pipe' ? local.text : ''),
      localPort: socket.localPort ?? 0,
      sni: '',
      alpn: [],
      transportProtocol: 'raw_buffer',
      tls: false,
      listenerName: c.name,
      filterChainName: '',
    };
    info.directRemoteAddress = info.remoteAddress;
    info.directRemotePort = info.remotePort;
    const si = new StreamInfo(info);
    if (c.listenerFilters.length === 0) {
      this.finishAccept(c, socket, info, si, undefined);
      return;
    }
    this.pendingSockets.add(socket);
    const run = new ListenerFilterRun(socket, info, si, c.listenerFilters, c.listenerFiltersTimeoutMs,
      c.continueOnListenerFiltersTimeout, this.stats.filterStats, this.ctx.log,
      (s, i, streamInfo, data) => { this.pendingSockets.delete(s); this.finishAccept(c, s, i, streamInfo, data); });
    socket.once('close', () => this.pendingSockets.delete(socket));
    run.start();
  }

  private finishAccept(c: CompiledListener, socket: net.Socket, info: ConnectionInfo, si: StreamInfo, initialData: Buffer | undefined): void {
    const chain = c.matcher.find(info);
    if (!chain) {
      this.ctx.log.debug(`closing connection from ${info.remoteAddress}:${info.remotePort}: no matching filter chain found`);
      this.stats.no_filter_chain_match.inc();
      si.setFlag(RF.NoRouteFound);
      si.responseCodeDetails = 'filter_chain_not_found';
      si.markEnd();
      emitLogs(c.accessLogs, si, this.ctx.log);
      socket.destroy();
      return;
    }
    info.filterChainName = chain.name;
    const conn = new ActiveConnection(socket, info, si, initialData, c.bufferLimitBytes, chain, this, this.ctx.log);
    this.stats.downstream_cx_total.inc();
    this.stats.downstream_cx_active.inc();
    this.connections.add(conn);
    chain.connections.add(conn);
    if (this.drainingAll || chain.draining) conn.startDrain();
    conn.start(chain.factories);
  }

  onConnectionClosed(conn: ActiveConnection): void {
    this.stats.downstream_cx_active.dec();
    this.stats.downstream_cx_destroy.inc();
    const ns = conn.streamInfo.endNs;
    this.stats.downstream_cx_length_ms.record(ns >= 0 ? Math.round(ns / 1e6) : 0);
    this.connections.delete(conn);
    const chain = conn.chain as FilterChainImpl;
    chain.connections.delete(conn);
    emitLogs(chain.accessLogs, conn.streamInfo, this.ctx.log);
    if (chain.draining && chain.connections.size === 0) this.finishChainDrain(chain);
    if (this.drainWaiters.length && this.connections.size === 0) this.checkDrained();
  }

  /** Drain one chain: tell its connections, close what is left after drainMs, then destroy it. */
  drainChain(chain: FilterChainImpl, drainMs: number): void {
    if (chain.draining) return;
    chain.draining = true;
    this.hooks.onChainDrainStart(chain);
    for (const conn of [...chain.connections]) conn.startDrain();
    if (chain.connections.size === 0) { this.finishChainDrain(chain); return; }
    chain.drainTimer = setTimeout(() => {
      chain.drainTimer = undefined;
      for (const conn of [...chain.connections]) conn.close('noflush');
      // Sockets report 'close' asynchronously; finishChainDrain runs when the last one does.
    }, drainMs);
    chain.drainTimer.unref();
  }

  private finishChainDrain(chain: FilterChainImpl): void {
    if (chain.destroyed) return;
    chain.destroy(this.ctx.log);
    this.hooks.onChainDrained(chain);
  }

  /** Swap in a new compiled config; chains that are no longer used drain. */
  swap(next: CompiledListener, drainMs: number): void {
    const prev = this.compiled;
    this.compiled = next;
    const keep = new Set<FilterChainImpl>(next.chains);
    if (next.defaultChain) keep.add(next.defaultChain);
    const old = new Set<FilterChainImpl>(prev.chains);
    if (prev.defaultChain) old.add(prev.defaultChain);
    for (const ch of old) if (!keep.has(ch)) this.drainChain(ch, drainMs);
    for (const lf of prev.listenerFilters) if (!next.listenerFilters.includes(lf)) { try { lf.factory.destroy?.(); } catch { /* ignore */ } }
  }

  /** Every chain this listener currently owns (current config plus chains still draining). */
  allChains(): Set<FilterChainImpl> {
    const out = new Set<FilterChainImpl>(this.compiled.chains);
    if (this.compiled.defaultChain) out.add(this.compiled.defaultChain);
    for (const c of this.connections) out.add(c.chain as FilterChainImpl);
    return out;
  }

  /** Mark every connection (and future ones) draining; close the remaining ones after drainMs. Resolves when all closed. */
  drainAll(drainMs: number): Promise<void> {
    this.drainingAll = true;
    for (const conn of [...this.connections]) conn.startDrain();
    return new Promise<void>((resolve) => {
      if (this.connections.size === 0 || drainMs <= 0) {
        if (drainMs <= 0) this.destroyConnections();
        resolve();
        return;
      }
      const t = setTimeout(() => { this.destroyConnections(); resolve(); }, drainMs);
      t.unref();
      this.drainWaiters.push(() => { clearTimeout(t); resolve(); });
      this.checkDrained();
    });
  }

  private drainWaiters: Array<() => void> = [];

  private checkDrained(): void {
    if (this.connections.size !== 0) return;
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of w) f();
  }

  /** Close every connection at once (reset) and every socket still in listener filters. */
  destroyConnections(): void {
    for (const conn of [...this.connections]) conn.close('noflush');
    for (const s of [...this.pendingSockets]) s.destroy();
    this.pendingSockets.clear();
  }

  /** Stop listening, close everything, destroy all filter factories. */
  destroy(): void {
    this.stopListening();
    this.destroyConnections();
    for (const ch of this.allChains()) {
      const wasDraining = ch.draining && !ch.destroyed;
      ch.destroy(this.ctx.log);
      if (wasDraining) this.hooks.onChainDrained(ch);
    }
    for (const lf of this.compiled.listenerFilters) { try { lf.factory.destroy?.(); } catch { /* ignore */ } }
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of w) f();
  }
}

function emitLogs(logs: ReadonlyArray<AccessLog>, si: StreamInfo, log: Logger): void {
  for (let i = 0; i < logs.length; i++) {
    try { logs[i].log(si); } catch (e) { log.error(`access log failed: ${(e as Error).message}`); }
  }
}

function onSocketError(this: net.Socket, err: NodeJS.ErrnoException): void {
  // Peer resets etc. are normal; the 'close' that follows does the bookkeeping.
  void this; void err;
}

function listenOn(server: net.Server, a: ListenerAddress, backlog: number | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      const code = e.code ?? 'EUNKNOWN';
      reject(new ListenerBindError(a.text, code, BIND_ERRORS[code] ?? e.message));
    };
    const onListening = () => { server.off('error', onError); resolve(); };
    server.once('error', onError);
    server.once('listening', onListening);
    if (a.kind === 'tcp') {
      server.listen({ host: a.ip, port: a.port, backlog, ipv6Only: a.ipv6Only, exclusive: true });
    } else {
      server.listen({ path: a.path, backlog, exclusive: true });
    }
  });
}
