// HTTP/2 codec glue (cleartext prior knowledge, or TLS with ALPN h2): one node:http2 server
// per HCM config, fed sockets with emit('connection'). Each request stream becomes an
// ActiveStream, started one event-loop turn later: a stream the client already reset in the
// meantime (HTTP/2 rapid reset, CVE-2023-44487) never reaches the filter chain and counts as a
// premature reset; too many premature resets close the connection with GOAWAY
// ENHANCE_YOUR_CALM (Envoy's premature reset protection).
import * as http2 from 'node:http2';
import { createLogger } from '../../../common/log';
import type { Duplex } from 'node:stream';
import type { Headers } from '../../../http/headers';
import { getHeader } from '../../../http/headers';
import { UnderscoresAction, type HcmConfig } from './config';
import { ActiveStream, type ResponseEncoder } from './active_stream';
import type { HcmConnection } from './connection_manager';
import { hasGrpcContentType } from '../../../http/local_reply';
import { headerHasToken } from '../../../http/header_utility';
import { statusText } from '../../../http/codes';
import { RF } from '../../../common/response_flags';

const log = createLogger('http2');
const kHc = Symbol('remora.hcm.h2conn');
const kStream = Symbol('remora.hcm.h2stream');
const kEnc = Symbol('remora.hcm.h2enc');
const EMPTY = Buffer.alloc(0);
const END_OPTS = { endStream: true };
const TRAILERS_OPTS = { endStream: false, waitForTrailers: true };
const PLAIN_OPTS = { endStream: false };
const { NGHTTP2_NO_ERROR, NGHTTP2_INTERNAL_ERROR, NGHTTP2_FLAG_END_STREAM } = http2.constants;

type Sess = http2.ServerHttp2Session & { [kHc]?: HcmConnection; [kPending]?: unknown[] };
type Str = http2.ServerHttp2Stream & { [kStream]?: ActiveStream; [kEnc]?: H2Encoder; [kTrailers]?: Headers };
const kPending = Symbol('remora.hcm.h2pending');
const kTrailers = Symbol('remora.hcm.h2trailers');

let sessionTarget: HcmConnection | null = null;

function getServer(cfg: HcmConfig): http2.Http2Server {
  const existing = cfg.servers.h2 as http2.Http2Server | undefined;
  if (existing !== undefined) return existing;
  const maxHeaderBytes = cfg.maxRequestHeadersKb * 1024;
  const server = http2.createServer({
    settings: {
      enablePush: false,
      maxConcurrentStreams: cfg.h2.maxConcurrentStreams,
      initialWindowSize: cfg.h2.initialStreamWindowSize,
      headerTableSize: cfg.h2.hpackTableSize,
      maxHeaderListSize: maxHeaderBytes,
    },
    maxHeaderListPairs: cfg.maxHeadersCount + 8,
    maxSessionMemory: Math.max(10, Math.ceil(cfg.h2.initialConnectionWindowSize / 1048576) * 4),
    maxSessionInvalidFrames: 1000,
    maxSessionRejectedStreams: 100,
    maxOutstandingPings: 10,
    maxSettings: 32,
  });
  server.on('session', onSession);
  server.on('sessionError', onSessionError);
  server.on('error', onServerError);
  (cfg.servers as { h2: unknown }).h2 = server;
  return server;
}

export function closeHttp2Servers(cfg: HcmConfig): void {
  const s = cfg.servers.h2 as http2.Http2Server | undefined;
  if (s === undefined) return;
  (cfg.servers as { h2: unknown }).h2 = undefined;
  s.removeAllListeners('session');
  s.on('session', rejectSession);
}

function rejectSession(session: http2.ServerHttp2Session): void {
  session.on('error', noop);
  session.destroy();
}

function rejectStream(stream: http2.ServerHttp2Stream): void {
  stream.on('error', noop);
  try { stream.close(http2.constants.NGHTTP2_REFUSED_STREAM); } catch { /* gone */ }
}

function noop(): void { /* handled through 'close' */ }
function onSessionError(err: Error): void { log.debug(`http2 session error: ${err.message}`); }
function onServerError(err: Error): void { log.debug(`http2 server error: ${err.message}`); }

export function startHttp2(hc: HcmConnection): void {
  const server = getServer(hc.cfg);
  // A TLSSocket made with `new tls.TLSSocket(socket, { isServer: true })` (not by a tls.Server) keeps
  // secureConnecting=true after its handshake, and node's HTTP/2 session would wait for a
  // 'secureConnect' that never comes. The connection reaches the HCM after the handshake.
  const ts = hc.socket as Duplex & { secureConnecting?: boolean; encrypted?: boolean };
  if (ts.encrypted === true && ts.secureConnecting === true) ts.secureConnecting = false;
  sessionTarget = hc;
  try {
    server.emit('connection', hc.socket);
  } finally {
    sessionTarget = null;
  }
}

function onKeepalive(hc: HcmConnection): void {
  const sess = hc.session;
  if (sess === null || sess.destroyed) return;
  const timeoutMs = hc.cfg.h2.keepaliveTimeoutMs;
  const t = timeoutMs > 0 ? setTimeout(onKeepaliveTimeout, timeoutMs, hc).unref() : null;
  try {
    sess.ping((err) => { if (t !== null) clearTimeout(t); if (err) hc.abortHttp2(NGHTTP2_NO_ERROR); });
  } catch { if (t !== null) clearTimeout(t); }
}

function onKeepaliveTimeout(hc: HcmConnection): void { hc.abortHttp2(NGHTTP2_NO_ERROR); }

function onSession(this: http2.Http2Server, session: Sess): void {
  const hc = sessionTarget;
  if (hc === null) { session.destroy(); return; }
  session[kHc] = hc;
  hc.session = session;
  session.on('error', noop);
  session.on('frameError', noop);
  // Listen on the session (not the server): node emits 'stream' on a later tick, when a stream the
  // client already reset has lost its .session.
  session.on('stream', onStream);
  try { session.setLocalWindowSize(hc.cfg.h2.initialConnectionWindowSize); } catch { /* too early on some sockets */ }
  const ka = hc.cfg.h2.keepaliveIntervalMs;
  if (ka > 0) {
    const iv = setInterval(onKeepalive, ka, hc).unref();
    session.once('close', () => clearInterval(iv));
  }
}

/** node's 'stream' event: queue the stream; start it one turn later (rapid reset protection). */
function onStream(this: Sess, stream: Str, headers: http2.IncomingHttpHeaders, flags: number): void {
  stream.on('error', noop);
  const sess = this;
  const hc = sess[kHc];
  if (hc === undefined || hc.closed) { rejectStream(stream); return; }
  let q = sess[kPending];
  if (q === undefined || q.length === 0) {
    q = [];
    sess[kPending] = q;
    setImmediate(runPending, sess);
  }
  q.push(stream, headers, flags);
}

function runPending(sess: Sess): void {
  const q = sess[kPending];
  sess[kPending] = undefined;
  const hc = sess[kHc];
  if (q === undefined || hc === undefined) return;
  for (let i = 0; i < q.length; i += 3) {
    const stream = q[i] as Str;
    if (stream.destroyed || stream.closed || hc.closed) { hc.onStreamRefusedBeforeStart(); continue; }
    startStream(hc, stream, q[i + 1] as Headers, q[i + 2] as number);
  }
}

function startStream(hc: HcmConnection, stream: Str, headers: Headers, flags: number): void {
  const cfg = hc.cfg;
  const enc = new H2Encoder(hc, stream);
  const s = new ActiveStream(hc, enc, false, 'HTTP/2');
  enc.s = s;
  stream[kStream] = s;
  stream[kEnc] = enc;
  hc.addStream(s);
  stream.on('close', onStreamClose);
  const h = headers;
  const host = h['host'];
  if (host !== undefined) {
    if (h[':authority'] === undefined) h[':authority'] = host;
    delete h['host'];
  }
  let count = 0;
  let underscore = false;
  for (const k in h) {
    if (k.charCodeAt(0) === 58) continue;
    count++;
    if (k.indexOf('_') >= 0) underscore = true;
  }
  const endStream = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
  if (count > cfg.maxHeadersCount) {
    protocolError(s, h, endStream, 431, 'http2.too_many_headers');
    return;
  }
  if (underscore && cfg.headersWithUnderscores !== UnderscoresAction.Allow) {
    if (cfg.headersWithUnderscores === UnderscoresAction.RejectRequest) {
      protocolError(s, h, endStream, 400, 'http2.unexpected_underscore');
      return;
    }
    for (const k in h) if (k.indexOf('_') >= 0) delete h[k];
  }
  const expect = getHeader(h, 'expect');
  if (expect !== undefined && expect.toLowerCase() === '100-continue' && !endStream) {
    try { stream.additionalHeaders({ ':status': 100 }); } catch { /* stream gone */ }
  }
  enc.wantTrailers = headerHasToken(h, 'te', 'trailers') || hasGrpcContentType(h);
  s.decodeHeaders(h, endStream);
  if (!endStream && !s.destroyed) {
    stream.on('data', onData);
    stream.on('trailers', onTrailers);
    stream.on('end', onEnd);
  }
}

function protocolError(s: ActiveStream, h: Headers, endStream: boolean, code: number, details: string): void {
  s.requestHeaders = h;
  s.info.requestHeaders = h;
  s.remoteComplete = endStream;
  s.info.setFlag(RF.DownstreamProtocolError);
  s.sendLocalReply(code, statusText(code), { details });
}

function onData(this: Str, chunk: Buffer): void {
  const s = this[kStream];
  if (s !== undefined) s.decodeData(chunk, false);
}

function onTrailers(this: Str, trailers: http2.IncomingHttpHeaders): void {
  this[kTrailers] = trailers as Headers;
}

function onEnd(this: Str): void {
  const s = this[kStream];
  if (s === undefined || s.destroyed) return;
  const t = this[kTrailers];
  if (t !== undefined) { this[kTrailers] = undefined; s.decodeTrailers(t); }
  else s.decodeData(EMPTY, true);
}

function onStreamClose(this: Str): void {
  const s = this[kStream];
  this[kStream] = undefined;
  if (s === undefined || s.destroyed) return;
  const sess = s.hc.session; // stream.session is already unset once a stream closed
  const connectionGone = s.hc.closed || sess === null || sess.destroyed;
  s.onResetStream(!connectionGone, connectionGone ? 'downstream_remote_disconnect' : 'http2.remote_reset');
}

function onWantTrailers(this: Str): void {
  const enc = this[kEnc];
  const t = enc?.trailers;
  const out: Record<string, string | string[]> = {};
  if (t) {
    for (const k in t) {
      const v = t[k];
      if (v === undefined || k.charCodeAt(0) === 58) continue;
      out[k] = v;
    }
  }
  try { this.sendTrailers(out); } catch (e) {
    log.debug(`cannot send trailers: ${(e as Error).message}`);
    try { this.close(NGHTTP2_INTERNAL_ERROR); } catch { /* gone */ }
  }
}

function onStreamDrain(this: Str): void {
  const s = this[kStream];
  if (s !== undefined && !s.destroyed) s.onBelowWriteBufferLowWatermark();
}

export class H2Encoder implements ResponseEncoder {
  s!: ActiveStream;
  /** Respond with waitForTrailers (gRPC, `te: trailers`). */
  wantTrailers = false;
  private waiting = false;
  trailers: Headers | null = null;
  constructor(readonly hc: HcmConnection, readonly stream: Str) {}

  encodeHeaders(headers: Headers, endStream: boolean): void {
    const st = this.stream;
    if (st.destroyed || st.closed) return;
    let opts: object = END_OPTS;
    if (!endStream) {
      this.waiting = this.wantTrailers || hasGrpcContentType(headers) || headers['trailer'] !== undefined;
      opts = this.waiting ? TRAILERS_OPTS : PLAIN_OPTS;
      if (this.waiting) st.on('wantTrailers', onWantTrailers);
    }
    try {
      st.respond(headers as http2.OutgoingHttpHeaders, opts);
    } catch (e) {
      log.debug(`cannot send response headers: ${(e as Error).message}`);
      this.s.onEncoderError('invalid_response_headers');
    }
  }

  encodeData(data: Buffer, endStream: boolean): void {
    const st = this.stream;
    if (st.destroyed || st.closed || st.writableEnded) return;
    if (endStream) { st.end(data); return; }
    if (!st.write(data)) {
      this.s.onAboveWriteBufferHighWatermark();
      st.once('drain', onStreamDrain);
    }
  }

  encodeTrailers(trailers: Headers): void {
    const st = this.stream;
    if (st.destroyed || st.closed || st.writableEnded) return;
    if (this.waiting) this.trailers = trailers;
    st.end();
  }

  resetStream(): void {
    const st = this.stream;
    if (!st.destroyed && !st.closed) { try { st.close(NGHTTP2_INTERNAL_ERROR); } catch { /* gone */ } }
  }

  endAfterResponse(): void {
    const st = this.stream;
    if (!st.destroyed && !st.closed) { try { st.close(NGHTTP2_NO_ERROR); } catch { /* gone */ } }
  }

  readDisable(disable: boolean): void {
    if (disable) this.stream.pause(); else this.stream.resume();
  }
}
