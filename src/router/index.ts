// src/router — the HTTP route table.
//
// An envoy.config.route.v3.RouteConfiguration (plain form, src/config/plain.ts) is
// compiled ONCE into immutable runtime structures; the HCM then matches requests against
// it. Compile on the main thread (or per worker) when RDS / the listener delivers a new
// config, swap the reference atomically; in-flight streams keep the object they started with.
//
// ---------------------------------------------------------------------------------------
// Compiling
//
//   const rc = compileRouteConfig(plain, {
//     path: 'static_resources.listeners[0]...route_config', // prefix for error paths
//     perFilterConfig: (filterName, anyCfg, path) => compiled,  // optional: compile typed_per_filter_config once
//     hasCluster: (name) => cm.has(name),                     // optional: for validate_clusters
//     validateClustersDefault: true,                          // Envoy: true inline, false for RDS
//   });
//
// Throws ConfigError (src/config/errors.ts) whose message starts with the field path, e.g.
//   virtual_hosts[0].routes[3].match.safe_regex.regex: invalid regex "(": ...
// Fields remora cannot honour are rejected, never ignored: vhds, VirtualHost.matcher,
// path_match_policy / path_rewrite_policy (URI templates), filter_action,
// (inline_)cluster_specifier_plugin unless optional, retry_policy_typed_config,
// retry_options_predicates, StringMatcher.custom, WeightedCluster.use_hash_policy.
//
// ---------------------------------------------------------------------------------------
// Matching (per request, allocation-free for static clusters)
//
//   const m = rc.route({ method, authority, path, headers, scheme }, random?);
//   if (m === null) -> 404 NR (route_not_found)
//
// RouteRequest.headers holds lowercase names incl. pseudo headers; `path` is :path with
// the query ('' when there is none, e.g. CONNECT). `random` is the per-stream random value
// Envoy uses for runtime_fraction and weighted clusters (default: a fresh 32-bit random);
// pass the same value when re-routing the same stream (clearRouteCache) to keep the choice.
// Also: rc.findVirtualHost(authority) and vhost.match(req, random) separately.
//
// Virtual hosts (domains.ts): exact (Map) > longest `*suffix` > longest `prefix*` > `*`,
// case-insensitive, the wildcard part never empty. The port is part of the host: a
// request for `host:8080` only matches a domain `host:8080` (or a wildcard that covers
// it); there is no retry without the port. With ignore_port_in_host_matching the port is
// stripped first. (Envoy behaves the same; the HCM's strip_matching_host_port /
// strip_any_host_port rewrite :authority before routing — see domains.ts stripPort.)
// Duplicate domains / a second `*` are config errors.
//
// require_tls: ALL (or EXTERNAL_ONLY without `x-envoy-internal: true`) and an
// x-forwarded-proto (else the request scheme) other than https yields a 301 redirect
// result (route.sslRedirect) whose Location is https://<authority><path>.
//
// Routes: first match wins (Envoy order). Path matching ignores the query string and
// fragment (and `;params` with ignore_path_parameters_in_path_matching). prefix / path /
// path_separated_prefix honour case_sensitive (default true); safe_regex is an RE2 full
// match (re2js, linear time); connect_matcher matches CONNECT (and `upgrade: connect-udp`);
// requests without a path only match connect_matcher routes. Then runtime_fraction
// (default_value only: random % denominator < numerator), grpc (content-type
// application/grpc or application/grpc+...), headers (HeaderMatcher, values joined by ','),
// query_parameters (first value, raw), tls_context (RouteRequest.tls) and dynamic_metadata
// (RouteRequest.dynamicMetadata). Large route lists (>= 16) use a radix index over literal
// path prefixes with an in-order merge, so results equal a linear scan.
//
// ---------------------------------------------------------------------------------------
// The match result (RouteMatchResult; RouteMatchLike for generic filters)
//
//   m.vhost                      CompiledVirtualHost (name, requireTls, virtualClusterFor(headers),
//                                includeRequestAttemptCount, includeAttemptCountInResponse, ...)
//   m.route                      CompiledRoute (below)
//   m.clusterName                upstream cluster ('' for local responses or a missing cluster header)
//   m.weightedCluster            chosen CompiledWeightedCluster or null
//   m.requestHeaderMutations     flat list: weighted cluster, then route, vhost, route config
//   m.responseHeaderMutations    (reversed levels with most_specific_header_mutations_wins)
//   m.clusterHostRewriteLiteral  weighted cluster host_rewrite_literal
//   m.perFilterConfig(name)      most specific typed_per_filter_config (weighted cluster > route > vhost > config)
//   m.perFilterConfigs(name)     all levels, least specific first
//   m.filterDisabled(name)       FilterConfig.disabled from the most specific level mentioning it
//   m.isDirectResponse           route.kind is 'direct_response' or 'redirect'
//
// CompiledRoute (precomputed): name, kind ('cluster' | 'weighted_clusters' | 'cluster_header'
// | 'direct_response' | 'redirect' | 'non_forwarding'), timeoutMs (default 15000, 0 = none),
// idleTimeoutMs, maxStreamDurationMs, grpcTimeoutHeaderMaxMs, grpcTimeoutHeaderOffsetMs,
// maxGrpcTimeoutMs, grpcTimeoutOffsetMs, retryPolicy / hedgePolicy (route's, else the
// vhost's; see retry.ts), hashPolicy, upgradeConfigs (Map by lowercase type), connectConfig,
// requestMirrorPolicies (route's, else vhost's, else config's), prefixRewrite, regexRewrite,
// hostRewriteLiteral, autoHostRewrite, hostRewriteHeader, hostRewritePathRegex,
// appendXForwardedHost, directResponse {status, body}, redirect, clusterNotFoundResponseCode,
// priority, metadataMatch, internalRedirectPolicy, cors, rateLimits, decorator, tracing,
// metadata, statPrefix, perRequestBufferLimitBytes.
//
// ---------------------------------------------------------------------------------------
// What the router filter does with a match, in Envoy's order
//
//   0. kind 'non_forwarding': no upstream; like Envoy, the router answers 404 (NR) unless an
//      earlier filter handled the request. clusterName '' on a cluster_header route (header
//      missing) or an unknown cluster: reply route.clusterNotFoundResponseCode (NC).
//   1. local responses: direct_response -> status + body; redirect -> redirect.responseCode
//      with Location = redirectLocation(m, req); 201/3xx direct responses also get
//      Location = redirectLocation(m, req) (addsLocation(status)). Apply
//      m.responseHeaderMutations to the local reply.
//   2. applyHeaderMutations(m.requestHeaderMutations, headers, { requestHeaders: headers, streamInfo })
//   3. host: rewriteHost(m, headers, path) -> new :authority or null (append x-forwarded-host
//      when route.appendXForwardedHost); route.autoHostRewrite once the host is picked.
//   4. path: rewritePath(m, path) -> new :path or null (set x-envoy-original-path).
//   5. on the response: applyHeaderMutations(m.responseHeaderMutations, respHeaders,
//      { requestHeaders, responseHeaders: respHeaders, streamInfo }).
//
// Header values may hold %COMMAND% templates (formatter.ts), parsed once at compile time:
// REQ(h?alt):N, RESP(h), START_TIME(fmt), HOSTNAME, PROTOCOL, DOWNSTREAM_REMOTE_ADDRESS
// (and _WITHOUT_PORT / PORT, DIRECT_ and LOCAL_ variants), UPSTREAM_HOST,
// UPSTREAM_REMOTE_ADDRESS(_WITHOUT_PORT), UPSTREAM_LOCAL_ADDRESS, UPSTREAM_CLUSTER,
// REQUESTED_SERVER_NAME, ROUTE_NAME, RESPONSE_CODE, RESPONSE_FLAGS, CONNECTION_ID,
// STREAM_ID, DYNAMIC_METADATA(ns:key), UPSTREAM_METADATA(["ns","key"]), FILTER_STATE(key),
// ENVIRONMENT(VAR). The context's streamInfo is any object shaped like
// src/common/stream_info.ts StreamInfo (StreamInfoLike); unknown commands are config errors.

export {
  compileRouteConfig,
  CompiledRouteConfig,
  CompiledVirtualHost,
  CompiledRoute,
  CompiledWeightedCluster,
  CompiledWeightedClusters,
  RouteMatchResult,
  CATCH_ALL_VIRTUAL_CLUSTER,
  DEFAULT_ROUTE_TIMEOUT_MS,
  isGrpcRequest,
  computePathEnd,
  randomValue,
} from './route_config';
export type { Headers as RequestHeaders } from '../http/headers';
export type {
  RouteRequest,
  CompileRouteConfigOptions,
  RouteActionKind,
  CompiledHashPolicy,
  CompiledUpgradeConfig,
  CompiledConnectConfig,
  CompiledMirrorPolicy,
  CompiledRedirect,
  CompiledDirectResponse,
  CompiledInternalRedirectPolicy,
  CompiledTracing,
  VirtualClusterEntry,
} from './route_config';
export { rewritePath, rewriteHost, redirectLocation, addsLocation, pathWithoutQueryLength } from './rewrite';
export {
  applyHeaderMutations,
  compileHeaderLevel,
  concatMutations,
  HeaderMutations,
  HeaderOp,
  OP_REMOVE,
  OP_APPEND,
  OP_ADD_IF_ABSENT,
  OP_OVERWRITE_OR_ADD,
  OP_OVERWRITE_IF_EXISTS,
  OP_FLUSH,
} from './header_mutation';
export { parseHeaderFormatter, HeaderFormatter, formatTime, SUPPORTED_COMMANDS } from './formatter';
export type { FormatterContext, StreamInfoLike } from './formatter';
export {
  parseRetryOn,
  compileRetryPolicy,
  compileHedgePolicy,
  HTTP_RETRY_ON,
  GRPC_RETRY_ON,
  RETRY_ON_5XX,
  RETRY_ON_GATEWAY_ERROR,
  RETRY_ON_CONNECT_FAILURE,
  RETRY_ON_RETRIABLE_4XX,
  RETRY_ON_REFUSED_STREAM,
  RETRY_ON_GRPC_CANCELLED,
  RETRY_ON_GRPC_DEADLINE_EXCEEDED,
  RETRY_ON_GRPC_RESOURCE_EXHAUSTED,
  RETRY_ON_GRPC_UNAVAILABLE,
  RETRY_ON_GRPC_INTERNAL,
  RETRY_ON_RETRIABLE_STATUS_CODES,
  RETRY_ON_RESET,
  RETRY_ON_RETRIABLE_HEADERS,
  RETRY_ON_ENVOY_RATE_LIMITED,
  RETRY_ON_HTTP3_POST_CONNECT_FAILURE,
  RETRY_ON_RESET_BEFORE_REQUEST,
} from './retry';
export type { CompiledRetryPolicy, CompiledHedgePolicy, ParsedRetryOn, RetryExtension } from './retry';
export {
  StringMatcher,
  HeaderMatcher,
  QueryParameterMatcher,
  MetadataMatcher,
  compileStringMatcher,
  compileHeaderMatcher,
  compileHeaderMatchers,
  compileQueryParameterMatcher,
  compileMetadataMatcher,
  compileFraction,
  fractionEnabled,
  matchHeaders,
  firstQueryValue,
  joinedHeader,
} from './matchers';
export type { Fraction } from './matchers';
export { compileRegexString, compileRegexMatcher, compileRegexRewrite, applyRegexRewrite, CompiledRegex } from './regex';
export type { CompiledRegexRewrite } from './regex';
export { DomainMatcher, getPortStart, stripPort } from './domains';
