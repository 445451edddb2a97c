// The router filter (Envoy source/common/router/router.cc): the terminal HTTP
// filter that turns a matched route into an upstream request, with retries,
// timeouts, circuit breakers, header rewrites, Envoy's upstream stats and
// response flags. One RouterFilter per stream; it is also the upstream callback
// target (UpstreamCallbacks), the downstream watermark listener and the load
// balancer context, so an attempt costs no closures.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus,
  type DownstreamWatermarkCallbacks, type StreamDecoderFilter, type StreamDecoderFilterCallbacks,
} from '../../../http/filter';
import { appendHeader, type Headers } from '../../../http/headers';
import { RF } from '../../../common/response_flags';
import type { Cluster, ClusterInfo, Host, LoadBalancerContext, ResourceManager } from '../../../cluster/types';
import {
  type RouteMatchResult, type CompiledRoute, type RouteRequest,
  applyHeaderMutations, rewriteHost, rewritePath, redirectLocation, addsLocation, parseRetryOn,
} from '../../../router';
import type { RouterConfig } from './config';
import { RetryState, RetryStatus, parseUint } from './retry_state';
import { finalTimeout, setTimeoutHeaders, type TimeoutData } from './timeouts';
import { computeHash } from './hash';
import { h1PoolFor, h2PoolFor } from './upstream/pools';
import {
  EMPTY_BUFFER, ResetReason, resetReasonToString,
  type UpstreamCallbacks, type UpstreamRequestSpec, type UpstreamStream,
} from './upstream/types';

/** Envoy's default retry/shadow buffer when the HCM does not say (per_connection_buffer_limit_bytes). */
const DEFAULT_BUFFER_LIMIT = 1024 * 1024;

function first(v: string | string[] | undefined): string | undefined {
  return v === undefined ? undefined : typeof v === 'string' ? v : v[0];
}

function isGrpc(h: Headers): boolean {
  const ct = first(h['content-type']);
  if (ct === undefined || !ct.startsWith('application/grpc')) return false;
  return ct.length === 16 || ct.charCodeAt(16) === 43;
}

/** Envoy's streamResetReasonToResponseFlag. */
function resetFlag(r: ResetReason): number {
  switch (r) {
    case ResetReason.ConnectionFailure:
    case ResetReason.ConnectionTimeout: return RF.UpstreamConnectionFailure;
    case ResetReason.ConnectionTermination: return RF.UpstreamConnectionTermination;
    case ResetReason.LocalReset: return RF.LocalReset;
    case ResetReason.Overflow: return RF.UpstreamOverflow;
    case ResetReason.ProtocolError: return RF.UpstreamProtocolError;
    default: return RF.UpstreamRemoteReset;
  }
}

// Module-level timer callbacks (no per-request closures).
function onGlobalTimeout(f: RouterFilter): void { f.onGlobalTimeout(); }
function onPerTryTimeout(f: RouterFilter): void { f.onPerTryTimeout(false); }
function onPerTryIdleTimeout(f: RouterFilter): void { f.onPerTryTimeout(true); }
function onBackoff(f: RouterFilter): void { f.doRetry(); }

const enum Proto { H1 = 1, H2 = 2 }

export class RouterFilter implements StreamDecoderFilter, UpstreamCallbacks, DownstreamWatermarkCallbacks,
  LoadBalancerContext, UpstreamRequestSpec, TimeoutData {
  private cb!: StreamDecoderFilterCallbacks;
  private match: RouteMatchResult | null = null;
  private route: CompiledRoute | null = null;
  private cluster: Cluster | null = null;
  private info: ClusterInfo | null = null;
  private rm: ResourceManager | null = null;
  // ---- TimeoutData (finalTimeout writes these)
  globalMs = 0;
  perTryMs = 0;
  perTryIdleMs = 0;
  private retry: RetryState | null = null;
  private grpc = false;
  private proto: Proto = Proto.H1;
  /** The current attempt, null between attempts and after the end. */
  private upstream: UpstreamStream | null = null;
  private upstreamHost: Host | null = null;
  private attemptStarted = false;
  private attempt = 0;
  private responseStarted = false;
  private responseEnded = false;
  /** The router is finished with this stream (response complete, local reply, or reset). */
  private done = false;
  private responseStatus = 0;
  private requestCompleteNs = -1;
  private globalTimer: NodeJS.Timeout | null = null;
  private perTryTimer: NodeJS.Timeout | null = null;
  private perTryIdleTimer: NodeJS.Timeout | null = null;
  private backoffTimer: NodeJS.Timeout | null = null;
  /** Request body kept for retries (only while a retry is possible). */
  private buffered: Buffer[] | null = null;
  private bufferedBytes = 0;
  private bufferLimit = DEFAULT_BUFFER_LIMIT;
  private downstreamAbove = 0;
  private watermarkRegistered = false;
  /** Above-watermark calls made to the HCM for the request body (undone on attempt end). */
  private decoderAbove = 0;
  private upstreamResponseHeaders: Headers | undefined = undefined;

  // ---- UpstreamRequestSpec (read synchronously by the pools at attempt start)
  headers: Headers = {};
  endStream = false;
  body: Buffer | undefined = undefined;
  trailers: Headers | undefined = undefined;
  upgrade = '';

  // ---- LoadBalancerContext
  hashKey: bigint | number | undefined = undefined;
  hostSelectionRetryCount: number | undefined = undefined;
  downstreamRemoteAddress: string | undefined = undefined;

  constructor(readonly config: RouterConfig) {}

  setDecoderFilterCallbacks(cb: StreamDecoderFilterCallbacks): void { this.cb = cb; }

  shouldSelectAnotherHost(host: Host): boolean {
    return this.retry !== null && this.retry.shouldSelectAnotherHost(host);
  }

  // ------------------------------------------------------------------ request path

  decodeHeaders(headers: Headers, endStream: boolean): FilterHeadersStatus {
    const cfg = this.config;
    const cb = this.cb;
    const si = cb.streamInfo;
    this.headers = headers;
    this.endStream = endStream;
    cfg.stats.rq_total.inc();

    const m = cb.route() as RouteMatchResult | null;
    if (m === null || m.route.kind === 'non_forwarding') {
      cfg.stats.no_route.inc();
      cb.sendLocalReply(404, '', { flags: RF.NoRouteFound, details: 'route_not_found' });
      this.done = true;
      return FilterHeadersStatus.StopIteration;
    }
    this.match = m;
    const route = m.route;
    this.route = route;

    if (route.kind === 'direct_response' || route.kind === 'redirect' || route.sslRedirect) {
      this.sendDirectResponse(m, route, headers);
      return FilterHeadersStatus.StopIteration;
    }

    if (cfg.strictCheckHeaders.length > 0 && !this.strictCheck(headers)) return FilterHeadersStatus.StopIteration;

    const cluster = m.clusterName ? cfg.clusterManager.get(m.clusterName) : undefined;
    if (cluster === undefined) {
      cfg.stats.no_cluster.inc();
      cb.sendLocalReply(route.clusterNotFoundResponseCode, '', this.replyOpts(RF.NoClusterFound, 'cluster_not_found'));
      this.done = true;
      return FilterHeadersStatus.StopIteration;
    }
    this.cluster = cluster;
    const info = cluster.info;
    this.info = info;
    si.upstreamCluster = info.observabilityName || info.name;
    this.rm = info.resourceManagers[route.priority === 'HIGH' ? 1 : 0];
    this.grpc = isGrpc(headers);
    this.upgrade = cb.upgradeType === 'websocket' ? 'websocket' : '';
    if (this.upgrade !== '') this.endStream = true; // the bytes after the head belong to the tunnel
    this.proto = this.upgrade !== '' ? Proto.H1
      : info.upstreamProtocol === 'http2' ? Proto.H2
        : info.upstreamProtocol === 'downstream' && si.protocol === 'HTTP/2' ? Proto.H2 : Proto.H1;

    const limit = typeof cb.decoderBufferLimit === 'function' ? cb.decoderBufferLimit() : 0;
    this.bufferLimit = limit > 0 ? limit : info.perConnectionBufferLimitBytes > 0 ? info.perConnectionBufferLimitBytes : DEFAULT_BUFFER_LIMIT;
    const rbl = route.perRequestBufferLimitBytes;
    if (rbl !== undefined && rbl < this.bufferLimit) this.bufferLimit = rbl;

    // Load balancer context.
    this.downstreamRemoteAddress = si.connection.remoteAddress;
    if (route.hashPolicy.length > 0) {
      this.hashKey = computeHash(route.hashPolicy, headers, si.connection.remoteAddress, si.filterState);
    }

    const host = cluster.chooseHost(this);
    if (host === null) {
      this.sendNoHealthyUpstream();
      return FilterHeadersStatus.StopIteration;
    }

    // Timeouts (consume x-envoy-upstream-rq-*-timeout-ms, set x-envoy-expected-rq-timeout-ms).
    finalTimeout(route, headers, !cfg.suppressEnvoyHeaders, this.grpc, cfg.respectExpectedRqTimeout, this);
    if (this.upgrade !== '') this.perTryMs = 0;

    if (m.vhost.includeRequestAttemptCount) headers['x-envoy-attempt-count'] = '1';

    // Route / vhost / route-config request header mutations, then host and path rewrites.
    if (!m.requestHeaderMutations.empty) {
      applyHeaderMutations(m.requestHeaderMutations, headers, { requestHeaders: headers, streamInfo: si });
    }
    const path = first(headers[':path']) ?? '';
    const newHost = rewriteHost(m, headers, path);
    if (newHost !== null) this.setAuthority(headers, newHost);
    if (route.autoHostRewrite && host.hostname) this.setAuthority(headers, host.hostname);
    const newPath = rewritePath(m, path);
    if (newPath !== null) {
      if (!cfg.suppressEnvoyHeaders) headers['x-envoy-original-path'] = path;
      headers[':path'] = newPath;
    }

    // Retries (consume x-envoy-retry-on / x-envoy-max-retries / ...). Upgrades are never retried.
    this.retry = RetryState.create(route.retryPolicy, headers, this.rm, info.stats);
    if (this.retry !== null && (!this.retry.enabled() || this.upgrade !== '')) {
      this.retry.release();
      this.retry = null;
    }
    if (this.retry !== null) {
      this.hostSelectionRetryCount = this.retry.hostSelectionMaxAttempts;
      if (!endStream) this.buffered = [];
    }

    this.startAttempt(host);
    if (endStream || this.upgrade !== '') this.onRequestComplete();
    return FilterHeadersStatus.StopIteration;
  }

  decodeData(data: Buffer, endStream: boolean): FilterDataStatus {
    if (this.done || this.upgrade !== '') return FilterDataStatus.StopIterationNoBuffer;
    if (this.retry !== null && this.buffered !== null) {
      if (this.bufferedBytes + data.length > this.bufferLimit) {
        // Envoy: give up on retries once the body no longer fits the buffer.
        this.info?.stats.scope.counter('retry_or_shadow_abandoned').inc();
        this.retry.release();
        this.retry = null;
        this.buffered = null;
        this.bufferedBytes = 0;
        if (this.upstream === null) {
          // Waiting for a retry back-off: nothing can carry the request any more.
          this.cleanup();
          this.done = true;
          this.cb.sendLocalReply(507, 'exceeded request buffer limit while retrying upstream',
            this.replyOpts(0, 'request_payload_exceeded_retry_buffer_limit'));
          return FilterDataStatus.StopIterationNoBuffer;
        }
      } else {
        this.buffered.push(data);
        this.bufferedBytes += data.length;
      }
    }
    if (endStream) this.endStream = true;
    const up = this.upstream;
    if (up !== null) {
      up.writeData(data, endStream);
      this.touchPerTryIdle();
    }
    if (endStream) this.onRequestComplete();
    return FilterDataStatus.StopIterationNoBuffer;
  }

  decodeTrailers(trailers: Headers): FilterTrailersStatus {
    if (this.done || this.upgrade !== '') return FilterTrailersStatus.StopIteration;
    this.trailers = trailers;
    this.endStream = true;
    const up = this.upstream;
    if (up !== null) up.writeTrailers(trailers);
    this.onRequestComplete();
    return FilterTrailersStatus.StopIteration;
  }

  onDestroy(): void {
    this.cleanup();
    this.dropUpstream(!this.responseEnded);
    this.done = true;
  }

  // ------------------------------------------------------------------ local responses

  private replyOpts(flags: number, details: string): { flags: number; details: string; headers?: Headers } {
    const m = this.match;
    const opts: { flags: number; details: string; headers?: Headers } = { flags, details };
    if (m !== null && (!m.responseHeaderMutations.empty || (m.vhost.includeAttemptCountInResponse && this.attempt > 0))) {
      const h: Headers = {};
      if (!m.responseHeaderMutations.empty) {
        applyHeaderMutations(m.responseHeaderMutations, h,
          { requestHeaders: this.headers, responseHeaders: h, streamInfo: this.cb.streamInfo });
      }
      if (m.vhost.includeAttemptCountInResponse && this.attempt > 0) h['x-envoy-attempt-count'] = String(this.attempt);
      opts.headers = h;
    }
    return opts;
  }

  private sendDirectResponse(m: RouteMatchResult, route: CompiledRoute, headers: Headers): void {
    const cfg = this.config;
    const cb = this.cb;
    let status: number;
    let body = '';
    if (route.sslRedirect) status = 301;
    else if (route.redirect !== null) status = route.redirect.responseCode;
    else {
      status = route.directResponse!.status;
      const b = route.directResponse!.body;
      if (b !== null) body = b.toString();
    }
    if (route.redirect !== null || route.sslRedirect) cfg.stats.rq_redirect.inc();
    else cfg.stats.rq_direct_response.inc();
    const h: Headers = {};
    const path = first(headers[':path']) ?? '';
    if (addsLocation(status) && path !== '') {
      const req: RouteRequest = {
        method: first(headers[':method']) ?? 'GET',
        authority: first(headers[':authority']) ?? first(headers['host']) ?? '',
        path,
        headers,
      };
      h['location'] = redirectLocation(m, req);
    }
    if (!m.responseHeaderMutations.empty) {
      applyHeaderMutations(m.responseHeaderMutations, h, { requestHeaders: headers, responseHeaders: h, streamInfo: cb.streamInfo });
    }
    this.done = true;
    cb.sendLocalReply(status, body, { details: 'direct_response', headers: h });
  }

  private strictCheck(headers: Headers): boolean {
    for (const name of this.config.strictCheckHeaders) {
      const v = first(headers[name]);
      if (v === undefined) continue;
      let ok: boolean;
      if (name === 'x-envoy-retry-on') ok = parseRetryOn(v, 'http').unknown.length === 0;
      else if (name === 'x-envoy-retry-grpc-on') ok = parseRetryOn(v, 'grpc').unknown.length === 0;
      else ok = parseUint(v) !== undefined;
      if (!ok) {
        this.done = true;
        this.cb.sendLocalReply(400, `invalid header '${name}' with value '${v}'`,
          { flags: RF.InvalidEnvoyRequestHeaders, details: 'request_headers_failed_strict_check' });
        return false;
      }
    }
    return true;
  }

  private sendNoHealthyUpstream(): void {
    this.cb.streamInfo.setFlag(RF.NoHealthyUpstream);
    this.chargeUpstreamCode(503, null);
    this.cleanup();
    this.done = true;
    this.cb.sendLocalReply(503, 'no healthy upstream', this.replyOpts(RF.NoHealthyUpstream, 'no_healthy_upstream'));
  }

  private setAuthority(headers: Headers, value: string): void {
    if (this.match!.route.appendXForwardedHost) {
      const old = first(headers[':authority']) ?? first(headers['host']);
      if (old !== undefined && old !== value) appendHeader(headers, 'x-forwarded-host', old);
    }
    headers[':authority'] = value;
    if (headers['host'] !== undefined) headers['host'] = value;
  }

  // ------------------------------------------------------------------ attempts

  private startAttempt(host: Host): void {
    const si = this.cb.streamInfo;
    const info = this.info!;
    this.attempt++;
    si.attemptCount = this.attempt;
    this.upstreamHost = host;
    const hi = { address: host.key, hostname: host.hostname || undefined, metadata: host.metadata };
    si.upstreamHost = hi;
    this.attemptStarted = false;
    this.upstreamResponseHeaders = undefined;
    if (this.retry !== null) this.retry.onHostAttempted(host);

    // The spec fields the pool reads: a buffered body for retries.
    const buf = this.buffered;
    if (buf !== null && buf.length > 0) this.body = buf.length === 1 ? buf[0] : Buffer.concat(buf, this.bufferedBytes);
    else this.body = undefined;

    const s = this.proto === Proto.H2
      ? h2PoolFor(host, info).newStream(this, this.rm!, this)
      : h1PoolFor(host, info).newStream(this, this.rm!, this);
    this.body = undefined;
    if (s === null) {
      // A circuit breaker refused the stream (Envoy onPoolFailure(Overflow)); never retried.
      this.onAttemptFailed(ResetReason.Overflow, '');
      return;
    }
    this.upstream = s;
    if (this.downstreamAbove > 0) s.pauseResponse();
    if (!this.watermarkRegistered) {
      this.watermarkRegistered = true;
      this.cb.addDownstreamWatermarkCallbacks(this);
    }
  }

  private onRequestComplete(): void {
    if (this.requestCompleteNs >= 0 || this.done) return;
    this.requestCompleteNs = this.cb.streamInfo.nowNs();
    if (this.globalMs > 0 && this.globalTimer === null) {
      this.globalTimer = setTimeout(onGlobalTimeout, this.globalMs, this);
    }
    if (this.upstream !== null && this.attemptStarted) this.startPerTryTimer();
  }

  /** per_try_timeout: from the attempt's connection once the request is complete, until response headers. */
  private startPerTryTimer(): void {
    if (this.responseStarted) return;
    if (this.perTryMs > 0 && this.perTryTimer === null) this.perTryTimer = setTimeout(onPerTryTimeout, this.perTryMs, this);
  }

  private clearPerTryTimers(): void {
    if (this.perTryTimer !== null) { clearTimeout(this.perTryTimer); this.perTryTimer = null; }
    if (this.perTryIdleTimer !== null) { clearTimeout(this.perTryIdleTimer); this.perTryIdleTimer = null; }
  }

  /** Forget the current attempt (optionally resetting it), adding its byte counts to the stream info. */
  private dropUpstream(reset: boolean): void {
    const up = this.upstream;
    if (up === null) return;
    this.upstream = null;
    const si = this.cb.streamInfo;
    si.upstreamBytesSent += up.bytesSent;
    si.upstreamBytesReceived += up.bytesReceived;
    if (reset) up.reset();
  }

  /** End of an attempt: undo request-body back-pressure it put on the downstream. */
  private releaseDecoderWatermark(): void {
    while (this.decoderAbove > 0) {
      this.decoderAbove--;
      this.cb.onDecoderFilterBelowWriteBufferLowWatermark?.();
    }
  }

  private cleanup(): void {
    if (this.globalTimer !== null) { clearTimeout(this.globalTimer); this.globalTimer = null; }
    if (this.backoffTimer !== null) { clearTimeout(this.backoffTimer); this.backoffTimer = null; }
    this.clearPerTryTimers();
    if (this.retry !== null) { this.retry.release(); this.retry = null; }
    this.buffered = null;
    this.releaseDecoderWatermark();
    if (this.watermarkRegistered) {
      this.watermarkRegistered = false;
      this.cb.removeDownstreamWatermarkCallbacks?.(this);
    }
  }

  private scheduleRetry(): void {
    this.backoffTimer = setTimeout(onBackoff, this.retry!.nextBackoffMs(), this);
  }

  doRetry(): void {
    this.backoffTimer = null;
    if (this.done) return;
    const cluster = this.cluster!;
    const host = cluster.chooseHost(this);
    if (host === null) {
      this.sendNoHealthyUpstream();
      return;
    }
    const headers = this.headers;
    if (this.match!.vhost.includeRequestAttemptCount) headers['x-envoy-attempt-count'] = String(this.attempt + 1);
    if (this.requestCompleteNs >= 0) {
      const elapsed = (this.cb.streamInfo.nowNs() - this.requestCompleteNs) / 1e6;
      setTimeoutHeaders(elapsed, this, this.route!, headers, !this.config.suppressEnvoyHeaders, this.grpc);
    }
    this.startAttempt(host);
  }

  /** A failed attempt (reset, refused, overflow): retry or give up with Envoy's local reply. */
  private onAttemptFailed(reason: ResetReason, transportFailureReason: string): void {
    const cb = this.cb;
    if (reason === ResetReason.ConnectionFailure || reason === ResetReason.ConnectionTimeout) {
      if (transportFailureReason) cb.streamInfo.upstreamTransportFailureReason = transportFailureReason;
    }
    this.logUpstream();
    if (this.maybeRetryReset(reason)) return;
    const code = reason === ResetReason.ProtocolError ? 502 : 503;
    const rs = resetReasonToString(reason);
    if (this.responseStarted) {
      this.config.stats.rq_reset_after_downstream_response_started.inc();
    } else {
      this.chargeUpstreamCode(code, null);
    }
    const body = 'upstream connect error or disconnect/reset before headers. ' +
      (this.attempt > 1 ? 'retried and the latest ' : '') + 'reset reason: ' + rs;
    const details = (this.responseStarted ? 'upstream_reset_after_response_started{' : 'upstream_reset_before_response_started{') +
      rs.replace(/ /g, '_') + '}';
    this.onUpstreamAbort(code, resetFlag(reason), body, details);
  }

  private maybeRetryReset(reason: ResetReason): boolean {
    const r = this.retry;
    if (this.responseStarted || r === null) return false;
    const st = r.shouldRetry(r.wouldRetryFromReset(reason, this.attemptStarted));
    if (st === RetryStatus.Yes) {
      if (this.upstreamHost !== null) this.upstreamHost.stats.rq_error.inc();
      this.scheduleRetry();
      return true;
    }
    if (st === RetryStatus.NoOverflow) this.cb.streamInfo.setFlag(RF.UpstreamOverflow);
    else if (st === RetryStatus.NoRetryLimitExceeded) this.cb.streamInfo.setFlag(RF.UpstreamRetryLimitExceeded);
    return false;
  }

  /** Envoy onUpstreamAbort: a local reply, or a reset once the response started. */
  private onUpstreamAbort(code: number, flags: number, body: string, details: string): void {
    const cb = this.cb;
    cb.streamInfo.setFlag(flags);
    const opts = this.replyOpts(flags, details);
    this.cleanup();
    this.dropUpstream(true);
    this.done = true;
    if (this.responseStarted) {
      cb.streamInfo.responseCodeDetails = details;
      cb.resetStream();
      return;
    }
    cb.sendLocalReply(code, body, opts);
  }

  onGlobalTimeout(): void {
    this.globalTimer = null;
    if (this.done) return;
    const up = this.upstream;
    if (up !== null) {
      // Envoy counts the timeout per upstream request in flight (none while backing off).
      this.info!.stats.upstream_rq_timeout.inc();
      if (this.upstreamHost !== null) this.upstreamHost.stats.rq_timeout.inc();
      if (!this.responseStarted) this.chargeUpstreamCode(504, null);
    }
    this.logUpstream();
    this.onUpstreamAbort(504, RF.UpstreamRequestTimeout, 'upstream request timeout', 'upstream_response_timeout');
  }

  onPerTryTimeout(idle: boolean): void {
    if (idle) this.perTryIdleTimer = null; else this.perTryTimer = null;
    const up = this.upstream;
    // per_try_timeout only matters until the response starts; per_try_idle_timeout until it ends.
    if (this.done || up === null || (!idle && this.responseStarted)) return;
    this.clearPerTryTimers();
    const info = this.info!;
    if (idle) info.stats.scope.counter('upstream_rq_per_try_idle_timeout').inc();
    else info.stats.upstream_rq_per_try_timeout.inc();
    if (this.upstreamHost !== null) this.upstreamHost.stats.rq_timeout.inc();
    this.dropUpstream(true);
    this.releaseDecoderWatermark();
    this.logUpstream();
    if (this.maybeRetryReset(ResetReason.LocalReset)) return;
    if (!this.responseStarted) this.chargeUpstreamCode(504, null);
    this.onUpstreamAbort(504, RF.UpstreamRequestTimeout, 'upstream request timeout',
      idle ? 'upstream_per_try_idle_timeout' : 'upstream_per_try_timeout');
  }

  private touchPerTryIdle(): void {
    const t = this.perTryIdleTimer;
    if (t !== null) t.refresh();
  }

  // ------------------------------------------------------------------ upstream callbacks

  onPoolReady(s: UpstreamStream): void {
    if (s !== this.upstream) return;
    this.attemptStarted = true;
    const si = this.cb.streamInfo;
    if (si.firstUpstreamTxNs < 0) si.firstUpstreamTxNs = si.nowNs();
    if (this.perTryIdleMs > 0) this.perTryIdleTimer = setTimeout(onPerTryIdleTimeout, this.perTryIdleMs, this);
    if (this.requestCompleteNs >= 0) this.startPerTryTimer();
  }

  onUpstreamHeaders(s: UpstreamStream, status: number, headers: Headers, endStream: boolean): void {
    if (s !== this.upstream || this.done) return;
    const cb = this.cb;
    const si = cb.streamInfo;
    if (si.firstUpstreamRxNs < 0) si.firstUpstreamRxNs = si.nowNs();
    const la = s.localAddress();
    if (la) si.upstreamLocalAddress = la;
    this.upstreamResponseHeaders = headers;
    this.touchPerTryIdle();

    const r = this.retry;
    if (r !== null) {
      const st = r.shouldRetry(r.wouldRetryFromHeaders(status, headers));
      if (st === RetryStatus.Yes) {
        if (this.upstreamHost !== null) this.upstreamHost.stats.rq_error.inc();
        if (this.config.dynamicStats) {
          const sc = this.info!.stats.scope;
          sc.counter('retry.upstream_rq_' + status).inc();
          sc.counter('retry.upstream_rq_' + ((status / 100) | 0) + 'xx').inc();
          sc.counter('retry.upstream_rq_completed').inc();
        }
        this.dropUpstream(!endStream || !this.endStream);
        this.clearPerTryTimers();
        this.releaseDecoderWatermark();
        this.logUpstream();
        this.scheduleRetry();
        return;
      }
      if (st === RetryStatus.NoOverflow) si.setFlag(RF.UpstreamOverflow);
      else if (st === RetryStatus.NoRetryLimitExceeded) si.setFlag(RF.UpstreamRetryLimitExceeded);
      r.release();
      this.retry = null;
      this.buffered = null;
    }

    this.responseStatus = status;
    if (this.requestCompleteNs >= 0 && !this.config.suppressEnvoyHeaders) {
      headers['x-envoy-upstream-service-time'] = String(Math.floor((si.nowNs() - this.requestCompleteNs) / 1e6));
    }
    this.chargeUpstreamCode(status, headers);
    const m = this.match!;
    if (!m.responseHeaderMutations.empty) {
      applyHeaderMutations(m.responseHeaderMutations, headers, { requestHeaders: this.headers, responseHeaders: headers, streamInfo: si });
    }
    if (m.vhost.includeAttemptCountInResponse) headers['x-envoy-attempt-count'] = String(this.attempt);
    this.responseStarted = true;
    if (this.perTryTimer !== null) { clearTimeout(this.perTryTimer); this.perTryTimer = null; }
    if (endStream) this.onUpstreamComplete();
    cb.encodeHeaders(headers, endStream);
  }

  onUpstreamData(s: UpstreamStream, data: Buffer, endStream: boolean): void {
    if (s !== this.upstream || this.done) return;
    this.touchPerTryIdle();
    if (endStream) this.onUpstreamComplete();
    this.cb.encodeData(data, endStream);
  }

  onUpstreamTrailers(s: UpstreamStream, trailers: Headers): void {
    if (s !== this.upstream || this.done) return;
    this.onUpstreamComplete();
    this.cb.encodeTrailers(trailers);
  }

  onUpstreamReset(s: UpstreamStream, reason: ResetReason, transportFailureReason: string): void {
    if (s !== this.upstream || this.done) return;
    this.dropUpstream(false);
    this.clearPerTryTimers();
    this.releaseDecoderWatermark();
    this.onAttemptFailed(reason, transportFailureReason);
  }

  onUpstreamUpgrade(s: UpstreamStream, status: number, headers: Headers, socket: Socket | Duplex): void {
    if (s !== this.upstream || this.done || typeof this.cb.upgradeTunnel !== 'function') {
      socket.destroy();
      return;
    }
    const cb = this.cb;
    const si = cb.streamInfo;
    if (si.firstUpstreamRxNs < 0) si.firstUpstreamRxNs = si.nowNs();
    const la = s.localAddress();
    if (la) si.upstreamLocalAddress = la;
    this.responseStatus = status;
    this.chargeUpstreamCode(status, headers);
    const m = this.match!;
    if (!m.responseHeaderMutations.empty) {
      applyHeaderMutations(m.responseHeaderMutations, headers, { requestHeaders: this.headers, responseHeaders: headers, streamInfo: si });
    }
    this.responseStarted = true;
    this.responseEnded = true;
    this.done = true;
    this.dropUpstream(false);
    this.cleanup();
    this.logUpstream();
    cb.encodeHeaders(headers, false);
    cb.upgradeTunnel!(socket, EMPTY_BUFFER);
  }

  onUpstreamWriteWatermark(s: UpstreamStream, above: boolean): void {
    if (s !== this.upstream || this.done) return;
    const cb = this.cb;
    if (above) {
      this.decoderAbove++;
      cb.onDecoderFilterAboveWriteBufferHighWatermark?.();
    } else if (this.decoderAbove > 0) {
      this.decoderAbove--;
      cb.onDecoderFilterBelowWriteBufferLowWatermark?.();
    }
  }

  // ------------------------------------------------------------------ downstream watermarks

  onAboveWriteBufferHighWatermark(): void {
    this.downstreamAbove++;
    if (this.downstreamAbove === 1) this.upstream?.pauseResponse();
  }

  onBelowWriteBufferLowWatermark(): void {
    if (this.downstreamAbove === 0) return;
    this.downstreamAbove--;
    if (this.downstreamAbove === 0) this.upstream?.resumeResponse();
  }

  // ------------------------------------------------------------------ completion and stats

  private onUpstreamComplete(): void {
    if (this.responseEnded) return;
    this.responseEnded = true;
    const info = this.info!;
    const si = this.cb.streamInfo;
    if (this.config.dynamicStats && this.requestCompleteNs >= 0) {
      info.stats.upstream_rq_time.record((si.nowNs() - this.requestCompleteNs) / 1e6);
    }
    const host = this.upstreamHost;
    if (host !== null && this.responseStatus < 500) host.stats.rq_success.inc();
    this.logUpstream();
    this.done = true;
    this.cleanup();
    // The response finished before the request: stop sending (Envoy resets the upstream request).
    this.dropUpstream(!this.endStream);
  }

  /** Envoy chargeUpstreamCode: upstream_rq_completed, upstream_rq_<N>xx, upstream_rq_<code>, host rq_error. */
  private chargeUpstreamCode(code: number, _headers: Headers | null): void {
    const info = this.info;
    if (info === null) return;
    if (this.config.dynamicStats) {
      const st = info.stats;
      st.upstream_rq_completed.inc();
      switch ((code / 100) | 0) {
        case 1: st.upstream_rq_1xx.inc(); break;
        case 2: st.upstream_rq_2xx.inc(); break;
        case 3: st.upstream_rq_3xx.inc(); break;
        case 4: st.upstream_rq_4xx.inc(); break;
        case 5: st.upstream_rq_5xx.inc(); break;
      }
      st.rqCode(code).inc();
    }
    const host = this.upstreamHost;
    if (host !== null && code >= 500) host.stats.rq_error.inc();
  }

  private logUpstream(): void {
    const logs = this.config.upstreamLogs;
    if (logs.length === 0) return;
    const si = this.cb.streamInfo;
    for (let i = 0; i < logs.length; i++) logs[i].log(si, this.headers, this.upstreamResponseHeaders);
  }
}

