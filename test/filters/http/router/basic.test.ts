import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { Store } from '../../../../src/stats/stats';
import { responseFlagsToString } from '../../../../src/common/response_flags';
import {
  clusterManager, counter, gauge, h1Upstream, request, routes, staticCluster, startProxy, teardownPools,
} from './harness';

after(() => teardownPools());

test('proxies a GET to a static cluster and counts Envoy upstream stats', async () => {
  const up = await h1Upstream((req, res) => {
    res.setHeader('x-up', 'yes');
    res.end(`hello ${req.url}`);
  });
  const store = new Store();
  const cm = clusterManager(store);
  cm.addOrUpdate(staticCluster('backend', [up.port]));
  const proxy = await startProxy({ rc: routes([{ match: { prefix: '/' }, route: { cluster: 'backend' } }]), cm, store });
  try {
    const r = await request(proxy.port, { path: '/a?b=1' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'hello /a?b=1');
    assert.equal(r.headers['x-up'], 'yes');
    assert.ok(r.headers['x-envoy-upstream-service-time'] !== undefined);
    assert.equal(up.requests[0].headers.host, 'example.com');
    assert.equal(up.requests[0].headers['x-envoy-expected-rq-timeout-ms'], '15000');
    assert.equal(counter(store, 'cluster.backend.upstream_rq_total'), 1);
    assert.equal(counter(store, 'cluster.backend.upstream_rq_200'), 1);
    assert.equal(counter(store, 'cluster.backend.upstream_rq_2xx'), 1);
    assert.equal(counter(store, 'cluster.backend.upstream_rq_completed'), 1);
    assert.equal(counter(store, 'cluster.backend.upstream_cx_total'), 1);
    assert.equal(counter(store, 'cluster.backend.upstream_cx_http1_total'), 1);
    assert.equal(gauge(store, 'cluster.backend.upstream_rq_active'), 0);
    assert.equal(counter(store, 'http.test.rq_total'), 1);
    assert.equal(store.histograms.get('cluster.backend.upstream_rq_time')?.count, 1);
    const si = proxy.streams[0].streamInfo;
    assert.equal(si.upstreamCluster, 'backend');
    assert.equal(si.upstreamHost?.address, `127.0.0.1:${up.port}`);
    assert.equal(si.attemptCount, 1);
    assert.match(si.upstreamLocalAddress, /^127\.0\.0\.1:\d+$/);
    const host = cm.get('backend')!.hostsByPriority()[0][0];
    assert.equal(host.stats.rq_total.value, 1);
    assert.equal(host.stats.rq_success.value, 1);
    assert.equal(host.stats.cx_total.value, 1);
    // keep-alive: a second request reuses the pooled connection
    const r2 = await request(proxy.port, { path: '/b' });
    assert.equal(r2.status, 200);
    assert.equal(counter(store, 'cluster.backend.upstream_cx_total'), 1);
    assert.equal(host.stats.rq_total.value, 2);
  } finally {
    await proxy.close();
    await up.close();
  }
});

test('POST bodies (content-length and chunked) are streamed upstream', async () => {
  const up = await h1Upstream((req, res, body) => res.end(`${req.method}:${body.length}:${req.headers['transfer-encoding'] ?? req.headers['content-length']}`));
  const store = new Store();
  const cm = clusterManager(store);
  cm.addOrUpdate(staticCluster('backend', [up.port]));
  const proxy = await startProxy({ rc: routes([{ match: { prefix: '/' }, route: { cluster: 'backend' } }]), cm, store });
  try {
    const big = Buffer.alloc(300_000, 'x');
    const r = await request(proxy.port, { method: 'POST', path: '/p', body: big, headers: { 'content-length': String(big.length) } });
    assert.equal(r.status, 200);
    assert.equal(r.body, `POST:300000:300000`);
    const r2 = await request(proxy.port, { method: 'PUT', path: '/p', body: 'abc', headers: { 'transfer-encoding': 'chunked' } });
    // Re-framed upstream: chunked, or content-length when the whole body was known before the connection.
    assert.match(r2.body, /^PUT:3:(chunked|3)$/);
  } finally {
    await proxy.close();
    await up.close();
  }
});

test('no route: 404 with NR and route_not_found', async () => {
  const store = new Store();
  const cm = clusterManager(store);
  const proxy = await startProxy({ rc: routes([{ match: { prefix: '/only' }, route: { cluster: 'x' } }]), cm, store });
  try {
    const r = await request(proxy.port, { path: '/other' });
    assert.equal(r.status, 404);
    assert.equal(r.body, '');
    const si = proxy.streams[0].streamInfo;
    assert.equal(responseFlagsToString(si.responseFlags), 'NR');
    assert.equal(si.responseCodeDetails, 'route_not_found');
    assert.equal(counter(store, 'http.test.no_route'), 1);
  } finally {
    await proxy.close();
  }
});

test('unknown cluster: 503 NC (cluster_not_found), or the configured cluster_not_found_response_code', async () => {
  const store = new Store();
  const cm = clusterManager(store);
  const proxy = await startProxy({
    rc: routes([
      { match: { prefix: '/404' }, route: { cluster: 'missing', cluster_not_found_response_code: 'NOT_FOUND' } },
      { match: { prefix: '/' }, route: { cluster: 'missing' } },
    ]),
    cm, store,
  });
  try {
    const r = await request(proxy.port, { path: '/x' });
    assert.equal(r.status, 503);
    const si = proxy.streams[0].streamInfo;
    assert.equal(responseFlagsToString(si.responseFlags), 'NC');
    assert.equal(si.responseCodeDetails, 'cluster_not_found');
    assert.equal(counter(store, 'http.test.no_cluster'), 1);
    const r2 = await request(proxy.port, { path: '/404' });
    assert.equal(r2.status, 404);
  } finally {
    await proxy.close();
  }
});

test('cluster_header picks the cluster from a request header; missing header -> 503 NC', async () => {
  const up = await h1Upstream((_q, res) => res.end('from-header'));
  const store = new Store();
  const cm = clusterManager(store);
  cm.addOrUpdate(staticCluster('dyn', [up.port]));
  const proxy = await startProxy({ rc: routes([{ match: { prefix: '/' }, route: { cluster_header: 'x-cluster' } }]), cm, store });
  try {
    const r = await request(proxy.port, { headers: { 'x-cluster': 'dyn' } });
    assert.equal(r.body, 'from-header');
    const r2 = await request(proxy.port, {});
    assert.equal(r2.status, 503);
    assert.equal(responseFlagsToString(proxy.streams[1].streamInfo.responseFlags), 'NC');
  } finally {
    await proxy.close();
    await up.close();
  }
});

test('no healthy upstream: 503 UH "no healthy upstream"', async () => {
  const store = new Store();
  const cm = clusterManager(store);
  cm.addOrUpdate(staticCluster('empty', []));
  const proxy = await startProxy({ rc: routes([{ match: { prefix: '/' }, route: { cluster: 'empty' } }]), cm, store });
  try {
    const r = await request(proxy.port, {});
    assert.equal(r.status, 503);
    assert.equal(r.body, 'no healthy upstream');
    const si = proxy.streams[0].streamInfo;
    assert.equal(responseFlagsToString(si.responseFlags), 'UH');
    assert.equal(si.responseCodeDetails, 'no_healthy_upstream');
    assert.equal(counter(store, 'cluster.empty.upstream_rq_503'), 1);
  } finally {
    await proxy.close();
  }
});

test('direct_response and redirects (with response header mutations)', async () => {
  const store = new Store();
  const cm = clusterManager(store);
  const proxy = await startProxy({
    rc: routes([
      { match: { prefix: '/direct' }, direct_response: { status: 418, body: { inline_string: 'teapot' } },
        response_headers_to_add: [{ header: { key: 'x-direct', value: 'd' } }] },
      { match: { prefix: '/moved' }, redirect: { path_redirect: '/new', response_code: 'PERMANENT_REDIRECT' } },
      { match: { prefix: '/https' }, redirect: { https_redirect: true } },
      { match: { prefix: '/old' }, redirect: { prefix_rewrite: '/fresh', host_redirect: 'other.example' } },
    ]),
    cm, store,
  });
  try {
    const d = await request(proxy.port, { path: '/direct' });
    assert.equal(d.status, 418);
    assert.equal(d.body, 'teapot');
    assert.equal(d.headers['x-direct'], 'd');
    assert.equal(proxy.streams[0].streamInfo.responseCodeDetails, 'direct_response');
    const m = await request(proxy.port, { path: '/moved?q=1' });
    assert.equal(m.status, 308);
    assert.equal(m.headers.location, 'http://example.com/new?q=1');
    const h = await request(proxy.port, { path: '/https/x' });
    assert.equal(h.status, 301);
    assert.equal(h.headers.location, 'https://example.com/https/x');
    const o = await request(proxy.port, { path: '/old/a' });
    assert.equal(o.status, 301);
    assert.equal(o.headers.location, 'http://other.example/fresh/a');
    assert.equal(counter(store, 'http.test.rq_direct_response'), 1);
    assert.equal(counter(store, 'http.test.rq_redirect'), 3);
  } finally {
    await proxy.close();
  }
});

test('rewrites: prefix_rewrite, regex_rewrite (x-envoy-original-path), host_rewrite_literal, host_rewrite_header', async () => {
  const up = await h1Upstream((req, res) => res.end(JSON.stringify({ url: req.url, host: req.headers.host, orig: req.headers['x-envoy-original-path'], xfh: req.headers['x-forwarded-host'] })));
  const store = new Store();
  const cm = clusterManager(store);
  cm.addOrUpdate(staticCluster('backend', [up.port]));
  const proxy = await startProxy({
    rc: routes([
      { match: { prefix: '/api/' }, route: { cluster: 'backend', prefix_rewrite: '/v2/', host_rewrite_literal: 'internal.svc', append_x_forwarded_host: true } },
      { match: { prefix: '/re/' }, route: { cluster: 'backend', regex_rewrite: { pattern: { regex: '^/re/(\\w+)/(\\w+)$' }, substitution: '/\\2/\\1' }, host_rewrite_header: 'x-host' } },
    ]),
    cm, store,
  });
  try {
    const a = JSON.parse((await request(proxy.port, { path: '/api/users?x=1' })).body);
    assert.deepEqual(a, { url: '/v2/users?x=1', host: 'internal.svc', orig: '/api/users?x=1', xfh: 'example.com' });
    const b = JSON.parse((await request(proxy.port, { path: '/re/one/two', headers: { 'x-host': 'h.example' } })).body);
    assert.deepEqual(b, { url: '/two/one', host: 'h.example', orig: '/re/one/two' });
  } finally {
    await proxy.close();
    await up.close();
  }
});

test('request and response header mutations from route, vhost and weighted cluster', async () => {
  const up = await h1Upstream((req, res) => {
    res.setHeader('x-remove-me', '1');
    res.end(JSON.stringify({ a: req.headers['x-route'], v: req.headers['x-vhost'], gone: req.headers['x-drop'] ?? null, wc: req.headers['x-wc'] }));
  });
  const store = new Store();
  const cm = clusterManager(store);
  cm.addOrUpdate(staticCluster('backend', [up.port]));
  const proxy = await startProxy({
    rc: routes([{
      match: { prefix: '/' },
      route: { weighted_clusters: { clusters: [{ name: 'backend', weight: 1, request_headers_to_add: [{ header: { key: 'x-wc', value: 'w' } }] }] } },
      request_headers_to_add: [{ header: { key: 'x-route', value: '%REQ(:method)%-r' } }],
      request_headers_to_remove: ['x-drop'],
      response_headers_to_add: [{ header: { key: 'x-resp', value: 'r' } }],
      response_headers_to_remove: ['x-remove-me'],
    }], {
      request_headers_to_add: [{ header: { key: 'x-vhost', value: 'v' } }],
    }),
    cm, store,
  });
  try {
    const r = await request(proxy.port, { headers: { 'x-drop': 'please' } });
    assert.deepEqual(JSON.parse(r.body), { a: 'GET-r', v: 'v', gone: null, wc: 'w' });
    assert.equal(r.headers['x-resp'], 'r');
    assert.equal(r.headers['x-remove-me'], undefined);
  } finally {
    await proxy.close();
    await up.close();
  }
});

test('weighted clusters split traffic by weight', async () => {
  const a = await h1Upstream((_q, res) => res.end('a'));
  const b = await h1Upstream((_q, res) => res.end('b'));
  const store = new Store();
  const cm = clusterManager(store);
  cm.addOrUpdate(staticCluster('ca', [a.port]));
  cm.addOrUpdate(staticCluster('cb', [b.port]));
  const proxy = await startProxy({
    rc: routes([{ match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'ca', weight: 75 }, { name: 'cb', weight: 25 }] } } }]),
    cm, store,
  });
  try {
    const counts: Record<string, number> = { a: 0, b: 0 };
    for (let i = 0; i < 80; i++) counts[(await request(proxy.port, {})).body]++;
    assert.equal(counts.a + counts.b, 80);
    assert.ok(counts.a > counts.b, JSON.stringify(counts));
    assert.ok(counts.b > 0, JSON.stringify(counts));
  } finally {
    await proxy.close();
    await a.close();
    await b.close();
  }
});

test('hop-by-hop headers are stripped both ways; HEAD and 204/304 have no body', async () => {
  const up = await h1Upstream((req, res) => {
    if (req.url === '/204') { res.statusCode = 204; res.end(); return; }
    if (req.url === '/304') { res.statusCode = 304; res.end(); return; }
    res.setHeader('proxy-connection', 'keep-alive');
    res.setHeader('content-type', 'text/plain');
    res.end(JSON.stringify({ conn: req.headers['x-conn-listed'] ?? null, te: req.headers.te ?? null, pc: req.headers['proxy-connection'] ?? null }));
  });
  const store = new Store();
  const cm = clusterManager(store);
  cm.addOrUpdate(staticCluster('backend', [up.port]));
  const proxy = await startProxy({ rc: routes([{ match: { prefix: '/' }, route: { cluster: 'backend' } }]), cm, store });
  try {
    const r = await request(proxy.port, { headers: { connection: 'keep-alive, x-conn-listed', 'x-conn-listed': 'secret', te: 'gzip', 'proxy-connection': 'keep-alive' } });
    assert.deepEqual(JSON.parse(r.body), { conn: null, te: null, pc: null });
    assert.equal(r.headers['proxy-connection'], undefined);
    const h = await request(proxy.port, { method: 'HEAD' });
    assert.equal(h.status, 200);
    assert.equal(h.body, '');
    assert.equal((await request(proxy.port, { path: '/204' })).status, 204);
    assert.equal((await request(proxy.port, { path: '/304' })).status, 304);
  } finally {
    await proxy.close();
    await up.close();
  }
});

test('response trailers from a chunked HTTP/1.1 upstream; 1xx informational responses are dropped; Expect is not forwarded', async () => {
  const up = await h1Upstream((req, res) => {
    if (req.url === '/trailers') {
      res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
      res.write('body');
      res.addTrailers({ 'x-checksum': 'abc' });
      res.end();
      return;
    }
    if (req.url === '/hints') {
      res.writeEarlyHints({ link: '</style.css>; rel=preload' });
      res.end('after hints');
      return;
    }
    res.end(`expect=${req.headers.expect ?? 'none'}`);
  });
  const store = new Store();
  const cm = clusterManager(store);
  cm.addOrUpdate(staticCluster('backend', [up.port]));
  const proxy = await startProxy({ rc: routes([{ match: { prefix: '/' }, route: { cluster: 'backend' } }]), cm, store });
  try {
    const t = await request(proxy.port, { path: '/trailers' });
    assert.equal(t.body, 'body');
    assert.equal(t.trailers['x-checksum'], 'abc');
    const h = await request(proxy.port, { path: '/hints' });
    assert.equal(h.status, 200);
    assert.equal(h.body, 'after hints');
    const e = await request(proxy.port, { method: 'POST', path: '/e', body: 'data', headers: { expect: '100-continue', 'content-length': '4' } });
    assert.equal(e.status, 200);
    assert.equal(e.body, 'expect=none');
  } finally {
    await proxy.close();
    await up.close();
  }
});
