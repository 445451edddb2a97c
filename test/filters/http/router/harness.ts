// A tiny stand-in for the HCM that drives the real router filter through
// StreamDecoderFilterCallbacks from real node:http / node:http2 servers on
// 127.0.0.1, plus helpers for upstream test servers and the real cluster manager.
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { parse } from '../../../../src/config/json';
import type { Plain } from '../../../../src/config/plain';
import { Store } from '../../../../src/stats/stats';
import { StreamInfo, type ConnectionInfo } from '../../../../src/common/stream_info';
import { ClusterManagerImpl } from '../../../../src/cluster/cluster_manager';
import { seededRandom } from '../../../../src/lb/random_source';
import type { Logger } from '../../../../src/server/context';
import { compileRouteConfig, type CompiledRouteConfig, type RouteMatchResult } from '../../../../src/router';
import { lookup } from '../../../../src/common/registry';
import type {
  DownstreamWatermarkCallbacks, HttpFilterFactory, LocalReplyOptions, StreamDecoderFilter, StreamDecoderFilterCallbacks,
} from '../../../../src/http/filter';
import type { Headers } from '../../../../src/http/headers';
import '../../../../src/filters/http/router/config';
import { closeAllPools } from '../../../../src/filters/http/router/upstream/pools';

export const quietLog: Logger = {
  trace: () => {}, debug: () => {}, info: () => {}, warn: () => {}, error: () => {}, critical: () => {},
};

export function clusterManager(store: Store): ClusterManagerImpl {
  return new ClusterManagerImpl({ stats: store, log: quietLog, random: seededRandom(7) });
}

export function staticCluster(name: string, ports: number[], extra?: object): Plain {
  return parse('envoy.config.cluster.v3.Cluster', {
    name, type: 'STATIC', connect_timeout: '1s',
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: ports.map((p) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: p } } } })) }],
    },
    ...extra,
  });
}

export const H2_OPTIONS = {
  typed_extension_protocol_options: {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
      '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
      explicit_http_config: { http2_protocol_options: {} },
    },
  },
};

export function routeConfig(json: object): CompiledRouteConfig {
  return compileRouteConfig(parse('envoy.config.route.v3.RouteConfiguration', json));
}

/** A single virtual host '*' with the given routes. */
export function routes(list: object[], vhostExtra?: object): CompiledRouteConfig {
  return routeConfig({ name: 'rc', virtual_hosts: [{ name: 'vh', domains: ['*'], routes: list, ...vhostExtra }] });
}

export interface LocalReplyRecord { status: number; body: string; opts?: LocalReplyOptions }

export interface StreamRecord {
  streamInfo: StreamInfo;
  localReply?: LocalReplyRecord;
  requestHeaders: Headers;
}

export interface Proxy {
  port: number;
  store: Store;
  streams: StreamRecord[];
  close(): Promise<void>;
  /** Set to make the next streams report a smaller decoder buffer limit. */
  bufferLimit: number;
}

export interface ProxyOptions {
  rc: CompiledRouteConfig;
  cm: ClusterManagerImpl;
  store: Store;
  router?: object;
  h2?: boolean;
  statPrefix?: string;
}

let connIds = 0;
function connInfo(sock: net.Socket): ConnectionInfo {
  return {
    id: ++connIds, remoteAddress: sock.remoteAddress ?? '', remotePort: sock.remotePort ?? 0,
    directRemoteAddress: sock.remoteAddress ?? '', directRemotePort: sock.remotePort ?? 0,
    localAddress: sock.localAddress ?? '', localPort: sock.localPort ?? 0, sni: '', alpn: [],
    transportProtocol: 'raw_buffer', tls: false, listenerName: 'test', filterChainName: '',
  };
}

function grpcStatusFor(code: number): number {
  switch (code) {
    case 400: return 13; case 401: return 16; case 403: return 7; case 404: return 12;
    case 429: case 502: case 503: case 504: return 14; default: return 2;
  }
}

function isGrpc(h: Headers): boolean {
  const ct = h['content-type'];
  return typeof ct === 'string' && ct.startsWith('application/grpc');
}

/** Common per-stream callbacks; subclasses write to the downstream. */
abstract class BaseCallbacks implements StreamDecoderFilterCallbacks {
  readonly streamId = 1;
  upgradeType = '';
  private cached: RouteMatchResult | null | undefined;
  watermarks: DownstreamWatermarkCallbacks[] = [];
  above = false;
  ended = false;
  filter!: StreamDecoderFilter;
  destroyed = false;

  constructor(readonly streamInfo: StreamInfo, readonly proxy: ProxyImpl, readonly headers: Headers, readonly rec: StreamRecord) {}

  route(): RouteMatchResult | null {
    if (this.cached === undefined) {
      const h = this.headers;
      this.cached = this.proxy.opts.rc.route({
        method: String(h[':method']), authority: String(h[':authority'] ?? ''), path: String(h[':path'] ?? ''), headers: h,
      });
      if (this.cached) this.streamInfo.routeName = this.cached.route.name;
    }
    return this.cached;
  }
  clearRouteCache(): void { this.cached = undefined; }
  perFilterConfig(): unknown { return undefined; }
  continueDecoding(): void { /* terminal filter only */ }
  decoderBufferLimit(): number { return this.proxy.bufferLimit; }
  decodingBuffer(): Buffer | undefined { return undefined; }
  addDownstreamWatermarkCallbacks(cb: DownstreamWatermarkCallbacks): void {
    this.watermarks.push(cb);
    if (this.above) cb.onAboveWriteBufferHighWatermark();
  }
  removeDownstreamWatermarkCallbacks(cb: DownstreamWatermarkCallbacks): void {
    this.watermarks = this.watermarks.filter((x) => x !== cb);
  }
  protected setAbove(v: boolean): void {
    if (v === this.above) return;
    this.above = v;
    for (const w of this.watermarks.slice()) {
      if (v) w.onAboveWriteBufferHighWatermark(); else w.onBelowWriteBufferLowWatermark();
    }
  }
  sendLocalReply(status: number, body: string, opts?: LocalReplyOptions): void {
    this.rec.localReply = { status, body, opts };
    if (opts?.flags) this.streamInfo.setFlag(opts.flags);
    if (opts?.details) this.streamInfo.responseCodeDetails = opts.details;
    this.streamInfo.responseCode = status;
    const h: Headers = { ...(opts?.headers ?? {}) };
    if (isGrpc(this.headers)) {
      h[':status'] = '200';
      h['content-type'] = 'application/grpc';
      h['grpc-status'] = String(opts?.grpcStatus ?? grpcStatusFor(status));
      if (body) h['grpc-message'] = encodeURIComponent(body);
      this.writeHeaders(h, true);
    } else {
      h[':status'] = String(status);
      if (body) { h['content-type'] = 'text/plain'; h['content-length'] = String(Buffer.byteLength(body)); }
      else h['content-length'] = '0';
      this.writeHeaders(h, body === '');
      if (body) this.writeData(Buffer.from(body), true);
    }
    this.finish();
  }
  encodeHeaders(h: Headers, end: boolean): void {
    this.streamInfo.responseCode = Number(h[':status']);
    this.writeHeaders(h, end);
    if (end) this.finish();
  }
  encodeData(d: Buffer, end: boolean): void {
    this.writeData(d, end);
    if (end) this.finish();
  }
  encodeTrailers(t: Headers): void {
    this.writeTrailers(t);
    this.finish();
  }
  onDecoderFilterAboveWriteBufferHighWatermark(): void { this.pauseRequest(true); }
  onDecoderFilterBelowWriteBufferLowWatermark(): void { this.pauseRequest(false); }
  finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.destroy();
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.streamInfo.markEnd();
    this.filter.onDestroy?.();
  }
  abstract writeHeaders(h: Headers, end: boolean): void;
  abstract writeData(d: Buffer, end: boolean): void;
  abstract writeTrailers(t: Headers): void;
  abstract pauseRequest(pause: boolean): void;
  abstract resetStream(): void;
}

function responseHeaderObject(h: Headers): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const k in h) {
    const v = h[k];
    if (v === undefined || k.startsWith(':')) continue;
    out[k] = v;
  }
  return out;
}

class H1Callbacks extends BaseCallbacks {
  pauses = 0;
  constructor(si: StreamInfo, proxy: ProxyImpl, headers: Headers, rec: StreamRecord,
    readonly req: http.IncomingMessage, readonly res: http.ServerResponse) {
    super(si, proxy, headers, rec);
    res.on('drain', () => this.setAbove(false));
  }
  writeHeaders(h: Headers, end: boolean): void {
    const status = Number(h[':status']);
    const hs = responseHeaderObject(h);
    delete hs['connection'];
    delete hs['transfer-encoding'];
    this.res.writeHead(status, hs);
    if (end) this.res.end();
  }
  writeData(d: Buffer, end: boolean): void {
    if (d.length > 0 && !this.res.write(d)) this.setAbove(true);
    if (end) this.res.end();
  }
  writeTrailers(t: Headers): void {
    this.res.addTrailers(responseHeaderObject(t) as http.OutgoingHttpHeaders);
    this.res.end();
  }
  pauseRequest(pause: boolean): void {
    if (pause) { if (this.pauses++ === 0) this.req.pause(); } else if (this.pauses > 0 && --this.pauses === 0) this.req.resume();
  }
  resetStream(): void { this.res.destroy(); this.destroy(); }
}

class UpgradeCallbacks extends BaseCallbacks {
  constructor(si: StreamInfo, proxy: ProxyImpl, headers: Headers, rec: StreamRecord, readonly socket: Duplex, readonly head: Buffer) {
    super(si, proxy, headers, rec);
    this.upgradeType = 'websocket';
    socket.on('close', () => this.destroy());
  }
  writeHeaders(h: Headers, end: boolean): void {
    const status = Number(h[':status']);
    let s = `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\n`;
    for (const [k, v] of Object.entries(responseHeaderObject(h))) {
      for (const x of Array.isArray(v) ? v : [v]) s += `${k}: ${x}\r\n`;
    }
    if (status !== 101 && h['content-length'] === undefined && !end) s += 'transfer-encoding: chunked\r\n';
    this.socket.write(s + '\r\n');
    this.chunked = status !== 101 && h['content-length'] === undefined && !end;
    if (end) this.socket.end();
  }
  private chunked = false;
  writeData(d: Buffer, end: boolean): void {
    if (this.chunked) {
      if (d.length > 0) this.socket.write(d.length.toString(16) + '\r\n' + d.toString('latin1') + '\r\n', 'latin1');
      if (end) this.socket.end('0\r\n\r\n');
    } else {
      if (d.length > 0) this.socket.write(d);
      if (end) this.socket.end();
    }
  }
  writeTrailers(): void { this.socket.end(this.chunked ? '0\r\n\r\n' : undefined); }
  pauseRequest(): void { /* no body */ }
  resetStream(): void { this.socket.destroy(); this.destroy(); }
  upgradeTunnel(up: Duplex, head: Buffer): void {
    this.ended = true;
    if (head.length) this.socket.write(head);
    if (this.head.length) up.write(this.head);
    up.pipe(this.socket);
    this.socket.pipe(up);
    up.on('error', () => this.socket.destroy());
    this.socket.on('error', () => up.destroy());
    up.on('close', () => this.socket.destroy());
    this.socket.on('close', () => up.destroy());
  }
}

class H2Callbacks extends BaseCallbacks {
  private trailers: Headers | undefined;
  constructor(si: StreamInfo, proxy: ProxyImpl, headers: Headers, rec: StreamRecord, readonly stream: http2.ServerHttp2Stream) {
    super(si, proxy, headers, rec);
    stream.on('drain', () => this.setAbove(false));
    stream.on('wantTrailers', () => {
      try { stream.sendTrailers((this.trailers ?? {}) as http2.OutgoingHttpHeaders); } catch { /* closed */ }
    });
  }
  writeHeaders(h: Headers, end: boolean): void {
    if (this.stream.destroyed) return;
    const out = responseHeaderObject(h);
    delete out['connection'];
    delete out['keep-alive'];
    delete out['transfer-encoding'];
    this.stream.respond({ ':status': Number(h[':status']), ...out }, { endStream: end, waitForTrailers: !end });
  }
  writeData(d: Buffer, end: boolean): void {
    if (this.stream.destroyed) return;
    if (end) this.stream.end(d.length ? d : undefined);
    else if (d.length > 0 && !this.stream.write(d)) this.setAbove(true);
  }
  writeTrailers(t: Headers): void {
    if (this.stream.destroyed) return;
    this.trailers = t;
    this.stream.end();
  }
  pauseRequest(pause: boolean): void { if (pause) this.stream.pause(); else this.stream.resume(); }
  resetStream(): void { this.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR); this.destroy(); }
}

class ProxyImpl implements Proxy {
  port = 0;
  streams: StreamRecord[] = [];
  bufferLimit = 1024 * 1024;
  store: Store;
  factory: HttpFilterFactory;
  server!: http.Server | http2.Http2Server;
  sockets = new Set<net.Socket | Duplex>();
  sessions = new Set<http2.ServerHttp2Session>();

  constructor(readonly opts: ProxyOptions) {
    this.store = opts.store;
    const f = lookup<HttpFilterFactory>('http_filter', 'envoy.filters.http.router')!;
    this.factory = f.create(
      { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router', ...parse('envoy.extensions.filters.http.router.v3.Router', opts.router ?? {}) },
      { path: 'router', clusterManager: opts.cm, stats: opts.store, statPrefix: opts.statPrefix ?? 'test' },
    );
  }

  newStream(sock: net.Socket, headers: Headers, protocol: string): { si: StreamInfo; rec: StreamRecord } {
    const si = new StreamInfo(connInfo(sock));
    si.protocol = protocol;
    si.requestHeaders = headers;
    const rec: StreamRecord = { streamInfo: si, requestHeaders: headers };
    this.streams.push(rec);
    return { si, rec };
  }

  async start(): Promise<void> {
    if (this.opts.h2) {
      const s = http2.createServer({ settings: { enableConnectProtocol: false } });
      s.on('stream', (stream, h, flags) => this.onH2Stream(stream, h, flags));
      s.on('session', (sess) => {
        this.sessions.add(sess);
        sess.on('close', () => this.sessions.delete(sess));
        sess.on('error', () => {});
      });
      this.server = s;
    } else {
      const s = http.createServer({ keepAliveTimeout: 5000 });
      s.on('request', (req, res) => this.onH1Request(req, res));
      s.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
      this.server = s;
    }
    this.server.on('connection', (sock: net.Socket) => { this.sockets.add(sock); sock.on('close', () => this.sockets.delete(sock)); });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
  }

  private h1Headers(req: http.IncomingMessage): Headers {
    const h: Headers = { ':method': req.method ?? 'GET', ':path': req.url ?? '/', ':scheme': 'http', ':authority': req.headers.host ?? '' };
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const k = req.rawHeaders[i].toLowerCase();
      if (k === 'host') continue;
      const v = req.rawHeaders[i + 1];
      const p = h[k];
      if (p === undefined) h[k] = v; else if (typeof p === 'string') h[k] = [p, v]; else p.push(v);
    }
    return h;
  }

  private onH1Request(req: http.IncomingMessage, res: http.ServerResponse): void {
    const headers = this.h1Headers(req);
    const { si, rec } = this.newStream(req.socket, headers, req.httpVersion === '1.0' ? 'HTTP/1.0' : 'HTTP/1.1');
    const cb = new H1Callbacks(si, this, headers, rec, req, res);
    const filter = this.factory.createFilter() as StreamDecoderFilter;
    cb.filter = filter;
    filter.setDecoderFilterCallbacks(cb);
    const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
    res.on('close', () => { if (!cb.ended) cb.destroy(); });
    filter.decodeHeaders(headers, !hasBody);
    if (hasBody) {
      req.on('data', (d: Buffer) => { if (!cb.destroyed) filter.decodeData!(d, false); });
      req.on('end', () => {
        if (cb.destroyed) return;
        const t = req.rawTrailers.length > 0 ? Object.fromEntries(Object.entries(req.trailers)) as Headers : undefined;
        if (t) filter.decodeTrailers!(t); else filter.decodeData!(Buffer.alloc(0), true);
      });
    } else {
      req.resume();
    }
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    this.sockets.add(socket);
    const headers = this.h1Headers(req);
    const { si, rec } = this.newStream(req.socket, headers, 'HTTP/1.1');
    const cb = new UpgradeCallbacks(si, this, headers, rec, socket, head);
    const filter = this.factory.createFilter() as StreamDecoderFilter;
    cb.filter = filter;
    filter.setDecoderFilterCallbacks(cb);
    socket.on('error', () => {});
    filter.decodeHeaders(headers, false);
  }

  private onH2Stream(stream: http2.ServerHttp2Stream, h: http2.IncomingHttpHeaders, flags: number): void {
    const headers: Headers = {};
    for (const k of Object.keys(h)) headers[k] = h[k] as string | string[];
    const sock = stream.session!.socket as unknown as net.Socket;
    const { si, rec } = this.newStream(sock, headers, 'HTTP/2');
    const cb = new H2Callbacks(si, this, headers, rec, stream);
    const filter = this.factory.createFilter() as StreamDecoderFilter;
    cb.filter = filter;
    filter.setDecoderFilterCallbacks(cb);
    stream.on('error', () => {});
    stream.on('close', () => { if (!cb.ended) cb.destroy(); });
    const end = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0 || stream.readableEnded;
    filter.decodeHeaders(headers, end);
    if (!end) {
      let trailers: Headers | undefined;
      stream.on('trailers', (t) => { trailers = t as Headers; });
      stream.on('data', (d: Buffer) => { if (!cb.destroyed) filter.decodeData!(d, false); });
      stream.on('end', () => {
        if (cb.destroyed) return;
        if (trailers) filter.decodeTrailers!(trailers); else filter.decodeData!(Buffer.alloc(0), true);
      });
    }
  }

  async close(): Promise<void> {
    for (const s of this.sessions) s.destroy();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

export async function startProxy(opts: ProxyOptions): Promise<Proxy> {
  const p = new ProxyImpl(opts);
  await p.start();
  return p;
}

// ---------------------------------------------------------------------------------------------
// Upstream test servers

export interface Upstream {
  port: number;
  requests: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }>;
  close(): Promise<void>;
}

export type H1Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string, n: number) => void;

/** An HTTP/1.1 upstream that records requests (with bodies) and answers via `handler`. */
export async function h1Upstream(handler: H1Handler, opts?: http.ServerOptions): Promise<Upstream & { server: http.Server }> {
  const requests: Upstream['requests'] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer(opts ?? {}, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body, requests.length);
    });
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    requests,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A port with nothing listening (connection refused). */
export async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

// ---------------------------------------------------------------------------------------------
// Clients

export interface Resp { status: number; headers: http.IncomingHttpHeaders; body: string; trailers: NodeJS.Dict<string> }

/** One HTTP/1.1 request through the proxy on a fresh connection. */
export function request(port: number, opts: { method?: string; path?: string; headers?: http.OutgoingHttpHeaders; body?: string | Buffer; host?: string },
  timeoutMs = 10000): Promise<Resp> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path ?? '/', agent: false,
      headers: { host: opts.host ?? 'example.com', ...(opts.headers ?? {}) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), trailers: res.trailers }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    if (opts.body !== undefined) req.end(opts.body); else req.end();
  });
}

export function counter(store: Store, name: string): number {
  return store.counters.get(name)?.value ?? 0;
}

export function gauge(store: Store, name: string): number {
  return store.gauges.get(name)?.value ?? 0;
}

export function teardownPools(): void { closeAllPools(false); }

/** Wait until `fn` is true (bounded). */
export async function until(fn: () => boolean, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
