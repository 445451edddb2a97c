// Test harness: a real net.Server on 127.0.0.1 whose accepted sockets run through the
// listener's ActiveConnection (src/listener/connection.ts) with the HCM as terminal filter.
import * as net from 'node:net';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as tls from 'node:tls';
import { ActiveConnection } from '../../../../src/listener/connection';
import { StreamInfo, type ConnectionInfo } from '../../../../src/common/stream_info';
import { createLogger } from '../../../../src/common/log';
import { Store } from '../../../../src/stats/stats';
import type { Plain } from '../../../../src/config/plain';
import { compileHcmConfig, HcmFilterFactory } from '../../../../src/filters/network/http_connection_manager/config';
import './test_filters';

const log = createLogger('test');
let connIds = 1;

export interface HarnessOptions {
  bufferLimit?: number;
  /** Read this many bytes before handing the socket over (replayed as initialData). */
  peekBytes?: number;
  runtime?: Record<string, number>;
  ctx?: Record<string, unknown>;
  pauseOnConnect?: boolean;
  /** Terminate TLS before the HCM (as the listener's transport socket would). */
  tls?: tls.TlsOptions;
}

export class Harness {
  readonly store = new Store();
  readonly conns = new Set<ActiveConnection>();
  readonly sockets = new Set<net.Socket>();
  server!: net.Server;
  port = 0;
  factory!: HcmFilterFactory;

  static async start(hcm: Plain, opts: HarnessOptions = {}): Promise<Harness> {
    const h = new Harness();
    const rt = opts.runtime ?? {};
    const cfg = compileHcmConfig(hcm, {
      path: 'hcm',
      stats: h.store,
      runtime: { getNumber: (k: string, d: number) => (k in rt ? rt[k] : d), getBool: (_k: string, d: boolean) => d },
      localInfo: { nodeId: 'node-1', clusterName: 'cluster-1', zone: '', node: {} },
      ...(opts.ctx ?? {}),
    });
    h.factory = new HcmFilterFactory(cfg);
    h.server = net.createServer({ pauseOnConnect: opts.tls ? false : (opts.pauseOnConnect ?? true) }, (sock) => h.accept(sock, opts));
    await new Promise<void>((r) => h.server.listen(0, '127.0.0.1', r));
    h.port = (h.server.address() as net.AddressInfo).port;
    return h;
  }

  private accept(sock: net.Socket, opts: HarnessOptions): void {
    this.sockets.add(sock);
    sock.on('close', () => this.sockets.delete(sock));
    sock.on('error', () => { /* counted by the HCM */ });
    if (opts.tls) {
      const ts = new tls.TLSSocket(sock, { ...opts.tls, isServer: true });
      ts.on('error', () => { /* handshake failures */ });
      ts.once('secure', () => {
        const info: ConnectionInfo = {
          id: connIds++, remoteAddress: sock.remoteAddress ?? '', remotePort: sock.remotePort ?? 0,
          directRemoteAddress: sock.remoteAddress ?? '', directRemotePort: sock.remotePort ?? 0,
          localAddress: sock.localAddress ?? '', localPort: sock.localPort ?? 0,
          sni: (ts as tls.TLSSocket & { servername?: string }).servername || '', alpn: [], transportProtocol: 'tls', tls: true,
          listenerName: 'test', filterChainName: '',
        };
        const conn = new ActiveConnection(ts as unknown as net.Socket, info, new StreamInfo(info), undefined, opts.bufferLimit ?? 1048576, null,
          { onConnectionClosed: (c) => this.conns.delete(c) }, log);
        this.conns.add(conn);
        conn.start([this.factory]);
      });
      return;
    }
    const go = (initial: Buffer | undefined) => {
      const info: ConnectionInfo = {
        id: connIds++, remoteAddress: sock.remoteAddress ?? '', remotePort: sock.remotePort ?? 0,
        directRemoteAddress: sock.remoteAddress ?? '', directRemotePort: sock.remotePort ?? 0,
        localAddress: sock.localAddress ?? '', localPort: sock.localPort ?? 0,
        sni: '', alpn: [], transportProtocol: 'raw_buffer', tls: false, listenerName: 'test', filterChainName: '',
      };
      const conn = new ActiveConnection(sock, info, new StreamInfo(info), initial, opts.bufferLimit ?? 1048576, null,
        { onConnectionClosed: (c) => this.conns.delete(c) }, log);
      this.conns.add(conn);
      conn.start([this.factory]);
    };
    const n = opts.peekBytes ?? 0;
    if (n === 0) { go(undefined); return; }
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < n) return;
      sock.removeListener('data', onData);
      sock.pause();
      go(buf);
    };
    sock.on('data', onData);
    sock.resume();
  }

  get cfg() { return this.factory.config; }

  counter(name: string): number {
    return this.store.counters.get(`http.${this.cfg.statPrefix}.${name}`)?.value ?? 0;
  }

  gauge(name: string): number {
    return this.store.gauges.get(`http.${this.cfg.statPrefix}.${name}`)?.value ?? 0;
  }

  drain(): void { for (const c of this.conns) c.startDrain(); }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
    this.factory.destroy();
  }
}

/** A minimal HCM config: one virtual host '*' with one route, and the given HTTP filters. */
export function hcmConfig(filters: Plain[], extra: Plain = {}, routeExtra: Plain = {}): Plain {
  return {
    stat_prefix: 'test',
    route_config: {
      name: 'rc',
      virtual_hosts: [{
        name: 'vh', domains: ['*'],
        routes: [{ name: 'r0', match: { prefix: '/' }, route: { cluster: 'c', ...routeExtra } }],
      }],
    },
    http_filters: filters,
    ...extra,
  };
}

export function filter(type: string, cfg: Plain = {}, name?: string): Plain {
  return { name: name ?? type, typed_config: { '@type': `type.googleapis.com/${type}`, ...cfg } };
}

export interface SimpleResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  trailers: NodeJS.Dict<string>;
}

/** One HTTP/1.1 request with node's client (a fresh connection unless an agent is given). */
export function request(port: number, opts: http.RequestOptions & { body?: Buffer | string } = {}): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, agent: false, ...opts }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({
        status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks), trailers: res.trailers,
      }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.body !== undefined) req.end(opts.body); else req.end();
  });
}

/** Write raw bytes on a fresh TCP connection; resolve with everything read until the server closes (or timeout). */
export function rawExchange(port: number, data: string | Buffer | Array<string | Buffer>, timeoutMs = 3000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    const timer = setTimeout(() => { sock.destroy(); }, timeoutMs);
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', () => { /* reset by the server */ });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed });
    });
    sock.on('end', () => { closed = true; });
    const parts = Array.isArray(data) ? data : [data];
    for (const p of parts) sock.write(p);
  });
}

/** Parse the first HTTP/1.x response out of raw text. */
export function parseRaw(text: string): { status: number; headers: Record<string, string>; body: string } {
  const end = text.indexOf('\r\n\r\n');
  const head = end >= 0 ? text.slice(0, end) : text;
  const lines = head.split('\r\n');
  const status = Number(lines[0]?.split(' ')[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const c = l.indexOf(':');
    if (c > 0) headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
  }
  return { status, headers, body: end >= 0 ? text.slice(end + 4) : '' };
}

export interface H2Response {
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
  trailers: http2.IncomingHttpHeaders | undefined;
}

export function h2request(client: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer | string): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const req = client.request(headers, { endStream: body === undefined });
    let resHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    req.on('response', (h) => { resHeaders = h; });
    req.on('trailers', (t) => { trailers = t; });
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => resolve({ headers: resHeaders, body: Buffer.concat(chunks), trailers }));
    req.on('error', reject);
    if (body !== undefined) req.end(body);
  });
}

/** Wait until cond() is true (polling), bounded. */
export async function until(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
