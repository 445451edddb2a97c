// Test-only HTTP filters (registered under 'test.remora.*' type names) and a capturing
// access logger. They exercise the HCM's filter API without the real router filter.
import * as http from 'node:http';
import * as net from 'node:net';
import { register, type FactoryContext } from '../../../../src/common/registry';
import {
  FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus,
  type HttpFilterFactory, type StreamDecoderFilter, type StreamDecoderFilterCallbacks, type StreamEncoderFilter,
  type StreamEncoderFilterCallbacks,
} from '../../../../src/http/filter';
import type { Headers } from '../../../../src/http/headers';
import type { StreamInfo } from '../../../../src/common/stream_info';
import type { PlainAny } from '../../../../src/config/plain';

function reg(type: string, terminal: boolean, make: (cfg: PlainAny) => () => object): void {
  register<HttpFilterFactory>('http_filter', {
    typeNames: [type],
    create(cfg: PlainAny, ctx) {
      const mk = make(cfg);
      return { name: String(ctx.filterName ?? type), terminal, createFilter: mk as HttpFilterFactory['createFilter'] };
    },
  });
}

/** Everything the test filters observed, for assertions. */
export const seen = {
  decodeHeaders: 0,
  destroyed: 0,
  lastHeaders: undefined as Headers | undefined,
  lastRoute: '' as string,
  perFilter: undefined as unknown,
  upstreamCalls: 0,
  watermarkAbove: 0,
  watermarkBelow: 0,
  reset(): void {
    this.decodeHeaders = 0; this.destroyed = 0; this.lastHeaders = undefined; this.lastRoute = ''; this.perFilter = undefined;
    this.upstreamCalls = 0; this.watermarkAbove = 0; this.watermarkBelow = 0;
  },
};

// ---- test.remora.LocalReply: answers every request locally.
reg('test.remora.LocalReply', true, (cfg) => () => {
  let cb: StreamDecoderFilterCallbacks;
  return {
    setDecoderFilterCallbacks(c: StreamDecoderFilterCallbacks) { cb = c; },
    decodeHeaders(h: Headers): FilterHeadersStatus {
      seen.decodeHeaders++;
      seen.lastHeaders = h;
      cb.sendLocalReply(Number(cfg.status ?? 200), String(cfg.body ?? ''), {
        details: String(cfg.details ?? 'test_reply'), flags: cfg.flags as number | undefined,
        grpcStatus: cfg.grpc_status as number | undefined,
        headers: cfg.headers as Headers | undefined,
      });
      return FilterHeadersStatus.StopIteration;
    },
    onDestroy() { seen.destroyed++; },
  };
});

// ---- test.remora.Echo: replies 200 with a JSON echo of the request (headers, body, trailers).
reg('test.remora.Echo', true, (cfg) => () => {
  let cb: StreamDecoderFilterCallbacks;
  let headers: Headers;
  const body: Buffer[] = [];
  let done = false;
  const respond = (trailers?: Headers) => {
    if (done) return;
    done = true;
    const payload = Buffer.from(JSON.stringify({
      headers, body: Buffer.concat(body).toString('latin1'), bodyLength: Buffer.concat(body).length, trailers: trailers ?? null,
      route: (cfg.clear_route_cache ? (cb.clearRouteCache(), cb.route()) : cb.route())?.route.name ?? null, upgradeType: cb.upgradeType,
      perFilter: cb.perFilterConfig(String(cfg.per_filter_name ?? 'test.remora.Echo')) ?? null,
    }));
    const rh: Headers = { ':status': String(cfg.status ?? 200), 'content-type': 'application/json' };
    if (cfg.content_length !== false) rh['content-length'] = String(payload.length);
    if (cfg.response_headers) Object.assign(rh, cfg.response_headers);
    if (cfg.trailers) {
      delete rh['content-length'];
      cb.encodeHeaders(rh, false);
      cb.encodeData(payload, false);
      cb.encodeTrailers({ 'x-trailer': 'done', 'grpc-status': '0' });
    } else {
      cb.encodeHeaders(rh, false);
      cb.encodeData(payload, true);
    }
  };
  return {
    setDecoderFilterCallbacks(c: StreamDecoderFilterCallbacks) { cb = c; },
    decodeHeaders(h: Headers, end: boolean): FilterHeadersStatus {
      seen.decodeHeaders++;
      seen.lastHeaders = h;
      seen.lastRoute = cb.route()?.route.name ?? '';
      seen.perFilter = cb.perFilterConfig('test.remora.Echo');
      headers = { ...h };
      if (end) respond();
      return FilterHeadersStatus.StopIteration;
    },
    decodeData(d: Buffer, end: boolean): FilterDataStatus {
      body.push(Buffer.from(d));
      if (end) respond();
      return FilterDataStatus.StopIterationNoBuffer;
    },
    decodeTrailers(t: Headers): FilterTrailersStatus { respond({ ...t }); return FilterTrailersStatus.StopIteration; },
    onDestroy() { seen.destroyed++; },
  };
});

// ---- test.remora.Pause: stops headers, continues after delay_ms (body buffered meanwhile).
reg('test.remora.Pause', false, (cfg) => () => {
  let cb: StreamDecoderFilterCallbacks;
  let timer: NodeJS.Timeout | undefined;
  let paused = false;
  return {
    setDecoderFilterCallbacks(c: StreamDecoderFilterCallbacks) { cb = c; },
    decodeHeaders(): FilterHeadersStatus {
      paused = true;
      timer = setTimeout(() => { paused = false; cb.continueDecoding(); }, Number(cfg.delay_ms ?? 20));
      return cfg.stop_all ? FilterHeadersStatus.StopAllIterationAndBuffer : FilterHeadersStatus.StopIteration;
    },
    decodeData(): FilterDataStatus { return paused ? FilterDataStatus.StopIterationAndBuffer : FilterDataStatus.Continue; },
    onDestroy() { if (timer) clearTimeout(timer); },
  };
});

// ---- test.remora.SyncContinue: calls continueDecoding() from inside decodeHeaders (re-entrancy).
reg('test.remora.SyncContinue', false, () => () => {
  let cb: StreamDecoderFilterCallbacks;
  return {
    setDecoderFilterCallbacks(c: StreamDecoderFilterCallbacks) { cb = c; },
    decodeHeaders(): FilterHeadersStatus { cb.continueDecoding(); return FilterHeadersStatus.StopIteration; },
  };
});

// ---- test.remora.Buffer: buffers the whole request body before passing it on.
reg('test.remora.Buffer', false, () => () => ({
  setDecoderFilterCallbacks() { /* unused */ },
  decodeHeaders(_h: Headers, end: boolean): FilterHeadersStatus { return end ? FilterHeadersStatus.Continue : FilterHeadersStatus.StopIteration; },
  decodeData(_d: Buffer, end: boolean): FilterDataStatus { return end ? FilterDataStatus.Continue : FilterDataStatus.StopIterationAndBuffer; },
}));

// ---- test.remora.Headers: adds a request header and a response header (decoder + encoder).
reg('test.remora.Headers', false, (cfg) => () => {
  const f: StreamDecoderFilter & StreamEncoderFilter = {
    setDecoderFilterCallbacks() { /* unused */ },
    setEncoderFilterCallbacks(_c: StreamEncoderFilterCallbacks) { /* unused */ },
    decodeHeaders(h: Headers): FilterHeadersStatus { h[String(cfg.request ?? 'x-req-filter')] = 'added'; return FilterHeadersStatus.Continue; },
    encodeHeaders(h: Headers): FilterHeadersStatus {
      const prev = h['x-order'];
      h['x-order'] = prev === undefined ? String(cfg.tag ?? 'f') : `${prev},${cfg.tag ?? 'f'}`;
      h[String(cfg.response ?? 'x-resp-filter')] = 'added';
      return FilterHeadersStatus.Continue;
    },
  };
  return f;
});

// ---- test.remora.EncodeBuffer: buffers the whole response body in the encoder.
reg('test.remora.EncodeBuffer', false, () => () => ({
  setEncoderFilterCallbacks() { /* unused */ },
  encodeHeaders(_h: Headers, end: boolean): FilterHeadersStatus { return end ? FilterHeadersStatus.Continue : FilterHeadersStatus.StopIteration; },
  encodeData(_d: Buffer, end: boolean): FilterDataStatus { return end ? FilterDataStatus.Continue : FilterDataStatus.StopIterationAndBuffer; },
}));

// ---- test.remora.Throw: throws from decodeHeaders.
reg('test.remora.Throw', false, () => () => ({
  setDecoderFilterCallbacks() { /* unused */ },
  decodeHeaders(): FilterHeadersStatus { throw new Error('boom'); },
}));

// ---- test.remora.Count: counts requests that reach it (the "upstream"), then replies 200.
reg('test.remora.Count', true, () => () => {
  let cb: StreamDecoderFilterCallbacks;
  return {
    setDecoderFilterCallbacks(c: StreamDecoderFilterCallbacks) { cb = c; },
    decodeHeaders(_h: Headers, end: boolean): FilterHeadersStatus {
      seen.upstreamCalls++;
      if (end) cb.encodeHeaders({ ':status': '200', 'content-length': '2' }, false), cb.encodeData(Buffer.from('ok'), true);
      return FilterHeadersStatus.StopIteration;
    },
    decodeData(_d: Buffer, end: boolean): FilterDataStatus {
      if (end) { cb.encodeHeaders({ ':status': '200', 'content-length': '2' }, false); cb.encodeData(Buffer.from('ok'), true); }
      return FilterDataStatus.StopIterationNoBuffer;
    },
  };
});

// ---- test.remora.Hang: never answers (timeouts).
reg('test.remora.Hang', true, () => () => ({
  setDecoderFilterCallbacks() { /* unused */ },
  decodeHeaders(): FilterHeadersStatus { seen.decodeHeaders++; return FilterHeadersStatus.StopIteration; },
  decodeData(): FilterDataStatus { return FilterDataStatus.StopIterationNoBuffer; },
  onDestroy() { seen.destroyed++; },
}));

// ---- test.remora.Stream: streams `chunks` x `chunk_size` bytes, honouring downstream watermarks.
reg('test.remora.Stream', true, (cfg) => () => {
  let cb: StreamDecoderFilterCallbacks;
  let sent = 0;
  let blocked = false;
  let done = false;
  const total = Number(cfg.chunks ?? 10);
  const size = Number(cfg.chunk_size ?? 1024);
  const pump = () => {
    while (!blocked && !done && sent < total) {
      sent++;
      cb.encodeData(Buffer.alloc(size, 97), sent === total);
    }
  };
  return {
    setDecoderFilterCallbacks(c: StreamDecoderFilterCallbacks) {
      cb = c;
      cb.addDownstreamWatermarkCallbacks({
        onAboveWriteBufferHighWatermark() { seen.watermarkAbove++; blocked = true; },
        onBelowWriteBufferLowWatermark() { seen.watermarkBelow++; blocked = false; setImmediate(pump); },
      });
    },
    decodeHeaders(): FilterHeadersStatus {
      cb.encodeHeaders({ ':status': '200' }, false);
      pump();
      return FilterHeadersStatus.StopIteration;
    },
    onDestroy() { done = true; },
  };
});

// ---- test.remora.Proxy: a tiny router to an HTTP/1.1 upstream on 127.0.0.1:port (body streaming,
// both-way flow control, response trailers, and Upgrade tunnels).
reg('test.remora.Proxy', true, (cfg) => () => {
  let cb: StreamDecoderFilterCallbacks;
  let up: http.ClientRequest | undefined;
  let upRes: http.IncomingMessage | undefined;
  let finished = false;
  return {
    setDecoderFilterCallbacks(c: StreamDecoderFilterCallbacks) {
      cb = c;
      cb.addDownstreamWatermarkCallbacks({
        onAboveWriteBufferHighWatermark() { seen.watermarkAbove++; upRes?.pause(); },
        onBelowWriteBufferLowWatermark() { seen.watermarkBelow++; upRes?.resume(); },
      });
    },
    decodeHeaders(h: Headers, end: boolean): FilterHeadersStatus {
      seen.upstreamCalls++;
      const hdrs: Record<string, string | string[]> = {};
      for (const k in h) if (k[0] !== ':' && h[k] !== undefined) hdrs[k] = h[k] as string | string[];
      hdrs.host = String(h[':authority']);
      const upgrade = cb.upgradeType !== '';
      const agent = new http.Agent({ keepAlive: false });
      up = http.request({ host: '127.0.0.1', port: Number(cfg.port), method: String(h[':method']), path: String(h[':path']), headers: hdrs, agent });
      up.on('error', () => { if (!finished) { finished = true; cb.sendLocalReply(503, 'upstream connect error or disconnect/reset before headers. reset reason: connection failure', { details: 'upstream_reset_before_response_started{connection_failure}' }); } });
      if (upgrade) {
        up.on('upgrade', (res, socket, head) => {
          const rh: Headers = { ':status': String(res.statusCode) };
          for (let i = 0; i < res.rawHeaders.length; i += 2) rh[res.rawHeaders[i].toLowerCase()] = res.rawHeaders[i + 1];
          cb.upgradeTunnel?.(socket, head, rh);
        });
      }
      up.on('drain', () => cb.onDecoderFilterBelowWriteBufferLowWatermark());
      up.on('response', (res) => {
        upRes = res;
        const rh: Headers = { ':status': String(res.statusCode) };
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          const k = res.rawHeaders[i].toLowerCase();
          if (k === 'connection' || k === 'transfer-encoding' || k === 'keep-alive') continue;
          rh[k] = res.rawHeaders[i + 1];
        }
        cb.encodeHeaders(rh, false);
        res.on('data', (d: Buffer) => cb.encodeData(d, false));
        res.on('end', () => {
          finished = true;
          if (res.rawTrailers.length > 0) {
            const t: Headers = {};
            for (let i = 0; i < res.rawTrailers.length; i += 2) t[res.rawTrailers[i].toLowerCase()] = res.rawTrailers[i + 1];
            cb.encodeTrailers(t);
          } else {
            cb.encodeData(Buffer.alloc(0), true);
          }
        });
      });
      if (end && !upgrade) up.end();
      if (upgrade) up.end();
      return FilterHeadersStatus.StopIteration;
    },
    decodeData(d: Buffer, end: boolean): FilterDataStatus {
      if (up === undefined) return FilterDataStatus.StopIterationNoBuffer;
      const ok = d.length > 0 ? up.write(d) : true;
      if (!ok) cb.onDecoderFilterAboveWriteBufferHighWatermark();
      if (end) up.end();
      return FilterDataStatus.StopIterationNoBuffer;
    },
    decodeTrailers(): FilterTrailersStatus { up?.end(); return FilterTrailersStatus.StopIteration; },
    onDestroy() {
      seen.destroyed++;
      if (!finished) { up?.destroy(); }
    },
  };
});

// ---- per-route config compiled through the registry (Envoy's createRouteSpecificFilterConfig)
register<HttpFilterFactory>('http_filter', {
  typeNames: ['test.remora.EchoPerRoute'],
  create(_cfg: PlainAny, ctx: FactoryContext) { return { name: String(ctx.filterName), createFilter: () => ({}) as never }; },
  createRouteSpecificFilterConfig(cfg: PlainAny) { return { compiled: true, value: cfg.value }; },
} as never);

// ---- a capturing access logger
export const logged: Array<{ info: StreamInfo; req?: Headers; resp?: Headers; trailers?: Headers }> = [];
register('access_logger', {
  typeNames: ['test.remora.CaptureLog'],
  create() {
    return { log(info: StreamInfo, req?: Headers, resp?: Headers, trailers?: Headers) { logged.push({ info, req, resp, trailers }); } };
  },
});

/** A plain TCP echo of bytes as an "upgraded" upstream, answering the Upgrade with 101. */
export function startUpgradeUpstream(): Promise<{ server: http.Server; port: number }> {
  return new Promise((resolve) => {
    const server = http.createServer((req, res) => { res.writeHead(426); res.end('upgrade required'); });
    server.on('upgrade', (req, sock: net.Socket, head: Buffer) => {
      if (req.headers['x-reject'] !== undefined) {
        sock.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 6\r\nconnection: close\r\n\r\nno way');
        return;
      }
      sock.write('HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: ' + req.headers.upgrade + '\r\nx-up: yes\r\n\r\n');
      sock.write('hello-from-upstream;');
      if (head.length) sock.write(head);
      sock.on('data', (d) => sock.write(d));
      sock.on('end', () => { sock.end('bye'); });
      sock.on('error', () => { /* ignore */ });
    });
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as net.AddressInfo).port }));
  });
}
