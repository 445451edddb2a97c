// HTTP/1.1 codec glue: one node:http Server per HCM config (never listening) is fed the
// accepted sockets with emit('connection'). node's llhttp does the parsing (strict mode,
// keep-alive, chunked, pipelining with in-order responses); remora adds the checks node does
// not make (multiple Host, Transfer-Encoding on HTTP/1.0, header count, underscores), builds
// the header map with pseudo headers, and runs each request as an ActiveStream.
// Upgrade and CONNECT requests arrive on node's 'upgrade'/'connect' events with the raw
// socket; their responses are written by RawH1Encoder and allowed upgrades become tunnels.
import * as http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { RF } from '../../../common/response_flags';
import { createLogger } from '../../../common/log';
import { getHeader, type Headers } from '../../../http/headers';
import { parseStatus, statusHasNoBody, statusText } from '../../../http/codes';
import { isH2cUpgrade } from '../../../http/header_utility';
import { UnderscoresAction, type HcmConfig } from './config';
import { ActiveStream, type ResponseEncoder } from './active_stream';
import { kHcmConn, type HcmConnection } from './connection_manager';

const log = createLogger('http');
const kStream = Symbol('remora.hcm.stream');
const EMPTY = Buffer.alloc(0);

type Req = http.IncomingMessage & { [kStream]?: ActiveStream };
type Res = http.ServerResponse & { [kStream]?: ActiveStream };
type Sock = Socket & { [kHcmConn]?: HcmConnection; _httpMessage?: http.ServerResponse | null };

interface H1Servers { server: http.Server; tracking: boolean }

function getServer(cfg: HcmConfig): http.Server {
  const existing = cfg.servers.h1 as H1Servers | undefined;
  if (existing !== undefined) return existing.server;
  const server = http.createServer({
    maxHeaderSize: cfg.maxRequestHeadersKb * 1024,
    requireHostHeader: false,
    joinDuplicateHeaders: false,
    insecureHTTPParser: false,
    keepAlive: false,
    connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor((cfg.requestHeadersTimeoutMs || 1000) / 4))),
  });
  // node never closes kept-alive connections on its own; the HCM's idle_timeout does.
  server.keepAliveTimeout = 0;
  server.timeout = 0;
  server.requestTimeout = 0;
  server.headersTimeout = cfg.requestHeadersTimeoutMs;
  // One extra header pair so "more than max_headers_count" is detectable (node drops extras).
  server.maxHeadersCount = cfg.maxHeadersCount + 1;
  server.on('request', onRequest);
  server.on('upgrade', onUpgrade);
  server.on('connect', onUpgrade);
  server.on('clientError', onClientError);
  let tracking = false;
  if (cfg.requestHeadersTimeoutMs > 0) {
    // node enforces headersTimeout (from a request's first byte until its headers are complete)
    // only once the server is "listening"; this server never listens, so start that tracking here.
    server.emit('listening');
    tracking = true;
  }
  (cfg.servers as { h1: unknown }).h1 = { server, tracking } satisfies H1Servers;
  return server;
}

export function closeHttp1Servers(cfg: HcmConfig): void {
  const s = cfg.servers.h1 as H1Servers | undefined;
  if (s === undefined) return;
  (cfg.servers as { h1: unknown }).h1 = undefined;
  if (!s.tracking) return;
  // Stop node's headers-timeout checker without closing connections still being served
  // (http.Server.close() would also close idle keep-alive connections).
  for (const sym of Object.getOwnPropertySymbols(s.server)) {
    if (sym.description === 'http.server.connectionsCheckingInterval') {
      clearInterval((s.server as unknown as Record<symbol, NodeJS.Timeout>)[sym]);
    }
  }
}

export function startHttp1(hc: HcmConnection): void {
  const server = getServer(hc.cfg);
  const sock = hc.socket as Sock;
  server.emit('connection', sock);
  sock.resume();
}

// ---------------------------------------------------------------------------------------------
// Request headers

/** A protocol error found in JS (node parsed the request fine). */
class ProtoError {
  constructor(readonly code: number, readonly details: string) {}
}

function properCase(name: string): string {
  let out = '';
  let up = true;
  for (let i = 0; i < name.length; i++) {
    const ch = name[i];
    const c = name.charCodeAt(i);
    const alnum = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
    out += up && c >= 97 && c <= 122 ? String.fromCharCode(c - 32) : ch;
    up = !alnum;
  }
  return out;
}

/**
 * Build the request header map from node's parsed request (node's req.headers object is reused:
 * lowercase names, duplicates joined). Returns a ProtoError for requests Envoy's codec rejects.
 */
function buildHeaders(hc: HcmConnection, req: http.IncomingMessage): Headers | ProtoError {
  const cfg = hc.cfg;
  const raw = req.rawHeaders;
  if (raw.length > cfg.maxHeadersCount * 2) return new ProtoError(431, 'http1.too_many_headers');
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i];
    if (k.length === 4 && (k === 'host' || k === 'Host' || k.toLowerCase() === 'host')) hosts++;
  }
  if (hosts > 1) return new ProtoError(400, 'http1.multiple_host_headers');
  const h = req.headers as Headers;
  if (req.httpVersionMinor === 0 && req.httpVersionMajor === 1 && h['transfer-encoding'] !== undefined) {
    return new ProtoError(400, 'http1.transfer_encoding_not_allowed');
  }
  if (cfg.headersWithUnderscores !== UnderscoresAction.Allow) {
    for (const k in h) {
      if (k.indexOf('_') < 0) continue;
      if (cfg.headersWithUnderscores === UnderscoresAction.RejectRequest) return new ProtoError(400, 'http1.unexpected_underscore');
      delete h[k];
    }
  }
  const url = req.url ?? '';
  const host = h['host'];
  if (host !== undefined) { delete h['host']; h[':authority'] = host; }
  h[':method'] = req.method ?? 'GET';
  if (req.method === 'CONNECT') {
    h[':authority'] = url;
    return h;
  }
  const c0 = url.charCodeAt(0);
  if (c0 === 47 /* / */ || c0 === 42 /* * */ || url === '') {
    h[':path'] = url;
    return h;
  }
  // absolute-form (RFC 9112 §3.2.2): the URI's authority wins over Host.
  if (!cfg.h1.allowAbsoluteUrl) { h[':path'] = url; return h; }
  const sep = url.indexOf('://');
  if (sep <= 0) return new ProtoError(400, 'http1.invalid_url');
  const scheme = url.slice(0, sep).toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') return new ProtoError(400, 'http1.invalid_scheme');
  if (scheme === 'https' && !hc.conn.info.tls) return new ProtoError(400, 'http1.invalid_scheme');
  let end = sep + 3;
  while (end < url.length) {
    const c = url.charCodeAt(end);
    if (c === 47 || c === 63 || c === 35) break;
    end++;
  }
  const authority = url.slice(sep + 3, end);
  if (authority === '' || authority.indexOf('@') >= 0) return new ProtoError(400, 'http1.invalid_url');
  const rest = url.slice(end);
  h[':authority'] = authority;
  h[':path'] = rest === '' ? '/' : rest.charCodeAt(0) === 47 ? rest : '/' + rest;
  h[':scheme'] = scheme;
  return h;
}

function hasBody(h: Headers): boolean {
  if (h['transfer-encoding'] !== undefined) return true;
  const cl = getHeader(h, 'content-length');
  return cl !== undefined && cl !== '0';
}

// ---------------------------------------------------------------------------------------------
// Events

function onRequest(this: http.Server, req: Req, res: Res): void {
  const sock = req.socket as Sock;
  const hc = sock[kHcmConn];
  if (hc === undefined || hc.closed) { res.destroy(); return; }
  const enc = new H1Encoder(hc, req, res);
  const s = new ActiveStream(hc, enc, true, req.httpVersionMinor === 0 ? 'HTTP/1.0' : 'HTTP/1.1');
  enc.s = s;
  req[kStream] = s;
  res[kStream] = s;
  hc.addStream(s);
  const h = buildHeaders(hc, req);
  if (h instanceof ProtoError) { sendProtocolError(hc, s, h.code, h.details, req); return; }
  const headers = h;
  const body = hasBody(headers);
  s.decodeHeaders(headers, !body);
  if (body && !s.destroyed) {
    req.on('data', onReqData);
    req.on('end', onReqEnd);
  }
}

function sendProtocolError(hc: HcmConnection, s: ActiveStream, code: number, details: string, req: http.IncomingMessage): void {
  hc.cfg.stats.downstream_cx_protocol_error.value++;
  const h = req.headers as Headers;
  if (h[':method'] === undefined) h[':method'] = req.method ?? '';
  if (h[':path'] === undefined && req.url !== undefined) h[':path'] = req.url;
  s.requestHeaders = h;
  s.info.requestHeaders = h;
  s.remoteComplete = !hasBody(h);
  s.info.setFlag(RF.DownstreamProtocolError);
  s.sawConnectionClose = true;
  s.sendLocalReply(code, statusText(code), { details });
}

function onReqData(this: Req, chunk: Buffer): void {
  const s = this[kStream];
  if (s !== undefined) s.decodeData(chunk, false);
}

function onReqEnd(this: Req): void {
  const s = this[kStream];
  if (s === undefined || s.destroyed) return;
  const rt = this.rawTrailers;
  if (rt.length > 0 && s.cfg.h1.enableTrailers) s.decodeTrailers({ ...this.trailers } as Headers);
  else s.decodeData(EMPTY, true);
}

function onResDrain(this: Res): void {
  const s = this[kStream];
  if (s !== undefined && !s.destroyed) s.onBelowWriteBufferLowWatermark();
}

function noop(): void { /* errors are handled through 'close' */ }

/** node's 'upgrade' and 'connect' events: the socket is ours now. */
function onUpgrade(this: http.Server, req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
  const sock = socket as Sock;
  sock.on('error', noop);
  const hc = sock[kHcmConn];
  if (hc === undefined || hc.closed) { sock.destroy(); return; }
  hc.h1Detached = true;
  if (hc.activeStreams > 0) {
    // An upgrade pipelined behind a request still in flight: the socket cannot be shared safely.
    hc.cfg.stats.downstream_cx_protocol_error.value++;
    sock.destroy();
    return;
  }
  sock.pause();
  const enc = new RawH1Encoder(hc, sock, req.method === 'HEAD');
  const s = new ActiveStream(hc, enc, true, req.httpVersionMinor === 0 ? 'HTTP/1.0' : 'HTTP/1.1');
  enc.s = s;
  hc.addStream(s);
  const h = buildHeaders(hc, req);
  if (h instanceof ProtoError) { sendProtocolError(hc, s, h.code, h.details, req); return; }
  const headers = h;
  if (req.method !== 'CONNECT' && isH2cUpgrade(headers)) {
    // HTTP/1.1 -> h2c upgrades are never honoured: strip them and serve the request (Envoy).
    delete headers['upgrade'];
    delete headers['connection'];
    delete headers['http2-settings'];
    if (hasBody(headers)) { sendProtocolError(hc, s, 400, 'http1.invalid_upgrade', req); return; }
    s.decodeHeaders(headers, true);
    return;
  }
  s.upgradeHead = head;
  s.decodeHeaders(headers, false);
}

const HPE_DETAILS: Record<string, string> = {
  HPE_HEADER_OVERFLOW: 'http1.headers_too_large',
  HPE_INVALID_HEADER_TOKEN: 'http1.invalid_characters',
  HPE_UNEXPECTED_CONTENT_LENGTH: 'http1.content_length_and_chunked_not_allowed',
  HPE_INVALID_TRANSFER_ENCODING: 'http1.invalid_transfer_encoding',
  HPE_INVALID_CONTENT_LENGTH: 'http1.content_length_not_allowed',
  HPE_INVALID_METHOD: 'http1.invalid_method',
  HPE_INVALID_URL: 'http1.invalid_url',
};

/** node's 'clientError': a parse error, the headers timeout, or a socket error. */
function onClientError(this: http.Server, err: Error & { code?: string }, socket: Duplex): void {
  const sock = socket as Sock;
  const hc = sock[kHcmConn];
  const code = err.code ?? '';
  // The peer closed mid-request (node reports the truncated message as a parse error): a disconnect.
  const isParse = code.startsWith('HPE_') && code !== 'HPE_INVALID_EOF_STATE';
  const isTimeout = code === 'ERR_HTTP_REQUEST_TIMEOUT';
  if (hc === undefined || hc.closed || (!isParse && !isTimeout)) { sock.destroy(); return; }
  const st = hc.cfg.stats;
  let status: number;
  let details: string;
  let body: string | undefined;
  if (isTimeout) {
    st.downstream_rq_header_timeout.value++;
    status = 408;
    details = 'request_header_timeout';
    body = 'request header timeout';
  } else {
    st.downstream_cx_protocol_error.value++;
    status = code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    details = HPE_DETAILS[code] ?? 'http1.codec_error';
  }
  hc.h1Detached = true;
  const inFlight = sock._httpMessage;
  // The stream whose request was being parsed when the error hit, if any.
  let target: ActiveStream | null = null;
  for (let s = hc.streamsHead; s !== null; s = s.next) if (!s.remoteComplete && !s.destroyed) target = s;
  if (target !== null) {
    const enc = target.encoder;
    const owns = enc instanceof H1Encoder && inFlight === enc.res;
    if (owns && inFlight !== null && inFlight !== undefined && !inFlight.headersSent && sock.writable) {
      const raw = new RawH1Encoder(hc, sock, false);
      raw.s = target;
      target.onCodecProtocolError(status, details, raw);
    } else {
      target.onCodecProtocolError(status, details, null);
      sock.destroy();
    }
    return;
  }
  if (!sock.writable || (inFlight !== null && inFlight !== undefined)) { sock.destroy(); return; }
  const raw = new RawH1Encoder(hc, sock, false);
  const s = new ActiveStream(hc, raw, true, 'HTTP/1.1');
  raw.s = s;
  hc.addStream(s);
  s.remoteComplete = true;
  if (!isTimeout) s.info.setFlag(RF.DownstreamProtocolError);
  s.sendLocalReply(status, body ?? statusText(status), { details });
}

// ---------------------------------------------------------------------------------------------
// Encoders

const kEnc = Symbol('remora.hcm.h1enc');

/** Writes the response through node's ServerResponse (keep-alive, chunking, pipelining order). */
export class H1Encoder implements ResponseEncoder {
  s!: ActiveStream;
  private detached = false;
  constructor(readonly hc: HcmConnection, readonly req: Req, readonly res: Res) {}

  encodeHeaders(headers: Headers, endStream: boolean): void {
    if (this.detached) return;
    const res = this.res;
    const status = parseStatus(headers[':status']) || 500;
    const proper = this.hc.cfg.h1.properCaseHeaders;
    const flat: string[] = [];
    let hasLen = false;
    for (const k in headers) {
      if (k.charCodeAt(0) === 58 /* : */) continue;
      const v = headers[k];
      if (v === undefined) continue;
      if (k === 'content-length') hasLen = true;
      const name = proper ? properCase(k) : k;
      if (typeof v === 'string') flat.push(name, v);
      else for (let i = 0; i < v.length; i++) flat.push(name, v[i]);
    }
    if (endStream && !hasLen && !statusHasNoBody(status) && this.req.method !== 'HEAD') flat.push(proper ? 'Content-Length' : 'content-length', '0');
    res.sendDate = false;
    try {
      res.writeHead(status, flat);
    } catch (e) {
      log.debug(`invalid response headers: ${(e as Error).message}`);
      this.s.onEncoderError('invalid_response_headers');
      return;
    }
    if (endStream) res.end();
  }

  encodeData(data: Buffer, endStream: boolean): void {
    if (this.detached) return;
    const res = this.res;
    if (endStream) { res.end(data); return; }
    if (!res.write(data)) {
      this.s.onAboveWriteBufferHighWatermark();
      res.once('drain', onResDrain);
    }
  }

  encodeTrailers(trailers: Headers): void {
    if (this.detached) return;
    const res = this.res;
    if (this.hc.cfg.h1.enableTrailers) {
      const t: Record<string, string | string[]> = {};
      let any = false;
      for (const k in trailers) {
        const v = trailers[k];
        if (v === undefined || k.charCodeAt(0) === 58) continue;
        t[k] = v;
        any = true;
      }
      if (any) {
        try { res.addTrailers(t); } catch (e) { log.debug(`invalid response trailers: ${(e as Error).message}`); }
      }
    }
    res.end();
  }

  resetStream(): void {
    this.detached = true;
    const sock = this.req.socket;
    if (sock && !sock.destroyed) sock.destroy();
  }

  /** The response carries `connection: close`; node closes the socket once it is written. */
  endAfterResponse(): void { /* nothing to do */ }

  readDisable(disable: boolean): void {
    if (disable) this.req.pause(); else this.req.resume();
  }
}

/** Writes a response on a raw socket (upgrade / CONNECT requests, parse errors). Closes after it unless 101. */
export class RawH1Encoder implements ResponseEncoder {
  s!: ActiveStream;
  private chunked = false;
  private upgraded = false;
  private done = false;
  constructor(readonly hc: HcmConnection, readonly sock: Sock, private readonly isHead: boolean) {
    (sock as Sock & { [kEnc]?: RawH1Encoder })[kEnc] = this;
  }

  encodeHeaders(headers: Headers, endStream: boolean): void {
    const sock = this.sock;
    if (sock.destroyed) return;
    const status = parseStatus(headers[':status']) || 500;
    const proper = this.hc.cfg.h1.properCaseHeaders;
    let out = `HTTP/1.1 ${status} ${statusText(status)}\r\n`;
    let hasLen = false;
    for (const k in headers) {
      if (k.charCodeAt(0) === 58) continue;
      const v = headers[k];
      if (v === undefined) continue;
      if (k === 'content-length') hasLen = true;
      if (status !== 101 && (k === 'connection' || k === 'transfer-encoding')) continue;
      const name = proper ? properCase(k) : k;
      const vals = typeof v === 'string' ? [v] : v;
      for (const x of vals) {
        if (/[\r\n\0]/.test(x)) continue;
        out += `${name}: ${x}\r\n`;
      }
    }
    if (status === 101) {
      this.upgraded = true;
    } else {
      if (endStream) {
        if (!hasLen && !statusHasNoBody(status) && !this.isHead) out += 'content-length: 0\r\n';
      } else if (!hasLen && !statusHasNoBody(status) && !this.isHead) {
        out += 'transfer-encoding: chunked\r\n';
        this.chunked = true;
      }
      out += 'connection: close\r\n';
    }
    out += '\r\n';
    this.write(Buffer.from(out, 'latin1'));
    if (endStream) this.finish();
  }

  encodeData(data: Buffer, endStream: boolean): void {
    if (this.sock.destroyed || this.isHead) { if (endStream) this.finish(); return; }
    if (this.chunked) {
      if (data.length > 0) this.write(Buffer.concat([Buffer.from(data.length.toString(16) + '\r\n', 'latin1'), data, CRLF]));
      if (endStream) this.write(LAST_CHUNK);
    } else if (data.length > 0) {
      this.write(data);
    }
    if (endStream) this.finish();
  }

  encodeTrailers(trailers: Headers): void {
    if (this.chunked && !this.sock.destroyed) {
      let t = '0\r\n';
      if (this.hc.cfg.h1.enableTrailers) {
        for (const k in trailers) {
          const v = trailers[k];
          if (v === undefined || k.charCodeAt(0) === 58) continue;
          for (const x of typeof v === 'string' ? [v] : v) if (!/[\r\n\0]/.test(x)) t += `${k}: ${x}\r\n`;
        }
      }
      this.write(Buffer.from(t + '\r\n', 'latin1'));
    }
    this.finish();
  }

  private write(b: Buffer): void {
    if (!this.sock.write(b) && this.s !== undefined && !this.s.destroyed && !this.upgraded) {
      this.s.onAboveWriteBufferHighWatermark();
      this.sock.once('drain', onRawDrain);
    }
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    if (!this.upgraded && !this.sock.destroyed) this.sock.end();
  }

  resetStream(): void {
    if (this.upgraded) return;
    if (this.done) return; // response complete: the socket is already ending
    this.done = true;
    if (!this.sock.destroyed) this.sock.destroy();
  }

  endAfterResponse(): void { this.finish(); }

  readDisable(disable: boolean): void {
    if (this.upgraded) return;
    if (disable) this.sock.pause();
  }

  takeSocket(): Duplex | undefined {
    if (!this.upgraded || this.sock.destroyed) return undefined;
    return this.sock;
  }
}

const CRLF = Buffer.from('\r\n', 'latin1');
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');

function onRawDrain(this: Sock & { [kEnc]?: RawH1Encoder }): void {
  const e = this[kEnc];
  if (e !== undefined && e.s !== undefined && !e.s.destroyed) e.s.onBelowWriteBufferLowWatermark();
}
