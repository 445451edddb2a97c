import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Store } from '../../src/stats/stats';
import { renderPrometheus, metricName, sanitizeValue, compareStatNames } from '../../src/stats/prometheus';

function bucketLines(metric: string, tags: string, cum: number[], count: number, sum: string): string {
  const les = ['0.5', '1', '5', '10', '25', '50', '100', '250', '500', '1000', '2500', '5000', '10000', '30000', '60000', '300000', '600000', '1800000', '3600000'];
  let s = '';
  les.forEach((le, i) => { s += `${metric}_bucket{${tags}${tags ? ',' : ''}le="${le}"} ${cum[i]}\n`; });
  s += `${metric}_bucket{${tags}${tags ? ',' : ''}le="+Inf"} ${count}\n`;
  s += `${metric}_sum{${tags}} ${sum}\n`;
  s += `${metric}_count{${tags}} ${count}\n`;
  return s;
}

test('renders counters, gauges and histograms exactly like Envoy', () => {
  const s = new Store();
  s.counter('cluster.foo.upstream_rq_total').add(5);
  s.counter('cluster.bar.upstream_rq_total').add(2);
  s.counter('cluster.foo.upstream_rq_200').add(4);
  s.counter('cluster.foo.upstream_rq_503').add(1);
  s.counter('cluster.foo.upstream_rq_2xx').add(4);
  s.counter('http.ingress_http.downstream_rq_total').add(7);
  s.counter('listener.0.0.0.0_10000.downstream_cx_total').add(3);
  s.gauge('server.live').set(1);
  s.gauge('cluster.foo.upstream_cx_active').set(2);
  const h = s.histogram('cluster.foo.upstream_rq_time', 'Milliseconds');
  h.record(3);
  h.record(200);
  const out = renderPrometheus(s);
  const expected =
    '# TYPE envoy_cluster_upstream_rq counter\n'
    + 'envoy_cluster_upstream_rq{envoy_response_code="200",envoy_cluster_name="foo"} 4\n'
    + 'envoy_cluster_upstream_rq{envoy_response_code="503",envoy_cluster_name="foo"} 1\n'
    + '\n'
    + '# TYPE envoy_cluster_upstream_rq_total counter\n'
    + 'envoy_cluster_upstream_rq_total{envoy_cluster_name="bar"} 2\n'
    + 'envoy_cluster_upstream_rq_total{envoy_cluster_name="foo"} 5\n'
    + '\n'
    + '# TYPE envoy_cluster_upstream_rq_xx counter\n'
    + 'envoy_cluster_upstream_rq_xx{envoy_response_code_class="2",envoy_cluster_name="foo"} 4\n'
    + '\n'
    + '# TYPE envoy_http_downstream_rq_total counter\n'
    + 'envoy_http_downstream_rq_total{envoy_http_conn_manager_prefix="ingress_http"} 7\n'
    + '\n'
    + '# TYPE envoy_listener_downstream_cx_total counter\n'
    + 'envoy_listener_downstream_cx_total{envoy_listener_address="0.0.0.0_10000"} 3\n'
    + '\n'
    + '# TYPE envoy_cluster_upstream_cx_active gauge\n'
    + 'envoy_cluster_upstream_cx_active{envoy_cluster_name="foo"} 2\n'
    + '\n'
    + '# TYPE envoy_server_live gauge\n'
    + 'envoy_server_live{} 1\n'
    + '\n'
    + '# TYPE envoy_cluster_upstream_rq_time histogram\n'
    // 3 -> bin [3, 3.1) (midpoint 3.05); 200 -> bin [200, 210) (midpoint 205)
    + bucketLines('envoy_cluster_upstream_rq_time', 'envoy_cluster_name="foo"',
      [0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2], 2, '208.0500000000000113686837721616')
    + '\n';
  assert.equal(out, expected);
});

test('usedonly, filter and type select series; empty store renders nothing', () => {
  const s = new Store();
  assert.equal(renderPrometheus(s), '');
  s.counter('a.used').inc();
  s.counter('a.unused');
  s.gauge('b.g');
  s.histogram('c.h');
  assert.equal(renderPrometheus(s, { usedOnly: true }), '# TYPE envoy_a_used counter\nenvoy_a_used{} 1\n\n');
  assert.equal(renderPrometheus(s, { filter: (n) => n.endsWith('unused') }), '# TYPE envoy_a_unused counter\nenvoy_a_unused{} 0\n\n');
  assert.equal(renderPrometheus(s, { type: 'Gauges' }), '# TYPE envoy_b_g gauge\nenvoy_b_g{} 0\n\n');
  const hist = renderPrometheus(s, { type: 'Histograms' });
  assert.ok(hist.startsWith('# TYPE envoy_c_h histogram\nenvoy_c_h_bucket{le="0.5"} 0\n'), hist);
  assert.ok(hist.endsWith('envoy_c_h_bucket{le="+Inf"} 0\nenvoy_c_h_sum{} 0\nenvoy_c_h_count{} 0\n\n'), hist);
});

test('text readouts render as gauges with a text_value label only when asked', () => {
  const s = new Store();
  s.setTextReadout('control_plane.identifier', 'istiod-7d4"x\\y\nz');
  assert.equal(renderPrometheus(s), '');
  assert.equal(renderPrometheus(s, { textReadouts: true }),
    '# TYPE envoy_control_plane_identifier gauge\nenvoy_control_plane_identifier{text_value="istiod-7d4\\"x\\\\y\\nz"} 0\n\n');
});

test('names are sanitized; custom namespaces drop the envoy_ prefix', () => {
  const s = new Store();
  s.counter('cluster.outbound|80||web.ns.svc.cluster.local.upstream_cx_total').inc();
  s.customNamespaces.add('istio');
  s.counter('istio.istio_requests_total').add(3);
  s.counter('istio.9bad').inc();
  const out = renderPrometheus(s);
  assert.match(out, /^# TYPE envoy_cluster_ns_svc_cluster_local_upstream_cx_total counter\n/m);
  assert.match(out, /\{envoy_cluster_name="outbound\|80\|\|web"\} 1\n/);
  assert.match(out, /^# TYPE istio_requests_total counter\nistio_requests_total\{\} 3\n/m);
  assert.ok(!out.includes('9bad'));
  assert.equal(metricName('a-b.c', new Set()), 'envoy_a_b_c');
  assert.equal(sanitizeValue('a"b'), 'a\\"b');
});

test('bootstrap stats config drives tags (Istio style)', () => {
  const s = new Store();
  s.configure({
    use_all_default_tags: false,
    stats_tags: [
      { tag_name: 'cluster_name', regex: '^cluster(\\.(.+);)' },
      { tag_name: 'response_code', regex: '_rq(_(\\d{3}))$' },
    ],
  });
  s.counter('cluster.outbound|9080||reviews.default.svc.cluster.local;.upstream_rq_200').add(9);
  assert.equal(renderPrometheus(s),
    '# TYPE envoy_cluster_upstream_rq counter\n'
    + 'envoy_cluster_upstream_rq{cluster_name="outbound|9080||reviews.default.svc.cluster.local",response_code="200"} 9\n\n');
});

test('stat names sort token by token', () => {
  const names = ['a.b', 'a-c', 'a.b.c', 'a_b', 'a'];
  assert.deepEqual([...names].sort(compareStatNames), ['a', 'a.b', 'a.b.c', 'a-c', 'a_b']);
});
