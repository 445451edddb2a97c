// One HTTP request/response exchange (Envoy's ConnectionManagerImpl::ActiveStream plus its
// FilterManager). Both codecs (HTTP/1.1 via node:http, HTTP/2 via node:http2) feed the same
// object: decodeHeaders / decodeData / decodeTrailers / onResetStream in, and a
// ResponseEncoder out.
//
// Filter iteration follows Envoy's FilterManager: decoder filters in configured order, encoder
// filters in reverse; StopIteration stops headers at a filter (later data still reaches it, and
// Continue from its decodeData continues the chain), StopAllIterationAndBuffer buffers
// everything at the filter until continueDecoding(); StopIterationAndBuffer buffers body data
// (413 / 500 above the buffer limit); continueDecoding()/continueEncoding() resume from the
// next filter with the buffered body and trailers. Local replies go through the encoder filters
// when no response started yet, straight to the codec when headers went into the filter chain
// but not out, and otherwise reset the stream.
import { StreamInfo } from '../../../common/stream_info';
import { RF } from '../../../common/response_flags';
import { createLogger } from '../../../common/log';
import {
  FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus,
  type DownstreamWatermarkCallbacks, type LocalReplyOptions, type StreamDecoderFilter,
  type StreamDecoderFilterCallbacks, type StreamEncoderFilter, type StreamEncoderFilterCallbacks,
} from '../../../http/filter';
import { getHeader, getJoined, type Headers } from '../../../http/headers';
import type { RouteMatchLike } from '../../../http/route_api';
import { parseStatus, statusClass, statusText } from '../../../http/codes';
import { hasGrpcContentType, prepareLocalReply } from '../../../http/local_reply';
import {
  canonicalizePath, headerHasToken, isUpgradeRequest, mergeSlashes, stripHostPort, unescapeSlashes,
} from '../../../http/header_utility';
import type { CompiledRouteConfig, RouteMatchResult } from '../../../router';
import { logAll } from '../../../access_loggers';
import type { Duplex } from 'node:stream';
import {
  EscapedSlashesAction, ServerHeaderTransformation, StripPortMode, type FilterEntry, type HcmConfig,
} from './config';
import type { HcmConnection } from './connection_manager';
import { mutateRequestHeaders } from './request_headers';
import { dateHeader } from './date';
import { Tunnel } from './tunnel';

const log = createLogger('http');

/** The codec side of a stream. */
export interface ResponseEncoder {
  encodeHeaders(headers: Headers, endStream: boolean): void;
  encodeData(data: Buffer, endStream: boolean): void;
  encodeTrailers(trailers: Headers): void;
  /** Abort the stream (the response, if any, is incomplete): HTTP/2 RST_STREAM, HTTP/1 closes the connection. */
  resetStream(): void;
  /** The response is complete but the request is not: let the response flush, then stop the request. */
  endAfterResponse(): void;
  /** Stop / restart reading the request body (flow control). */
  readDisable(disable: boolean): void;
  /** For upgrades (raw HTTP/1.1 sockets): the downstream socket, once the response head is written. */
  takeSocket?(): Duplex | undefined;
}

const enum It { Continue = 0, StopSingle = 1, StopAll = 2 }

const EMPTY = Buffer.alloc(0);
let nextStreamId = 1;

/** Per-filter state and the callbacks object handed to the filter. */
export class FilterSlot implements StreamDecoderFilterCallbacks, StreamEncoderFilterCallbacks {
  dec: StreamDecoderFilter | null = null;
  enc: StreamEncoderFilter | null = null;
  decIdx = -1;
  encIdx = -1;
  decState = It.Continue;
  encState = It.Continue;
  decHeadersContinued = false;
  encHeadersContinued = false;
  decEndStream = false;
  encEndStream = false;
  decFromCurrent = false;
  encFromCurrent = false;
  decInCall = false;
  encInCall = false;
  decContinuePending = false;
  encContinuePending = false;

  constructor(readonly s: ActiveStream, readonly name: string, readonly filter: object) {}

  get streamInfo(): StreamInfo { return this.s.info; }
  get streamId(): number { return this.s.id; }
  get upgradeType(): string { return this.s.upgradeType; }
  route(): RouteMatchLike | null { return this.s.route(); }
  clearRouteCache(): void { this.s.clearRouteCache(); }
  resetStream(): void { this.s.resetFromFilter(); }
  perFilterConfig(filterName: string): unknown { return this.s.perFilterConfig(filterName); }
  continueDecoding(): void { this.s.continueDecoding(this); }
  continueEncoding(): void { this.s.continueEncoding(this); }
  sendLocalReply(status: number, body: string, opts?: LocalReplyOptions): void { this.s.sendLocalReply(status, body, opts); }
  encodeHeaders(headers: Headers, endStream: boolean): void { this.s.encodeHeadersFromFilter(headers, endStream); }
  encodeData(data: Buffer, endStream: boolean): void { this.s.encodeDataFromFilter(data, endStream); }
  encodeTrailers(trailers: Headers): void { this.s.encodeTrailersFromFilter(trailers); }
  addDownstreamWatermarkCallbacks(cb: DownstreamWatermarkCallbacks): void { this.s.addWatermarkCallbacks(cb); }
  removeDownstreamWatermarkCallbacks(cb: DownstreamWatermarkCallbacks): void { this.s.removeWatermarkCallbacks(cb); }
  onDecoderFilterAboveWriteBufferHighWatermark(): void { this.s.readDisable(true); }
  onDecoderFilterBelowWriteBufferLowWatermark(): void { this.s.readDisable(false); }
  decoderBufferLimit(): number { return this.s.bufferLimit; }
  decodingBuffer(): Buffer | undefined { return this.s.decodingBuffer(); }
  upgradeTunnel(upstream: Duplex, head: Buffer, responseHeaders?: Headers): void {
    this.s.upgradeTunnel(upstream, head, responseHeaders);
  }
}

function onStreamIdleTimeout(s: ActiveStream): void { s.onIdleTimeout(); }
function onRequestTimeout(s: ActiveStream): void { s.onRequestTimeout(); }
function onMaxDuration(s: ActiveStream): void { s.onMaxDurationReached(); }

export class ActiveStream {
  readonly id = nextStreamId++;
  readonly cfg: HcmConfig;
  readonly info: StreamInfo;
  readonly bufferLimit: number;
  /** Intrusive list links (HcmConnection.streams). */
  prev: ActiveStream | null = null;
  next: ActiveStream | null = null;

  requestHeaders: Headers | undefined = undefined;
  requestTrailers: Headers | undefined = undefined;
  responseHeaders: Headers | undefined = undefined;
  responseTrailers: Headers | undefined = undefined;

  private decoders: FilterSlot[] = [];
  private encoders: FilterSlot[] = [];
  private slots: FilterSlot[] = [];
  private reqBuf: Buffer[] | null = null;
  private reqBufLen = 0;
  private respBuf: Buffer[] | null = null;
  private respBufLen = 0;

  // State (Envoy's FilterManager::State and ActiveStream::State).
  remoteComplete = false;
  /** The response producer sent end_stream into the encoder chain. */
  localComplete = false;
  codecSawLocalComplete = false;
  headersEncodedToCodec = false;
  destroyed = false;
  private decoderAborted = false;
  private encoderAborted = false;
  private chainCreated = false;
  private isHead = false;
  sawConnectionClose = false;
  /** Allowed upgrade ('websocket', ...) or ''. */
  upgradeType = '';
  private upgradeCounted = false;
  /** Bytes that followed an upgrade request's head (written upstream when the tunnel opens). */
  upgradeHead: Buffer = EMPTY;
  tunnel: Tunnel | null = null;

  private routeConfig: CompiledRouteConfig | null = null;
  private cachedRoute: RouteMatchResult | null | undefined = undefined;
  private readonly routeRandom = (Math.random() * 0x100000000) >>> 0;

  private idleTimer: NodeJS.Timeout | null = null;
  private idleTimeoutMs: number;
  private requestTimer: NodeJS.Timeout | null = null;
  private durationTimer: NodeJS.Timeout | null = null;

  private watermarkCbs: DownstreamWatermarkCallbacks[] | null = null;
  private highWatermarkCount = 0;
  private readDisableCount = 0;

  constructor(readonly hc: HcmConnection, public encoder: ResponseEncoder, readonly isH1: boolean, protocol: string) {
    const cfg = hc.cfg;
    this.cfg = cfg;
    this.bufferLimit = hc.bufferLimit;
    const info = new StreamInfo(hc.conn.info);
    info.protocol = protocol;
    this.info = info;
    const st = cfg.stats;
    st.downstream_rq_total.value++;
    st.downstream_rq_active.inc();
    if (isH1) st.downstream_rq_http1_total.value++; else st.downstream_rq_http2_total.value++;
    this.idleTimeoutMs = cfg.streamIdleTimeoutMs;
    if (this.idleTimeoutMs > 0) this.idleTimer = setTimeout(onStreamIdleTimeout, this.idleTimeoutMs, this).unref();
    if (cfg.requestTimeoutMs > 0) this.requestTimer = setTimeout(onRequestTimeout, cfg.requestTimeoutMs, this).unref();
    if (cfg.maxStreamDurationMs > 0) this.durationTimer = setTimeout(onMaxDuration, cfg.maxStreamDurationMs, this).unref();
  }

  // ------------------------------------------------------------------------------------------
  // Codec -> stream

  /**
   * Request headers from the codec (pseudo headers set; ':authority' instead of 'host').
   * For allowed upgrades the codec passes endStream=false and never calls decodeData.
   */
  decodeHeaders(headers: Headers, endStream: boolean): void {
    const cfg = this.cfg;
    const info = this.info;
    this.requestHeaders = headers;
    info.requestHeaders = headers;
    if (endStream) this.markRemoteComplete();
    const method = getHeader(headers, ':method') ?? '';
    this.isHead = method === 'HEAD';
    const isConnect = method === 'CONNECT';
    const http10 = this.info.protocol === 'HTTP/1.0';
    if (this.isH1) {
      if (headerHasToken(headers, 'connection', 'close')) this.sawConnectionClose = true;
      else if (http10 && !headerHasToken(headers, 'connection', 'keep-alive')) this.sawConnectionClose = true;
    }
    this.routeConfig = cfg.routeProvider.current();

    if (http10) {
      if (!cfg.h1.acceptHttp10) { this.sendLocalReply(426, '', { details: 'low_version' }, false); return; }
      if (headers[':authority'] === undefined && cfg.h1.defaultHostForHttp10 !== '') headers[':authority'] = cfg.h1.defaultHostForHttp10;
    }
    let authority = getHeader(headers, ':authority');
    if (authority === undefined || authority === '') { this.sendLocalReply(400, '', { details: 'missing_host_header' }); return; }

    if (!isConnect || headers[':path'] !== undefined) {
      const path = getHeader(headers, ':path') ?? '';
      if (path === '') { this.sendLocalReply(404, '', { details: 'missing_path_rejected' }); return; }
      if (path.charCodeAt(0) !== 47 /* / */) {
        cfg.stats.downstream_rq_non_relative_path.value++;
        this.sendLocalReply(404, '', { details: 'absolute_path_rejected' });
        return;
      }
      if (!this.normalizePath(headers, path)) return;
    }
    // Host normalization.
    if (cfg.stripTrailingHostDot || cfg.stripPort !== StripPortMode.None) {
      let a = authority;
      if (cfg.stripPort !== StripPortMode.None) {
        const s = stripHostPort(a, cfg.stripPort === StripPortMode.Any ? -1 : this.hc.conn.info.localPort);
        if (s !== null) a = s;
      }
      if (cfg.stripTrailingHostDot) {
        const p = a.lastIndexOf(':');
        const bracket = a.lastIndexOf(']');
        const hostEnd = p > bracket && a.indexOf(':') === p ? p : a.length;
        if (hostEnd > 1 && a.charCodeAt(hostEnd - 1) === 46) a = a.slice(0, hostEnd - 1) + a.slice(hostEnd);
      }
      if (a !== authority) { headers[':authority'] = a; authority = a; }
    }

    mutateRequestHeaders(this, headers, this.isH1 && isUpgradeRequest(headers));
    info.requestId = getHeader(headers, 'x-request-id') ?? '';

    this.refreshCachedRoute();
    const upgradeRejected = !this.createFilterChain();
    if (this.cachedRoute !== null && this.cachedRoute !== undefined && upgradeRejected) {
      this.sawConnectionClose = true;
      cfg.stats.downstream_rq_ws_on_non_ws_route.value++;
      this.sendLocalReply(403, '', { details: 'upgrade_failed' });
      return;
    }
    const route = this.cachedRoute;
    if (route) {
      const idle = route.route.idleTimeoutMs;
      if (idle !== undefined) this.setIdleTimeout(idle);
      this.refreshDurationTimeout(route);
    }
    this.fmDecodeHeaders(null, endStream);
    this.resetIdleTimer();
  }

  /** Envoy's maybeNormalizePath; false when the request was answered (400 / 307). */
  private normalizePath(headers: Headers, original: string): boolean {
    const cfg = this.cfg;
    let path = original;
    if (path.indexOf('#') >= 0) {
      cfg.stats.downstream_rq_failed_path_normalization.value++;
      this.sendLocalReply(400, '', { details: 'path_normalization_failed' });
      return false;
    }
    let redirect = false;
    if (cfg.escapedSlashes !== EscapedSlashesAction.KeepUnchanged) {
      const u = unescapeSlashes(path);
      if (u !== null) {
        if (cfg.escapedSlashes === EscapedSlashesAction.RejectRequest) {
          cfg.stats.downstream_rq_failed_path_normalization.value++;
          this.sendLocalReply(400, '', { details: 'path_normalization_failed' });
          return false;
        }
        if (cfg.escapedSlashes === EscapedSlashesAction.UnescapeAndRedirect) redirect = true;
        path = u;
      }
    }
    if (cfg.normalizePath) {
      const c = canonicalizePath(path);
      if (c === null) {
        cfg.stats.downstream_rq_failed_path_normalization.value++;
        this.sendLocalReply(400, '', { details: 'path_normalization_failed' });
        return false;
      }
      path = c;
    }
    if (cfg.mergeSlashes) path = mergeSlashes(path);
    if (redirect) {
      if (hasGrpcContentType(headers)) {
        cfg.stats.downstream_rq_failed_path_normalization.value++;
        this.sendLocalReply(400, '', { details: 'path_normalization_failed' });
        return false;
      }
      cfg.stats.downstream_rq_redirected_with_normalized_path.value++;
      this.sendLocalReply(307, '', { details: 'path_normalization_failed', headers: { location: path } });
      return false;
    }
    if (path !== original) headers[':path'] = path;
    return true;
  }

  /** Request body from the codec. */
  decodeData(data: Buffer, endStream: boolean): void {
    if (this.destroyed) return;
    if (endStream) this.markRemoteComplete();
    this.info.bytesReceived += data.length;
    this.fmDecodeData(null, data, endStream, false);
  }

  /** Request trailers from the codec (always the end of the request). */
  decodeTrailers(trailers: Headers): void {
    if (this.destroyed) return;
    this.markRemoteComplete();
    this.requestTrailers = trailers;
    this.resetIdleTimer();
    this.fmDecodeTrailers(null, trailers);
  }

  private markRemoteComplete(): void {
    this.remoteComplete = true;
    (this.info as StreamInfo & { lastDownstreamRxNs?: number }).lastDownstreamRxNs = this.info.nowNs();
  }

  /**
   * The downstream went away or reset the stream. `remote`: the peer reset it (HTTP/2 RST_STREAM,
   * response flag DR); otherwise the connection closed under it (DC).
   */
  onResetStream(remote: boolean, details: string): void {
    if (this.destroyed) return;
    this.cfg.stats.downstream_rq_rx_reset.value++;
    if (remote) this.info.setFlag(RF.DownstreamRemoteReset);
    if (details !== '' && this.info.responseCodeDetails === '') this.info.responseCodeDetails = details;
    this.destroy();
  }

  /** The response cannot be written any more (write error); abort quietly. */
  onEncoderError(details: string): void {
    if (this.destroyed) return;
    this.info.setFlag(RF.LocalReset);
    if (this.info.responseCodeDetails === '') this.info.responseCodeDetails = details;
    this.cfg.stats.downstream_rq_tx_reset.value++;
    this.encoder.resetStream();
    this.destroy();
  }

  /** HTTP/1 codec error while this stream's request was being parsed (node's clientError). */
  onCodecProtocolError(code: number, details: string, rawEncoder: ResponseEncoder | null): void {
    if (this.destroyed) return;
    this.info.setFlag(RF.DownstreamProtocolError);
    this.sawConnectionClose = true;
    if (rawEncoder !== null && !this.headersEncodedToCodec && this.responseHeaders === undefined) {
      this.encoder = rawEncoder;
      this.sendLocalReply(code, statusText(code), { details });
      if (!this.destroyed) { this.encoder.resetStream(); this.destroy(); }
      return;
    }
    this.info.responseCodeDetails = details;
    this.cfg.stats.downstream_rq_rx_reset.value++;
    this.encoder.resetStream();
    this.destroy();
  }

  // ------------------------------------------------------------------------------------------
  // Routes

  route(): RouteMatchResult | null {
    if (this.cachedRoute === undefined) this.refreshCachedRoute();
    return this.cachedRoute as RouteMatchResult | null;
  }

  clearRouteCache(): void { this.cachedRoute = undefined; }

  private refreshCachedRoute(): void {
    const rc = this.routeConfig;
    const h = this.requestHeaders;
    let m: RouteMatchResult | null = null;
    if (rc !== null && h !== undefined) {
      const tls = this.hc.conn.info.tls;
      m = rc.route({
        method: getHeader(h, ':method') ?? '',
        authority: getHeader(h, ':authority') ?? '',
        path: getHeader(h, ':path') ?? '',
        headers: h,
        scheme: getHeader(h, ':scheme'),
        dynamicMetadata: this.info.dynamicMetadata,
        tls: tls ? { presented: this.hc.conn.info.peerUriSans !== undefined, validated: this.hc.conn.info.peerUriSans !== undefined } : undefined,
      }, this.routeRandom);
    }
    this.cachedRoute = m;
    this.info.routeName = m !== null ? m.route.name : '';
  }

  perFilterConfig(filterName: string): unknown {
    const r = this.route();
    if (r !== null) return r.perFilterConfig(filterName);
    return this.routeConfig !== null ? this.routeConfig.perFilterConfig(filterName) : undefined;
  }

  /** The route table this stream uses (snapshotted when its headers arrived). */
  get routeTable(): CompiledRouteConfig | null { return this.routeConfig; }

  // ------------------------------------------------------------------------------------------
  // Filter chain

  /** Envoy's createFilterChain: false when an upgrade was requested but is not allowed. */
  private createFilterChain(): boolean {
    if (this.chainCreated) return true;
    this.chainCreated = true;
    const cfg = this.cfg;
    let list: readonly FilterEntry[] = cfg.filters;
    let rejected = false;
    const h = this.requestHeaders;
    if (h !== undefined) {
      let type = '';
      const method = getHeader(h, ':method');
      if (method === 'CONNECT') type = 'connect';
      else if (this.isH1 && isUpgradeRequest(h)) type = (getHeader(h, 'upgrade') ?? '').toLowerCase();
      if (type !== '') {
        const route = this.cachedRoute;
        let routeEnabled = false;
        let allowed = true;
        if (route) {
          const e = route.route.upgradeConfigs.get(type);
          if (e !== undefined) { if (!e.enabled) allowed = false; else routeEnabled = true; }
        }
        const hcmEntry = cfg.upgrades.get(type);
        if (type === 'connect' || !allowed || ((hcmEntry === undefined || !hcmEntry.enabled) && !routeEnabled)) {
          rejected = true;
        } else {
          this.upgradeType = type;
          if (hcmEntry !== undefined && hcmEntry.filters !== null) list = hcmEntry.filters;
          cfg.stats.downstream_cx_upgrades_total.value++;
          cfg.stats.downstream_cx_upgrades_active.inc();
          this.upgradeCounted = true;
        }
      }
    }
    const route = this.cachedRoute;
    const encs: FilterSlot[] = [];
    for (let i = 0; i < list.length; i++) {
      const e = list[i];
      let disabled = e.disabled;
      if (route) {
        const d = route.filterDisabled(e.name);
        if (d !== undefined) disabled = d;
      }
      if (disabled) continue;
      let inst: Partial<StreamDecoderFilter & StreamEncoderFilter>;
      try {
        inst = e.factory.createFilter();
      } catch (err) {
        log.error(`http filter '${e.name}' createFilter() failed: ${(err as Error).stack ?? err}`);
        continue;
      }
      const slot = new FilterSlot(this, e.name, inst);
      this.slots.push(slot);
      if (typeof inst.decodeHeaders === 'function') {
        slot.dec = inst as StreamDecoderFilter;
        slot.decIdx = this.decoders.length;
        this.decoders.push(slot);
        if (typeof inst.setDecoderFilterCallbacks === 'function') inst.setDecoderFilterCallbacks(slot);
      }
      if (typeof inst.encodeHeaders === 'function') {
        slot.enc = inst as StreamEncoderFilter;
        encs.push(slot);
        if (typeof inst.setEncoderFilterCallbacks === 'function') inst.setEncoderFilterCallbacks(slot);
      }
    }
    for (let i = encs.length - 1; i >= 0; i--) {
      const s = encs[i];
      s.encIdx = this.encoders.length;
      this.encoders.push(s);
    }
    return !rejected;
  }

  private filterThrew(slot: FilterSlot, what: string, err: unknown): void {
    log.error(`http filter '${slot.name}' ${what} threw: ${(err as Error)?.stack ?? err}`);
    if (!this.destroyed) this.sendLocalReply(500, '', { details: 'filter_threw_exception' });
  }

  // ---- decoding

  private fmDecodeHeaders(from: FilterSlot | null, endStream: boolean): void {
    const decs = this.decoders;
    const h = this.requestHeaders as Headers;
    for (let e = from === null ? 0 : from.decIdx + 1; e < decs.length; e++) {
      const slot = decs[e];
      slot.decEndStream = endStream;
      let status: FilterHeadersStatus;
      slot.decInCall = true;
      try {
        status = (slot.dec as StreamDecoderFilter).decodeHeaders(h, endStream);
      } catch (err) {
        slot.decInCall = false;
        this.filterThrew(slot, 'decodeHeaders', err);
        return;
      }
      slot.decInCall = false;
      if (this.decoderAborted || this.destroyed) return;
      if (endStream && e === decs.length - 1) this.disarmRequestTimeout();
      if (slot.decContinuePending) { slot.decContinuePending = false; status = FilterHeadersStatus.Continue; }
      if (status === FilterHeadersStatus.StopIteration) { slot.decState = It.StopSingle; return; }
      if (status === FilterHeadersStatus.StopAllIterationAndBuffer) { slot.decState = It.StopAll; return; }
      slot.decHeadersContinued = true;
    }
    if (endStream) this.disarmRequestTimeout();
  }

  private fmDecodeData(from: FilterSlot | null, data: Buffer, endStream: boolean, fromCurrent: boolean): void {
    this.resetIdleTimer();
    if (this.decoderAborted || this.localComplete) return;
    const decs = this.decoders;
    let e = 0;
    if (from !== null) e = fromCurrent && from.decFromCurrent ? from.decIdx : from.decIdx + 1;
    for (; e < decs.length; e++) {
      const slot = decs[e];
      if (slot.decState === It.StopAll) { this.bufferRequest(data); return; }
      if (slot.decEndStream) return;
      const end = endStream && this.requestTrailers === undefined;
      slot.decEndStream = end;
      const f = slot.dec as StreamDecoderFilter;
      let status: FilterDataStatus;
      if (typeof f.decodeData === 'function') {
        slot.decInCall = true;
        try {
          status = f.decodeData(data, end);
        } catch (err) {
          slot.decInCall = false;
          this.filterThrew(slot, 'decodeData', err);
          return;
        }
        slot.decInCall = false;
        if (this.decoderAborted || this.destroyed) return;
        if (end && e === decs.length - 1) this.disarmRequestTimeout();
        if (slot.decContinuePending) { slot.decContinuePending = false; status = FilterDataStatus.Continue; }
      } else {
        // A filter without decodeData passes data through, or buffers while it holds the headers.
        status = slot.decState === It.StopSingle ? FilterDataStatus.StopIterationAndBuffer : FilterDataStatus.Continue;
      }
      if (status === FilterDataStatus.Continue) {
        if (slot.decState === It.StopSingle) {
          this.bufferRequest(data);
          this.continueDecoding(slot);
          return;
        }
        continue;
      }
      slot.decState = It.StopSingle;
      if (status === FilterDataStatus.StopIterationAndBuffer) this.bufferRequest(data);
      else if (this.remoteComplete && this.requestTrailers === undefined && this.reqBuf === null) this.reqBuf = [];
      return;
    }
    if (endStream) this.disarmRequestTimeout();
  }

  private fmDecodeTrailers(from: FilterSlot | null, trailers: Headers): void {
    if (this.decoderAborted || this.localComplete) return;
    const decs = this.decoders;
    let e = 0;
    if (from !== null) e = from.decFromCurrent ? from.decIdx : from.decIdx + 1;
    for (; e < decs.length; e++) {
      const slot = decs[e];
      if (slot.decState === It.StopAll) return;
      const f = slot.dec as StreamDecoderFilter;
      let status: FilterTrailersStatus;
      slot.decEndStream = true;
      if (typeof f.decodeTrailers === 'function') {
        slot.decInCall = true;
        try {
          status = f.decodeTrailers(trailers);
        } catch (err) {
          slot.decInCall = false;
          this.filterThrew(slot, 'decodeTrailers', err);
          return;
        }
        slot.decInCall = false;
        if (this.decoderAborted || this.destroyed) return;
        if (e === decs.length - 1) this.disarmRequestTimeout();
        if (slot.decContinuePending) { slot.decContinuePending = false; status = FilterTrailersStatus.Continue; }
      } else {
        status = slot.decState === It.StopSingle ? FilterTrailersStatus.StopIteration : FilterTrailersStatus.Continue;
      }
      if (status === FilterTrailersStatus.Continue) {
        if (slot.decState === It.StopSingle) { this.continueDecoding(slot); return; }
        continue;
      }
      return;
    }
    this.disarmRequestTimeout();
  }

  private bufferRequest(data: Buffer): void {
    if (this.reqBuf === null) this.reqBuf = [];
    if (data.length === 0) return;
    this.reqBuf.push(data);
    this.reqBufLen += data.length;
    if (this.reqBufLen > this.bufferLimit) {
      this.cfg.stats.downstream_rq_too_large.value++;
      this.sendLocalReply(413, statusText(413), { details: 'request_payload_too_large' });
    }
  }

  private takeRequestBuffer(): Buffer {
    const b = this.reqBuf as Buffer[];
    this.reqBuf = null;
    const len = this.reqBufLen;
    this.reqBufLen = 0;
    return b.length === 0 ? EMPTY : b.length === 1 ? b[0] : Buffer.concat(b, len);
  }

  decodingBuffer(): Buffer | undefined {
    const b = this.reqBuf;
    if (b === null) return undefined;
    if (b.length > 1) { const one = Buffer.concat(b, this.reqBufLen); b.length = 0; b.push(one); }
    return b.length === 0 ? EMPTY : b[0];
  }

  /** Envoy's commonContinue for a decoder filter. */
  continueDecoding(slot: FilterSlot): void {
    if (slot.decInCall) { slot.decContinuePending = true; return; }
    if (this.decoderAborted || this.localComplete || this.destroyed) return;
    if (slot.decState === It.Continue) return;
    if (slot.decState === It.StopAll) slot.decFromCurrent = true;
    slot.decState = It.Continue;
    if (!slot.decHeadersContinued) {
      slot.decHeadersContinued = true;
      this.fmDecodeHeaders(slot, this.remoteComplete && this.reqBuf === null && this.requestTrailers === undefined);
    }
    if (this.reqBuf !== null && !this.decoderAborted && !this.destroyed) {
      this.fmDecodeData(slot, this.takeRequestBuffer(), this.remoteComplete && this.requestTrailers === undefined, true);
    }
    if (this.requestTrailers !== undefined && !this.decoderAborted && !this.destroyed) {
      this.fmDecodeTrailers(slot, this.requestTrailers);
    }
    slot.decFromCurrent = false;
  }

  // ---- encoding

  /** The terminal filter (or any decoder filter) sends the response. */
  encodeHeadersFromFilter(headers: Headers, endStream: boolean): void {
    if (this.destroyed || this.responseHeaders !== undefined) return;
    this.responseHeaders = headers;
    this.fmEncodeHeaders(null, headers, endStream);
  }

  encodeDataFromFilter(data: Buffer, endStream: boolean): void {
    if (this.destroyed || this.responseHeaders === undefined || this.localComplete) return;
    this.fmEncodeData(null, data, endStream, false);
  }

  encodeTrailersFromFilter(trailers: Headers): void {
    if (this.destroyed || this.responseHeaders === undefined || this.localComplete) return;
    this.responseTrailers = trailers;
    this.fmEncodeTrailers(null, trailers);
  }

  private fmEncodeHeaders(from: FilterSlot | null, headers: Headers, endStream: boolean): void {
    this.resetIdleTimer();
    this.disarmRequestTimeout();
    if (from === null) this.localComplete = endStream;
    const encs = this.encoders;
    for (let e = from === null ? 0 : from.encIdx + 1; e < encs.length; e++) {
      const slot = encs[e];
      slot.encEndStream = endStream;
      let status: FilterHeadersStatus;
      slot.encInCall = true;
      try {
        status = (slot.enc as StreamEncoderFilter).encodeHeaders(headers, endStream);
      } catch (err) {
        slot.encInCall = false;
        this.encoderThrew(slot, 'encodeHeaders', err);
        return;
      }
      slot.encInCall = false;
      if (this.encoderAborted || this.destroyed) return;
      if (slot.encContinuePending) { slot.encContinuePending = false; status = FilterHeadersStatus.Continue; }
      if (status === FilterHeadersStatus.StopIteration) { slot.encState = It.StopSingle; return; }
      if (status === FilterHeadersStatus.StopAllIterationAndBuffer) { slot.encState = It.StopAll; return; }
      slot.encHeadersContinued = true;
    }
    this.codecEncodeHeaders(headers, endStream);
  }

  private fmEncodeData(from: FilterSlot | null, data: Buffer, endStream: boolean, fromCurrent: boolean): void {
    this.resetIdleTimer();
    if (from === null) this.localComplete = endStream;
    const encs = this.encoders;
    let e = 0;
    if (from !== null) e = fromCurrent && from.encFromCurrent ? from.encIdx : from.encIdx + 1;
    for (; e < encs.length; e++) {
      const slot = encs[e];
      if (slot.encState === It.StopAll) { this.bufferResponse(data); return; }
      if (slot.encEndStream) return;
      const end = endStream && this.responseTrailers === undefined;
      slot.encEndStream = end;
      const f = slot.enc as StreamEncoderFilter;
      let status: FilterDataStatus;
      if (typeof f.encodeData === 'function') {
        slot.encInCall = true;
        try {
          status = f.encodeData(data, end);
        } catch (err) {
          slot.encInCall = false;
          this.encoderThrew(slot, 'encodeData', err);
          return;
        }
        slot.encInCall = false;
        if (this.encoderAborted || this.destroyed) return;
        if (slot.encContinuePending) { slot.encContinuePending = false; status = FilterDataStatus.Continue; }
      } else {
        status = slot.encState === It.StopSingle ? FilterDataStatus.StopIterationAndBuffer : FilterDataStatus.Continue;
      }
      if (status === FilterDataStatus.Continue) {
        if (slot.encState === It.StopSingle) {
          this.bufferResponse(data);
          this.continueEncoding(slot);
          return;
        }
        continue;
      }
      slot.encState = It.StopSingle;
      if (status === FilterDataStatus.StopIterationAndBuffer) this.bufferResponse(data);
      else if (this.localComplete && this.responseTrailers === undefined && this.respBuf === null) this.respBuf = [];
      return;
    }
    this.codecEncodeData(data, endStream);
  }

  private fmEncodeTrailers(from: FilterSlot | null, trailers: Headers): void {
    this.resetIdleTimer();
    if (from === null) this.localComplete = true;
    const encs = this.encoders;
    let e = 0;
    if (from !== null) e = from.encFromCurrent ? from.encIdx : from.encIdx + 1;
    for (; e < encs.length; e++) {
      const slot = encs[e];
      if (slot.encState === It.StopAll) return;
      const f = slot.enc as StreamEncoderFilter;
      let status: FilterTrailersStatus;
      slot.encEndStream = true;
      if (typeof f.encodeTrailers === 'function') {
        slot.encInCall = true;
        try {
          status = f.encodeTrailers(trailers);
        } catch (err) {
          slot.encInCall = false;
          this.encoderThrew(slot, 'encodeTrailers', err);
          return;
        }
        slot.encInCall = false;
        if (this.encoderAborted || this.destroyed) return;
        if (slot.encContinuePending) { slot.encContinuePending = false; status = FilterTrailersStatus.Continue; }
      } else {
        status = slot.encState === It.StopSingle ? FilterTrailersStatus.StopIteration : FilterTrailersStatus.Continue;
      }
      if (status === FilterTrailersStatus.Continue) {
        if (slot.encState === It.StopSingle) { this.continueEncoding(slot); return; }
        continue;
      }
      return;
    }
    this.codecEncodeTrailers(trailers);
  }

  private bufferResponse(data: Buffer): void {
    if (this.respBuf === null) this.respBuf = [];
    if (data.length === 0) return;
    this.respBuf.push(data);
    this.respBufLen += data.length;
    if (this.respBufLen > this.bufferLimit) {
      this.cfg.stats.rs_too_large.value++;
      this.sendLocalReply(500, statusText(500), { details: 'response_payload_too_large' });
    }
  }

  private takeResponseBuffer(): Buffer {
    const b = this.respBuf as Buffer[];
    this.respBuf = null;
    const len = this.respBufLen;
    this.respBufLen = 0;
    return b.length === 0 ? EMPTY : b.length === 1 ? b[0] : Buffer.concat(b, len);
  }

  /** Envoy's commonContinue for an encoder filter. */
  continueEncoding(slot: FilterSlot): void {
    if (slot.encInCall) { slot.encContinuePending = true; return; }
    if (this.encoderAborted || this.destroyed || this.responseHeaders === undefined) return;
    if (slot.encState === It.Continue) return;
    if (slot.encState === It.StopAll) slot.encFromCurrent = true;
    slot.encState = It.Continue;
    if (!slot.encHeadersContinued) {
      slot.encHeadersContinued = true;
      this.fmEncodeHeaders(slot, this.responseHeaders, this.localComplete && this.respBuf === null && this.responseTrailers === undefined);
    }
    if (this.respBuf !== null && !this.encoderAborted && !this.destroyed) {
      this.fmEncodeData(slot, this.takeResponseBuffer(), this.localComplete && this.responseTrailers === undefined, true);
    }
    if (this.responseTrailers !== undefined && !this.encoderAborted && !this.destroyed) {
      this.fmEncodeTrailers(slot, this.responseTrailers);
    }
    slot.encFromCurrent = false;
  }

  private encoderThrew(slot: FilterSlot, what: string, err: unknown): void {
    log.error(`http filter '${slot.name}' ${what} threw: ${(err as Error)?.stack ?? err}`);
    if (this.destroyed) return;
    if (!this.headersEncodedToCodec) {
      this.encoderAborted = true;
      this.sendDirectLocalReply(500, '', 'filter_threw_exception');
    } else {
      this.resetAndDestroy('filter_threw_exception');
    }
  }

  // ---- to the codec (Envoy's ActiveStream::encodeHeaders etc.)

  private codecEncodeHeaders(headers: Headers, endStream: boolean): void {
    const cfg = this.cfg;
    const hc = this.hc;
    if (headers['date'] === undefined) headers['date'] = dateHeader();
    const t = cfg.serverTransform;
    if (t === ServerHeaderTransformation.Overwrite || (t === ServerHeaderTransformation.AppendIfAbsent && headers['server'] === undefined)) {
      headers['server'] = cfg.serverName;
    }
    const status = parseStatus(headers[':status']);
    // mutateResponseHeaders
    const upgradeResponse = status === 101 && this.upgradeType !== '';
    if (!upgradeResponse) {
      if (headers['connection'] !== undefined) delete headers['connection'];
      if (headers['upgrade'] !== undefined) delete headers['upgrade'];
    }
    if (headers['transfer-encoding'] !== undefined) delete headers['transfer-encoding'];
    if (headers['keep-alive'] !== undefined) delete headers['keep-alive'];
    if (headers['proxy-connection'] !== undefined) delete headers['proxy-connection'];
    const req = this.requestHeaders;
    if (req !== undefined && (cfg.alwaysSetRequestIdInResponse || req['x-envoy-force-trace'] !== undefined)) {
      const rid = getHeader(req, 'x-request-id');
      if (rid !== undefined) headers['x-request-id'] = rid;
    }
    if (cfg.via !== '') {
      const v = getJoined(headers, 'via');
      headers['via'] = v === undefined || v === '' ? cfg.via : v + ', ' + cfg.via;
    }
    // Drain / connection close decisions.
    hc.checkDrainOnResponse();
    if (this.isH1) {
      if (this.info.protocol === 'HTTP/1.0' && headers['content-length'] === undefined) this.sawConnectionClose = true;
      if (this.sawConnectionClose) hc.closeAfterResponses(this);
      if (!this.remoteComplete && this.upgradeType === '') {
        hc.closeAfterResponses(this);
        cfg.stats.downstream_rq_response_before_rq_complete.value++;
      }
      if (hc.wantsClose(this) && !upgradeResponse) headers['connection'] = 'close';
    } else if (!this.remoteComplete) {
      cfg.stats.downstream_rq_response_before_rq_complete.value++;
    }
    this.headersEncodedToCodec = true;
    this.responseHeaders = headers;
    this.info.responseHeaders = headers;
    // chargeStats
    this.info.responseCode = status;
    const cls = statusClass(status);
    cfg.stats.downstream_rq_completed.value++;
    if (cls > 0) cfg.stats.rqClass[cls].value++;
    if (this.info.firstUpstreamRxNs < 0 && this.info.lastDownstreamTxNs < 0) { /* first byte marks are set by the router */ }
    this.encoder.encodeHeaders(headers, endStream);
    if (endStream) this.onCodecLocalComplete();
  }

  private codecEncodeData(data: Buffer, endStream: boolean): void {
    if (this.destroyed) return;
    this.info.bytesSent += data.length;
    this.encoder.encodeData(data, endStream);
    if (endStream) this.onCodecLocalComplete();
  }

  private codecEncodeTrailers(trailers: Headers): void {
    if (this.destroyed) return;
    this.info.responseTrailers = trailers;
    this.encoder.encodeTrailers(trailers);
    this.onCodecLocalComplete();
  }

  private onCodecLocalComplete(): void {
    if (this.codecSawLocalComplete) return;
    this.codecSawLocalComplete = true;
    this.info.lastDownstreamTxNs = this.info.nowNs();
    if (this.tunnel !== null) return;
    this.endStream();
  }

  /** Envoy's doEndStream: reset if either direction is incomplete, then destroy. */
  private endStream(): void {
    if (this.destroyed) return;
    if (!this.remoteComplete || !this.codecSawLocalComplete) {
      this.cfg.stats.downstream_rq_tx_reset.value++;
      if (this.codecSawLocalComplete) this.encoder.endAfterResponse();
      else this.encoder.resetStream();
    }
    this.destroy();
  }

  // ------------------------------------------------------------------------------------------
  // Local replies

  /** Envoy's ActiveStream::sendLocalReply. */
  sendLocalReply(code: number, body: string, opts?: LocalReplyOptions, grpcAware = true): void {
    if (this.destroyed) return;
    const info = this.info;
    const details = opts?.details ?? '';
    info.responseCodeDetails = details;
    if (opts?.flags) info.setFlag(opts.flags);
    if (code === 400 && this.isH1 && !this.cfg.streamErrorOnInvalidHttpMessage) this.sawConnectionClose = true;
    this.decoderAborted = true;
    const isGrpc = grpcAware && hasGrpcContentType(this.requestHeaders);
    if (this.responseHeaders === undefined) {
      // Not started: through the encoder filters (best effort chain creation for access logs).
      this.createFilterChain();
      const r = prepareLocalReply(this.cfg.localReply, this.requestHeaders, info, code, body, opts?.headers,
        isGrpc, this.isHead, opts?.grpcStatus);
      this.responseHeaders = r.headers;
      const hasBody = r.body !== '';
      this.fmEncodeHeaders(null, r.headers, !hasBody);
      if (hasBody && !this.destroyed && !this.encoderAborted) this.fmEncodeData(null, Buffer.from(r.body), true, false);
    } else if (!this.headersEncodedToCodec) {
      this.sendDirectLocalReply(code, body, details, opts, isGrpc);
    } else {
      this.resetAndDestroy(details);
    }
  }

  /** Bypass the encoder filters (a response is stuck inside them). */
  private sendDirectLocalReply(code: number, body: string, details: string, opts?: LocalReplyOptions, isGrpc?: boolean): void {
    this.encoderAborted = true;
    this.decoderAborted = true;
    this.info.responseCodeDetails = details;
    const r = prepareLocalReply(this.cfg.localReply, this.requestHeaders, this.info, code, body, opts?.headers,
      isGrpc ?? hasGrpcContentType(this.requestHeaders), this.isHead, opts?.grpcStatus);
    this.responseHeaders = r.headers;
    this.localComplete = true;
    const hasBody = r.body !== '';
    this.codecEncodeHeaders(r.headers, !hasBody);
    if (hasBody && !this.destroyed) this.codecEncodeData(Buffer.from(r.body), true);
  }

  private resetAndDestroy(details: string): void {
    if (this.destroyed) return;
    if (details !== '') this.info.responseCodeDetails = details;
    this.info.setFlag(RF.LocalReset);
    this.cfg.stats.downstream_rq_tx_reset.value++;
    this.encoder.resetStream();
    this.destroy();
  }

  /** callbacks.resetStream() from a filter. */
  resetFromFilter(): void {
    this.resetAndDestroy('');
  }

  // ------------------------------------------------------------------------------------------
  // Flow control

  addWatermarkCallbacks(cb: DownstreamWatermarkCallbacks): void {
    (this.watermarkCbs ??= []).push(cb);
    for (let i = 0; i < this.highWatermarkCount; i++) cb.onAboveWriteBufferHighWatermark();
  }

  removeWatermarkCallbacks(cb: DownstreamWatermarkCallbacks): void {
    const l = this.watermarkCbs;
    if (l === null) return;
    const i = l.indexOf(cb);
    if (i >= 0) l.splice(i, 1);
  }

  /** The downstream write buffer went above its high watermark (codec). */
  onAboveWriteBufferHighWatermark(): void {
    this.highWatermarkCount++;
    const l = this.watermarkCbs;
    if (l !== null) for (let i = 0; i < l.length; i++) l[i].onAboveWriteBufferHighWatermark();
  }

  onBelowWriteBufferLowWatermark(): void {
    if (this.highWatermarkCount === 0) return;
    this.highWatermarkCount--;
    const l = this.watermarkCbs;
    if (l !== null) for (let i = 0; i < l.length; i++) l[i].onBelowWriteBufferLowWatermark();
  }

  /** Request-direction flow control from filters (the upstream is full / drained). Nests. */
  readDisable(disable: boolean): void {
    if (this.destroyed) return;
    const st = this.cfg.stats;
    if (disable) {
      st.downstream_flow_control_paused_reading_total.value++;
      if (this.readDisableCount++ === 0) this.encoder.readDisable(true);
      if (this.tunnel !== null) this.tunnel.readDisable(true);
    } else {
      if (this.readDisableCount === 0) return;
      st.downstream_flow_control_resumed_reading_total.value++;
      if (--this.readDisableCount === 0) this.encoder.readDisable(false);
      if (this.tunnel !== null) this.tunnel.readDisable(false);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Upgrades

  upgradeTunnel(upstream: Duplex, head: Buffer, responseHeaders?: Headers): void {
    if (this.destroyed || this.tunnel !== null) { upstream.destroy(); return; }
    if (this.upgradeType === '' || typeof this.encoder.takeSocket !== 'function') {
      log.error(`[S${this.id}] upgradeTunnel() on a stream without an allowed upgrade`);
      upstream.destroy();
      this.resetAndDestroy('upgrade_failed');
      return;
    }
    if (this.responseHeaders === undefined) {
      const h: Headers = responseHeaders ?? { ':status': '101', connection: 'Upgrade', upgrade: this.upgradeType };
      this.encodeHeadersFromFilter(h, false);
      if (this.destroyed) { upstream.destroy(); return; }
    }
    if (!this.headersEncodedToCodec || this.info.responseCode !== 101) {
      // An encoder filter held or changed the response: no tunnel.
      upstream.destroy();
      this.resetAndDestroy('upgrade_failed');
      return;
    }
    const down = this.encoder.takeSocket();
    if (down === undefined) { upstream.destroy(); this.resetAndDestroy('upgrade_failed'); return; }
    this.disarmRequestTimeout();
    this.tunnel = new Tunnel(this, down, upstream, this.upgradeHead, head, this.idleTimeoutMs);
    this.upgradeHead = EMPTY;
    if (this.cfg.flushLogOnTunnelEstablished) logAll(this.cfg.accessLogs, this.info, this.requestHeaders, this.responseHeaders, undefined);
  }

  /** The tunnel closed (both sides done, an error, or the idle timeout). */
  onTunnelClosed(bytesFromDownstream: number, bytesToDownstream: number, idleTimedOut: boolean): void {
    if (this.destroyed) return;
    this.info.bytesReceived += bytesFromDownstream;
    this.info.bytesSent += bytesToDownstream;
    if (idleTimedOut) {
      this.cfg.stats.downstream_rq_idle_timeout.value++;
      this.info.responseCodeDetails = 'stream_idle_timeout';
    }
    this.remoteComplete = true;
    this.codecSawLocalComplete = true;
    this.destroy();
  }

  // ------------------------------------------------------------------------------------------
  // Timers

  private setIdleTimeout(ms: number): void {
    this.idleTimeoutMs = ms;
    if (ms === 0) {
      if (this.idleTimer !== null) { clearTimeout(this.idleTimer); this.idleTimer = null; }
      return;
    }
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(onStreamIdleTimeout, ms, this).unref();
  }

  resetIdleTimer(): void {
    if (this.idleTimer !== null) this.idleTimer.refresh();
  }

  private disarmRequestTimeout(): void {
    if (this.requestTimer !== null) { clearTimeout(this.requestTimer); this.requestTimer = null; }
  }

  /** Envoy's refreshDurationTimeout: route max_stream_duration / grpc-timeout override the HCM's. */
  private refreshDurationTimeout(route: RouteMatchResult): void {
    const r = route.route;
    const h = this.requestHeaders as Headers;
    const grpcTimeout = parseGrpcTimeout(getHeader(h, 'grpc-timeout'));
    let timeout: number;
    let disable = false;
    if (grpcTimeout < 0 || r.grpcTimeoutHeaderMaxMs === undefined) {
      if (r.maxStreamDurationMs !== undefined) {
        timeout = r.maxStreamDurationMs;
        if (timeout === 0) disable = true;
      } else if (this.cfg.maxStreamDurationMs > 0) {
        timeout = this.cfg.maxStreamDurationMs;
      } else {
        timeout = 0;
        disable = true;
      }
    } else {
      timeout = grpcTimeout;
      const max = r.grpcTimeoutHeaderMaxMs;
      if (max !== 0 && timeout > max) timeout = max;
      const off = r.grpcTimeoutHeaderOffsetMs;
      if (timeout !== 0 && off !== undefined && off > 0) timeout = off < timeout ? timeout - off : 0;
      if (timeout === 0) disable = true;
    }
    if (this.durationTimer !== null) { clearTimeout(this.durationTimer); this.durationTimer = null; }
    if (disable) return;
    const used = this.info.nowNs() / 1e6;
    if (timeout <= used) { this.onMaxDurationReached(); return; }
    this.durationTimer = setTimeout(onMaxDuration, timeout - used, this).unref();
  }

  onIdleTimeout(): void {
    this.idleTimer = null;
    if (this.destroyed) return;
    if (this.tunnel !== null) return; // the tunnel has its own idle handling
    this.cfg.stats.downstream_rq_idle_timeout.value++;
    if (this.responseHeaders !== undefined) {
      this.info.responseCodeDetails = 'stream_idle_timeout';
      this.resetAndDestroy('stream_idle_timeout');
      return;
    }
    this.info.setFlag(RF.StreamIdleTimeout);
    this.sendLocalReply(408, 'stream timeout', { details: 'stream_idle_timeout' });
  }

  onRequestTimeout(): void {
    this.requestTimer = null;
    if (this.destroyed) return;
    this.cfg.stats.downstream_rq_timeout.value++;
    this.sendLocalReply(408, 'request timeout', { details: 'request_overall_timeout' });
  }

  onMaxDurationReached(): void {
    this.durationTimer = null;
    if (this.destroyed) return;
    this.cfg.stats.downstream_rq_max_duration_reached.value++;
    if (this.tunnel !== null) { this.tunnel.destroy(); return; }
    this.sendLocalReply(408, 'downstream duration timeout', { details: 'max_duration_timeout', grpcStatus: 4 });
  }

  // ------------------------------------------------------------------------------------------
  // Teardown

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.idleTimer !== null) { clearTimeout(this.idleTimer); this.idleTimer = null; }
    if (this.requestTimer !== null) { clearTimeout(this.requestTimer); this.requestTimer = null; }
    if (this.durationTimer !== null) { clearTimeout(this.durationTimer); this.durationTimer = null; }
    if (this.tunnel !== null) this.tunnel.destroy();
    const slots = this.slots;
    for (let i = 0; i < slots.length; i++) {
      const f = slots[i].filter as { onDestroy?: () => void };
      if (typeof f.onDestroy === 'function') {
        try { f.onDestroy(); } catch (err) { log.error(`http filter '${slots[i].name}' onDestroy threw: ${(err as Error)?.stack ?? err}`); }
      }
    }
    this.watermarkCbs = null;
    const info = this.info;
    info.markEnd();
    if (info.responseFlags === 0 && info.responseCode === 0) info.setFlag(RF.DownstreamConnectionTermination);
    const st = this.cfg.stats;
    st.downstream_rq_active.dec();
    st.downstream_rq_time.record(info.endNs / 1e6);
    if (this.upgradeCounted) st.downstream_cx_upgrades_active.dec();
    const logs = this.cfg.accessLogs;
    if (logs.length > 0) {
      try { logAll(logs, info, this.requestHeaders, this.responseHeaders, this.responseTrailers); } catch (err) {
        log.error(`access log failed: ${(err as Error)?.stack ?? err}`);
      }
    }
    this.hc.onStreamDestroyed(this);
  }
}

/** grpc-timeout header -> ms; -1 when absent or invalid (Envoy's Grpc::Common::getGrpcTimeout). */
export function parseGrpcTimeout(v: string | undefined): number {
  if (v === undefined || v.length < 2 || v.length > 9) return -1;
  let n = 0;
  for (let i = 0; i < v.length - 1; i++) {
    const d = v.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  switch (v.charCodeAt(v.length - 1)) {
    case 72: return n * 3600000;   // H
    case 77: return n * 60000;     // M
    case 83: return n * 1000;      // S
    case 109: return n;            // m
    case 117: return Math.ceil(n / 1000);    // u
    case 110: return Math.ceil(n / 1e6);     // n
    default: return -1;
  }
}
