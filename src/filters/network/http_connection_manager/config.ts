// envoy.filters.network.http_connection_manager
// (envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager).
//
// create(config, ctx) compiles the plain HttpConnectionManager once into a frozen HcmConfig;
// the product is a terminal NetworkFilterFactory whose filter takes each connection over
// (connection_manager.ts). Fields that would change traffic and that remora lacks are
// rejected with a ConfigError naming the field (relative to the HCM config); harmless ones
// are accepted.
//
// Defaults that differ from Envoy, on purpose:
//  - http2_protocol_options.max_concurrent_streams: 100 (Envoy: 2147483647) — a DoS bound;
//    configure it explicitly to raise it.
//  - http2 initial_stream_window_size / initial_connection_window_size: 64 KiB / 1 MiB when
//    unset (Envoy: 256 MiB each; 64 KiB / 1 MiB are Envoy's edge best-practice values). Node
//    buffers received DATA in memory, so small windows bound the memory a client can make a
//    connection hold; explicit values are honoured.
import * as os from 'node:os';
import { register, lookup, type FactoryContext } from '../../../common/registry';
import { CidrRange } from '../../../common/cidr';
import { ConfigError, joinPath } from '../../../config/errors';
import type { Plain, PlainAny } from '../../../config/plain';
import type { HttpFilterExtensionFactory, HttpFilterFactory } from '../../../http/filter';
import { compileLocalReplyConfig, type LocalReplyConfig, type ReplyHeaderMutator } from '../../../http/local_reply';
import { compileRouteConfig, type CompileRouteConfigOptions } from '../../../router';
import { rejectUnimplementedRouteFeatures } from '../../http/router/unimplemented';
import { applyHeaderMutations, compileHeaderLevel, concatMutations } from '../../../router';
import { createAccessLogs, compileAccessLogFilter, compileSubstitutionFormat, type AccessLog } from '../../../access_loggers';
import type { NetworkFilterFactory } from '../../../listener/types';
import { Store, rootStore } from '../../../stats/stats';
import type { Headers } from '../../../http/headers';
import type { StreamInfo } from '../../../common/stream_info';
import { createHcmStats, type HcmStats } from './stats';
import { StaticRouteConfigProvider, type RdsProviderFactory, type RouteConfigProvider } from './route_provider';
import { HcmFilter } from './connection_manager';
import * as fs from 'node:fs';

export const HCM_TYPE = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
export const HCM_NAME = 'envoy.filters.network.http_connection_manager';

export const enum CodecType { Auto = 0, Http1 = 1, Http2 = 2 }
export const enum ServerHeaderTransformation { Overwrite = 0, AppendIfAbsent = 1, PassThrough = 2 }
export const enum UnderscoresAction { Allow = 0, RejectRequest = 1, DropHeader = 2 }
export const enum EscapedSlashesAction { KeepUnchanged = 0, RejectRequest = 1, UnescapeAndRedirect = 2, UnescapeAndForward = 3 }
export const enum StripPortMode { None = 0, Matching = 1, Any = 2 }
export const enum ForwardClientCert { Sanitize = 0, ForwardOnly = 1, AppendForward = 2, SanitizeSet = 3, AlwaysForwardOnly = 4 }

/** One configured HTTP filter. */
export interface FilterEntry {
  readonly name: string;
  readonly factory: HttpFilterFactory;
  /** HttpFilter.disabled: skipped unless a route's FilterConfig enables it. */
  readonly disabled: boolean;
}

export interface UpgradeEntry {
  readonly enabled: boolean;
  /** UpgradeConfig.filters, or null to use http_filters. */
  readonly filters: readonly FilterEntry[] | null;
}

export interface ClientCertDetails { subject: boolean; cert: boolean; chain: boolean; dns: boolean; uri: boolean }

/** The compiled, immutable HttpConnectionManager. */
export interface HcmConfig {
  readonly statPrefix: string;
  readonly stats: HcmStats;
  readonly codecType: CodecType;
  readonly routeProvider: RouteConfigProvider;
  readonly filters: readonly FilterEntry[];
  /** Lowercase upgrade type -> config. */
  readonly upgrades: ReadonlyMap<string, UpgradeEntry>;
  readonly accessLogs: readonly AccessLog[];
  readonly flushLogOnTunnelEstablished: boolean;

  readonly useRemoteAddress: boolean;
  readonly xffNumTrustedHops: number;
  readonly skipXffAppend: boolean;
  readonly via: string;
  readonly internalCidrs: readonly CidrRange[] | null;
  readonly ipv4MappedXff: boolean;
  readonly appendXForwardedPort: boolean;
  /** Envoy's local_info address, appended to XFF for loopback peers. */
  readonly localAddress: string;
  readonly addUserAgent: boolean;
  readonly serviceCluster: string;
  readonly serviceNode: string;

  readonly serverName: string;
  readonly serverTransform: ServerHeaderTransformation;
  readonly schemeToOverwrite: string;
  readonly generateRequestId: boolean;
  readonly preserveExternalRequestId: boolean;
  readonly alwaysSetRequestIdInResponse: boolean;
  readonly forwardClientCert: ForwardClientCert;
  readonly clientCertDetails: ClientCertDetails;

  readonly maxRequestHeadersKb: number;
  readonly maxHeadersCount: number;
  readonly headersWithUnderscores: UnderscoresAction;
  readonly idleTimeoutMs: number;
  readonly maxConnectionDurationMs: number;
  readonly maxStreamDurationMs: number;
  readonly maxRequestsPerConnection: number;
  readonly streamIdleTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly requestHeadersTimeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly streamErrorOnInvalidHttpMessage: boolean;

  readonly h1: {
    readonly allowAbsoluteUrl: boolean;
    readonly acceptHttp10: boolean;
    readonly defaultHostForHttp10: string;
    readonly enableTrailers: boolean;
    readonly properCaseHeaders: boolean;
  };
  readonly h2: {
    readonly maxConcurrentStreams: number;
    readonly initialStreamWindowSize: number;
    readonly initialConnectionWindowSize: number;
    readonly hpackTableSize: number;
    readonly keepaliveIntervalMs: number;
    readonly keepaliveTimeoutMs: number;
  };

  readonly normalizePath: boolean;
  readonly mergeSlashes: boolean;
  readonly escapedSlashes: EscapedSlashesAction;
  readonly stripPort: StripPortMode;
  readonly stripTrailingHostDot: boolean;
  readonly localReply: LocalReplyConfig | undefined;

  /** Runtime overrides for premature-reset protection (HTTP/2). */
  readonly prematureResetTotalStreamCount: number;
  readonly prematureResetMinStreamLifetimeMs: number;
  /** Per-config lazily created node servers (codec glue). */
  readonly servers: { h1: unknown; h2: unknown };
}

function enumValue<T extends number>(v: unknown, map: Record<string, T>, path: string, dflt: T): T {
  if (v === undefined || v === null || v === '') return dflt;
  const r = map[String(v)];
  if (r === undefined) throw new ConfigError(path, `unsupported value "${String(v)}"`);
  return r;
}

function nonNegMs(v: unknown, dflt: number, path: string): number {
  if (v === undefined || v === null) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new ConfigError(path, 'duration must be non-negative');
  return n;
}

function reject(cond: boolean, path: string, msg: string): void {
  if (cond) throw new ConfigError(path, msg);
}

function nonEmptyList(v: unknown): boolean {
  return Array.isArray(v) && v.length > 0;
}

/** Prefix a ConfigError's path (factories report paths relative to their own config). */
function prefixed(e: unknown, prefix: string): never {
  if (e instanceof ConfigError) throw new ConfigError(e.path ? `${prefix}.${e.path}` : prefix, e.detail);
  throw new ConfigError(prefix, e instanceof Error ? e.message : String(e));
}

let cachedLocalAddress: string | undefined;
/** Envoy's Network::Utility::getLocalAddress: the first non-loopback IPv4 address, else 127.0.0.1. */
function localAddressForXff(): string {
  if (cachedLocalAddress !== undefined) return cachedLocalAddress;
  let addr = '127.0.0.1';
  try {
    const ifs = os.networkInterfaces();
    outer: for (const name of Object.keys(ifs)) {
      for (const a of ifs[name] ?? []) {
        if (a.family === 'IPv4' && !a.internal) { addr = a.address; break outer; }
      }
    }
  } catch { /* keep loopback */ }
  cachedLocalAddress = addr;
  return addr;
}

function readDataSource(ds: Plain, path: string): string {
  if (ds.inline_string !== undefined) return String(ds.inline_string);
  if (ds.inline_bytes !== undefined) return Buffer.from(ds.inline_bytes as Uint8Array).toString('utf8');
  if (ds.environment_variable !== undefined) {
    const v = process.env[String(ds.environment_variable)];
    if (v === undefined) throw new ConfigError(joinPath(path, 'environment_variable'), `environment variable "${ds.environment_variable}" is not set`);
    return v;
  }
  if (ds.filename !== undefined) {
    try { return fs.readFileSync(String(ds.filename), 'utf8'); } catch (e) {
      throw new ConfigError(joinPath(path, 'filename'), `cannot read "${ds.filename}": ${(e as Error).message}`);
    }
  }
  throw new ConfigError(path, 'data source must set one of filename, inline_string, inline_bytes, environment_variable');
}

class MapperHeaders implements ReplyHeaderMutator {
  constructor(private readonly muts: ReturnType<typeof concatMutations>) {}
  apply(resp: Headers, req: Headers | undefined, info: StreamInfo): void {
    applyHeaderMutations(this.muts, resp, { requestHeaders: req, responseHeaders: resp, streamInfo: info as never });
  }
}

const FILTER_CONFIG_TYPE = 'envoy.config.route.v3.FilterConfig';

/** Compile http_filters (or UpgradeConfig.filters). `path` is relative to the HCM config. */
function compileHttpFilters(list: Plain[] | undefined, path: string, ctx: FactoryContext, stats: HcmStats,
  requireTerminal: boolean): FilterEntry[] {
  const out: FilterEntry[] = [];
  const names = new Set<string>();
  const filters: Plain[] = list ?? [];
  for (let i = 0; i < filters.length; i++) {
    const hf = filters[i];
    const p = `${path}[${i}]`;
    if (!hf || typeof hf !== 'object') throw new ConfigError(p, 'http filter must be an object');
    const name: string = typeof hf.name === 'string' ? hf.name : '';
    if (name === '') throw new ConfigError(joinPath(p, 'name'), 'value length must be at least 1 characters');
    if (hf.config_discovery !== undefined && hf.config_discovery !== null) {
      throw new ConfigError(joinPath(p, 'config_discovery'), 'extension config discovery (ECDS) is not supported');
    }
    const typed = hf.typed_config as PlainAny | undefined;
    const key = typed?.['@type'] ?? name;
    const found = lookup<HttpFilterFactory>('http_filter', key) as unknown as HttpFilterExtensionFactory | undefined;
    // A type the schema does not know (Istio-private protos) is only acceptable as a registered no-op.
    const factory = typed?.['@unknown'] && !found?.noop ? undefined : found;
    if (factory === undefined) {
      if (hf.is_optional === true) continue;
      throw new ConfigError(p, `Didn't find a registered implementation for '${name}' with type URL: '${typed?.['@type'] ?? ''}'`);
    }
    if (names.has(name)) throw new ConfigError(joinPath(p, 'name'), `duplicate HTTP filter name '${name}'`);
    names.add(name);
    let compiled: HttpFilterFactory;
    const typedPath = joinPath(p, 'typed_config');
    try {
      compiled = factory.create(typed ?? { '@type': key }, {
        ...ctx, path: joinPath(ctx.path, typedPath), filterName: name, statPrefix: stats.prefix, scope: stats.scope,
      });
    } catch (e) { prefixed(e, typedPath); }
    if (!compiled || typeof compiled.createFilter !== 'function') {
      throw new ConfigError(typedPath, `filter '${name}' did not produce an HTTP filter factory`);
    }
    out.push(Object.freeze({ name, factory: compiled, disabled: hf.disabled === true }));
  }
  if (out.length === 0) {
    if (requireTerminal) throw new ConfigError(path, 'at least one HTTP filter is required and the last one must be terminal (envoy.filters.http.router)');
    return out;
  }
  for (let i = 0; i < out.length - 1; i++) {
    if (out[i].factory.terminal) {
      throw new ConfigError(`${path}[${i}]`, `terminal filter named '${out[i].name}' must be the last filter in the http filter chain`);
    }
  }
  const last = out[out.length - 1];
  if (!last.factory.terminal) {
    throw new ConfigError(`${path}[${out.length - 1}]`, `non-terminal filter named '${last.name}' is the last filter in the http filter chain`);
  }
  return out;
}

/** Compile route-level typed_per_filter_config through the http_filter registry. */
function perFilterConfigCompiler(ctx: FactoryContext): CompileRouteConfigOptions['perFilterConfig'] {
  return (filterName: string, cfg: PlainAny, path: string): unknown => {
    let inner = cfg;
    if (cfg['@type'] === FILTER_CONFIG_TYPE || cfg['@type']?.endsWith('/' + FILTER_CONFIG_TYPE)) {
      const c = (cfg as Plain).config as PlainAny | undefined;
      if (!c) return undefined;
      inner = c;
    }
    if (inner['@unknown']) return undefined;
    const f = lookup('http_filter', inner['@type']) as unknown as HttpFilterExtensionFactory | undefined;
    if (!f || typeof f.createRouteSpecificFilterConfig !== 'function') return undefined;
    return f.createRouteSpecificFilterConfig(inner, { ...ctx, path, filterName });
  };
}

/** Compile a plain HttpConnectionManager. ConfigError paths are relative to the HCM config. */
export function compileHcmConfig(c: Plain, ctx: FactoryContext): HcmConfig {
  if (!c || typeof c !== 'object') throw new ConfigError('', 'HttpConnectionManager config must be an object');
  const statPrefix: string = typeof c.stat_prefix === 'string' ? c.stat_prefix : '';
  if (statPrefix === '') throw new ConfigError('stat_prefix', 'value length must be at least 1 characters');
  const store = ctx.stats instanceof Store ? ctx.stats : rootStore;
  const stats = createHcmStats(store, statPrefix);

  const codecType = enumValue<CodecType>(c.codec_type, { AUTO: CodecType.Auto, HTTP1: CodecType.Http1, HTTP2: CodecType.Http2 }, 'codec_type', CodecType.Auto);

  // ---- unsupported fields that change traffic
  reject(c.scoped_routes !== undefined && c.scoped_routes !== null, 'scoped_routes', 'scoped RDS (SRDS) is not supported');
  reject(nonEmptyList(c.original_ip_detection_extensions), 'original_ip_detection_extensions', 'original IP detection extensions are not supported');
  reject(nonEmptyList(c.early_header_mutation_extensions), 'early_header_mutation_extensions', 'early header mutation extensions are not supported');
  reject(c.proxy_100_continue === true, 'proxy_100_continue', 'proxying 100-Continue is not supported (remora answers Expect: 100-continue itself, the Envoy default)');
  reject(c.path_normalization_options !== undefined && c.path_normalization_options !== null, 'path_normalization_options', 'path normalization options (header validators) are not supported');
  reject(c.proxy_status_config !== undefined && c.proxy_status_config !== null, 'proxy_status_config', 'the Proxy-Status header is not supported');
  reject(c.typed_header_validation_config !== undefined && c.typed_header_validation_config !== null, 'typed_header_validation_config', 'header validation extensions are not supported');
  reject(c.access_log_options?.access_log_flush_interval !== undefined, 'access_log_options.access_log_flush_interval', 'periodic access log flushing is not supported');
  reject(c.access_log_options?.flush_access_log_on_new_request === true, 'access_log_options.flush_access_log_on_new_request', 'flushing access logs on new requests is not supported');
  reject(c.flush_access_log_on_new_request === true, 'flush_access_log_on_new_request', 'flushing access logs on new requests is not supported');
  reject(c.access_log_flush_interval !== undefined, 'access_log_flush_interval', 'periodic access log flushing is not supported');
  if (c.request_id_extension?.typed_config) {
    const t = String(c.request_id_extension.typed_config['@type'] ?? '');
    reject(!t.endsWith('envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig'), 'request_id_extension.typed_config',
      `request ID extension "${t}" is not supported (only UuidRequestIdConfig)`);
  }

  const h1o: Plain = c.http_protocol_options ?? {};
  reject(h1o.allow_chunked_length === true, 'http_protocol_options.allow_chunked_length', 'requests with both Content-Length and Transfer-Encoding are always rejected');
  reject(h1o.allow_custom_methods === true, 'http_protocol_options.allow_custom_methods', 'custom HTTP methods are not supported');
  reject(h1o.header_key_format?.stateful_formatter !== undefined, 'http_protocol_options.header_key_format.stateful_formatter', 'stateful header key formatters are not supported');
  const h2o: Plain = c.http2_protocol_options ?? {};
  reject(h2o.allow_connect === true, 'http2_protocol_options.allow_connect', 'extended CONNECT (RFC 8441, WebSocket over HTTP/2) is not supported yet');
  reject(nonEmptyList(h2o.custom_settings_parameters), 'http2_protocol_options.custom_settings_parameters', 'custom SETTINGS parameters are not supported');
  reject(h2o.allow_metadata === true, 'http2_protocol_options.allow_metadata', 'HTTP/2 METADATA frames are not supported');

  // ---- routes
  let routeProvider: RouteConfigProvider;
  const routeOpts: CompileRouteConfigOptions = {
    perFilterConfig: perFilterConfigCompiler(ctx),
    precheck: rejectUnimplementedRouteFeatures,
    hasCluster: ctx.clusterManager && typeof (ctx.clusterManager as { get?: unknown }).get === 'function'
      ? (n: string) => (ctx.clusterManager as { get(n: string): unknown }).get(n) !== undefined : undefined,
  };
  if (c.route_config !== undefined && c.route_config !== null) {
    const rc = compileRouteConfig(c.route_config, { ...routeOpts, path: 'route_config', validateClustersDefault: true });
    routeProvider = new StaticRouteConfigProvider(rc);
  } else if (c.rds !== undefined && c.rds !== null) {
    const f = ctx.rdsProviderFactory as RdsProviderFactory | undefined;
    if (typeof f !== 'function') throw new ConfigError('rds', 'RDS is not supported by this remora build yet; use an inline route_config');
    try { routeProvider = f(c.rds, { ...routeOpts, validateClustersDefault: false }, statPrefix); } catch (e) { prefixed(e, 'rds'); }
  } else {
    throw new ConfigError('route_specifier', 'one of rds, route_config, scoped_routes must be set');
  }

  // ---- HTTP filters
  const filters = compileHttpFilters(c.http_filters, 'http_filters', ctx, stats, true);
  const upgrades = new Map<string, UpgradeEntry>();
  const ups: Plain[] = c.upgrade_configs ?? [];
  for (let i = 0; i < ups.length; i++) {
    const u = ups[i];
    const p = `upgrade_configs[${i}]`;
    const type = String(u?.upgrade_type ?? '').toLowerCase();
    if (type === '') throw new ConfigError(joinPath(p, 'upgrade_type'), 'value length must be at least 1 characters');
    if (type === 'connect' || type === 'connect-udp') {
      throw new ConfigError(joinPath(p, 'upgrade_type'), `"${u.upgrade_type}" upgrades (CONNECT termination) are not supported yet`);
    }
    if (upgrades.has(type)) throw new ConfigError(joinPath(p, 'upgrade_type'), `Error: multiple upgrade configs with the same name: '${u.upgrade_type}'`);
    const uf = nonEmptyList(u.filters) ? compileHttpFilters(u.filters, joinPath(p, 'filters'), ctx, stats, true) : null;
    upgrades.set(type, Object.freeze({ enabled: u.enabled !== false, filters: uf }));
  }

  // ---- access logs
  let accessLogs: AccessLog[];
  try {
    accessLogs = createAccessLogs(c.access_log, 'access_log', { ...ctx });
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError('access_log', (e as Error).message);
  }

  // ---- local replies
  const localReply = compileLocalReplyConfig(c.local_reply_config, 'local_reply_config', {
    compileFilter: (cfg, path) => compileAccessLogFilter(cfg, path, ctx.runtime as never),
    compileBodyFormat: (cfg, path) => compileSubstitutionFormat(cfg, path),
    compileHeaders: (toAdd, path) => new MapperHeaders(concatMutations([compileHeaderLevel(toAdd, [], path, 'headers_to_add', 'headers_to_remove')])),
    readDataSource,
  });

  // ---- addresses
  let internalCidrs: CidrRange[] | null = null;
  const iac = c.internal_address_config;
  if (iac && nonEmptyList(iac.cidr_ranges)) {
    internalCidrs = (iac.cidr_ranges as Plain[]).map((r, i) => {
      try { return CidrRange.fromPlain(r); } catch (e) {
        throw new ConfigError(`internal_address_config.cidr_ranges[${i}]`, (e as Error).message);
      }
    });
  }

  const common: Plain = c.common_http_protocol_options ?? {};
  const maxHeadersCount = common.max_headers_count ?? 100;
  reject(!Number.isInteger(maxHeadersCount) || maxHeadersCount < 1, 'common_http_protocol_options.max_headers_count', 'value must be greater than or equal to 1');
  const kb = c.max_request_headers_kb ?? 60;
  reject(!Number.isInteger(kb) || kb < 1 || kb > 8192, 'max_request_headers_kb', 'value must be inside range [1, 8192]');

  const runtime = ctx.runtime as { getNumber(k: string, d: number): number } | undefined;
  const rtNum = (k: string, d: number) => (runtime && typeof runtime.getNumber === 'function' ? runtime.getNumber(k, d) : d);
  const localInfo = (ctx.localInfo ?? {}) as { nodeId?: string; clusterName?: string };

  const fcc = enumValue<ForwardClientCert>(c.forward_client_cert_details, {
    SANITIZE: ForwardClientCert.Sanitize, FORWARD_ONLY: ForwardClientCert.ForwardOnly, APPEND_FORWARD: ForwardClientCert.AppendForward,
    SANITIZE_SET: ForwardClientCert.SanitizeSet, ALWAYS_FORWARD_ONLY: ForwardClientCert.AlwaysForwardOnly,
  }, 'forward_client_cert_details', ForwardClientCert.Sanitize);
  const ccd: Plain = c.set_current_client_cert_details ?? {};

  const sho = c.scheme_header_transformation ?? {};
  const schemeToOverwrite = String(sho.scheme_to_overwrite ?? '').toLowerCase();
  reject(schemeToOverwrite !== '' && schemeToOverwrite !== 'http' && schemeToOverwrite !== 'https',
    'scheme_header_transformation.scheme_to_overwrite', 'value must be in list [http, https]');

  const keepalive: Plain = h2o.connection_keepalive ?? {};
  const h2MaxStreams = h2o.max_concurrent_streams ?? 100;
  reject(!Number.isInteger(h2MaxStreams) || h2MaxStreams < 1 || h2MaxStreams > 2147483647, 'http2_protocol_options.max_concurrent_streams', 'value must be inside range [1, 2147483647]');
  const sw = h2o.initial_stream_window_size ?? 65536;
  reject(sw < 65535 || sw > 2147483647, 'http2_protocol_options.initial_stream_window_size', 'value must be inside range [65535, 2147483647]');
  const cw = h2o.initial_connection_window_size ?? 1048576;
  reject(cw < 65535 || cw > 2147483647, 'http2_protocol_options.initial_connection_window_size', 'value must be inside range [65535, 2147483647]');

  const stripPort = c.strip_any_host_port === true ? StripPortMode.Any : c.strip_matching_host_port === true ? StripPortMode.Matching : StripPortMode.None;

  const cfg: HcmConfig = {
    statPrefix, stats, codecType, routeProvider, filters, upgrades, accessLogs,
    flushLogOnTunnelEstablished: c.access_log_options?.flush_log_on_tunnel_successfully_established === true,
    useRemoteAddress: c.use_remote_address === true,
    xffNumTrustedHops: Number(c.xff_num_trusted_hops ?? 0),
    skipXffAppend: c.skip_xff_append === true,
    via: typeof c.via === 'string' ? c.via : '',
    internalCidrs,
    ipv4MappedXff: c.represent_ipv4_remote_address_as_ipv4_mapped_ipv6 === true,
    appendXForwardedPort: c.append_x_forwarded_port === true,
    localAddress: localAddressForXff(),
    addUserAgent: c.add_user_agent === true,
    serviceCluster: localInfo.clusterName ?? '',
    serviceNode: localInfo.nodeId ?? '',
    serverName: typeof c.server_name === 'string' && c.server_name !== '' ? c.server_name : 'envoy',
    serverTransform: enumValue<ServerHeaderTransformation>(c.server_header_transformation, {
      OVERWRITE: ServerHeaderTransformation.Overwrite, APPEND_IF_ABSENT: ServerHeaderTransformation.AppendIfAbsent,
      PASS_THROUGH: ServerHeaderTransformation.PassThrough,
    }, 'server_header_transformation', ServerHeaderTransformation.Overwrite),
    schemeToOverwrite,
    generateRequestId: c.generate_request_id !== false,
    preserveExternalRequestId: c.preserve_external_request_id === true,
    alwaysSetRequestIdInResponse: c.always_set_request_id_in_response === true,
    forwardClientCert: fcc,
    clientCertDetails: Object.freeze({ subject: ccd.subject === true, cert: ccd.cert === true, chain: ccd.chain === true, dns: ccd.dns === true, uri: ccd.uri === true }),
    maxRequestHeadersKb: kb,
    maxHeadersCount,
    headersWithUnderscores: enumValue<UnderscoresAction>(common.headers_with_underscores_action, {
      ALLOW: UnderscoresAction.Allow, REJECT_REQUEST: UnderscoresAction.RejectRequest, DROP_HEADER: UnderscoresAction.DropHeader,
    }, 'common_http_protocol_options.headers_with_underscores_action', UnderscoresAction.Allow),
    idleTimeoutMs: nonNegMs(common.idle_timeout, 3600000, 'common_http_protocol_options.idle_timeout'),
    maxConnectionDurationMs: nonNegMs(common.max_connection_duration, 0, 'common_http_protocol_options.max_connection_duration'),
    maxStreamDurationMs: nonNegMs(common.max_stream_duration, 0, 'common_http_protocol_options.max_stream_duration'),
    maxRequestsPerConnection: Number(common.max_requests_per_connection ?? 0),
    streamIdleTimeoutMs: nonNegMs(c.stream_idle_timeout, 300000, 'stream_idle_timeout'),
    requestTimeoutMs: nonNegMs(c.request_timeout, 0, 'request_timeout'),
    requestHeadersTimeoutMs: nonNegMs(c.request_headers_timeout, 0, 'request_headers_timeout'),
    drainTimeoutMs: nonNegMs(c.drain_timeout, 5000, 'drain_timeout'),
    streamErrorOnInvalidHttpMessage: c.stream_error_on_invalid_http_message === true,
    h1: Object.freeze({
      allowAbsoluteUrl: h1o.allow_absolute_url !== false,
      acceptHttp10: h1o.accept_http_10 === true,
      defaultHostForHttp10: typeof h1o.default_host_for_http_10 === 'string' ? h1o.default_host_for_http_10 : '',
      enableTrailers: h1o.enable_trailers === true,
      properCaseHeaders: h1o.header_key_format?.proper_case_words !== undefined,
    }),
    h2: Object.freeze({
      maxConcurrentStreams: h2MaxStreams,
      initialStreamWindowSize: sw,
      initialConnectionWindowSize: cw,
      hpackTableSize: h2o.hpack_table_size ?? 4096,
      keepaliveIntervalMs: nonNegMs(keepalive.interval, 0, 'http2_protocol_options.connection_keepalive.interval'),
      keepaliveTimeoutMs: nonNegMs(keepalive.timeout, 0, 'http2_protocol_options.connection_keepalive.timeout'),
    }),
    normalizePath: c.normalize_path === true,
    mergeSlashes: c.merge_slashes === true,
    escapedSlashes: enumValue<EscapedSlashesAction>(c.path_with_escaped_slashes_action, {
      IMPLEMENTATION_SPECIFIC_DEFAULT: EscapedSlashesAction.KeepUnchanged, KEEP_UNCHANGED: EscapedSlashesAction.KeepUnchanged,
      REJECT_REQUEST: EscapedSlashesAction.RejectRequest, UNESCAPE_AND_REDIRECT: EscapedSlashesAction.UnescapeAndRedirect,
      UNESCAPE_AND_FORWARD: EscapedSlashesAction.UnescapeAndForward,
    }, 'path_with_escaped_slashes_action', EscapedSlashesAction.KeepUnchanged),
    stripPort,
    stripTrailingHostDot: c.strip_trailing_host_dot === true,
    localReply,
    prematureResetTotalStreamCount: rtNum('overload.premature_reset_total_stream_count', 500),
    prematureResetMinStreamLifetimeMs: rtNum('overload.premature_reset_min_stream_lifetime_seconds', 1) * 1000,
    servers: { h1: undefined, h2: undefined },
  };
  return cfg;
}

/** The network_filter product: a terminal filter factory around one compiled HcmConfig. */
export class HcmFilterFactory implements NetworkFilterFactory {
  readonly name = HCM_NAME;
  readonly terminal = true;
  private readonly filter: HcmFilter;
  constructor(readonly config: HcmConfig) {
    this.filter = new HcmFilter(config);
  }
  /** The filter is stateless (per-connection state lives in HcmConnection), so one instance serves all connections. */
  createFilter(): HcmFilter { return this.filter; }
  destroy(): void {
    this.config.routeProvider.release?.();
    this.filter.destroy();
  }
}

register<HcmFilterFactory>('network_filter', {
  typeNames: [HCM_TYPE],
  names: [HCM_NAME],
  create(config: PlainAny, ctx: FactoryContext): HcmFilterFactory {
    return new HcmFilterFactory(compileHcmConfig(config, ctx));
  },
});
