// The terminal network filter and the per-connection state (Envoy's ConnectionManagerImpl):
// codec selection (HTTP/1.1, HTTP/2 prior knowledge, AUTO by the client preface or TLS ALPN),
// the list of active streams, connection timers (idle, max duration), draining and
// connection-level stats.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ServerHttp2Session } from 'node:http2';
import type { DownstreamConnection, TerminalNetworkFilter } from '../../../listener/types';
import type { IpAddress } from '../../../common/cidr';
import { RF } from '../../../common/response_flags';
import { CodecType, type HcmConfig } from './config';
import type { ActiveStream } from './active_stream';
import { parseRemoteIp } from './request_headers';
import { startHttp1 } from './codec_http1';
import { startHttp2, closeHttp2Servers } from './codec_http2';
import { closeHttp1Servers } from './codec_http1';

export const kHcmConn = Symbol('remora.hcm.connection');

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** Envoy's CLIENT_MAGIC_PREFIX: enough of the preface to decide. */
const H2_PREFIX_LEN = 12;
/** Give up sniffing after this many bytes (never reached for valid HTTP/1 request lines). */
const MAX_SNIFF = 24;

const enum Drain { NotDraining = 0, Draining = 1, Closing = 2 }
export const enum Codec { None = 0, Http1 = 1, Http2 = 2 }

/** Decide from the first bytes: 1 = HTTP/1, 2 = HTTP/2, 0 = need more. */
export function sniffCodec(data: Buffer): number {
  const n = Math.min(data.length, H2_PREFIX_LEN);
  for (let i = 0; i < n; i++) if (data[i] !== H2_PREFACE[i]) return 1;
  return data.length >= H2_PREFIX_LEN ? 2 : 0;
}

function onIdleTimer(hc: HcmConnection): void { hc.onIdleTimeout(); }
function closeLater(hc: HcmConnection): void { if (hc.activeStreams === 0) hc.closeConnection(); }
function onDurationTimer(hc: HcmConnection): void { hc.onMaxDuration(); }
function onSniffData(this: Socket & { [kHcmConn]?: HcmConnection }, chunk: Buffer): void { this[kHcmConn]?.onSniffData(chunk); }

export class HcmConnection {
  readonly cfg: HcmConfig;
  readonly bufferLimit: number;
  readonly remoteIp: IpAddress | null;
  codec = Codec.None;
  streamsHead: ActiveStream | null = null;
  activeStreams = 0;
  requestsCount = 0;
  private drainState = Drain.NotDraining;
  /** Accepted while the listener was already draining. */
  private bornDraining = false;
  /** HTTP/1: responses of streams with id >= this carry `connection: close` (pipelined earlier ones do not). */
  private closeFromStreamId = Number.MAX_SAFE_INTEGER;
  private idleTimer: NodeJS.Timeout | null = null;
  private durationTimer: NodeJS.Timeout | null = null;
  private sniffBuf: Buffer | null = null;
  closed = false;
  /** We closed the connection (vs. the peer). */
  localClose = false;
  /** HTTP/1: node released the socket (upgrade / CONNECT); no more requests are parsed. */
  h1Detached = false;
  /** HTTP/2 session once created. */
  session: ServerHttp2Session | null = null;
  /** HTTP/2 premature reset accounting (Envoy's maybeDrainDueToPrematureResets). */
  closedStreams = 0;
  prematureResets = 0;
  readonly startMs = Date.now();

  constructor(cfg: HcmConfig, readonly conn: DownstreamConnection) {
    this.cfg = cfg;
    this.bufferLimit = conn.bufferLimitBytes > 0 ? conn.bufferLimitBytes : 1048576;
    this.remoteIp = parseRemoteIp(conn.info.remoteAddress);
  }

  get socket(): Duplex { return this.conn.socket; }

  start(): void {
    const cfg = this.cfg;
    const st = cfg.stats;
    st.downstream_cx_total.value++;
    st.downstream_cx_active.inc();
    if (this.conn.info.tls) { st.downstream_cx_ssl_total.value++; st.downstream_cx_ssl_active.inc(); }
    this.conn.onClose(this.onClosed.bind(this));
    this.bornDraining = this.conn.draining();
    this.conn.onDrain(this.onListenerDrain.bind(this));
    if (cfg.idleTimeoutMs > 0) this.idleTimer = setTimeout(onIdleTimer, cfg.idleTimeoutMs, this).unref();
    if (cfg.maxConnectionDurationMs > 0) this.durationTimer = setTimeout(onDurationTimer, cfg.maxConnectionDurationMs, this).unref();
    const sock = this.socket as Socket & { [kHcmConn]?: HcmConnection; alpnProtocol?: string | false };
    sock[kHcmConn] = this;
    if (sock.destroyed) return;
    let codec = cfg.codecType === CodecType.Http1 ? Codec.Http1 : cfg.codecType === CodecType.Http2 ? Codec.Http2 : Codec.None;
    if (codec === Codec.None) {
      const alpn = sock.alpnProtocol;
      if (alpn === 'h2') codec = Codec.Http2;
      else if (typeof alpn === 'string' && alpn !== '') codec = Codec.Http1;
    }
    const initial = this.conn.initialData;
    if (codec === Codec.None && initial !== undefined) {
      const d = sniffCodec(initial);
      if (d !== 0 || initial.length >= MAX_SNIFF) codec = d === 2 ? Codec.Http2 : Codec.Http1;
    }
    if (codec === Codec.None) {
      // Read until the first bytes decide (replaying initialData first).
      this.sniffBuf = initial ?? null;
      sock.on('data', onSniffData);
      sock.resume();
      return;
    }
    this.startCodec(codec, initial);
  }

  onSniffData(chunk: Buffer): void {
    const buf = this.sniffBuf === null ? chunk : Buffer.concat([this.sniffBuf, chunk]);
    const d = sniffCodec(buf);
    if (d === 0 && buf.length < MAX_SNIFF) { this.sniffBuf = buf; return; }
    const sock = this.socket as Socket;
    sock.removeListener('data', onSniffData);
    sock.pause();
    this.sniffBuf = null;
    this.startCodec(d === 2 ? Codec.Http2 : Codec.Http1, buf);
  }

  private startCodec(codec: Codec, pending: Buffer | undefined): void {
    const st = this.cfg.stats;
    this.codec = codec;
    const sock = this.socket as Socket;
    if (pending !== undefined && pending.length > 0) {
      sock.pause();
      sock.unshift(pending);
    }
    if (codec === Codec.Http2) {
      st.downstream_cx_http2_total.value++;
      st.downstream_cx_http2_active.inc();
      this.conn.streamInfo.protocol = 'HTTP/2';
      startHttp2(this);
    } else {
      st.downstream_cx_http1_total.value++;
      st.downstream_cx_http1_active.inc();
      this.conn.streamInfo.protocol = 'HTTP/1.1';
      startHttp1(this);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Streams

  /** Register a new stream (Envoy's newStream). */
  addStream(s: ActiveStream): void {
    if (this.idleTimer !== null) { clearTimeout(this.idleTimer); this.idleTimer = null; }
    s.next = this.streamsHead;
    if (this.streamsHead !== null) this.streamsHead.prev = s;
    this.streamsHead = s;
    this.activeStreams++;
    this.requestsCount++;
    const max = this.cfg.maxRequestsPerConnection;
    if (max > 0 && this.requestsCount >= max && this.drainState === Drain.NotDraining) {
      this.cfg.stats.downstream_cx_max_requests_reached.value++;
      if (this.codec === Codec.Http2) this.startDrainSequence();
      else this.closeAfterResponses(s);
    }
  }

  onStreamDestroyed(s: ActiveStream): void {
    if (s.prev !== null) s.prev.next = s.next; else if (this.streamsHead === s) this.streamsHead = s.next;
    if (s.next !== null) s.next.prev = s.prev;
    s.prev = s.next = null;
    this.activeStreams--;
    if (this.codec === Codec.Http2) {
      this.closedStreams++;
      const lifetimeMs = s.info.endNs / 1e6;
      if ((s.info.responseFlags & RF.DownstreamRemoteReset) !== 0 && lifetimeMs < this.cfg.prematureResetMinStreamLifetimeMs) this.prematureResets++;
      this.maybeDrainDueToPrematureResets();
    }
    if (this.closed) return;
    if (this.activeStreams === 0) {
      if (this.drainState === Drain.Closing || this.h1Detached) { this.closeConnection(); return; }
      if (this.cfg.idleTimeoutMs > 0) {
        if (this.idleTimer !== null) this.idleTimer.refresh();
        else this.idleTimer = setTimeout(onIdleTimer, this.cfg.idleTimeoutMs, this).unref();
      }
    }
  }

  /** A stream the client reset before it started (HTTP/2 rapid reset); counts as premature. */
  onStreamRefusedBeforeStart(): void {
    this.closedStreams++;
    this.prematureResets++;
    this.maybeDrainDueToPrematureResets();
  }

  private maybeDrainDueToPrematureResets(): void {
    if (this.closedStreams === 0 || this.closed || this.aborting) return;
    const limit = this.cfg.prematureResetTotalStreamCount;
    if (this.closedStreams < limit) {
      if (this.prematureResets * 2 < limit) return;
    } else if (this.prematureResets * 2 < this.closedStreams) {
      return;
    }
    this.cfg.stats.downstream_rq_too_many_premature_resets.value++;
    this.abortHttp2(11 /* ENHANCE_YOUR_CALM */);
  }

  // ------------------------------------------------------------------------------------------
  // Draining / closing

  /** Called for each response: start draining when the listener drains. */
  checkDrainOnResponse(): void {
    if (this.drainState === Drain.NotDraining && this.conn.draining()) {
      this.cfg.stats.downstream_cx_drain_close.value++;
      this.startDrainSequence();
    }
  }

  /** HTTP/1: the response of `s` (and later ones) get `connection: close`; the connection closes after it. */
  closeAfterResponses(s: ActiveStream): void {
    this.drainState = Drain.Closing;
    if (s.id < this.closeFromStreamId) this.closeFromStreamId = s.id;
  }

  /** HTTP/1: should the response of `s` carry `connection: close`? */
  wantsClose(s: ActiveStream): boolean {
    return this.drainState !== Drain.NotDraining && s.id >= this.closeFromStreamId;
  }

  /** Envoy's startDrainSequence: HTTP/2 GOAWAY; HTTP/1 closes once idle (responses carry `connection: close`). */
  startDrainSequence(): void {
    if (this.drainState !== Drain.NotDraining) return;
    this.drainState = Drain.Draining;
    if (this.codec === Codec.Http2 && this.session !== null) {
      this.drainState = Drain.Closing;
      const sess = this.session;
      if (!sess.closed && !sess.destroyed) {
        try { sess.close(); } catch { /* already closing */ }
      }
      return;
    }
    this.drainState = Drain.Closing;
    this.closeFromStreamId = 0;
    if (this.activeStreams === 0) this.closeConnection();
  }

  private onListenerDrain(): void {
    if (this.closed) return;
    // A connection accepted while the listener was already draining gets its request served
    // with `connection: close` (checkDrainOnResponse), as Envoy does, instead of being reset
    // before it could say anything. Idle connections from before the drain are closed.
    if (this.bornDraining && this.codec !== Codec.Http2 && this.requestsCount === 0) return;
    if (this.activeStreams === 0 || this.codec === Codec.Http2) {
      if (this.drainState === Drain.NotDraining) this.cfg.stats.downstream_cx_drain_close.value++;
      this.startDrainSequence();
    }
  }

  onIdleTimeout(): void {
    this.idleTimer = null;
    if (this.closed || this.activeStreams > 0) return;
    this.cfg.stats.downstream_cx_idle_timeout.value++;
    if (this.codec === Codec.Http2) this.startDrainSequence();
    else this.closeConnection();
  }

  onMaxDuration(): void {
    this.durationTimer = null;
    if (this.closed) return;
    this.cfg.stats.downstream_cx_max_duration_reached.value++;
    if (this.codec === Codec.None) this.closeConnection();
    else this.startDrainSequence();
  }

  /** Close gracefully (flush what was written). */
  closeConnection(): void {
    if (this.closed) return;
    if (this.codec === Codec.Http2 && this.session !== null) {
      this.localClose = true;
      // node ends the socket once the GOAWAY is out and the remaining streams are done.
      if (!this.session.closed && !this.session.destroyed) { try { this.session.close(); } catch { /* ignore */ } }
      return;
    }
    if (this.codec === Codec.Http1 && !this.h1Detached) {
      // node may still hold pipelined responses that are not on the socket yet: wait for them.
      // (A response attached to the socket may look written while its 'finish' - which hands the
      // socket to the next pipelined response - is still pending.)
      const msg = (this.socket as Duplex & { _httpMessage?: { once(e: string, f: () => void): void } | null })._httpMessage;
      if (msg !== null && msg !== undefined) {
        if (!this.closeWaiting) { this.closeWaiting = true; msg.once('finish', this.onH1MessageFinished.bind(this)); }
        return;
      }
    }
    this.localClose = true;
    this.conn.close('flush');
  }

  private closeWaiting = false;
  private onH1MessageFinished(): void {
    this.closeWaiting = false;
    setImmediate(closeLater, this);
  }

  /** HTTP/2 GOAWAY with an error code, then close (premature resets, protocol abuse). */
  private aborting = false;
  abortHttp2(code: number): void {
    if (this.closed || this.aborting) return;
    this.aborting = true;
    this.localClose = true;
    const sess = this.session;
    if (sess !== null && !sess.destroyed) {
      // Sends GOAWAY(code), then node closes the socket.
      try { sess.destroy(new Error(`HTTP/2 connection aborted (GOAWAY ${code})`), code); return; } catch { /* fall through */ }
    }
    this.conn.close('flush');
  }

  /** The socket closed (either side). */
  private onClosed(): void {
    if (this.closed) return;
    this.closed = true;
    const st = this.cfg.stats;
    if (this.idleTimer !== null) { clearTimeout(this.idleTimer); this.idleTimer = null; }
    if (this.durationTimer !== null) { clearTimeout(this.durationTimer); this.durationTimer = null; }
    const sock = this.socket as Socket & { [kHcmConn]?: HcmConnection };
    sock.removeListener('data', onSniffData);
    if (this.activeStreams > 0) {
      st.downstream_cx_destroy_active_rq.value++;
      if (this.localClose) st.downstream_cx_destroy_local_active_rq.value++;
      else st.downstream_cx_destroy_remote_active_rq.value++;
      // Resetting streams unlinks them; walk a snapshot.
      const list: ActiveStream[] = [];
      for (let s = this.streamsHead; s !== null; s = s.next) list.push(s);
      for (const s of list) {
        // An upgraded stream ends through its tunnel (which sees the same close and half-closes the upstream).
        if (s.tunnel !== null) continue;
        s.onResetStream(false, this.localClose ? '' : 'downstream_remote_disconnect');
      }
    }
    st.downstream_cx_destroy.value++;
    if (this.localClose) st.downstream_cx_destroy_local.value++; else st.downstream_cx_destroy_remote.value++;
    st.downstream_cx_active.dec();
    if (this.conn.info.tls) st.downstream_cx_ssl_active.dec();
    if (this.codec === Codec.Http1) st.downstream_cx_http1_active.dec();
    else if (this.codec === Codec.Http2) st.downstream_cx_http2_active.dec();
    const s = sock as Socket;
    if (typeof s.bytesRead === 'number') st.downstream_cx_rx_bytes_total.add(s.bytesRead);
    if (typeof s.bytesWritten === 'number') st.downstream_cx_tx_bytes_total.add(s.bytesWritten);
    st.downstream_cx_length_ms.record(Date.now() - this.startMs);
    this.session = null;
  }
}

/** The HCM as a terminal network filter: one instance per HcmConfig, stateless. */
export class HcmFilter implements TerminalNetworkFilter {
  constructor(readonly cfg: HcmConfig) {}

  handleConnection(conn: DownstreamConnection): void {
    new HcmConnection(this.cfg, conn).start();
  }

  /** The config was replaced/removed: drop the node servers it created. */
  destroy(): void {
    closeHttp1Servers(this.cfg);
    closeHttp2Servers(this.cfg);
  }
}
