// HTTP/2 upstream (h2c prior knowledge) over node:http2 client sessions, one
// H2Pool per host (cached in host.pools). Streams are multiplexed on as few
// sessions as max_concurrent_streams allows; a session that gets GOAWAY or
// reaches max_requests_per_connection stops taking streams and closes when idle,
// and the next stream opens a fresh session. Stream events go to module-level
// listeners that find their H2Stream through a symbol (no per-request closures).
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { ClusterInfo, Host, ResourceManager } from '../../../../cluster/types';
import type { Headers } from '../../../../http/headers';
import { PoolAccounting } from './accounting';
import { fromH2Headers, toH2Headers } from './codec_headers';
import {
  EMPTY_BUFFER, ResetReason, type UpstreamCallbacks, type UpstreamRequestSpec, type UpstreamStream,
} from './types';

const {
  NGHTTP2_REFUSED_STREAM, NGHTTP2_CANCEL, NGHTTP2_NO_ERROR,
} = http2.constants;

/** Envoy's default SETTINGS_MAX_CONCURRENT_STREAMS for upstream HTTP/2. */
const DEFAULT_MAX_CONCURRENT = 2147483647;
/** Until the peer's SETTINGS arrive, assume RFC 9113's suggested minimum. */
const ASSUMED_PEER_STREAMS = 100;
const DEFAULT_STREAM_WINDOW = 1 << 20;
const DEFAULT_CONNECTION_WINDOW = 1 << 20;
const PENDING_BODY_HIGH = 64 * 1024;

const kOwner = Symbol('remora.h2.owner');
type OwnedStream = http2.ClientHttp2Stream & { [kOwner]?: H2Stream };

const enum St { Pending = 0, Attached = 1, Done = 2 }

export class H2Stream implements UpstreamStream {
  readonly protocol = 'HTTP/2';
  state = St.Pending;
  stream: OwnedStream | null = null;
  conn: H2Conn | null = null;
  localResetDone = false;
  /** Response fully received (END_STREAM seen on headers, data or trailers). */
  responseDone = false;
  bytesSent = 0;
  bytesReceived = 0;
  lastError: (Error & { code?: string }) | null = null;
  private headersEnd = false;
  private gotHeaders = false;
  private trailersSeen = false;
  private paused = false;
  private writeAbove = false;
  /** Request body written before a session took the stream. */
  private queued: Buffer[] | null = null;
  private queuedBytes = 0;
  /** The request side ended (end of body or trailers). */
  private requestEnded: boolean;
  private reqTrailers: Headers | undefined;
  private readonly h2headers: Record<string, string | string[]>;

  constructor(
    readonly pool: H2Pool,
    readonly cb: UpstreamCallbacks,
    readonly rm: ResourceManager,
    spec: UpstreamRequestSpec,
    readonly waiting: boolean,
  ) {
    this.h2headers = toH2Headers(spec.headers);
    this.requestEnded = spec.endStream;
    this.reqTrailers = spec.trailers;
    if (spec.body !== undefined && spec.body.length > 0) {
      this.queued = [spec.body];
      this.queuedBytes = spec.body.length;
      this.bytesSent += spec.body.length;
    }
  }

  /** Open the HTTP/2 stream on `conn`. Failures are delivered on the next tick. */
  attach(conn: H2Conn): void {
    const hasBody = this.queued !== null;
    const endAtHeaders = this.requestEnded && !hasBody && this.reqTrailers === undefined;
    let req: OwnedStream;
    try {
      req = conn.session.request(this.h2headers, { endStream: endAtHeaders, waitForTrailers: !endAtHeaders }) as OwnedStream;
    } catch (e) {
      const err = e as Error & { code?: string };
      this.finishNoAttach();
      const reason = err.code === 'ERR_HTTP2_INVALID_SESSION' || err.code === 'ERR_HTTP2_GOAWAY_SESSION' ||
        err.code === 'ERR_HTTP2_OUT_OF_STREAMS' ? ResetReason.ConnectionTermination : ResetReason.ProtocolError;
      process.nextTick(deliverReset, this, reason, err.message);
      return;
    }
    if (this.waiting) this.pool.onPendingEnd(this.rm);
    this.state = St.Attached;
    this.conn = conn;
    conn.active++;
    conn.streamsCreated++;
    this.pool.onAttach(this.rm);
    req[kOwner] = this;
    this.stream = req;
    req.on('response', onResponse);
    req.on('data', onData);
    req.on('trailers', onTrailers);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
    if (!endAtHeaders) req.on('wantTrailers', onWantTrailers);
    if (this.paused) req.pause();
    const q = this.queued;
    this.queued = null;
    this.queuedBytes = 0;
    if (q !== null) {
      for (let i = 0; i < q.length - 1; i++) req.write(q[i]);
      if (this.requestEnded) req.end(q[q.length - 1]);
      else if (!req.write(q[q.length - 1])) this.above();
    } else if (this.requestEnded && !endAtHeaders) {
      req.end();
    }
    if (this.writeAbove && this.queued === null) {
      // The pending buffer had pushed the router above its watermark; the session has it now.
      this.writeAbove = false;
      this.cb.onUpstreamWriteWatermark(this, false);
    }
    conn.pool.afterAttach(conn);
    this.cb.onPoolReady(this);
  }

  private above(): void {
    if (this.writeAbove) return;
    this.writeAbove = true;
    this.stream?.once('drain', onDrain);
    this.cb.onUpstreamWriteWatermark(this, true);
  }

  onDrained(): void {
    if (!this.writeAbove) return;
    this.writeAbove = false;
    if (!this.localResetDone && this.state !== St.Done) this.cb.onUpstreamWriteWatermark(this, false);
  }

  // ---- UpstreamStream
  writeData(data: Buffer, end: boolean): void {
    if (this.localResetDone || this.state === St.Done || this.requestEnded) return;
    this.bytesSent += data.length;
    if (end) this.requestEnded = true;
    const req = this.stream;
    if (req === null) {
      if (data.length > 0) {
        (this.queued ??= []).push(data);
        this.queuedBytes += data.length;
        if (this.queuedBytes > PENDING_BODY_HIGH && !this.writeAbove) {
          this.writeAbove = true;
          this.cb.onUpstreamWriteWatermark(this, true);
        }
      }
      return;
    }
    if (end) {
      if (data.length > 0) req.end(data); else req.end();
    } else if (data.length > 0 && !req.write(data)) {
      this.above();
    }
  }

  writeTrailers(trailers: Headers): void {
    if (this.localResetDone || this.state === St.Done || this.requestEnded) return;
    this.reqTrailers = trailers;
    this.requestEnded = true;
    if (this.stream !== null) this.stream.end();
  }

  sendTrailersNow(): void {
    const req = this.stream;
    if (req === null) return;
    try {
      req.sendTrailers((this.reqTrailers ?? {}) as http2.OutgoingHttpHeaders);
    } catch {
      // An invalid trailer: end the stream without it.
      try { req.close(NGHTTP2_NO_ERROR); } catch { /* already closed */ }
    }
  }

  pauseResponse(): void {
    if (this.paused) return;
    this.paused = true;
    this.stream?.pause();
  }

  resumeResponse(): void {
    if (!this.paused) return;
    this.paused = false;
    this.stream?.resume();
  }

  reset(): void {
    if (this.localResetDone || this.state === St.Done) return;
    this.localResetDone = true;
    if (this.state === St.Pending) {
      this.pool.cancelPending(this);
      return;
    }
    const req = this.stream;
    if (req !== null && !req.closed && !req.destroyed) {
      if (!this.responseDone) this.pool.info.stats.upstream_rq_tx_reset.inc();
      try { req.close(NGHTTP2_CANCEL); } catch { req.destroy(); }
    }
  }

  localAddress(): string { return this.conn?.localAddr ?? ''; }

  // ---- event handling (called from the module-level listeners)
  onResponse(headers: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader, flags: number): void {
    if (this.localResetDone) return;
    const status = Number(headers[':status']);
    const end = (flags & 1) !== 0; // END_STREAM
    this.gotHeaders = true;
    this.headersEnd = end;
    if (end) this.responseDone = true;
    this.cb.onUpstreamHeaders(this, status, fromH2Headers(headers as Record<string, unknown>), end);
  }

  onData(chunk: Buffer): void {
    this.bytesReceived += chunk.length;
    if (this.localResetDone || this.headersEnd) return;
    this.cb.onUpstreamData(this, chunk, false);
  }

  onTrailers(trailers: http2.IncomingHttpHeaders): void {
    if (this.localResetDone || this.headersEnd) return;
    this.trailersSeen = true;
    this.responseDone = true;
    this.cb.onUpstreamTrailers(this, trailers as Headers);
  }

  onEnd(): void {
    if (this.localResetDone || this.headersEnd || this.trailersSeen || !this.gotHeaders) return;
    // node also ends the readable side of streams torn down with their session (rstCode set):
    // that is a reset, reported from 'close'.
    const rst = this.stream?.rstCode;
    if (rst !== undefined && rst !== NGHTTP2_NO_ERROR) return;
    this.responseDone = true;
    this.cb.onUpstreamData(this, EMPTY_BUFFER, true);
  }

  onClose(): void {
    const req = this.stream;
    const conn = this.conn;
    if (this.state !== St.Attached || req === null || conn === null) return;
    this.state = St.Done;
    this.pool.onDetach(this.rm);
    this.pool.onStreamGone();
    conn.active--;
    const wasLocal = this.localResetDone;
    const done = this.responseDone;
    // Run pool housekeeping before telling the router (it may start a retry right away).
    conn.pool.afterStreamClose(conn);
    if (wasLocal || done) return;
    let reason: ResetReason;
    const rst = req.rstCode;
    if (rst === NGHTTP2_REFUSED_STREAM) reason = ResetReason.RemoteRefusedStreamReset;
    else if (conn.session.destroyed || conn.session.closed || conn.goaway) reason = ResetReason.ConnectionTermination;
    else reason = ResetReason.RemoteReset;
    this.pool.info.stats.upstream_rq_rx_reset.inc();
    const e = this.lastError;
    this.cb.onUpstreamReset(this, reason, e !== null ? e.message : '');
  }

  /** Failed before a session took it (connect failure / session refused). */
  finishNoAttach(): void {
    if (this.state === St.Done) return;
    if (this.state === St.Pending && this.waiting) this.pool.onPendingEnd(this.rm);
    this.pool.onStreamGone();
    this.state = St.Done;
  }
}

function deliverReset(s: H2Stream, reason: ResetReason, detail: string): void {
  if (!s.localResetDone) s.cb.onUpstreamReset(s, reason, detail);
}

// Module-level stream listeners: `this` is the ClientHttp2Stream.
function onResponse(this: OwnedStream, headers: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader, flags: number): void {
  this[kOwner]?.onResponse(headers, flags);
}
function onData(this: OwnedStream, chunk: Buffer): void { this[kOwner]?.onData(chunk); }
function onTrailers(this: OwnedStream, trailers: http2.IncomingHttpHeaders): void { this[kOwner]?.onTrailers(trailers); }
function onEnd(this: OwnedStream): void { this[kOwner]?.onEnd(); }
function onError(this: OwnedStream, err: Error): void {
  const o = this[kOwner];
  if (o !== undefined) o.lastError = err;
}
function onClose(this: OwnedStream): void { this[kOwner]?.onClose(); }
function onWantTrailers(this: OwnedStream): void { this[kOwner]?.sendTrailersNow(); }
function onDrain(this: OwnedStream): void { this[kOwner]?.onDrained(); }

export class H2Conn {
  readonly session: http2.ClientHttp2Session;
  /** The TCP socket, owned here (node's session.socket proxy cannot be destroyed). */
  readonly socket: net.Socket;
  active = 0;
  streamsCreated = 0;
  connected = false;
  /** The peer's first SETTINGS arrived: its max_concurrent_streams is known. */
  ready = false;
  /** No new streams: GOAWAY received, max requests reached, or closing. */
  draining = false;
  goaway = false;
  maxStreams = ASSUMED_PEER_STREAMS;
  localAddr = '';
  private connectTimer: NodeJS.Timeout | null = null;
  private durationTimer: NodeJS.Timeout | null = null;
  private closedLocally = false;
  private connectTimedOut = false;
  private finished = false;
  private readonly startedAt = performance.now();
  private connectedAt = 0;

  constructor(readonly pool: H2Pool) {
    const info = pool.info;
    const o = info.http2Options ?? {};
    const streamWindow = numOr(o.initial_stream_window_size, DEFAULT_STREAM_WINDOW);
    const sock = net.connect({ host: pool.host.address, port: pool.host.port });
    sock.setNoDelay(true);
    this.socket = sock;
    this.session = http2.connect(pool.origin, {
      settings: { enablePush: false, initialWindowSize: Math.min(streamWindow, 2147483647) },
      peerMaxConcurrentStreams: ASSUMED_PEER_STREAMS,
      maxSessionMemory: 64,
      createConnection: () => sock,
    });
    const s = this.session;
    const connectMs = info.connectTimeoutMs > 0 ? info.connectTimeoutMs : 5000;
    this.connectTimer = setTimeout(onConnectTimeout, connectMs, this);
    s.on('connect', () => this.onConnect(numOr(o.initial_connection_window_size, DEFAULT_CONNECTION_WINDOW)));
    s.on('remoteSettings', (settings: http2.Settings) => {
      const peer = settings.maxConcurrentStreams ?? ASSUMED_PEER_STREAMS;
      this.maxStreams = Math.max(1, Math.min(peer, pool.maxConcurrent));
      this.onReady();
    });
    s.on('goaway', () => {
      this.goaway = true;
      this.draining = true;
      if (this.active === 0) this.closeNow();
      pool.onConnDraining(this);
    });
    s.on('error', () => { /* the socket's close accounts for it */ });
    s.on('close', () => { if (this.active === 0 && !sock.destroyed) sock.destroy(); });
    s.on('timeout', () => {
      if (this.active === 0) {
        info.stats.upstream_cx_idle_timeout.inc();
        this.closeNow();
      }
    });
    sock.on('error', () => { /* reported through 'close' */ });
    sock.on('close', () => this.onClose());
  }

  private onConnect(connWindow: number): void {
    if (this.connectTimer !== null) { clearTimeout(this.connectTimer); this.connectTimer = null; }
    this.connected = true;
    const sock = this.socket;
    if (sock.localAddress) this.localAddr = `${sock.localAddress}:${sock.localPort}`;
    try { if (connWindow > 65535) this.session.setLocalWindowSize(Math.min(connWindow, 2147483647)); } catch { /* ignore */ }
    const idle = this.pool.info.idleTimeoutMs;
    if (idle > 0) this.session.setTimeout(idle);
    const dur = this.pool.info.maxConnectionDurationMs;
    if (dur > 0) { this.durationTimer = setTimeout(onMaxDuration, dur, this); this.durationTimer.unref(); }
    this.connectedAt = performance.now();
    this.pool.onCxConnected(true, this.connectedAt - this.startedAt);
    // Streams wait for the peer's SETTINGS (its first frame) so max_concurrent_streams is known;
    // a peer that never sends them gets the assumed default after the connect timeout.
    if (!this.ready) {
      const ms = this.pool.info.connectTimeoutMs > 0 ? this.pool.info.connectTimeoutMs : 5000;
      this.connectTimer = setTimeout(onSettingsTimeout, ms, this);
    }
  }

  onReady(): void {
    if (this.connectTimer !== null && this.connected) { clearTimeout(this.connectTimer); this.connectTimer = null; }
    this.ready = true;
    this.pool.drainQueue();
  }

  onConnectTimeout(): void {
    this.connectTimer = null;
    if (this.connected) return;
    this.connectTimedOut = true;
    this.socket.destroy();
  }

  onMaxDuration(): void {
    this.durationTimer = null;
    this.draining = true;
    this.pool.onConnDraining(this);
    if (this.active === 0) this.closeNow();
  }

  /** Graceful close: in-flight streams finish, no new ones; the socket closes once idle. */
  closeNow(): void {
    this.draining = true;
    this.closedLocally = true;
    if (!this.session.closed && !this.session.destroyed) this.session.close();
    if (this.active === 0) setImmediate(destroySocket, this.socket);
  }

  destroyNow(): void {
    this.draining = true;
    this.closedLocally = true;
    if (!this.session.destroyed) this.session.destroy();
    this.socket.destroy();
  }

  hasCapacity(): boolean {
    return this.ready && !this.draining && this.active < this.maxStreams;
  }

  private onClose(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.connectTimer !== null) { clearTimeout(this.connectTimer); this.connectTimer = null; }
    if (this.durationTimer !== null) { clearTimeout(this.durationTimer); this.durationTimer = null; }
    this.draining = true;
    if (!this.session.destroyed) this.session.destroy();
    const pool = this.pool;
    if (this.connected) {
      pool.onCxClosed(this.socket.bytesRead, this.socket.bytesWritten, performance.now() - this.connectedAt);
      pool.onCxDestroyReason(this.closedLocally);
    } else {
      pool.onCxConnectFail(this.connectTimedOut);
    }
    pool.onConnClosed(this, this.connected, this.connectTimedOut);
  }
}

function destroySocket(s: net.Socket): void { if (!s.destroyed) s.destroy(); }
function onSettingsTimeout(c: H2Conn): void { c.onReady(); }
function onConnectTimeout(c: H2Conn): void { c.onConnectTimeout(); }
function onMaxDuration(c: H2Conn): void { c.onMaxDuration(); }

function numOr(v: unknown, d: number): number {
  return typeof v === 'number' && v > 0 ? v : d;
}

export class H2Pool extends PoolAccounting {
  readonly origin: string;
  readonly maxConcurrent: number;
  conns: H2Conn[] = [];
  queue: H2Stream[] = [];

  constructor(host: Host, info: ClusterInfo) {
    super(host, info);
    const a = host.address.includes(':') ? `[${host.address}]` : host.address;
    this.origin = `http://${a}:${host.port}`;
    this.maxConcurrent = numOr(info.http2Options?.max_concurrent_streams, DEFAULT_MAX_CONCURRENT);
  }

  private readyConn(): H2Conn | undefined {
    const cs = this.conns;
    for (let i = 0; i < cs.length; i++) if (cs[i].hasCapacity()) return cs[i];
    return undefined;
  }

  /** Start an attempt. Returns null when a circuit breaker refused it (503 UO). */
  newStream(cb: UpstreamCallbacks, rm: ResourceManager, spec: UpstreamRequestSpec): H2Stream | null {
    const conn = this.closed ? undefined : this.readyConn();
    const needsWait = conn === undefined;
    if (!this.admit(rm, needsWait)) return null;
    const s = new H2Stream(this, cb, rm, spec, needsWait);
    if (this.closed) {
      s.finishNoAttach();
      process.nextTick(deliverReset, s, ResetReason.ConnectionTermination, 'pool closed');
      return s;
    }
    if (conn !== undefined) {
      s.attach(conn);
    } else {
      this.onPendingStart(rm);
      this.queue.push(s);
      this.maybeConnect();
    }
    return s;
  }

  /** Open a session when the connecting ones cannot absorb the queue. */
  private maybeConnect(): void {
    let capacity = 0;
    for (const c of this.conns) {
      if (!c.draining) capacity += c.connected ? Math.max(0, c.maxStreams - c.active) : ASSUMED_PEER_STREAMS;
    }
    if (this.queue.length <= capacity) return;
    const maxCx = Math.min(this.info.resourceManagers[0].connections.max, this.info.perHostMaxConnections ?? Infinity);
    if (this.conns.length > 0 && this.conns.length >= maxCx) return;
    this.connectionAllowed();
    this.conns.push(new H2Conn(this));
  }

  drainQueue(): void {
    const q = this.queue;
    while (q.length > 0) {
      const c = this.readyConn();
      if (c === undefined) break;
      const s = q.shift()!;
      s.attach(c);
    }
    if (q.length > 0) this.maybeConnect();
  }

  afterAttach(conn: H2Conn): void {
    const max = this.info.maxRequestsPerConnection;
    if (max > 0 && conn.streamsCreated >= max && !conn.draining) {
      conn.draining = true;
      this.info.stats.upstream_cx_max_requests.inc();
    }
  }

  afterStreamClose(conn: H2Conn): void {
    if (conn.draining && conn.active === 0) conn.closeNow();
    else if (this.queue.length > 0) this.drainQueue();
  }

  onConnDraining(_conn: H2Conn): void {
    if (this.queue.length > 0) this.drainQueue();
  }

  cancelPending(s: H2Stream): void {
    const i = this.queue.indexOf(s);
    if (i >= 0) this.queue.splice(i, 1);
    s.finishNoAttach();
    this.info.stats.upstream_rq_cancelled.inc();
  }

  onConnClosed(conn: H2Conn, wasConnected: boolean, timedOut: boolean): void {
    const i = this.conns.indexOf(conn);
    if (i >= 0) this.conns.splice(i, 1);
    if (this.queue.length === 0) return;
    if (!wasConnected) {
      // Connect failure: fail the queue unless another session is still coming up.
      const other = this.conns.some((c) => !c.draining);
      if (!other) {
        const q = this.queue;
        this.queue = [];
        const reason = timedOut ? ResetReason.ConnectionTimeout : ResetReason.ConnectionFailure;
        for (const s of q) {
          s.finishNoAttach();
          this.info.stats.upstream_rq_pending_failure_eject.inc();
          if (!s.localResetDone) s.cb.onUpstreamReset(s, reason, timedOut ? 'connect timeout' : 'connection failure');
        }
        return;
      }
    }
    this.drainQueue();
  }

  close(): void {
    this.closed = true;
    for (const c of this.conns.slice()) c.closeNow();
  }

  destroy(): void {
    this.closed = true;
    const q = this.queue;
    this.queue = [];
    for (const s of q) {
      s.finishNoAttach();
      if (!s.localResetDone) process.nextTick(deliverReset, s, ResetReason.ConnectionTermination, 'pool destroyed');
    }
    for (const c of this.conns.slice()) c.destroyNow();
  }
}
