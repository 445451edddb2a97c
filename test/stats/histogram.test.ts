import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, Store, Counter, Gauge, SUPPORTED_QUANTILES, DEFAULT_BUCKETS } from '../../src/stats/stats';
import { binKey, binLeft, binWidth, NAN_KEY } from '../../src/stats/loglinear';

test('log-linear bins follow libcircllhist (two significant digits)', () => {
  const bin = (v: number) => [binLeft(binKey(v)), binWidth(binKey(v))];
  assert.deepEqual(bin(200), [200, 10]);
  assert.deepEqual(bin(209.99), [200, 10]);
  assert.deepEqual(bin(1), [1, 0.1]);
  const [l11, w11] = bin(0.11); // [0.11, 0.12), computed as (11/10)*0.1 like the C code
  assert.ok(Math.abs(l11 - 0.11) < 1e-15 && Math.abs(w11 - 0.01) < 1e-15);
  assert.deepEqual(bin(99), [99, 1]);
  assert.deepEqual(bin(100), [100, 10]);
  assert.deepEqual(bin(0), [0, 0]);
  assert.equal(binKey(NaN), NAN_KEY);
  assert.equal(binKey(Infinity), NAN_KEY);
  const [l, w] = bin(-1.05);
  assert.ok(Math.abs(l - -1.1) < 1e-12 && Math.abs(w - 0.1) < 1e-12);
});

test('quantiles match Envoy for a single 200 sample (stats_handler_test HandlerStatsPlainText)', () => {
  const h = new Histogram('h1');
  h.record(200);
  const st = h.statistics('cumulative');
  assert.deepEqual(st.quantiles, [200, 202.5, 205, 207.5, 209, 209.5, 209.9, 209.95, 209.99, 210]);
  assert.equal(st.sampleCount, 1);
  assert.equal(st.sampleSum, 205); // bin midpoint, like hist_approx_sum
  assert.equal(h.sum, 200); // the exact sum is kept too
  assert.equal(SUPPORTED_QUANTILES.length, 10);
});

test('interval view covers the last merged interval only; cumulative covers everything', () => {
  const h = new Histogram('h1', 'Unspecified', [1, 2, 3, 4]);
  h.record(1);
  h.record(2);
  assert.ok(Number.isNaN(h.statistics('interval').quantiles[0]), 'no merge yet: interval is empty');
  h.merge();
  h.record(2);
  h.merge();
  // Envoy: {"upper_bound":1,"interval":0,"cumulative":0}, {2: 0,1}, {3: 1,3}, {4: 1,3}
  assert.deepEqual(h.statistics('interval').computedBuckets, [0, 0, 1, 1]);
  assert.deepEqual(h.statistics('cumulative').computedBuckets, [0, 1, 3, 3]);
  assert.deepEqual(h.cumulative(), [0, 1, 3, 3]);
  assert.deepEqual([...h.counts], [0, 1, 2, 0]);
  assert.equal(h.count, 3);
});

test('disjoint bucket counts match Envoy (HandlerStatsPlainTextHistogramBucketsDisjoint)', () => {
  const h = new Histogram('h1');
  h.record(200);
  h.record(300);
  h.merge();
  h.record(300);
  h.merge();
  const cum = h.statistics('cumulative').computedBuckets;
  const iv = h.statistics('interval').computedBuckets;
  const dis = (a: number[]) => a.map((v, i) => v - (i ? a[i - 1] : 0));
  const i250 = DEFAULT_BUCKETS.indexOf(250);
  const i500 = DEFAULT_BUCKETS.indexOf(500);
  assert.equal(dis(iv)[i250], 0); assert.equal(dis(cum)[i250], 1);
  assert.equal(dis(iv)[i500], 1); assert.equal(dis(cum)[i500], 2);
});

test('quantile() and used', () => {
  const h = new Histogram('x');
  assert.equal(h.used, false);
  assert.ok(Number.isNaN(h.quantile(0.5)));
  for (let i = 1; i <= 100; i++) h.record(i);
  assert.equal(h.used, true);
  const p50 = h.quantile(0.5);
  assert.ok(p50 >= 49 && p50 <= 51, String(p50));
  assert.equal(h.quantile(1), 110); // top of the bin [100, 110)
  h.record(NaN);
  assert.equal(h.nanCount, 1);
  h.clear();
  assert.equal(h.count, 0);
});

test('counters keep ?usedonly visibility across reset_counters; gauges count as used when non-zero', () => {
  const s = new Store();
  const c = s.counter('a.b');
  const never = s.counter('a.never');
  assert.equal(c.used, false);
  c.value++;
  assert.equal(c.used, true);
  s.resetCounters();
  assert.equal(c.value, 0);
  assert.equal(c.used, true);
  assert.equal(never.used, false);
  const g = s.gauge('g');
  assert.equal(g.used, false);
  g.value = 3; // hot-path style write
  assert.equal(g.used, true);
  g.value = 0;
  assert.equal(g.used, false);
  g.set(0);
  assert.equal(g.used, true);
  assert.ok(c instanceof Counter && g instanceof Gauge);
});

test('store: same name returns the same object; scopes prefix names; removeScope drops them', () => {
  const s = new Store();
  const sc = s.scope('cluster.foo.');
  assert.equal(sc.counter('upstream_rq_total'), s.counter('cluster.foo.upstream_rq_total'));
  sc.histogram('upstream_rq_time').record(5);
  s.setTextReadout('cluster.foo.version_text', 'v1');
  s.removeScope('cluster.foo.');
  assert.equal(s.counters.size, 0);
  assert.equal(s.histograms.size, 0);
  assert.equal(s.textReadouts.size, 0);
});

test('stats_matcher: rejected stats work but are not stored', () => {
  const s = new Store();
  s.configure({
    stats_matcher: { inclusion_list: { patterns: [{ prefix: 'cluster_manager' }, { suffix: 'rbac.allowed' }, { safe_regex: { regex: 'vhost\\..*\\.route\\..*' } }] } },
  });
  s.counter('cluster_manager.cds.update_success').inc();
  s.counter('http.x.rbac.allowed').inc();
  s.counter('vhost.a.route.b.upstream_rq_total').inc();
  const rejected = s.counter('cluster.foo.upstream_rq_total');
  rejected.value++;
  assert.equal(rejected.value, 1);
  assert.deepEqual([...s.counters.keys()].sort(), ['cluster_manager.cds.update_success', 'http.x.rbac.allowed', 'vhost.a.route.b.upstream_rq_total']);

  const ex = new Store();
  ex.configure({ stats_matcher: { exclusion_list: { patterns: [{ exact: 'server.live' }] } } });
  ex.gauge('server.live').set(1);
  ex.gauge('server.uptime').set(1);
  assert.deepEqual([...ex.gauges.keys()], ['server.uptime']);

  const none = new Store();
  none.configure({ stats_matcher: { reject_all: true } });
  none.histogram('h').record(1);
  assert.equal(none.histograms.size, 0);
});

test('histogram_bucket_settings pick buckets by name; bad settings name the field', () => {
  const s = new Store();
  s.configure({ histogram_bucket_settings: [{ match: { prefix: 'cluster.' }, buckets: [10, 1, 100] }] });
  assert.deepEqual(s.histogram('cluster.a.upstream_rq_time').buckets, [1, 10, 100]);
  assert.deepEqual(s.histogram('http.a.downstream_rq_time').buckets, DEFAULT_BUCKETS);
  assert.throws(() => s.configure({ histogram_bucket_settings: [{ match: { prefix: 'x' }, buckets: [] }] }),
    /stats_config\.histogram_bucket_settings\[0\]\.buckets/);
  assert.throws(() => s.configure({ stats_matcher: { inclusion_list: { patterns: [{ safe_regex: { regex: '(' } }] } } }),
    /stats_config\.stats_matcher\.inclusion_list\.patterns\[0\]\.safe_regex\.regex/);
});

test('mergeHistograms closes an interval for every histogram; the merge timer can be stopped', () => {
  const s = new Store();
  const h = s.histogram('h');
  h.record(7);
  s.mergeHistograms();
  assert.equal(h.statistics('interval').sampleCount, 1);
  s.mergeHistograms();
  assert.equal(h.statistics('interval').sampleCount, 0);
  assert.equal(h.statistics('cumulative').sampleCount, 1);
  const stop = s.startHistogramMerging(10);
  stop();
});
