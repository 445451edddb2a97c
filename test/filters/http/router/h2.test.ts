import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Store } from '../../../../src/stats/stats';
import { responseFlagsToString } from '../../../../src/common/response_flags';
import {
  clusterManager, counter, gauge, H2_OPTIONS, request, routes, staticCluster, startProxy, teardownPools, until,
} from './harness';

after(() => teardownPools());

type StreamHandler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, body: Buffer, n: number, session: http2.Http2Session) => void;

async function h2Upstream(handler: StreamHandler, settings?: http2.Settings) {
  const server = http2.createServer({ settings });
  const sessions = new Set<http2.ServerHttp2Session>();
  let n = 0;
  let active = 0;
  let maxActivePerSession = 0;
  const perSession = new Map<http2.Http2Session, number>();
  server.on('session', (s) => { sessions.add(s); s.on('close', () => sessions.delete(s)); s.on('error', () => {}); });
  server.on('stream', (stream, headers) => {
    const sess = stream.session!;
    const c = (perSession.get(sess) ?? 0) + 1;
    perSession.set(sess, c);
    maxActivePerSession = Math.max(maxActivePerSession, c);
    active++;
    stream.on('close', () => { active--; perSession.set(sess, (perSession.get(sess) ?? 1) - 1); });
    stream.on('error', () => {});
    const chunks: Buffer[] = [];
    stream.on('data', (d: Buffer) => chunks.push(d));
    stream.on('end', () => handler(stream, headers, Buffer.concat(chunks), ++n, sess));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    get maxActivePerSession() { return maxActivePerSession; },
    get active() { return active; },
    async close() {
      for (const s of sessions) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function setup(handler: StreamHandler, routeExtra: object = {}, opts: { settings?: http2.Settings; h2Downstream?: boolean; cluster?: object } = {}) {
  const up = await h2Upstream(handler, opts.settings);
  const store = new Store();
  const cm = clusterManager(store);
  cm.addOrUpdate(staticCluster('h2', [up.port], { ...H2_OPTIONS, ...(opts.cluster ?? {}) }));
  const proxy = await startProxy({ rc: routes([{ match: { prefix: '/' }, route: { cluster: 'h2', ...routeExtra } }]), cm, store, h2: opts.h2Downstream });
  return { up, store, cm, proxy, async close() { await proxy.close(); await up.close(); } };
}

function h2Request(port: number, headers: http2.OutgoingHttpHeaders, body?: Buffer | string, trailers?: http2.OutgoingHttpHeaders) {
  return new Promise<{ headers: http2.IncomingHttpHeaders; body: string; trailers: http2.IncomingHttpHeaders | undefined }>((resolve, reject) => {
    const c = http2.connect(`http://127.0.0.1:${port}`);
    c.on('error', reject);
    const req = c.request({ ':authority': 'example.com', ...headers }, { endStream: body === undefined && !trailers, waitForTrailers: !!trailers });
    if (trailers) req.on('wantTrailers', () => req.sendTrailers(trailers));
    let rh: http2.IncomingHttpHeaders = {};
    let tr: http2.IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    req.on('response', (h) => { rh = h; });
    req.on('trailers', (t) => { tr = t; });
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => { c.close(); resolve({ headers: rh, body: Buffer.concat(chunks).toString(), trailers: tr }); });
    req.on('error', (e) => { c.destroy(); reject(e); });
    if (body !== undefined) req.end(body); else if (trailers) req.end();
  });
}

test('HTTP/1.1 downstream to an HTTP/2 upstream: headers, body and stats', async () => {
  const t = await setup((stream, h, body) => {
    stream.respond({ ':status': 201, 'x-h2': 'yes', 'x-method': String(h[':method']), 'x-auth': String(h[':authority']) });
    stream.end(`got ${body.length} ${h[':path']}`);
  });
  try {
    const r = await request(t.proxy.port, { method: 'POST', path: '/h2?x', body: 'hello', headers: { 'content-length': '5' } });
    assert.equal(r.status, 201);
    assert.equal(r.body, 'got 5 /h2?x');
    assert.equal(r.headers['x-h2'], 'yes');
    assert.equal(r.headers['x-method'], 'POST');
    assert.equal(r.headers['x-auth'], 'example.com');
    assert.equal(counter(t.store, 'cluster.h2.upstream_cx_http2_total'), 1);
    assert.equal(counter(t.store, 'cluster.h2.upstream_rq_201'), 1);
    assert.match(t.proxy.streams[0].streamInfo.upstreamLocalAddress, /^127\.0\.0\.1:\d+$/);
    // multiplexed: more requests reuse the session
    await Promise.all([1, 2, 3].map(() => request(t.proxy.port, {})));
    assert.equal(counter(t.store, 'cluster.h2.upstream_cx_total'), 1);
    assert.equal(counter(t.store, 'cluster.h2.upstream_rq_total'), 4);
    await until(() => gauge(t.store, 'cluster.h2.upstream_rq_active') === 0);
  } finally { await t.close(); }
});

test('HTTP/2 end to end: request and response trailers pass through', async () => {
  const t = await setup((stream, _h, body) => {
    stream.respond({ ':status': 200 }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'x-resp-trailer': 'rt' }));
    stream.end(`echo:${body.toString()}`);
  }, {}, { h2Downstream: true });
  try {
    const r = await h2Request(t.proxy.port, { ':method': 'POST', ':path': '/t' }, 'abc', { 'x-req-trailer': 'qt' });
    assert.equal(r.headers[':status'], 200);
    assert.equal(r.body, 'echo:abc');
    assert.equal(r.trailers?.['x-resp-trailer'], 'rt');
  } finally { await t.close(); }
});

test('request trailers reach an HTTP/2 upstream', async () => {
  const server = http2.createServer();
  let seen: http2.IncomingHttpHeaders | undefined;
  server.on('stream', (stream) => {
    stream.on('trailers', (tr) => { seen = tr; });
    stream.on('data', () => {});
    stream.on('end', () => { stream.respond({ ':status': 200 }); stream.end(String(seen?.['x-req-trailer'])); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const store = new Store();
  const cm = clusterManager(store);
  cm.addOrUpdate(staticCluster('h2', [port], H2_OPTIONS));
  const proxy = await startProxy({ rc: routes([{ match: { prefix: '/' }, route: { cluster: 'h2' } }]), cm, store, h2: true });
  try {
    const r = await h2Request(proxy.port, { ':method': 'POST', ':path': '/' }, 'body', { 'x-req-trailer': 'qt' });
    assert.equal(r.body, 'qt');
  } finally {
    await proxy.close();
    await new Promise<void>((r) => { server.close(() => r()); teardownPools(); });
  }
});

test('upstream max_concurrent_streams is respected (extra sessions instead of over-subscription)', async () => {
  const t = await setup((stream) => {
    setTimeout(() => { if (!stream.destroyed) { stream.respond({ ':status': 200 }); stream.end('ok'); } }, 50);
  }, {}, { settings: { maxConcurrentStreams: 1 } });
  try {
    // Warm up one session so the peer's SETTINGS are known.
    await request(t.proxy.port, {});
    const rs = await Promise.all([1, 2, 3].map(() => request(t.proxy.port, {})));
    for (const r of rs) assert.equal(r.status, 200);
    assert.equal(t.up.maxActivePerSession, 1);
    assert.ok(counter(t.store, 'cluster.h2.upstream_cx_total') >= 2);
  } finally { await t.close(); }
});

test('GOAWAY: the next request opens a new session', async () => {
  const t = await setup((stream, _h, _b, n, session) => {
    stream.respond({ ':status': 200 });
    stream.end(`n${n}`);
    if (n === 1) setImmediate(() => session.goaway());
  });
  try {
    assert.equal((await request(t.proxy.port, {})).body, 'n1');
    await until(() => counter(t.store, 'cluster.h2.upstream_cx_destroy') === 1);
    assert.equal((await request(t.proxy.port, {})).body, 'n2');
    assert.equal(counter(t.store, 'cluster.h2.upstream_cx_total'), 2);
  } finally { await t.close(); }
});

test('RST_STREAM(REFUSED_STREAM) is retried with refused-stream; other resets give 503 UR', async () => {
  const t = await setup((stream, h, _b, n) => {
    if (h[':path'] === '/refuse' && n === 1) { stream.close(http2.constants.NGHTTP2_REFUSED_STREAM); return; }
    if (h[':path'] === '/rst') { stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR); return; }
    stream.respond({ ':status': 200 });
    stream.end(`n${n}`);
  }, { retry_policy: { retry_on: 'refused-stream', retry_back_off: { base_interval: '0.001s' } } });
  try {
    const r = await request(t.proxy.port, { path: '/refuse' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'n2');
    const r2 = await request(t.proxy.port, { path: '/rst' });
    assert.equal(r2.status, 503);
    assert.equal(r2.body, 'upstream connect error or disconnect/reset before headers. reset reason: remote reset');
    assert.equal(responseFlagsToString(t.proxy.streams[1].streamInfo.responseFlags), 'UR');
    assert.equal(counter(t.store, 'cluster.h2.upstream_rq_rx_reset'), 2);
  } finally { await t.close(); }
});

test('upstream session dying mid-request: 503 UC', async () => {
  const t = await setup((_stream, _h, _b, _n, session) => { session.destroy(); });
  try {
    const r = await request(t.proxy.port, {});
    assert.equal(r.status, 503);
    assert.equal(responseFlagsToString(t.proxy.streams[0].streamInfo.responseFlags), 'UC');
  } finally { await t.close(); }
});

test('use_downstream_protocol_config: HTTP/2 downstream goes out as HTTP/2, HTTP/1.1 as HTTP/1.1', async () => {
  // One port speaking both: a sniffing relay sends h2c prior knowledge (the connection preface)
  // to an HTTP/2 server and anything else to an HTTP/1.1 server.
  const h1 = http.createServer((req, res) => res.end(`h1 ${req.httpVersion}`));
  const h2 = http2.createServer();
  h2.on('stream', (stream) => { stream.respond({ ':status': 200 }); stream.end('h2'); });
  await new Promise<void>((r) => h1.listen(0, '127.0.0.1', () => r()));
  await new Promise<void>((r) => h2.listen(0, '127.0.0.1', () => r()));
  const sockets = new Set<net.Socket>();
  const track = (x: net.Socket) => { sockets.add(x); x.on('close', () => sockets.delete(x)); x.on('error', () => {}); };
  const server = net.createServer((sock) => {
    track(sock);
    sock.once('data', (d: Buffer) => {
      const target = d.subarray(0, 3).toString() === 'PRI' ? h2 : h1;
      const out = net.connect((target.address() as AddressInfo).port, '127.0.0.1');
      track(out);
      out.write(d);
      sock.pipe(out);
      out.pipe(sock);
      out.on('close', () => sock.destroy());
      sock.on('close', () => out.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const store = new Store();
  const cm = clusterManager(store);
  cm.addOrUpdate(staticCluster('auto', [port], {
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        use_downstream_protocol_config: {},
      },
    },
  }));
  const rc = routes([{ match: { prefix: '/' }, route: { cluster: 'auto' } }]);
  const p1 = await startProxy({ rc, cm, store });
  const p2 = await startProxy({ rc, cm, store, h2: true });
  try {
    assert.equal((await request(p1.port, {})).body, 'h1 1.1');
    assert.equal((await h2Request(p2.port, { ':path': '/' })).body, 'h2');
  } finally {
    await p1.close();
    await p2.close();
    teardownPools();
    for (const x of sockets) x.destroy();
    await new Promise<void>((r) => server.close(() => r()));
    h1.closeAllConnections();
    await new Promise<void>((r) => h1.close(() => r()));
    await new Promise<void>((r) => h2.close(() => r()));
  }
});
