// RouteConfiguration -> compiled route table (see index.ts for the API overview).
import * as fs from 'node:fs';
import { ConfigError, joinPath } from '../config/errors';
import type { Plain, PlainAny } from '../config/plain';
import type { Headers } from '../http/headers';
import { DomainMatcher } from './domains';
import { HeaderMutations, type HeaderOp, compileHeaderLevel, concatMutations } from './header_mutation';
import {
  type Fraction, HeaderMatcher, MetadataMatcher, QueryParameterMatcher, asciiLower, compileFraction,
  compileHeaderMatchers, compileMetadataMatcher, compileQueryParameterMatcher, equalsIgnoreCase,
  fractionEnabled, hasControlChars, isValidHeaderName, matchHeaders, startsWithIgnoreCase,
} from './matchers';
import {
  type CompiledRegex, type CompiledRegexRewrite, compileRegexMatcher, compileRegexRewrite, regexLiteralPrefix,
} from './regex';
import { type CompiledHedgePolicy, type CompiledRetryPolicy, compileHedgePolicy, compileRetryPolicy } from './retry';

// ---------------------------------------------------------------------------------------------
// Public request / option types

/** What the HCM hands the route table per request. */
export interface RouteRequest {
  /** ':method' */
  method: string;
  /** ':authority' / Host as received (may include a port). */
  authority: string;
  /** ':path' including the query string; '' when the request has no :path (CONNECT). */
  path: string;
  /** Lowercase names -> string | string[] (pseudo headers included). */
  headers: Headers;
  /** ':scheme' ('http' | 'https'); default from headers[':scheme'], then 'http'. */
  scheme?: string;
  /** Stream dynamic metadata, for RouteMatch.dynamic_metadata. */
  dynamicMetadata?: Record<string, Record<string, unknown>>;
  /** Downstream TLS facts, for RouteMatch.tls_context. */
  tls?: { presented: boolean; validated: boolean };
}

export interface CompileRouteConfigOptions {
  /** Field path of the RouteConfiguration, prefixed to error paths (e.g. '...http_connection_manager.route_config'). */
  path?: string;
  /**
   * Compile one typed_per_filter_config entry once (e.g. through the HTTP filter
   * registry). The return value is what perFilterConfig() hands out; returning
   * undefined keeps the plain config. Throw ConfigError to reject.
   */
  perFilterConfig?: (filterName: string, config: PlainAny, path: string) => unknown;
  /** Cluster existence check used when validate_clusters is in effect. */
  hasCluster?: (name: string) => boolean;
  /** validate_clusters when the field is unset: Envoy uses true for inline route configs, false for RDS. */
  validateClustersDefault?: boolean;
  /** Called with the plain config before compiling (the HCM rejects features its router cannot honour). Throw ConfigError to reject. */
  precheck?: (cfg: Plain, path: string) => void;
}

export type RouteActionKind =
  | 'cluster' | 'weighted_clusters' | 'cluster_header' | 'direct_response' | 'redirect' | 'non_forwarding';

// ---------------------------------------------------------------------------------------------
// Compiled pieces exposed to the HCM / router filter

export interface CompiledHashPolicy {
  kind: 'header' | 'cookie' | 'connection_properties' | 'query_parameter' | 'filter_state';
  terminal: boolean;
  /** header: lowercase header name. */
  headerName?: string;
  /** header: optional rewrite of the value before hashing. */
  regexRewrite?: CompiledRegexRewrite;
  /** cookie / query_parameter: name. */
  name?: string;
  /** cookie: ttl in ms (undefined = no cookie generation). */
  ttlMs?: number;
  /** cookie: path attribute. */
  path?: string;
  /** cookie: extra attributes. */
  attributes?: Array<{ name: string; value: string }>;
  /** connection_properties. */
  sourceIp?: boolean;
  /** filter_state: key. */
  key?: string;
}

export interface CompiledUpgradeConfig {
  /** Lowercase upgrade type ('websocket', 'connect', ...). */
  upgradeType: string;
  /** Default true. */
  enabled: boolean;
}

export interface CompiledConnectConfig {
  proxyProtocolConfig: Plain | undefined;
  allowPost: boolean;
}

export interface CompiledMirrorPolicy {
  cluster: string;
  /** Lowercase header name; '' when `cluster` is used. */
  clusterHeader: string;
  /** Default 100%. Mirror when fractionEnabled(runtimeFraction, random). */
  runtimeFraction: Fraction;
  /** undefined = inherit the parent's sampling decision. */
  traceSampled: boolean | undefined;
  disableShadowHostSuffixAppend: boolean;
}

export interface CompiledRedirect {
  /** Scheme to redirect to, as configured; '' = keep. */
  schemeRedirect: string;
  httpsRedirect: boolean;
  hostRedirect: string;
  /** ':8080' or ''. */
  portRedirect: string;
  pathRedirect: string;
  pathRedirectHasQuery: boolean;
  prefixRewrite: string;
  regexRewrite: CompiledRegexRewrite | null;
  /** 301 / 302 / 303 / 307 / 308. */
  responseCode: number;
  stripQuery: boolean;
}

export interface CompiledDirectResponse {
  status: number;
  /** null when no body is configured. */
  body: Buffer | null;
}

export interface CompiledInternalRedirectPolicy {
  maxInternalRedirects: number;
  redirectResponseCodes: ReadonlySet<number>;
  allowCrossSchemeRedirect: boolean;
  responseHeadersToCopy: string[];
  /** Extension names of the configured predicates. */
  predicates: Array<{ name: string; config: Plain | undefined }>;
}

export interface CompiledTracing {
  clientSampling: Fraction;
  randomSampling: Fraction;
  overallSampling: Fraction;
  customTags: Plain[];
}

export interface VirtualClusterEntry {
  name: string;
  headers: HeaderMatcher[];
}

/** Per-filter config entries from one level's typed_per_filter_config. */
interface FilterConfigEntry {
  config: unknown;
  disabled: boolean;
}
type FilterConfigLevel = Map<string, FilterConfigEntry>;

const EMPTY_LEVEL: FilterConfigLevel = new Map();
// Shared empties keep large tables small (most routes set none of these).
const EMPTY_CONFIGS: Map<string, unknown> = new Map();
const EMPTY_DISABLED: Map<string, boolean> = new Map();
const EMPTY_UPGRADES: ReadonlyMap<string, CompiledUpgradeConfig> = new Map();
function emptyOr<T>(a: T[]): T[] {
  return a.length === 0 ? (EMPTY_ARRAY as T[]) : a;
}
const EMPTY_ARRAY = Object.freeze([]) as unknown as never[];

// Path specifier kinds.
const PK_PREFIX = 0, PK_PATH = 1, PK_REGEX = 2, PK_SEP_PREFIX = 3, PK_CONNECT = 4, PK_NEVER = 5;

const REDIRECT_CODES: Record<string, number> = {
  MOVED_PERMANENTLY: 301, FOUND: 302, SEE_OTHER: 303, TEMPORARY_REDIRECT: 307, PERMANENT_REDIRECT: 308,
};
const CLUSTER_NOT_FOUND_CODES: Record<string, number> = {
  SERVICE_UNAVAILABLE: 503, NOT_FOUND: 404, INTERNAL_SERVER_ERROR: 500,
};

/** Envoy's DEFAULT_ROUTE_TIMEOUT_MS. */
export const DEFAULT_ROUTE_TIMEOUT_MS = 15000;
const DEFAULT_MAX_DIRECT_RESPONSE_BODY_SIZE = 4096;
const FILTER_CONFIG_TYPE = 'envoy.config.route.v3.FilterConfig';

// ---------------------------------------------------------------------------------------------
// Match result

/**
 * The outcome of a match: the route plus the upstream cluster chosen for this request.
 * For routes with a static cluster (and for each named weighted cluster) the result
 * object is precomputed and shared, so matching allocates nothing; cluster_header
 * routes allocate one small result per request. Treat as immutable.
 */
export class RouteMatchResult {
  /** Header mutations to apply to the upstream request, in Envoy's order (weighted cluster, then route/vhost/route-config levels). */
  readonly requestHeaderMutations: HeaderMutations;
  /** Header mutations for the downstream response (also for direct responses and redirects). */
  readonly responseHeaderMutations: HeaderMutations;
  /** Weighted-cluster host_rewrite_literal, else ''. */
  readonly clusterHostRewriteLiteral: string;
  private readonly filterConfigs: Map<string, unknown>;
  private readonly filterDisabledMap: Map<string, boolean>;

  constructor(
    readonly vhost: CompiledVirtualHost,
    readonly route: CompiledRoute,
    /** Upstream cluster name; '' for direct responses / redirects or a missing cluster header. */
    readonly clusterName: string,
    /** The chosen weighted cluster entry, or null. */
    readonly weightedCluster: CompiledWeightedCluster | null,
  ) {
    if (weightedCluster) {
      this.requestHeaderMutations = weightedCluster.requestHeaderMutations;
      this.responseHeaderMutations = weightedCluster.responseHeaderMutations;
      this.clusterHostRewriteLiteral = weightedCluster.hostRewriteLiteral;
      this.filterConfigs = weightedCluster.filterConfigs;
      this.filterDisabledMap = weightedCluster.filterDisabledMap;
    } else {
      this.requestHeaderMutations = route.requestHeaderMutations;
      this.responseHeaderMutations = route.responseHeaderMutations;
      this.clusterHostRewriteLiteral = '';
      this.filterConfigs = route.filterConfigs;
      this.filterDisabledMap = route.filterDisabledMap;
    }
  }

  /** The most specific typed_per_filter_config for `filterName` (weighted cluster > route > vhost > route config). */
  perFilterConfig(filterName: string): unknown {
    return this.filterConfigs.get(filterName);
  }

  /** All levels' configs for `filterName`, least specific first (for filters that merge). */
  perFilterConfigs(filterName: string): unknown[] {
    const out = this.route.perFilterConfigs(filterName);
    const wc = this.weightedCluster?.filterLevel.get(filterName);
    if (wc && wc.config !== undefined) out.push(wc.config);
    return out;
  }

  /** FilterConfig.disabled from the most specific level that mentions the filter; undefined if none does. */
  filterDisabled(filterName: string): boolean | undefined {
    return this.filterDisabledMap.get(filterName);
  }

  /** Whether the router should treat this as a local response (direct_response / redirect). */
  get isDirectResponse(): boolean {
    return this.route.kind === 'direct_response' || this.route.kind === 'redirect';
  }
}

// ---------------------------------------------------------------------------------------------
// Weighted clusters

export class CompiledWeightedCluster {
  /** Set by the owning route. */
  result: RouteMatchResult | null = null;
  requestHeaderMutations: HeaderMutations = HeaderMutations.EMPTY;
  responseHeaderMutations: HeaderMutations = HeaderMutations.EMPTY;
  filterConfigs: Map<string, unknown> = new Map();
  filterDisabledMap: Map<string, boolean> = new Map();
  constructor(
    readonly name: string,
    /** Lowercase header to read the cluster name from; '' when `name` is used. */
    readonly clusterHeader: string,
    readonly weight: number,
    readonly hostRewriteLiteral: string,
    readonly metadataMatch: Plain | undefined,
    readonly requestLevel: HeaderOp[],
    readonly responseLevel: HeaderOp[],
    readonly filterLevel: FilterConfigLevel,
  ) {}
}

export class CompiledWeightedClusters {
  constructor(
    readonly clusters: CompiledWeightedCluster[],
    readonly totalWeight: number,
    /** Lowercase header carrying the random value (WeightedCluster.header_name), or ''. */
    readonly headerName: string,
    readonly runtimeKeyPrefix: string,
  ) {}

  /** Envoy's pickWeightedCluster: (header value if valid else random) % total, then cumulative intervals. */
  pick(headers: Headers, random: number): CompiledWeightedCluster {
    let sel: number | bigint = random;
    if (this.headerName) {
      const v = headers[this.headerName];
      const one = typeof v === 'string' ? v : v !== undefined && v.length === 1 ? v[0] : undefined;
      if (one !== undefined) {
        const n = parseUint64(one);
        if (n !== undefined) sel = n;
      }
    }
    const total = this.totalWeight;
    const x = typeof sel === 'bigint' ? Number(sel % BigInt(total)) : sel % total;
    let end = 0;
    const cs = this.clusters;
    for (let i = 0; i < cs.length; i++) {
      end += cs[i].weight;
      if (x < end) return cs[i];
    }
    return cs[cs.length - 1];
  }
}

/** absl::SimpleAtoi into uint64: optional whitespace and '+', digits only. */
function parseUint64(s: string): number | bigint | undefined {
  const t = s.trim();
  let i = 0;
  if (t.charCodeAt(0) === 43) i = 1;
  if (i >= t.length) return undefined;
  for (let j = i; j < t.length; j++) {
    const c = t.charCodeAt(j);
    if (c < 48 || c > 57) return undefined;
  }
  const digits = t.slice(i);
  if (digits.length <= 15) return Number(digits);
  const b = BigInt(digits);
  return b > 18446744073709551615n ? undefined : b;
}

// ---------------------------------------------------------------------------------------------
// Route

// Regex input cache: the query-stripped path is computed once per request even when
// many regex routes are tried.
let lastPathIn = '';
let lastPathEnd = -1;
let lastPathOut = '';
function strippedPath(path: string, end: number): string {
  if (end === path.length) return path;
  if (path !== lastPathIn || end !== lastPathEnd) {
    lastPathIn = path;
    lastPathEnd = end;
    lastPathOut = path.slice(0, end);
  }
  return lastPathOut;
}

export class CompiledRoute {
  // --- identity
  readonly name: string;
  /** Position in the virtual host's route list. */
  readonly index: number;
  readonly kind: RouteActionKind;

  // --- match
  readonly pathKind: number;
  /** prefix / path / path_separated_prefix value (lowercased when !caseSensitive). */
  readonly pathValue: string;
  readonly caseSensitive: boolean;
  /** Last char code of pathValue (lowercase when !caseSensitive), -1 if empty: a cheap pre-check before startsWith. */
  private readonly pathLastCode: number;
  readonly pathRegex: CompiledRegex | null;
  /** Literal every safe_regex match must start with ('' = unknown): checked before running RE2. */
  private readonly regexLiteral: string;
  readonly headerMatchers: HeaderMatcher[];
  readonly queryMatchers: QueryParameterMatcher[];
  readonly grpc: boolean;
  readonly runtimeFraction: Fraction | null;
  readonly tlsPresented: boolean | undefined;
  readonly tlsValidated: boolean | undefined;
  readonly metadataMatchers: MetadataMatcher[];
  /** Anything besides the path to check. */
  private readonly hasExtraMatch: boolean;

  // --- action
  readonly clusterName: string;
  /** cluster_header action: lowercase header name. */
  readonly clusterHeader: string;
  readonly weightedClusters: CompiledWeightedClusters | null;
  readonly clusterNotFoundResponseCode: number;
  /** Route timeout in ms; default 15000; 0 = disabled. */
  readonly timeoutMs: number;
  /** idle_timeout in ms; undefined = not set (HCM stream_idle_timeout applies); 0 = disabled. */
  readonly idleTimeoutMs: number | undefined;
  /** max_stream_duration.max_stream_duration (ms) or undefined. */
  readonly maxStreamDurationMs: number | undefined;
  /** max_stream_duration.grpc_timeout_header_max (ms) or undefined (0 = no cap, use the header as is). */
  readonly grpcTimeoutHeaderMaxMs: number | undefined;
  readonly grpcTimeoutHeaderOffsetMs: number | undefined;
  /** Deprecated RouteAction.max_grpc_timeout / grpc_timeout_offset (ms) or undefined. */
  readonly maxGrpcTimeoutMs: number | undefined;
  readonly grpcTimeoutOffsetMs: number | undefined;
  /** Route policy if set, else the virtual host's; null = no retries configured. */
  readonly retryPolicy: CompiledRetryPolicy | null;
  readonly hedgePolicy: CompiledHedgePolicy | null;
  readonly hashPolicy: CompiledHashPolicy[];
  /** Route-level upgrade overrides, keyed by lowercase upgrade type. */
  readonly upgradeConfigs: ReadonlyMap<string, CompiledUpgradeConfig>;
  readonly connectConfig: CompiledConnectConfig | null;
  /** Route policies if any, else the virtual host's, else the route config's. */
  readonly requestMirrorPolicies: CompiledMirrorPolicy[];
  readonly prefixRewrite: string;
  readonly regexRewrite: CompiledRegexRewrite | null;
  readonly hostRewriteLiteral: string;
  /** auto_host_rewrite: the router sets :authority to the selected upstream host's hostname. */
  readonly autoHostRewrite: boolean;
  /** Lowercase header name, or ''. */
  readonly hostRewriteHeader: string;
  readonly hostRewritePathRegex: CompiledRegexRewrite | null;
  readonly appendXForwardedHost: boolean;
  readonly directResponse: CompiledDirectResponse | null;
  readonly redirect: CompiledRedirect | null;
  /** True for the synthetic require_tls redirect route. */
  readonly sslRedirect: boolean;
  readonly priority: 'DEFAULT' | 'HIGH';
  /** RouteAction.metadata_match.filter_metadata['envoy.lb'] (subset LB), or undefined. */
  readonly metadataMatch: Plain | undefined;
  readonly internalRedirectPolicy: CompiledInternalRedirectPolicy | null;

  // --- misc route-level facts
  /** CorsPolicy (deprecated field) from the route, else the virtual host. */
  readonly cors: Plain | undefined;
  readonly rateLimits: Plain[];
  readonly includeVhRateLimits: boolean;
  readonly decorator: { operation: string; propagate: boolean } | null;
  readonly tracing: CompiledTracing | null;
  readonly metadata: Plain | undefined;
  readonly statPrefix: string;
  /** per_request_buffer_limit_bytes (route, else vhost); undefined = unlimited. */
  readonly perRequestBufferLimitBytes: number | undefined;

  // --- compiled header mutations (route > vhost > route config, or reversed)
  readonly requestHeaderMutations: HeaderMutations;
  readonly responseHeaderMutations: HeaderMutations;

  /** Merged per-filter configs, most specific wins (used by RouteMatchResult). */
  readonly filterConfigs: Map<string, unknown>;
  readonly filterDisabledMap: Map<string, boolean>;
  private readonly filterLevels: FilterConfigLevel[];

  /** Precomputed result for static-cluster / local-response routes. */
  private readonly staticResult: RouteMatchResult | null;

  constructor(readonly vhost: CompiledVirtualHost, r: Plain, index: number, path: string, ctx: CompileCtx, synthetic?: 'ssl_redirect') {
    this.index = index;
    if (synthetic === 'ssl_redirect') {
      // Envoy's SslRedirectRoute: 301 to https://<host><path>, no other behaviour.
      this.name = '';
      this.kind = 'redirect';
      this.sslRedirect = true;
      this.pathKind = PK_PREFIX; this.pathValue = ''; this.caseSensitive = true; this.pathRegex = null; this.pathLastCode = -1; this.regexLiteral = '';
      this.headerMatchers = []; this.queryMatchers = []; this.grpc = false; this.runtimeFraction = null;
      this.tlsPresented = undefined; this.tlsValidated = undefined; this.metadataMatchers = []; this.hasExtraMatch = false;
      this.clusterName = ''; this.clusterHeader = ''; this.weightedClusters = null; this.clusterNotFoundResponseCode = 503;
      this.timeoutMs = DEFAULT_ROUTE_TIMEOUT_MS; this.idleTimeoutMs = undefined; this.maxStreamDurationMs = undefined;
      this.grpcTimeoutHeaderMaxMs = undefined; this.grpcTimeoutHeaderOffsetMs = undefined;
      this.maxGrpcTimeoutMs = undefined; this.grpcTimeoutOffsetMs = undefined;
      this.retryPolicy = null; this.hedgePolicy = null; this.hashPolicy = []; this.upgradeConfigs = new Map();
      this.connectConfig = null; this.requestMirrorPolicies = []; this.prefixRewrite = ''; this.regexRewrite = null;
      this.hostRewriteLiteral = ''; this.autoHostRewrite = false; this.hostRewriteHeader = ''; this.hostRewritePathRegex = null;
      this.appendXForwardedHost = false; this.directResponse = null;
      this.redirect = {
        schemeRedirect: 'https', httpsRedirect: true, hostRedirect: '', portRedirect: '', pathRedirect: '',
        pathRedirectHasQuery: false, prefixRewrite: '', regexRewrite: null, responseCode: 301, stripQuery: false,
      };
      this.priority = 'DEFAULT'; this.metadataMatch = undefined; this.internalRedirectPolicy = null;
      this.cors = undefined; this.rateLimits = []; this.includeVhRateLimits = false; this.decorator = null;
      this.tracing = null; this.metadata = undefined; this.statPrefix = ''; this.perRequestBufferLimitBytes = undefined;
      this.requestHeaderMutations = HeaderMutations.EMPTY; this.responseHeaderMutations = HeaderMutations.EMPTY;
      this.filterLevels = []; this.filterConfigs = new Map(); this.filterDisabledMap = new Map();
      this.staticResult = new RouteMatchResult(vhost, this, '', null);
      return;
    }
    this.sslRedirect = false;
    this.name = typeof r.name === 'string' ? r.name : '';

    // ---- match
    const m = r.match;
    const mp = joinPath(path, 'match');
    if (!m || typeof m !== 'object') throw new ConfigError(mp, 'value is required');
    this.caseSensitive = m.case_sensitive === undefined || m.case_sensitive === null ? true : m.case_sensitive !== false;
    let pathKind: number;
    let pathValue = '';
    let pathRegex: CompiledRegex | null = null;
    if (m.prefix !== undefined) {
      pathKind = PK_PREFIX;
      pathValue = String(m.prefix);
    } else if (m.path !== undefined) {
      pathKind = PK_PATH;
      pathValue = String(m.path);
    } else if (m.safe_regex !== undefined) {
      pathKind = PK_REGEX;
      pathRegex = compileRegexMatcher(m.safe_regex, joinPath(mp, 'safe_regex'));
    } else if (m.path_separated_prefix !== undefined) {
      pathKind = PK_SEP_PREFIX;
      pathValue = String(m.path_separated_prefix);
      // PGV pattern ^[^?#]+[^?#/]$, checked without a regex.
      if (pathValue.length < 2 || pathValue.includes('?') || pathValue.includes('#') || pathValue.endsWith('/')) {
        throw new ConfigError(joinPath(mp, 'path_separated_prefix'), `value "${pathValue}" does not match regex pattern "^[^?#]+[^?#/]$"`);
      }
    } else if (m.connect_matcher !== undefined) {
      pathKind = PK_CONNECT;
    } else if (m.path_match_policy !== undefined) {
      throw new ConfigError(joinPath(mp, 'path_match_policy'), 'path match policy extensions (URI templates) are not supported');
    } else {
      throw new ConfigError(mp, 'one of prefix, path, safe_regex, path_separated_prefix, connect_matcher must be set');
    }
    if (!this.caseSensitive) pathValue = asciiLower(pathValue);
    this.pathValue = pathValue;
    this.pathLastCode = pathValue.length > 0 ? pathValue.charCodeAt(pathValue.length - 1) : -1;
    this.pathRegex = pathRegex;
    this.regexLiteral = pathRegex !== null ? regexLiteralPrefix(pathRegex.pattern) : '';
    this.headerMatchers = emptyOr(compileHeaderMatchers(m.headers, joinPath(mp, 'headers')));
    const qms: Plain[] = m.query_parameters ?? [];
    this.queryMatchers = emptyOr(qms.map((q, i) => compileQueryParameterMatcher(q, `${joinPath(mp, 'query_parameters')}[${i}]`)));
    this.grpc = m.grpc !== undefined && m.grpc !== null;
    this.runtimeFraction = m.runtime_fraction
      ? compileFraction(m.runtime_fraction.default_value, joinPath(joinPath(mp, 'runtime_fraction'), 'default_value'))
      : null;
    this.tlsPresented = m.tls_context?.presented ?? undefined;
    this.tlsValidated = m.tls_context?.validated ?? undefined;
    const mds: Plain[] = m.dynamic_metadata ?? [];
    this.metadataMatchers = emptyOr(mds.map((d, i) => compileMetadataMatcher(d, `${joinPath(mp, 'dynamic_metadata')}[${i}]`)));
    if (m.filter_state !== undefined && (m.filter_state as Plain[]).length > 0) {
      throw new ConfigError(joinPath(mp, 'filter_state'), 'filter state matchers are not supported');
    }
    this.hasExtraMatch = this.headerMatchers.length > 0 || this.queryMatchers.length > 0 || this.grpc ||
      this.runtimeFraction !== null || this.tlsPresented !== undefined || this.tlsValidated !== undefined ||
      this.metadataMatchers.length > 0;

    // ---- action
    const ra: Plain | undefined = r.route;
    let kind: RouteActionKind;
    if (ra !== undefined) kind = 'cluster';
    else if (r.redirect !== undefined) kind = 'redirect';
    else if (r.direct_response !== undefined) kind = 'direct_response';
    else if (r.non_forwarding_action !== undefined) kind = 'non_forwarding';
    else if (r.filter_action !== undefined) throw new ConfigError(joinPath(path, 'filter_action'), 'filter actions are not supported');
    else throw new ConfigError(path, 'one of route, redirect, direct_response, non_forwarding_action must be set');

    const a: Plain = ra ?? {};
    const ap = joinPath(path, 'route');
    let clusterName = '';
    let clusterHeader = '';
    let weighted: CompiledWeightedClusters | null = null;
    if (ra !== undefined) {
      if (a.cluster !== undefined) {
        clusterName = String(a.cluster);
        if (!clusterName) throw new ConfigError(joinPath(ap, 'cluster'), 'value length must be at least 1 characters');
        ctx.clusterRef(clusterName, joinPath(ap, 'cluster'));
      } else if (a.cluster_header !== undefined) {
        kind = 'cluster_header';
        if (!isValidHeaderName(a.cluster_header)) throw new ConfigError(joinPath(ap, 'cluster_header'), `invalid header name "${a.cluster_header}"`);
        clusterHeader = asciiLower(a.cluster_header);
      } else if (a.weighted_clusters !== undefined) {
        kind = 'weighted_clusters';
        weighted = compileWeightedClusters(a.weighted_clusters, joinPath(ap, 'weighted_clusters'), ctx);
      } else if (a.cluster_specifier_plugin !== undefined) {
        const plugin = ctx.clusterSpecifierPlugins.get(a.cluster_specifier_plugin);
        if (plugin === undefined) {
          throw new ConfigError(joinPath(ap, 'cluster_specifier_plugin'), `Unknown cluster specifier plugin name: ${a.cluster_specifier_plugin} is used in the route`);
        }
        // Only optional, unknown plugins get here: Envoy's null plugin, which never yields a route.
        pathKind = PK_NEVER;
      } else if (a.inline_cluster_specifier_plugin !== undefined) {
        const pl = a.inline_cluster_specifier_plugin;
        if (!pl.is_optional) {
          throw new ConfigError(joinPath(ap, 'inline_cluster_specifier_plugin'), `cluster specifier plugins are not supported: '${pl.extension?.name ?? ''}'`);
        }
        pathKind = PK_NEVER;
      } else {
        throw new ConfigError(ap, 'one of cluster, cluster_header, weighted_clusters, cluster_specifier_plugin, inline_cluster_specifier_plugin must be set');
      }
    }
    this.pathKind = pathKind;
    this.kind = kind;
    this.clusterName = clusterName;
    this.clusterHeader = clusterHeader;
    this.weightedClusters = weighted;
    const cnf = a.cluster_not_found_response_code ?? 'SERVICE_UNAVAILABLE';
    const cnfCode = CLUSTER_NOT_FOUND_CODES[cnf];
    if (cnfCode === undefined) throw new ConfigError(joinPath(ap, 'cluster_not_found_response_code'), `unknown enum value "${cnf}"`);
    this.clusterNotFoundResponseCode = cnfCode;

    this.timeoutMs = durMs(a.timeout, DEFAULT_ROUTE_TIMEOUT_MS, joinPath(ap, 'timeout'));
    this.idleTimeoutMs = optDurMs(a.idle_timeout, joinPath(ap, 'idle_timeout'));
    const msd = a.max_stream_duration;
    const msdp = joinPath(ap, 'max_stream_duration');
    this.maxStreamDurationMs = msd ? optDurMs(msd.max_stream_duration, joinPath(msdp, 'max_stream_duration')) : undefined;
    this.grpcTimeoutHeaderMaxMs = msd ? optDurMs(msd.grpc_timeout_header_max, joinPath(msdp, 'grpc_timeout_header_max')) : undefined;
    this.grpcTimeoutHeaderOffsetMs = msd ? optDurMs(msd.grpc_timeout_header_offset, joinPath(msdp, 'grpc_timeout_header_offset')) : undefined;
    this.maxGrpcTimeoutMs = optDurMs(a.max_grpc_timeout, joinPath(ap, 'max_grpc_timeout'));
    this.grpcTimeoutOffsetMs = optDurMs(a.grpc_timeout_offset, joinPath(ap, 'grpc_timeout_offset'));

    if (a.retry_policy_typed_config !== undefined) {
      throw new ConfigError(joinPath(ap, 'retry_policy_typed_config'), 'retry policy extensions are not supported');
    }
    this.retryPolicy = a.retry_policy ? compileRetryPolicy(a.retry_policy, joinPath(ap, 'retry_policy')) : vhost.retryPolicy;
    this.hedgePolicy = a.hedge_policy ? compileHedgePolicy(a.hedge_policy, joinPath(ap, 'hedge_policy')) : vhost.hedgePolicy;
    const hps: Plain[] = a.hash_policy ?? [];
    this.hashPolicy = emptyOr(hps.map((h, i) => compileHashPolicy(h, `${joinPath(ap, 'hash_policy')}[${i}]`)));

    const ups = new Map<string, CompiledUpgradeConfig>();
    let connectConfig: CompiledConnectConfig | null = null;
    const ucs: Plain[] = a.upgrade_configs ?? [];
    for (let i = 0; i < ucs.length; i++) {
      const u = ucs[i];
      const up = `${joinPath(ap, 'upgrade_configs')}[${i}]`;
      const t = asciiLower(String(u.upgrade_type ?? ''));
      if (!t) throw new ConfigError(joinPath(up, 'upgrade_type'), 'value length must be at least 1 characters');
      if (ups.has(t)) throw new ConfigError(up, `Duplicate upgrade ${u.upgrade_type}`);
      ups.set(t, { upgradeType: t, enabled: u.enabled === undefined || u.enabled === null ? true : u.enabled === true });
      if (u.connect_config) {
        if (t !== 'connect' && t !== 'connect-udp') throw new ConfigError(up, `Non-CONNECT upgrade type ${u.upgrade_type} has ConnectConfig`);
        connectConfig = { proxyProtocolConfig: u.connect_config.proxy_protocol_config, allowPost: u.connect_config.allow_post === true };
      }
    }
    this.upgradeConfigs = ups.size === 0 ? EMPTY_UPGRADES : ups;
    this.connectConfig = connectConfig;

    const mirrors: Plain[] = a.request_mirror_policies ?? [];
    this.requestMirrorPolicies = mirrors.length > 0
      ? mirrors.map((mpl, i) => compileMirrorPolicy(mpl, `${joinPath(ap, 'request_mirror_policies')}[${i}]`, ctx))
      : vhost.requestMirrorPolicies;

    // Rewrites.
    this.prefixRewrite = typeof a.prefix_rewrite === 'string' ? a.prefix_rewrite : '';
    if (hasControlChars(this.prefixRewrite)) throw new ConfigError(joinPath(ap, 'prefix_rewrite'), 'value must not contain NUL, CR or LF');
    this.regexRewrite = a.regex_rewrite ? compileRegexRewrite(a.regex_rewrite, joinPath(ap, 'regex_rewrite')) : null;
    if (a.path_rewrite_policy !== undefined) {
      throw new ConfigError(joinPath(ap, 'path_rewrite_policy'), 'path rewrite policy extensions (URI templates) are not supported');
    }
    if (this.prefixRewrite && this.regexRewrite) {
      throw new ConfigError(ap, 'Specify only one of prefix_rewrite, regex_rewrite or path_rewrite_policy');
    }
    this.hostRewriteLiteral = typeof a.host_rewrite_literal === 'string' ? a.host_rewrite_literal : '';
    if (hasControlChars(this.hostRewriteLiteral)) throw new ConfigError(joinPath(ap, 'host_rewrite_literal'), 'value must not contain NUL, CR or LF');
    this.autoHostRewrite = a.auto_host_rewrite === true;
    if (a.host_rewrite_header !== undefined && a.host_rewrite_header !== '') {
      if (!isValidHeaderName(a.host_rewrite_header)) throw new ConfigError(joinPath(ap, 'host_rewrite_header'), `invalid header name "${a.host_rewrite_header}"`);
      this.hostRewriteHeader = asciiLower(a.host_rewrite_header);
    } else {
      this.hostRewriteHeader = '';
    }
    this.hostRewritePathRegex = a.host_rewrite_path_regex ? compileRegexRewrite(a.host_rewrite_path_regex, joinPath(ap, 'host_rewrite_path_regex')) : null;
    this.appendXForwardedHost = a.append_x_forwarded_host === true;
    this.priority = a.priority === 'HIGH' ? 'HIGH' : 'DEFAULT';
    this.metadataMatch = a.metadata_match?.filter_metadata?.['envoy.lb'];
    this.internalRedirectPolicy = compileInternalRedirectPolicy(a, ap);

    // Direct response / redirect.
    this.directResponse = r.direct_response !== undefined
      ? compileDirectResponse(r.direct_response, joinPath(path, 'direct_response'), ctx.maxDirectResponseBodySize)
      : null;
    this.redirect = r.redirect !== undefined ? compileRedirect(r.redirect, joinPath(path, 'redirect')) : null;

    // Misc.
    this.cors = a.cors ?? vhost.cors;
    this.rateLimits = a.rate_limits && a.rate_limits.length > 0 ? a.rate_limits : (EMPTY_ARRAY as Plain[]);
    this.includeVhRateLimits = a.include_vh_rate_limits === true;
    this.decorator = r.decorator ? compileDecorator(r.decorator, joinPath(path, 'decorator')) : null;
    this.tracing = r.tracing ? compileTracing(r.tracing, joinPath(path, 'tracing')) : null;
    this.metadata = r.metadata;
    this.statPrefix = typeof r.stat_prefix === 'string' ? r.stat_prefix : '';
    this.perRequestBufferLimitBytes = r.per_request_buffer_limit_bytes ?? vhost.perRequestBufferLimitBytes;

    // Header mutations: one flat list per route.
    const reqLevel = compileHeaderLevel(r.request_headers_to_add, r.request_headers_to_remove, path, 'request_headers_to_add', 'request_headers_to_remove');
    const respLevel = compileHeaderLevel(r.response_headers_to_add, r.response_headers_to_remove, path, 'response_headers_to_add', 'response_headers_to_remove');
    this.requestLevel = reqLevel;
    this.responseLevel = respLevel;
    this.requestHeaderMutations = concatMutations(ctx.orderLevels(reqLevel, vhost.requestLevel, ctx.requestLevel));
    this.responseHeaderMutations = concatMutations(ctx.orderLevels(respLevel, vhost.responseLevel, ctx.responseLevel));

    // Per-filter configs.
    const routeLevel = compileFilterLevel(r.typed_per_filter_config, joinPath(path, 'typed_per_filter_config'), ctx);
    this.filterLevels = [ctx.filterLevel, vhost.filterLevel, routeLevel];
    this.filterConfigs = mergeConfigs(this.filterLevels);
    this.filterDisabledMap = mergeDisabled(this.filterLevels);

    // Weighted cluster entries: their own flattened lists, per-filter maps and results.
    if (weighted) {
      for (const wc of weighted.clusters) {
        wc.requestHeaderMutations = concatMutations([wc.requestLevel, ...ctx.orderLevels(reqLevel, vhost.requestLevel, ctx.requestLevel)]);
        wc.responseHeaderMutations = concatMutations([wc.responseLevel, ...ctx.orderLevels(respLevel, vhost.responseLevel, ctx.responseLevel)]);
        const levels = [...this.filterLevels, wc.filterLevel];
        wc.filterConfigs = mergeConfigs(levels);
        wc.filterDisabledMap = mergeDisabled(levels);
        if (!wc.clusterHeader) wc.result = new RouteMatchResult(vhost, this, wc.name, wc);
      }
    }

    this.staticResult = kind === 'cluster' || kind === 'direct_response' || kind === 'redirect' || kind === 'non_forwarding'
      ? new RouteMatchResult(vhost, this, clusterName, null)
      : null;
  }

  /** This route's own header levels (for tests and for debugging dumps). */
  readonly requestLevel: HeaderOp[] = [];
  readonly responseLevel: HeaderOp[] = [];

  /** All levels' per-filter configs for `filterName`, least specific first. */
  perFilterConfigs(filterName: string): unknown[] {
    const out: unknown[] = [];
    for (const l of this.filterLevels) {
      const e = l.get(filterName);
      if (e && e.config !== undefined) out.push(e.config);
    }
    return out;
  }

  /** The most specific per-filter config (route > vhost > route config). */
  perFilterConfig(filterName: string): unknown {
    return this.filterConfigs.get(filterName);
  }

  /** Length of the leading part of `path` a prefix_rewrite replaces (the matched prefix/path, else the path without query). */
  matchedPathLength(path: string): number {
    switch (this.pathKind) {
      case PK_PREFIX:
      case PK_PATH:
      case PK_SEP_PREFIX:
        return Math.min(this.pathValue.length, path.length);
      default:
        return computePathEnd(path, false);
    }
  }

  /** For the router's matcher index: the literal every matching path starts with ('' = none known). */
  indexKey(): { key: string; exact: boolean; caseSensitive: boolean } | null {
    switch (this.pathKind) {
      case PK_PREFIX: return { key: this.pathValue, exact: false, caseSensitive: this.caseSensitive };
      case PK_PATH: return { key: this.pathValue, exact: true, caseSensitive: this.caseSensitive };
      case PK_SEP_PREFIX: return { key: this.pathValue, exact: false, caseSensitive: this.caseSensitive };
      case PK_REGEX:
        return this.regexLiteral ? { key: this.regexLiteral, exact: false, caseSensitive: true } : null;
      default: return null;
    }
  }

  /**
   * Full match test. `pathEnd` is where path matching stops (first '?' / '#', or ';'
   * when ignore_path_parameters_in_path_matching).
   */
  matches(req: RouteRequest, pathEnd: number, random: number): boolean {
    const path = req.path;
    switch (this.pathKind) {
      case PK_PREFIX:
      case PK_PATH:
      case PK_SEP_PREFIX: {
        if (path.length === 0) return false;
        const v = this.pathValue;
        const n = v.length;
        if (this.pathKind === PK_PATH ? n !== pathEnd : n > pathEnd) return false;
        if (n > 0) {
          // Cheap rejection on the last character before the full comparison.
          let c = path.charCodeAt(n - 1);
          if (!this.caseSensitive && c >= 65 && c <= 90) c += 32;
          if (c !== this.pathLastCode) return false;
          if (this.caseSensitive ? !path.startsWith(v) : !startsWithIgnoreCase(path, v)) return false;
        }
        if (this.pathKind === PK_SEP_PREFIX && n !== pathEnd && path.charCodeAt(n) !== 47 /* / */) return false;
        break;
      }
      case PK_REGEX: {
        if (path.length === 0) return false;
        const lit = this.regexLiteral;
        if (lit.length > 0 && (lit.length > pathEnd || !path.startsWith(lit))) return false;
        if (!(this.pathRegex as CompiledRegex).fullMatch(strippedPath(path, pathEnd))) return false;
        break;
      }
      case PK_CONNECT:
        if (req.method !== 'CONNECT') {
          const up = req.headers.upgrade;
          const u = typeof up === 'string' ? up : up !== undefined ? up[0] : undefined;
          if (u === undefined || !equalsIgnoreCase(u, 'connect-udp')) return false;
        }
        break;
      default:
        return false;
    }
    return this.hasExtraMatch ? this.matchExtra(req, random) : true;
  }

  private matchExtra(req: RouteRequest, random: number): boolean {
    if (this.runtimeFraction !== null && !fractionEnabled(this.runtimeFraction, random)) return false;
    if (this.grpc && !isGrpcRequest(req)) return false;
    if (this.headerMatchers.length > 0 && !matchHeaders(req.headers, this.headerMatchers)) return false;
    const qm = this.queryMatchers;
    for (let i = 0; i < qm.length; i++) if (!qm[i].matches(req.path)) return false;
    if (this.tlsPresented !== undefined && this.tlsPresented !== (req.tls?.presented === true)) return false;
    if (this.tlsValidated !== undefined && this.tlsValidated !== (req.tls?.validated === true)) return false;
    const mm = this.metadataMatchers;
    for (let i = 0; i < mm.length; i++) if (!mm[i].matches(req.dynamicMetadata)) return false;
    return true;
  }

  /** The match result for a request this route matched (cluster choice included). */
  resultFor(req: RouteRequest, random: number): RouteMatchResult {
    if (this.staticResult !== null) return this.staticResult;
    if (this.weightedClusters !== null) {
      const wc = this.weightedClusters.pick(req.headers, random);
      if (wc.result !== null) return wc.result;
      return new RouteMatchResult(this.vhost, this, firstValue(req.headers, wc.clusterHeader), wc);
    }
    return new RouteMatchResult(this.vhost, this, firstValue(req.headers, this.clusterHeader), null);
  }
}

function firstValue(h: Headers, name: string): string {
  const v = h[name];
  if (v === undefined) return '';
  return typeof v === 'string' ? v : v.length > 0 ? v[0] : '';
}

/** Envoy's Grpc::Common::isGrpcRequestHeaders: a :path and content-type application/grpc or application/grpc+... */
export function isGrpcRequest(req: RouteRequest): boolean {
  if (req.path.length === 0) return false;
  const v = req.headers['content-type'];
  const ct = typeof v === 'string' ? v : v !== undefined ? v[0] : undefined;
  if (ct === undefined || !ct.startsWith('application/grpc')) return false;
  return ct.length === 16 || ct.charCodeAt(16) === 43 /* + */;
}

// ---------------------------------------------------------------------------------------------
// Virtual host

export class CompiledVirtualHost {
  readonly name: string;
  readonly domains: string[];
  readonly routes: CompiledRoute[];
  readonly requireTls: 'NONE' | 'EXTERNAL_ONLY' | 'ALL';
  readonly virtualClusters: VirtualClusterEntry[];
  readonly includeRequestAttemptCount: boolean;
  readonly includeAttemptCountInResponse: boolean;
  readonly includeIsTimeoutRetryHeader: boolean;
  /** The vhost retry/hedge policies (routes without their own inherit these). */
  readonly retryPolicy: CompiledRetryPolicy | null;
  readonly hedgePolicy: CompiledHedgePolicy | null;
  readonly requestMirrorPolicies: CompiledMirrorPolicy[];
  readonly perRequestBufferLimitBytes: number | undefined;
  readonly rateLimits: Plain[];
  readonly cors: Plain | undefined;
  readonly metadata: Plain | undefined;
  readonly requestLevel: HeaderOp[];
  readonly responseLevel: HeaderOp[];
  readonly filterLevel: FilterConfigLevel;
  private readonly filterConfigs: Map<string, unknown>;
  private readonly sslRedirectRoute: CompiledRoute | null;
  private readonly index: RouteIndex | null;

  constructor(readonly config: CompiledRouteConfig, v: Plain, path: string, ctx: CompileCtx) {
    const name = typeof v.name === 'string' ? v.name : '';
    if (!name) throw new ConfigError(joinPath(path, 'name'), 'value length must be at least 1 characters');
    this.name = name;
    const domains: string[] = v.domains ?? [];
    if (domains.length === 0) throw new ConfigError(joinPath(path, 'domains'), 'value must contain at least 1 item(s)');
    this.domains = domains;
    const rt = v.require_tls ?? 'NONE';
    if (rt !== 'NONE' && rt !== 'EXTERNAL_ONLY' && rt !== 'ALL') throw new ConfigError(joinPath(path, 'require_tls'), `unknown enum value "${rt}"`);
    this.requireTls = rt;
    if (v.matcher !== undefined) {
      throw new ConfigError(joinPath(path, 'matcher'), 'virtual host matcher trees are not supported; use routes');
    }
    if (v.retry_policy_typed_config !== undefined) {
      throw new ConfigError(joinPath(path, 'retry_policy_typed_config'), 'retry policy extensions are not supported');
    }
    this.includeRequestAttemptCount = v.include_request_attempt_count === true;
    this.includeAttemptCountInResponse = v.include_attempt_count_in_response === true;
    this.includeIsTimeoutRetryHeader = v.include_is_timeout_retry_header === true;
    this.retryPolicy = v.retry_policy ? compileRetryPolicy(v.retry_policy, joinPath(path, 'retry_policy')) : null;
    this.hedgePolicy = v.hedge_policy ? compileHedgePolicy(v.hedge_policy, joinPath(path, 'hedge_policy')) : null;
    const mirrors: Plain[] = v.request_mirror_policies ?? [];
    this.requestMirrorPolicies = mirrors.length > 0
      ? mirrors.map((m, i) => compileMirrorPolicy(m, `${joinPath(path, 'request_mirror_policies')}[${i}]`, ctx))
      : ctx.requestMirrorPolicies;
    this.perRequestBufferLimitBytes = v.per_request_buffer_limit_bytes ?? undefined;
    this.rateLimits = v.rate_limits ?? [];
    this.cors = v.cors;
    this.metadata = v.metadata;
    this.requestLevel = compileHeaderLevel(v.request_headers_to_add, v.request_headers_to_remove, path, 'request_headers_to_add', 'request_headers_to_remove');
    this.responseLevel = compileHeaderLevel(v.response_headers_to_add, v.response_headers_to_remove, path, 'response_headers_to_add', 'response_headers_to_remove');
    this.filterLevel = compileFilterLevel(v.typed_per_filter_config, joinPath(path, 'typed_per_filter_config'), ctx);
    this.filterConfigs = mergeConfigs([ctx.filterLevel, this.filterLevel]);

    const vcs: Plain[] = v.virtual_clusters ?? [];
    this.virtualClusters = vcs.map((vc, i) => {
      const vp = `${joinPath(path, 'virtual_clusters')}[${i}]`;
      if (!vc.name) throw new ConfigError(joinPath(vp, 'name'), 'value length must be at least 1 characters');
      const hs: Plain[] = vc.headers ?? [];
      if (hs.length === 0) throw new ConfigError(joinPath(vp, 'headers'), "virtual clusters must define 'headers'");
      return { name: String(vc.name), headers: compileHeaderMatchers(hs, joinPath(vp, 'headers')) };
    });

    const rs: Plain[] = v.routes ?? [];
    const routes: CompiledRoute[] = [];
    for (let i = 0; i < rs.length; i++) {
      const rp = `${joinPath(path, 'routes')}[${i}]`;
      routes.push(guard(rp, () => new CompiledRoute(this, asObject(rs[i], rp), i, rp, ctx)));
    }
    this.routes = routes;
    this.sslRedirectRoute = rt !== 'NONE' ? new CompiledRoute(this, {}, -1, path, ctx, 'ssl_redirect') : null;
    this.index = routes.length >= INDEX_MIN_ROUTES ? new RouteIndex(routes) : null;
  }

  /** Most specific per-filter config at vhost level (vhost > route config). */
  perFilterConfig(filterName: string): unknown {
    return this.filterConfigs.get(filterName);
  }

  /**
   * Route a request within this virtual host: require_tls first, then the first route
   * whose match succeeds. `random` drives runtime_fraction and weighted clusters.
   */
  match(req: RouteRequest, random: number = randomValue()): RouteMatchResult | null {
    if (this.requireTls !== 'NONE') {
      const h = req.headers;
      const xfp = h['x-forwarded-proto'];
      const proto = typeof xfp === 'string' ? xfp : xfp !== undefined && xfp.length > 0 ? xfp[0] : requestScheme(req);
      if (proto !== 'https') {
        if (this.requireTls === 'ALL') return (this.sslRedirectRoute as CompiledRoute).resultFor(req, random);
        const internal = h['x-envoy-internal'];
        if (!(internal === 'true' || (Array.isArray(internal) && internal[0] === 'true'))) {
          return (this.sslRedirectRoute as CompiledRoute).resultFor(req, random);
        }
      }
    }
    const path = req.path;
    const pathEnd = computePathEnd(path, this.config.ignorePathParametersInPathMatching);
    const routes = this.routes;
    if (this.index === null) {
      for (let i = 0; i < routes.length; i++) {
        const r = routes[i];
        if (r.matches(req, pathEnd, random)) return r.resultFor(req, random);
      }
      return null;
    }
    const r = this.index.find(req, path, pathEnd, random);
    return r === null ? null : r.resultFor(req, random);
  }

  /** The virtual cluster for stats: the first whose headers match, 'other' when some exist but none match, else null. */
  virtualClusterFor(headers: Headers): VirtualClusterEntry | null {
    const vcs = this.virtualClusters;
    if (vcs.length === 0) return null;
    for (let i = 0; i < vcs.length; i++) if (matchHeaders(headers, vcs[i].headers)) return vcs[i];
    return CATCH_ALL_VIRTUAL_CLUSTER;
  }
}

/** Envoy's catch-all virtual cluster name. */
export const CATCH_ALL_VIRTUAL_CLUSTER: VirtualClusterEntry = Object.freeze({ name: 'other', headers: [] }) as VirtualClusterEntry;

function requestScheme(req: RouteRequest): string {
  if (req.scheme) return req.scheme;
  const s = req.headers[':scheme'];
  return typeof s === 'string' ? s : s !== undefined && s.length > 0 ? s[0] : 'http';
}

/** Where path matching stops: first '?' or '#' (and ';' when path parameters are ignored). */
export function computePathEnd(path: string, ignoreParams: boolean): number {
  // Native indexOf beats a charCodeAt loop by several times on typical paths.
  let end = path.indexOf('?');
  if (end < 0) end = path.length;
  const h = path.indexOf('#');
  if (h >= 0 && h < end) end = h;
  if (ignoreParams) {
    const sc = path.indexOf(';');
    if (sc >= 0 && sc < end) end = sc;
  }
  return end;
}

/** A uniformly random 32-bit value (Envoy passes a random uint64 per stream). */
export function randomValue(): number {
  return (Math.random() * 4294967296) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Route index: first-match semantics over large route lists without scanning them all.
//
// Routes whose matching paths must start with a known literal (prefix, path,
// path_separated_prefix, regexes with a literal prefix) are inserted in a radix tree
// (one case-sensitive, one for case-insensitive routes, keyed lowercase). A lookup walks
// the tree along the request path and collects the sorted route-index lists of every node
// it passes (prefix routes) and of the node where the path ends (exact routes), plus the
// list of unindexed routes. A k-way merge over those lists tries candidates in route
// order, so the first full match is the same route a linear scan would find.

const INDEX_MIN_ROUTES = 16;

class RadixNode {
  children: Map<number, RadixNode> | null = null;
  prefixRoutes: number[] = [];
  exactRoutes: number[] = [];
  constructor(public label: string) {}
}

function radixInsert(root: RadixNode, key: string, idx: number, exact: boolean): void {
  let node = root;
  let pos = 0;
  // Bounded by key length: each step consumes at least one character or ends.
  for (;;) {
    if (pos === key.length) {
      (exact ? node.exactRoutes : node.prefixRoutes).push(idx);
      return;
    }
    const c = key.charCodeAt(pos);
    if (node.children === null) node.children = new Map();
    const child = node.children.get(c);
    if (child === undefined) {
      const leaf = new RadixNode(key.slice(pos));
      node.children.set(c, leaf);
      (exact ? leaf.exactRoutes : leaf.prefixRoutes).push(idx);
      return;
    }
    const label = child.label;
    let k = 0;
    while (k < label.length && pos + k < key.length && label.charCodeAt(k) === key.charCodeAt(pos + k)) k++;
    if (k === label.length) {
      node = child;
      pos += k;
      continue;
    }
    // Split the edge at k.
    const mid = new RadixNode(label.slice(0, k));
    child.label = label.slice(k);
    mid.children = new Map([[child.label.charCodeAt(0), child]]);
    node.children.set(c, mid);
    node = mid;
    pos += k;
  }
}

class RouteIndex {
  private readonly cs = new RadixNode('');
  private readonly ci = new RadixNode('');
  private readonly hasCi: boolean;
  private readonly always: number[] = [];
  // Scratch for lookups (matching is synchronous and never re-entered).
  private lists: number[][] = [];
  private pos: Int32Array = new Int32Array(16);

  constructor(private readonly routes: CompiledRoute[]) {
    let hasCi = false;
    for (let i = 0; i < routes.length; i++) {
      const k = routes[i].indexKey();
      if (k === null) { this.always.push(i); continue; }
      if (k.caseSensitive) radixInsert(this.cs, k.key, i, k.exact);
      else { radixInsert(this.ci, k.key, i, k.exact); hasCi = true; }
    }
    this.hasCi = hasCi;
  }

  private collect(root: RadixNode, path: string, end: number, lower: boolean): void {
    let node = root;
    let pos = 0;
    const lists = this.lists;
    if (node.prefixRoutes.length > 0) lists.push(node.prefixRoutes);
    // Bounded by `end`: every step consumes a non-empty edge label.
    for (;;) {
      if (pos === end) {
        if (node.exactRoutes.length > 0) lists.push(node.exactRoutes);
        return;
      }
      if (node.children === null) return;
      let c = path.charCodeAt(pos);
      if (lower && c >= 65 && c <= 90) c += 32;
      const child = node.children.get(c);
      if (child === undefined) return;
      const label = child.label;
      if (pos + label.length > end) return;
      if (lower ? !startsWithIgnoreCase(path, label, pos) : !path.startsWith(label, pos)) return;
      pos += label.length;
      node = child;
      if (node.prefixRoutes.length > 0) lists.push(node.prefixRoutes);
    }
  }

  find(req: RouteRequest, path: string, end: number, random: number): CompiledRoute | null {
    const lists = this.lists;
    lists.length = 0;
    if (path.length > 0) {
      this.collect(this.cs, path, end, false);
      if (this.hasCi) this.collect(this.ci, path, end, true);
    }
    if (this.always.length > 0) lists.push(this.always);
    const n = lists.length;
    if (n === 0) return null;
    const routes = this.routes;
    if (n === 1) {
      const l = lists[0];
      for (let i = 0; i < l.length; i++) {
        const r = routes[l[i]];
        if (r.matches(req, end, random)) return r;
      }
      return null;
    }
    if (this.pos.length < n) this.pos = new Int32Array(n * 2);
    const pos = this.pos;
    pos.fill(0, 0, n);
    // k-way merge in route order; bounded by the total number of candidates.
    for (;;) {
      let best = -1;
      let bestVal = 0x7fffffff;
      for (let k = 0; k < n; k++) {
        const p = pos[k];
        const l = lists[k];
        if (p < l.length && l[p] < bestVal) { bestVal = l[p]; best = k; }
      }
      if (best < 0) return null;
      pos[best]++;
      const r = routes[bestVal];
      if (r.matches(req, end, random)) return r;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Route configuration

export class CompiledRouteConfig {
  readonly name: string;
  readonly virtualHosts: CompiledVirtualHost[];
  /** Lowercase header names the HCM strips from external requests. */
  readonly internalOnlyHeaders: string[];
  readonly validateClusters: boolean;
  readonly maxDirectResponseBodySizeBytes: number;
  readonly mostSpecificHeaderMutationsWins: boolean;
  readonly ignorePortInHostMatching: boolean;
  readonly ignorePathParametersInPathMatching: boolean;
  readonly requestMirrorPolicies: CompiledMirrorPolicy[];
  readonly metadata: Plain | undefined;
  /** Every cluster name referenced statically (route cluster, weighted clusters, mirrors). */
  readonly referencedClusters: ReadonlySet<string>;
  private readonly domains: DomainMatcher<CompiledVirtualHost>;
  private readonly filterConfigs: Map<string, unknown>;

  constructor(cfg: Plain, opts: CompileRouteConfigOptions = {}) {
    const base = opts.path ?? '';
    if (!cfg || typeof cfg !== 'object') throw new ConfigError(base, 'route configuration is required');
    this.name = typeof cfg.name === 'string' ? cfg.name : '';
    if (cfg.vhds !== undefined && cfg.vhds !== null) {
      throw new ConfigError(joinPath(base, 'vhds'), 'VHDS (on-demand virtual hosts) is not supported');
    }
    this.internalOnlyHeaders = ((cfg.internal_only_headers ?? []) as string[]).map((h, i) => {
      if (!isValidHeaderName(h)) throw new ConfigError(`${joinPath(base, 'internal_only_headers')}[${i}]`, `invalid header name "${h}"`);
      return asciiLower(h);
    });
    this.validateClusters = cfg.validate_clusters ?? opts.validateClustersDefault ?? false;
    this.maxDirectResponseBodySizeBytes = cfg.max_direct_response_body_size_bytes ?? DEFAULT_MAX_DIRECT_RESPONSE_BODY_SIZE;
    this.mostSpecificHeaderMutationsWins = cfg.most_specific_header_mutations_wins === true;
    this.ignorePortInHostMatching = cfg.ignore_port_in_host_matching === true;
    this.ignorePathParametersInPathMatching = cfg.ignore_path_parameters_in_path_matching === true;
    this.metadata = cfg.metadata;

    const referenced = new Set<string>();
    const ctx = new CompileCtx(this, opts, referenced);
    const mirrors: Plain[] = cfg.request_mirror_policies ?? [];
    this.requestMirrorPolicies = mirrors.map((m, i) => compileMirrorPolicy(m, `${joinPath(base, 'request_mirror_policies')}[${i}]`, ctx));
    ctx.requestMirrorPolicies = this.requestMirrorPolicies;
    const plugins: Plain[] = cfg.cluster_specifier_plugins ?? [];
    for (let i = 0; i < plugins.length; i++) {
      const pp = `${joinPath(base, 'cluster_specifier_plugins')}[${i}]`;
      const pl = plugins[i];
      const nm = pl.extension?.name ?? '';
      if (!pl.is_optional) {
        throw new ConfigError(joinPath(pp, 'extension'),
          `Didn't find a registered implementation for '${nm}' with type URL: '${pl.extension?.typed_config?.['@type'] ?? ''}'`);
      }
      ctx.clusterSpecifierPlugins.set(nm, null);
    }
    ctx.requestLevel = compileHeaderLevel(cfg.request_headers_to_add, cfg.request_headers_to_remove, base, 'request_headers_to_add', 'request_headers_to_remove');
    ctx.responseLevel = compileHeaderLevel(cfg.response_headers_to_add, cfg.response_headers_to_remove, base, 'response_headers_to_add', 'response_headers_to_remove');
    ctx.filterLevel = compileFilterLevel(cfg.typed_per_filter_config, joinPath(base, 'typed_per_filter_config'), ctx);
    this.filterConfigs = mergeConfigs([ctx.filterLevel]);

    this.domains = new DomainMatcher<CompiledVirtualHost>(this.ignorePortInHostMatching, this.name);
    const vhs: Plain[] = cfg.virtual_hosts ?? [];
    const out: CompiledVirtualHost[] = [];
    for (let i = 0; i < vhs.length; i++) {
      const vp = `${joinPath(base, 'virtual_hosts')}[${i}]`;
      const vh = guard(vp, () => new CompiledVirtualHost(this, asObject(vhs[i], vp), vp, ctx));
      out.push(vh);
      for (let d = 0; d < vh.domains.length; d++) this.domains.add(vh.domains[d], vh, `${joinPath(vp, 'domains')}[${d}]`);
    }
    this.virtualHosts = out;
    this.referencedClusters = referenced;
  }

  /** Virtual host for an :authority value as received (see domains.ts for the rules). */
  findVirtualHost(authority: string): CompiledVirtualHost | null {
    return this.domains.find(authority);
  }

  /**
   * Route a request: virtual host by authority, then the vhost's routes in order.
   * `random` (a non-negative integer; default a fresh 32-bit random) is the per-stream
   * value Envoy uses for runtime_fraction and weighted cluster selection.
   */
  route(req: RouteRequest, random?: number): RouteMatchResult | null {
    const vh = this.domains.find(req.authority);
    if (vh === null) return null;
    return vh.match(req, random === undefined ? randomValue() : random);
  }

  /** Route-config level per-filter config. */
  perFilterConfig(filterName: string): unknown {
    return this.filterConfigs.get(filterName);
  }
}

/** Compile a RouteConfiguration (plain form) once. Throws ConfigError naming the field path. */
export function compileRouteConfig(cfg: Plain, opts?: CompileRouteConfigOptions): CompiledRouteConfig {
  return guard(opts?.path ?? '', () => {
    opts?.precheck?.(cfg, opts.path ?? '');
    return new CompiledRouteConfig(cfg, opts);
  });
}

/**
 * Plain config normally comes typed from the mapper; a malformed hand-made object must
 * still fail as a ConfigError naming the closest field, never as a TypeError.
 */
function guard<T>(path: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(path, `invalid configuration: ${(e as Error)?.message ?? String(e)}`);
  }
}

function asObject(v: unknown, path: string): Plain {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(path, 'value must be a message');
  return v;
}

// ---------------------------------------------------------------------------------------------
// Compile-time context and helpers

class CompileCtx {
  requestLevel: HeaderOp[] = [];
  responseLevel: HeaderOp[] = [];
  filterLevel: FilterConfigLevel = EMPTY_LEVEL;
  requestMirrorPolicies: CompiledMirrorPolicy[] = [];
  /** Optional unknown plugins by name (null = Envoy's null plugin). */
  readonly clusterSpecifierPlugins = new Map<string, null>();
  readonly maxDirectResponseBodySize: number;
  private readonly mostSpecificWins: boolean;
  private readonly validate: boolean;

  constructor(cfg: CompiledRouteConfig, readonly opts: CompileRouteConfigOptions, private readonly referenced: Set<string>) {
    this.maxDirectResponseBodySize = cfg.maxDirectResponseBodySizeBytes;
    this.mostSpecificWins = cfg.mostSpecificHeaderMutationsWins;
    this.validate = cfg.validateClusters && typeof opts.hasCluster === 'function';
  }

  /** Header levels in application order (Envoy: route, vhost, config; reversed when most_specific_header_mutations_wins). */
  orderLevels(route: HeaderOp[], vhost: HeaderOp[], config: HeaderOp[]): HeaderOp[][] {
    return this.mostSpecificWins ? [config, vhost, route] : [route, vhost, config];
  }

  clusterRef(name: string, path: string): void {
    this.referenced.add(name);
    if (this.validate && !(this.opts.hasCluster as (n: string) => boolean)(name)) {
      throw new ConfigError(path, `route: unknown cluster '${name}'`);
    }
  }
}

function durMs(v: unknown, dflt: number, path: string): number {
  if (v === undefined || v === null) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new ConfigError(path, 'duration must be non-negative');
  return Math.floor(n);
}

function optDurMs(v: unknown, path: string): number | undefined {
  return v === undefined || v === null ? undefined : durMs(v, 0, path);
}

function compileWeightedClusters(w: Plain, path: string, ctx: CompileCtx): CompiledWeightedClusters {
  const list: Plain[] = w.clusters ?? [];
  if (list.length === 0) throw new ConfigError(joinPath(path, 'clusters'), 'value must contain at least 1 item(s)');
  const clusters: CompiledWeightedCluster[] = [];
  let total = 0;
  for (let i = 0; i < list.length; i++) {
    const c = list[i];
    const cp = `${joinPath(path, 'clusters')}[${i}]`;
    const name = typeof c.name === 'string' ? c.name : '';
    const ch = typeof c.cluster_header === 'string' ? c.cluster_header : '';
    if (!name && !ch) throw new ConfigError(cp, 'At least one of name or cluster_header need to be specified');
    if (name && ch) throw new ConfigError(cp, 'Only one of name or cluster_header can be specified');
    if (ch && !isValidHeaderName(ch)) throw new ConfigError(joinPath(cp, 'cluster_header'), `invalid header name "${ch}"`);
    if (name) ctx.clusterRef(name, joinPath(cp, 'name'));
    const weight = Number(c.weight ?? 0);
    if (!Number.isInteger(weight) || weight < 0) throw new ConfigError(joinPath(cp, 'weight'), 'weight must be a non-negative integer');
    total += weight;
    if (total > 4294967295) throw new ConfigError(path, 'The sum of weights of all weighted clusters exceeds 4294967295');
    const hrl = typeof c.host_rewrite_literal === 'string' ? c.host_rewrite_literal : '';
    if (hasControlChars(hrl)) throw new ConfigError(joinPath(cp, 'host_rewrite_literal'), 'value must not contain NUL, CR or LF');
    clusters.push(new CompiledWeightedCluster(
      name, asciiLower(ch), weight, hrl, c.metadata_match?.filter_metadata?.['envoy.lb'],
      compileHeaderLevel(c.request_headers_to_add, c.request_headers_to_remove, cp, 'request_headers_to_add', 'request_headers_to_remove'),
      compileHeaderLevel(c.response_headers_to_add, c.response_headers_to_remove, cp, 'response_headers_to_add', 'response_headers_to_remove'),
      compileFilterLevel(c.typed_per_filter_config, joinPath(cp, 'typed_per_filter_config'), ctx),
    ));
  }
  if (w.total_weight !== undefined && w.total_weight !== null && Number(w.total_weight) !== total) {
    throw new ConfigError(joinPath(path, 'total_weight'), `Sum of weights in the weighted_cluster should add up to ${w.total_weight}`);
  }
  if (total === 0) throw new ConfigError(path, 'Sum of weights in the weighted_cluster must be greater than 0.');
  const hn = typeof w.header_name === 'string' ? w.header_name : '';
  if (hn && !isValidHeaderName(hn)) throw new ConfigError(joinPath(path, 'header_name'), `invalid header name "${hn}"`);
  if (w.use_hash_policy !== undefined && w.use_hash_policy !== null && w.use_hash_policy !== false) {
    throw new ConfigError(joinPath(path, 'use_hash_policy'), 'use_hash_policy is not supported');
  }
  return new CompiledWeightedClusters(clusters, total, asciiLower(hn), typeof w.runtime_key_prefix === 'string' ? w.runtime_key_prefix : '');
}

function compileHashPolicy(h: Plain, path: string): CompiledHashPolicy {
  const terminal = h.terminal === true;
  if (h.header) {
    const hp = joinPath(path, 'header');
    const n = h.header.header_name ?? '';
    if (!isValidHeaderName(n)) throw new ConfigError(joinPath(hp, 'header_name'), `invalid header name "${n}"`);
    return {
      kind: 'header', terminal, headerName: asciiLower(n),
      regexRewrite: h.header.regex_rewrite ? compileRegexRewrite(h.header.regex_rewrite, joinPath(hp, 'regex_rewrite')) : undefined,
    };
  }
  if (h.cookie) {
    const cp = joinPath(path, 'cookie');
    if (!h.cookie.name) throw new ConfigError(joinPath(cp, 'name'), 'value length must be at least 1 characters');
    const attrs: Plain[] = h.cookie.attributes ?? [];
    return {
      kind: 'cookie', terminal, name: h.cookie.name,
      ttlMs: h.cookie.ttl === undefined || h.cookie.ttl === null ? undefined : Math.floor(Number(h.cookie.ttl)),
      path: h.cookie.path ?? '',
      attributes: attrs.map((a) => ({ name: String(a.name ?? ''), value: String(a.value ?? '') })),
    };
  }
  if (h.connection_properties) return { kind: 'connection_properties', terminal, sourceIp: h.connection_properties.source_ip === true };
  if (h.query_parameter) {
    if (!h.query_parameter.name) throw new ConfigError(joinPath(joinPath(path, 'query_parameter'), 'name'), 'value length must be at least 1 characters');
    return { kind: 'query_parameter', terminal, name: h.query_parameter.name };
  }
  if (h.filter_state) {
    if (!h.filter_state.key) throw new ConfigError(joinPath(joinPath(path, 'filter_state'), 'key'), 'value length must be at least 1 characters');
    return { kind: 'filter_state', terminal, key: h.filter_state.key };
  }
  throw new ConfigError(path, 'one of header, cookie, connection_properties, query_parameter, filter_state must be set');
}

function compileMirrorPolicy(m: Plain, path: string, ctx: CompileCtx): CompiledMirrorPolicy {
  const cluster = typeof m.cluster === 'string' ? m.cluster : '';
  const ch = typeof m.cluster_header === 'string' ? m.cluster_header : '';
  if (cluster && ch) {
    throw new ConfigError(path, `Only one of cluster '${cluster}' or cluster_header '${ch}' in request mirror policy can be specified`);
  }
  if (!cluster && !ch) throw new ConfigError(path, 'Exactly one of cluster or cluster_header in request mirror policy need to be specified');
  if (ch && !isValidHeaderName(ch)) throw new ConfigError(joinPath(path, 'cluster_header'), `invalid header name "${ch}"`);
  if (cluster) ctx.clusterRef(cluster, joinPath(path, 'cluster'));
  return {
    cluster,
    clusterHeader: asciiLower(ch),
    runtimeFraction: m.runtime_fraction
      ? compileFraction(m.runtime_fraction.default_value, joinPath(joinPath(path, 'runtime_fraction'), 'default_value'), { numerator: 0, denominator: 100 })
      : { numerator: 100, denominator: 100 },
    traceSampled: m.trace_sampled === undefined || m.trace_sampled === null ? undefined : m.trace_sampled === true,
    disableShadowHostSuffixAppend: m.disable_shadow_host_suffix_append === true,
  };
}

function compileRedirect(r: Plain, path: string): CompiledRedirect {
  const code = REDIRECT_CODES[r.response_code ?? 'MOVED_PERMANENTLY'];
  if (code === undefined) throw new ConfigError(joinPath(path, 'response_code'), `unknown enum value "${r.response_code}"`);
  for (const f of ['host_redirect', 'path_redirect', 'prefix_rewrite', 'scheme_redirect']) {
    if (typeof r[f] === 'string' && hasControlChars(r[f])) throw new ConfigError(joinPath(path, f), 'value must not contain NUL, CR or LF');
  }
  const pathRedirect = typeof r.path_redirect === 'string' ? r.path_redirect : '';
  return {
    schemeRedirect: typeof r.scheme_redirect === 'string' ? r.scheme_redirect : '',
    httpsRedirect: r.https_redirect === true,
    hostRedirect: typeof r.host_redirect === 'string' ? r.host_redirect : '',
    portRedirect: r.port_redirect ? ':' + String(r.port_redirect) : '',
    pathRedirect,
    pathRedirectHasQuery: pathRedirect.includes('?'),
    prefixRewrite: typeof r.prefix_rewrite === 'string' ? r.prefix_rewrite : '',
    regexRewrite: r.regex_rewrite ? compileRegexRewrite(r.regex_rewrite, joinPath(path, 'regex_rewrite')) : null,
    responseCode: code,
    stripQuery: r.strip_query === true,
  };
}

function compileDirectResponse(d: Plain, path: string, maxBody: number): CompiledDirectResponse {
  const status = Number(d.status ?? 0);
  if (!(status >= 200 && status < 600) || !Number.isInteger(status)) {
    throw new ConfigError(joinPath(path, 'status'), 'value must be inside range [200, 600)');
  }
  let body: Buffer | null = null;
  const b = d.body;
  const bp = joinPath(path, 'body');
  if (b) {
    if (b.inline_string !== undefined) body = Buffer.from(String(b.inline_string), 'utf8');
    else if (b.inline_bytes !== undefined) body = Buffer.from(b.inline_bytes);
    else if (b.filename !== undefined) {
      try {
        body = fs.readFileSync(String(b.filename));
      } catch (e) {
        throw new ConfigError(joinPath(bp, 'filename'), `cannot read response body file ${b.filename}: ${(e as Error).message}`);
      }
    } else if (b.environment_variable !== undefined) {
      const v = process.env[String(b.environment_variable)];
      if (v === undefined) throw new ConfigError(joinPath(bp, 'environment_variable'), `Environment variable doesn't exist: ${b.environment_variable}`);
      body = Buffer.from(v, 'utf8');
    }
    if (body !== null && body.length > maxBody) {
      throw new ConfigError(bp, `response body size is ${body.length} bytes; maximum is ${maxBody}`);
    }
  }
  return { status, body };
}

function compileInternalRedirectPolicy(a: Plain, ap: string): CompiledInternalRedirectPolicy | null {
  const p = a.internal_redirect_policy;
  const pp = joinPath(ap, 'internal_redirect_policy');
  if (!p) {
    if (a.internal_redirect_action !== 'HANDLE_INTERNAL_REDIRECT') return null;
    return {
      maxInternalRedirects: a.max_internal_redirects ?? 1,
      redirectResponseCodes: new Set([302]),
      allowCrossSchemeRedirect: false,
      responseHeadersToCopy: [],
      predicates: [],
    };
  }
  const codes = new Set<number>();
  const rc: number[] = p.redirect_response_codes ?? [];
  for (const c of rc) if ([301, 302, 303, 307, 308].includes(Number(c))) codes.add(Number(c));
  if (rc.length === 0) codes.add(302);
  const copy: string[] = ((p.response_headers_to_copy ?? []) as string[]).map((h, i) => {
    const l = asciiLower(h);
    if (!isValidHeaderName(h) || l.startsWith(':') || l === 'host') {
      throw new ConfigError(`${joinPath(pp, 'response_headers_to_copy')}[${i}]`, ':-prefixed headers or Hosts may not be specified here.');
    }
    return l;
  });
  const preds: Plain[] = p.predicates ?? [];
  return {
    maxInternalRedirects: p.max_internal_redirects ?? 1,
    redirectResponseCodes: codes,
    allowCrossSchemeRedirect: p.allow_cross_scheme_redirect === true,
    responseHeadersToCopy: copy,
    predicates: preds.map((x) => ({ name: String(x.name ?? ''), config: x.typed_config })),
  };
}

function compileDecorator(d: Plain, path: string): { operation: string; propagate: boolean } {
  if (!d.operation) throw new ConfigError(joinPath(path, 'operation'), 'value length must be at least 1 characters');
  return { operation: String(d.operation), propagate: d.propagate === undefined || d.propagate === null ? true : d.propagate === true };
}

function compileTracing(t: Plain, path: string): CompiledTracing {
  const full = { numerator: 100, denominator: 100 };
  return {
    clientSampling: compileFraction(t.client_sampling, joinPath(path, 'client_sampling'), full),
    randomSampling: compileFraction(t.random_sampling, joinPath(path, 'random_sampling'), full),
    overallSampling: compileFraction(t.overall_sampling, joinPath(path, 'overall_sampling'), full),
    customTags: t.custom_tags ?? [],
  };
}

function compileFilterLevel(map: Record<string, PlainAny> | undefined, path: string, ctx: CompileCtx): FilterConfigLevel {
  if (!map) return EMPTY_LEVEL;
  const keys = Object.keys(map);
  if (keys.length === 0) return EMPTY_LEVEL;
  const out: FilterConfigLevel = new Map();
  for (const name of keys) {
    const ep = `${path}[${name}]`;
    let cfg: PlainAny | undefined = map[name];
    let disabled = false;
    let optional = false;
    const t = cfg?.['@type'] ?? '';
    if (t.endsWith('/' + FILTER_CONFIG_TYPE) || t === FILTER_CONFIG_TYPE) {
      const fc = cfg as Plain;
      disabled = fc.disabled === true;
      optional = fc.is_optional === true;
      cfg = fc.config as PlainAny | undefined;
    }
    if (cfg !== undefined && cfg !== null && cfg['@unknown'] === true) {
      if (optional) continue;
      if (!ctx.opts.perFilterConfig) throw new ConfigError(ep, `unknown type "${cfg['@type']}"`);
    }
    let compiled: unknown = cfg ?? undefined;
    if (cfg && ctx.opts.perFilterConfig) {
      const c = ctx.opts.perFilterConfig(name, cfg, ep);
      if (c !== undefined) compiled = c;
    }
    out.set(name, { config: compiled, disabled });
  }
  return out;
}

function mergeConfigs(levels: FilterConfigLevel[]): Map<string, unknown> {
  if (levels.every((l) => l.size === 0)) return EMPTY_CONFIGS;
  const out = new Map<string, unknown>();
  for (const l of levels) for (const [k, e] of l) if (e.config !== undefined) out.set(k, e.config);
  return out;
}

function mergeDisabled(levels: FilterConfigLevel[]): Map<string, boolean> {
  if (levels.every((l) => l.size === 0)) return EMPTY_DISABLED;
  const out = new Map<string, boolean>();
  for (const l of levels) for (const [k, e] of l) out.set(k, e.disabled);
  return out;
}
