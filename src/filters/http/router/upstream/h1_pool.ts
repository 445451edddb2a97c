// HTTP/1.1 upstream: one undici Pool per host (cached in host.pools), driven
// with the low-level dispatch(opts, handler) API. The handler is the H1Stream
// object itself (undici 7's native handler interface: onConnect / onHeaders /
// onData / onComplete / onError / onUpgrade), so a request costs one H1Stream,
// one header array and undici's own Request; no closures or Promises.
import * as net from 'node:net';
import * as dc from 'node:diagnostics_channel';
import { Readable } from 'node:stream';
import { Pool, buildConnector } from 'undici';
import type { ClusterInfo, Host, ResourceManager } from '../../../../cluster/types';
import type { Headers } from '../../../../http/headers';
import { PoolAccounting } from './accounting';
import { fromRawHeaders, fromRawTrailers, toH1HeaderArray } from './codec_headers';
import {
  EMPTY_BUFFER, ResetReason, type UpstreamCallbacks, type UpstreamRequestSpec, type UpstreamStream,
} from './types';

/** Envoy's default max_response_headers_kb is 60. */
const MAX_HEADER_SIZE = 60 * 1024;
const BODY_HIGH_WATER_MARK = 64 * 1024;
const UNLIMITED = 0x7fffffff;

// ---- upstream local address: undici publishes the socket when it writes a request head.
let kHandlerSym: symbol | undefined;
function onSendHeaders(msg: unknown): void {
  const m = msg as { request: Record<symbol, unknown>; socket: net.Socket };
  if (kHandlerSym === undefined) {
    kHandlerSym = Object.getOwnPropertySymbols(m.request).find((s) => s.description === 'handler');
    if (kHandlerSym === undefined) return;
  }
  const h = m.request[kHandlerSym];
  if (h instanceof H1Stream) h.socket = m.socket;
}
let subscribed = false;

/** The request body for a streamed upload: undici reads it; push() back-pressure reaches the router. */
class BodyReadable extends Readable {
  constructor(readonly owner: H1Stream) { super({ highWaterMark: BODY_HIGH_WATER_MARK }); }
  override _read(): void { this.owner.onBodyDrained(); }
}

const enum St { Pending = 0, Attached = 1, Done = 2 }

export class H1Stream implements UpstreamStream {
  readonly protocol = 'HTTP/1.1';
  state = St.Pending;
  localResetDone = false;
  socket: net.Socket | undefined = undefined;
  bytesSent = 0;
  bytesReceived = 0;
  private abortFn: ((err?: Error) => void) | null = null;
  private resumeFn: (() => void) | null = null;
  private paused = false;
  private endedAtHeaders = false;
  private body: BodyReadable | null = null;
  private bodyAbove = false;
  /** A callback error raised while undici was still inside dispatch(). */
  private inDispatch = false;

  constructor(
    readonly pool: H1Pool,
    readonly cb: UpstreamCallbacks,
    readonly rm: ResourceManager,
    readonly method: string,
    readonly waiting: boolean,
  ) {}

  start(spec: UpstreamRequestSpec): void {
    let body: Buffer | BodyReadable | null = null;
    if (!spec.endStream) {
      this.body = new BodyReadable(this);
      body = this.body;
      // A retry of a request whose body is still arriving: replay what was buffered so far.
      if (spec.body !== undefined && spec.body.length > 0) this.writeData(spec.body, false);
    } else if (spec.body !== undefined && spec.body.length > 0) {
      body = spec.body;
      this.bytesSent += spec.body.length;
    }
    const headers = toH1HeaderArray(spec.headers);
    const opts = {
      path: headerString(spec.headers[':path']) || '/',
      method: this.method,
      headers,
      body,
      upgrade: spec.upgrade || null,
      headersTimeout: 0,
      bodyTimeout: 0,
    };
    this.inDispatch = true;
    // dispatch() reports invalid arguments synchronously through onError.
    this.pool.undici.dispatch(opts as never, this as never);
    this.inDispatch = false;
  }

  // ---- UpstreamStream
  writeData(data: Buffer, end: boolean): void {
    const b = this.body;
    if (b === null || this.state === St.Done || this.localResetDone) return;
    this.bytesSent += data.length;
    let ok = true;
    if (data.length > 0) ok = b.push(data);
    if (end) b.push(null);
    if (!ok && !end && !this.bodyAbove) {
      this.bodyAbove = true;
      this.cb.onUpstreamWriteWatermark(this, true);
    }
  }

  writeTrailers(_trailers: Headers): void {
    // HTTP/1.1 request trailers are not forwarded (undici sends none); the body ends here.
    this.writeData(EMPTY_BUFFER, true);
  }

  pauseResponse(): void { this.paused = true; }

  resumeResponse(): void {
    if (!this.paused) return;
    this.paused = false;
    const r = this.resumeFn;
    if (r !== null && this.state === St.Attached) r();
  }

  reset(): void {
    if (this.localResetDone || this.state === St.Done) return;
    this.localResetDone = true;
    if (this.state === St.Pending) {
      // Still queued in undici: it will call onConnect later, where we abort. Count the cancel now.
      this.pool.info.stats.upstream_rq_cancelled.inc();
      this.finish();
      return;
    }
    this.pool.info.stats.upstream_rq_tx_reset.inc();
    this.finish();
    const a = this.abortFn;
    this.abortFn = null;
    if (a !== null) a();
  }

  localAddress(): string {
    const s = this.socket;
    return s !== undefined && s.localAddress ? `${s.localAddress}:${s.localPort}` : '';
  }

  onBodyDrained(): void {
    if (this.bodyAbove) {
      this.bodyAbove = false;
      if (!this.localResetDone && this.state !== St.Done) this.cb.onUpstreamWriteWatermark(this, false);
    }
  }

  private finish(): void {
    if (this.state === St.Attached) this.pool.onDetach(this.rm);
    else if (this.state === St.Pending) {
      if (this.waiting) this.pool.onPendingEnd(this.rm); else this.pool.starting--;
    }
    if (this.state !== St.Done) this.pool.onStreamGone();
    this.state = St.Done;
    this.resumeFn = null;
  }

  // ---- undici handler (legacy, native in undici 7)
  onConnect(abort: (err?: Error) => void): void {
    if (this.localResetDone) {
      // Cancelled while queued: the request must not go out.
      abort();
      return;
    }
    this.abortFn = abort;
    if (this.waiting) this.pool.onPendingEnd(this.rm); else this.pool.starting--;
    this.state = St.Attached;
    this.pool.onAttach(this.rm);
    this.cb.onPoolReady(this);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, _statusText: string): boolean {
    if (this.localResetDone) return false;
    if (statusCode < 200) return true; // 1xx other than 101 are dropped (Envoy does the same)
    this.resumeFn = resume;
    const headers = fromRawHeaders(statusCode, rawHeaders, false);
    const m = this.method;
    this.endedAtHeaders = m === 'HEAD' || statusCode === 204 || statusCode === 304 || headers['content-length'] === '0';
    this.cb.onUpstreamHeaders(this, statusCode, headers, this.endedAtHeaders);
    return !this.paused;
  }

  onData(chunk: Buffer): boolean {
    if (this.localResetDone) return false;
    this.bytesReceived += chunk.length;
    if (!this.endedAtHeaders) this.cb.onUpstreamData(this, chunk, false);
    return !this.paused;
  }

  onComplete(rawTrailers: Buffer[] | null): void {
    if (this.localResetDone || this.state === St.Done) return;
    this.finish();
    const trailers = fromRawTrailers(rawTrailers);
    if (this.endedAtHeaders) return;
    if (trailers !== undefined) this.cb.onUpstreamTrailers(this, trailers);
    else this.cb.onUpstreamData(this, EMPTY_BUFFER, true);
  }

  onError(err: Error & { code?: string }): void {
    if (this.localResetDone || this.state === St.Done) return;
    const attached = this.state === St.Attached;
    this.finish();
    const reason = classifyError(err, attached);
    if (attached) this.pool.info.stats.upstream_rq_rx_reset.inc();
    else if (reason === ResetReason.ConnectionFailure || reason === ResetReason.ConnectionTimeout) {
      this.pool.info.stats.upstream_rq_pending_failure_eject.inc();
    }
    const detail = err.message || String(err.code ?? '');
    if (this.inDispatch) process.nextTick(deliverReset, this, reason, detail);
    else this.cb.onUpstreamReset(this, reason, detail);
  }

  onUpgrade(statusCode: number, rawHeaders: Buffer[], socket: net.Socket): void {
    if (this.localResetDone) { socket.destroy(); return; }
    this.finish();
    this.socket = socket;
    this.cb.onUpstreamUpgrade(this, statusCode, fromRawHeaders(statusCode, rawHeaders, true), socket);
  }

  onBodySent(chunk: Buffer | string): void { void chunk; }
}

function deliverReset(s: H1Stream, reason: ResetReason, detail: string): void {
  s.cb.onUpstreamReset(s, reason, detail);
}

function headerString(v: string | string[] | undefined): string {
  return v === undefined ? '' : typeof v === 'string' ? v : v[0];
}

function classifyError(err: Error & { code?: string }, attached: boolean): ResetReason {
  const code = err.code ?? '';
  if (code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED') return ResetReason.ProtocolError;
  if (!attached) {
    if (code === 'UND_ERR_CONNECT_TIMEOUT') return ResetReason.ConnectionTimeout;
    if (code === 'UND_ERR_DESTROYED' || code === 'UND_ERR_CLOSED') return ResetReason.ConnectionTermination;
    return ResetReason.ConnectionFailure;
  }
  if (code.startsWith('HPE_') || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' || code === 'UND_ERR_HEADERS_OVERFLOW' ||
      code === 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH' || err.name === 'HTTPParserError') {
    return ResetReason.ProtocolError;
  }
  return ResetReason.ConnectionTermination;
}

type Connector = (opts: object, cb: (err: Error | null, socket: net.Socket | null) => void) => void;

export class H1Pool extends PoolAccounting {
  readonly undici: Pool;
  /** Connections undici currently holds (connect - disconnect events). */
  pooled = 0;
  /** Streams handed to a free connection that undici has not started yet. */
  starting = 0;

  constructor(host: Host, info: ClusterInfo) {
    super(host, info);
    if (!subscribed) { subscribed = true; dc.subscribe('undici:client:sendHeaders', onSendHeaders); }
    const maxCx = Math.min(info.resourceManagers[0].connections.max, info.perHostMaxConnections ?? Infinity);
    const base = buildConnector({ timeout: info.connectTimeoutMs > 0 ? info.connectTimeoutMs : 5000 }) as unknown as Connector;
    const connect: Connector = (opts, cb) => {
      // Per host, undici's `connections` caps at max_connections; across hosts the cluster-wide
      // budget is only counted (upstream_cx_overflow), as failing this connect would fail every
      // request queued on the undici client.
      this.connectionAllowed();
      const started = performance.now();
      // The host's current address (LOGICAL_DNS hosts follow DNS; the pool's origin does not).
      base({ ...opts, hostname: host.address, port: String(host.port) }, (err, socket) => {
        if (err !== null || socket === null) {
          this.onCxConnectFail((err as { code?: string } | null)?.code === 'UND_ERR_CONNECT_TIMEOUT');
          cb(err, socket);
          return;
        }
        const connectedAt = performance.now();
        this.onCxConnected(false, connectedAt - started);
        socket.once('close', () => {
          this.onCxClosed(socket.bytesRead, socket.bytesWritten, performance.now() - connectedAt);
        });
        cb(null, socket);
      });
    };
    const idle = info.idleTimeoutMs > 0 ? info.idleTimeoutMs : 3600_000;
    this.undici = new Pool(`http://${host.address.includes(':') ? `[${host.address}]` : host.address}:${host.port}`, {
      connections: maxCx > 0 && maxCx < UNLIMITED ? maxCx : null,
      pipelining: 1,
      connect: connect as never,
      keepAliveTimeout: idle,
      keepAliveMaxTimeout: idle,
      keepAliveTimeoutThreshold: 1000,
      maxRequestsPerClient: info.maxRequestsPerConnection > 0 ? info.maxRequestsPerConnection : undefined,
      clientTtl: info.maxConnectionDurationMs > 0 ? info.maxConnectionDurationMs : undefined,
      headersTimeout: 0,
      bodyTimeout: 0,
      maxHeaderSize: MAX_HEADER_SIZE,
      strictContentLength: true,
    } as never);
    this.undici.on('connect', () => { this.pooled++; });
    this.undici.on('disconnect', (_o: unknown, _t: unknown, err: Error & { code?: string; message: string }) => {
      this.pooled--;
      if (err?.message === 'upgrade') return; // the socket lives on as a tunnel
      // undici closes idle / finished / aborted sockets itself with an InformationalError.
      const code = err?.code;
      this.onCxDestroyReason(code === 'UND_ERR_INFO' || code === 'UND_ERR_DESTROYED' || code === 'UND_ERR_CLOSED');
      if (err?.message === 'socket idle timeout') info.stats.upstream_cx_idle_timeout.inc();
    });
    this.undici.on('connectionError', () => { /* counted in the connector */ });
  }

  /** Start an attempt. Returns null when a circuit breaker refused it (503 UO). */
  newStream(cb: UpstreamCallbacks, rm: ResourceManager, spec: UpstreamRequestSpec): H1Stream | null {
    const needsWait = this.busy + this.pending + this.starting >= this.pooled;
    if (!this.admit(rm, needsWait)) return null;
    if (needsWait) this.onPendingStart(rm); else this.starting++;
    const s = new H1Stream(this, cb, rm, headerString(spec.headers[':method']) || 'GET', needsWait);
    s.start(spec);
    return s;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.undici.close().catch(ignore);
  }

  destroy(): void {
    this.closed = true;
    this.undici.destroy().catch(ignore);
  }
}

function ignore(): void { /* closing errors are irrelevant */ }
