import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AdminServer } from '../../src/admin';
import { Store } from '../../src/stats/stats';
import { fakeProviders, start, get, post, type Fake } from './helpers';

let store: Store;
let fake: Fake;
let admin: AdminServer;
let port = 0;

before(async () => {
  store = new Store();
  store.counter('cluster.foo.upstream_rq_total').add(5);
  store.counter('cluster.foo.upstream_rq_200').add(4);
  store.counter('cluster.foo.upstream_rq_2xx').add(4);
  store.counter('cluster.foo.upstream_cx_none');
  store.counter('http.ingress_http.downstream_rq_total').add(7);
  store.counter('listener.0.0.0.0_10000.downstream_cx_total').add(3);
  store.gauge('listener.0.0.0.0_10000.downstream_cx_active').set(2);
  store.gauge('server.live').set(1);
  store.gauge('server.unset');
  store.setTextReadout('control_plane.identifier', 'istiod-1');
  const h1 = store.histogram('cluster.foo.upstream_rq_time', 'Milliseconds');
  h1.record(200);
  store.mergeHistograms();
  store.histogram('http.ingress_http.downstream_rq_time', 'Milliseconds');
  fake = fakeProviders(store);
  admin = await start(fake);
  port = admin.port;
});

after(async () => { await admin.close(); });

const P = 'P0(200,200) P25(202.5,202.5) P50(205,205) P75(207.5,207.5) P90(209,209) P95(209.5,209.5) P99(209.9,209.9) P99.5(209.95,209.95) P99.9(209.99,209.99) P100(210,210)';

test('/stats prints text readouts, then counters and gauges by name, then histograms', async () => {
  const before = fake.calls.beforeStats;
  const r = await get(port, '/stats');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'text/plain; charset=UTF-8');
  assert.equal(r.body,
    'control_plane.identifier: "istiod-1"\n'
    + 'cluster.foo.upstream_cx_none: 0\n'
    + 'cluster.foo.upstream_rq_200: 4\n'
    + 'cluster.foo.upstream_rq_2xx: 4\n'
    + 'cluster.foo.upstream_rq_total: 5\n'
    + 'http.ingress_http.downstream_rq_total: 7\n'
    + 'listener.0.0.0.0_10000.downstream_cx_active: 2\n'
    + 'listener.0.0.0.0_10000.downstream_cx_total: 3\n'
    + 'server.live: 1\n'
    + 'server.unset: 0\n'
    + `cluster.foo.upstream_rq_time: ${P}\n`
    + 'http.ingress_http.downstream_rq_time: No recorded values\n');
  assert.equal(fake.calls.beforeStats, before + 1);
});

test('/stats?usedonly drops never-written stats', async () => {
  const r = await get(port, '/stats?usedonly');
  assert.ok(!r.body.includes('upstream_cx_none'));
  assert.ok(!r.body.includes('server.unset'));
  assert.ok(!r.body.includes('downstream_rq_time'));
  assert.ok(r.body.includes('cluster.foo.upstream_rq_total: 5\n'));
});

test('/stats?filter= is an RE2 partial match; invalid or non-RE2 syntax is a 400', async () => {
  const r = await get(port, '/stats?filter=' + encodeURIComponent('^cluster\\.foo\\.upstream_rq_[0-9]+$'));
  assert.equal(r.body, 'cluster.foo.upstream_rq_200: 4\n');
  const partial = await get(port, '/stats?filter=rq_time');
  assert.equal(partial.body, `cluster.foo.upstream_rq_time: ${P}\nhttp.ingress_http.downstream_rq_time: No recorded values\n`);
  for (const bad of ['(', '(?=x)', 'a{2,1}', '\\1']) {
    const b = await get(port, '/stats?filter=' + encodeURIComponent(bad));
    assert.deepEqual([b.status, b.body], [400, 'Invalid re2 regex'], bad);
  }
  const empty = await get(port, '/stats?filter=');
  assert.ok(empty.body.includes('server.live: 1\n'));
});

test('/stats?type= selects stat kinds', async () => {
  assert.equal((await get(port, '/stats?type=Gauges')).body,
    'listener.0.0.0.0_10000.downstream_cx_active: 2\nserver.live: 1\nserver.unset: 0\n');
  assert.equal((await get(port, '/stats?type=TextReadouts')).body, 'control_plane.identifier: "istiod-1"\n');
  assert.equal((await get(port, '/stats?type=Histograms&usedonly')).body, `cluster.foo.upstream_rq_time: ${P}\n`);
  const c = (await get(port, '/stats?type=Counters')).body;
  assert.ok(c.startsWith('cluster.foo.upstream_cx_none: 0\n') && !c.includes('server.live'));
  const bad = await get(port, '/stats?type=Bogus');
  assert.deepEqual([bad.status, bad.body], [400, 'invalid &type= param']);
});

test('/stats?format=json: stats array, histograms with supported/computed quantiles, NaN as null', async () => {
  const r = await get(port, '/stats?format=json&filter=' + encodeURIComponent('cluster\\.foo|identifier|downstream_rq_time'));
  assert.equal(r.headers['content-type'], 'application/json');
  const j = JSON.parse(r.body);
  assert.deepEqual(j.stats.slice(0, 5), [
    { name: 'control_plane.identifier', value: 'istiod-1' },
    { name: 'cluster.foo.upstream_cx_none', value: 0 },
    { name: 'cluster.foo.upstream_rq_200', value: 4 },
    { name: 'cluster.foo.upstream_rq_2xx', value: 4 },
    { name: 'cluster.foo.upstream_rq_total', value: 5 },
  ]);
  const h = j.stats[5].histograms;
  assert.deepEqual(h.supported_quantiles, [0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100]);
  assert.equal(h.computed_quantiles[0].name, 'cluster.foo.upstream_rq_time');
  assert.deepEqual(h.computed_quantiles[0].values[1], { cumulative: 202.5, interval: 202.5 });
  assert.deepEqual(h.computed_quantiles[1].values[0], { cumulative: null, interval: null });
  assert.equal(j.stats.length, 6);
  const none = JSON.parse((await get(port, '/stats?format=json&filter=nothing-matches')).body);
  assert.deepEqual(none, { stats: [] });
  const used = JSON.parse((await get(port, '/stats?format=json&usedonly&type=Counters&filter=rq_total')).body);
  assert.deepEqual(used, { stats: [{ name: 'cluster.foo.upstream_rq_total', value: 5 }, { name: 'http.ingress_http.downstream_rq_total', value: 7 }] });
});

test('/stats?histogram_buckets= cumulative, disjoint, detailed; bad value is a 400', async () => {
  const cum = await get(port, '/stats?histogram_buckets=cumulative&filter=upstream_rq_time');
  assert.equal(cum.body, 'cluster.foo.upstream_rq_time: B0.5(0,0) B1(0,0) B5(0,0) B10(0,0) B25(0,0) B50(0,0) B100(0,0) B250(1,1) '
    + 'B500(1,1) B1000(1,1) B2500(1,1) B5000(1,1) B10000(1,1) B30000(1,1) B60000(1,1) B300000(1,1) B600000(1,1) B1.8e+06(1,1) B3.6e+06(1,1)\n');
  const dis = await get(port, '/stats?histogram_buckets=disjoint&filter=upstream_rq_time');
  assert.equal(dis.body, 'cluster.foo.upstream_rq_time: B0.5(0,0) B1(0,0) B5(0,0) B10(0,0) B25(0,0) B50(0,0) B100(0,0) B250(1,1) '
    + 'B500(0,0) B1000(0,0) B2500(0,0) B5000(0,0) B10000(0,0) B30000(0,0) B60000(0,0) B300000(0,0) B600000(0,0) B1.8e+06(0,0) B3.6e+06(0,0)\n');
  const det = await get(port, '/stats?histogram_buckets=detailed&filter=upstream_rq_time');
  assert.equal(det.body, `cluster.foo.upstream_rq_time:\n  totals=200,10:1\n  intervals=200,10:1\n  summary=${P}\n`);
  const dj = JSON.parse((await get(port, '/stats?histogram_buckets=cumulative&format=json&filter=upstream_rq_time&usedonly')).body);
  assert.deepEqual(dj.stats[0].histograms[0].buckets.slice(6, 9), [
    { upper_bound: 100, interval: 0, cumulative: 0 },
    { upper_bound: 250, interval: 1, cumulative: 1 },
    { upper_bound: 500, interval: 1, cumulative: 1 },
  ]);
  const none = await get(port, '/stats?histogram_buckets=none&filter=upstream_rq_time&usedonly');
  assert.equal(none.body, `cluster.foo.upstream_rq_time: ${P}\n`);
  const bad = await get(port, '/stats?histogram_buckets=garbage');
  assert.deepEqual([bad.status, bad.body], [400, 'usage: /stats?histogram_buckets=(cumulative|disjoint|detailed|summary)\n']);
});

test('/stats?format= validation', async () => {
  const bad = await get(port, '/stats?format=blergh');
  assert.deepEqual([bad.status, bad.body], [400, 'usage: /stats?format=(html|active-html|json|prometheus|text)\n\n']);
  const html = await get(port, '/stats?format=html');
  assert.equal(html.status, 400);
  const hidden = await get(port, '/stats?hidden=bogus');
  assert.deepEqual([hidden.status, hidden.body], [400, 'usage: /stats?hidden=(include|only|exclude)\n\n']);
  assert.equal((await get(port, '/stats?hidden=only')).body, '');
});

test('/stats/prometheus and /stats?format=prometheus: tag extraction, TYPE lines, histograms', async () => {
  const r = await get(port, '/stats/prometheus');
  assert.equal(r.status, 200);
  const b = r.body;
  assert.ok(b.includes('# TYPE envoy_cluster_upstream_rq_total counter\nenvoy_cluster_upstream_rq_total{envoy_cluster_name="foo"} 5\n\n'));
  assert.ok(b.includes('# TYPE envoy_cluster_upstream_rq counter\nenvoy_cluster_upstream_rq{envoy_response_code="200",envoy_cluster_name="foo"} 4\n\n'));
  assert.ok(b.includes('# TYPE envoy_cluster_upstream_rq_xx counter\nenvoy_cluster_upstream_rq_xx{envoy_response_code_class="2",envoy_cluster_name="foo"} 4\n\n'));
  assert.ok(b.includes('# TYPE envoy_http_downstream_rq_total counter\nenvoy_http_downstream_rq_total{envoy_http_conn_manager_prefix="ingress_http"} 7\n\n'));
  assert.ok(b.includes('# TYPE envoy_listener_downstream_cx_total counter\nenvoy_listener_downstream_cx_total{envoy_listener_address="0.0.0.0_10000"} 3\n\n'));
  assert.ok(b.includes('# TYPE envoy_listener_downstream_cx_active gauge\nenvoy_listener_downstream_cx_active{envoy_listener_address="0.0.0.0_10000"} 2\n\n'));
  assert.ok(b.includes('# TYPE envoy_server_live gauge\nenvoy_server_live{} 1\n\n'));
  assert.ok(b.includes('# TYPE envoy_cluster_upstream_rq_time histogram\n'
    + 'envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="foo",le="0.5"} 0\n'));
  assert.ok(b.includes('envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="foo",le="250"} 1\n'));
  assert.ok(b.includes('envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="foo",le="3600000"} 1\n'
    + 'envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="foo",le="+Inf"} 1\n'
    + 'envoy_cluster_upstream_rq_time_sum{envoy_cluster_name="foo"} 205\n'
    + 'envoy_cluster_upstream_rq_time_count{envoy_cluster_name="foo"} 1\n\n'));
  assert.ok(b.includes('envoy_http_downstream_rq_time_count{envoy_http_conn_manager_prefix="ingress_http"} 0\n'));
  assert.ok(!b.includes('control_plane'), 'text readouts only with ?text_readouts');
  // counters, then gauges, then histograms
  assert.ok(b.indexOf(' counter\n') < b.indexOf(' gauge\n') && b.indexOf(' gauge\n') < b.indexOf(' histogram\n'));
  const viaStats = await get(port, '/stats?format=prometheus');
  assert.equal(viaStats.body, b);
  const tr = await get(port, '/stats/prometheus?text_readouts&filter=identifier');
  assert.equal(tr.body, '# TYPE envoy_control_plane_identifier gauge\nenvoy_control_plane_identifier{text_value="istiod-1"} 0\n\n');
  const used = await get(port, '/stats/prometheus?usedonly&filter=' + encodeURIComponent('^(server|http)\\.'));
  assert.equal(used.body, '# TYPE envoy_http_downstream_rq_total counter\nenvoy_http_downstream_rq_total{envoy_http_conn_manager_prefix="ingress_http"} 7\n\n'
    + '# TYPE envoy_server_live gauge\nenvoy_server_live{} 1\n\n');
  const bad = await get(port, '/stats/prometheus?filter=(');
  assert.deepEqual([bad.status, bad.body], [400, 'Invalid re2 regex']);
});

test('POST /reset_counters zeroes counters; ?usedonly still lists them', async () => {
  const s = new Store();
  s.counter('a.b').add(3);
  s.counter('a.never');
  s.gauge('g').set(4);
  const f = fakeProviders(s);
  const a = await start(f);
  try {
    const r = await post(a.port, '/reset_counters');
    assert.deepEqual([r.status, r.body], [200, 'OK\n']);
    assert.equal((await get(a.port, '/stats?usedonly')).body, 'a.b: 0\ng: 4\n');
  } finally {
    await a.close();
  }
});
