// The admin API of a real server after real traffic: the demo's bootstrap (src/demo) with
// every port at 0, the bookinfo-style reviews v1/v2/v3 upstreams, Envoy's output formats.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { demoBootstrapYaml } from '../../src/demo/main';
import { startReviews, type ReviewsServer } from '../../src/demo/reviews';
import { closeServer, get, post, startRemora, type Remora } from './helpers';

let reviews: ReviewsServer[];
let r: Remora;
let port = 0;
let admin = 0;
const served = { v1: 0, v2: 0, v3: 0 } as Record<string, number>;

before(async () => {
  reviews = await Promise.all(['v1', 'v2', 'v3'].map((v) => startReviews(v, 0)));
  const yaml = demoBootstrapYaml({ listener: 0, admin: 0, v1: reviews[0].port, v2: reviews[1].port, v3: reviews[2].port })
    // The demo logs to stdout; the access log has its own test.
    .replace(/ {10}access_log:\n.*\n.*\n/, '');
  assert.doesNotMatch(yaml, /access_log/);
  r = await startRemora(yaml);
  port = r.port('ingress');
  admin = r.adminPort;
  // Real traffic: 20 x /reviews (split v1/v3), 3 x /v2/ (v2), 1 x / (direct response).
  for (let i = 0; i < 20; i++) {
    const res = await get(port, '/reviews');
    assert.equal(res.status, 200);
    served[String(res.headers['x-reviews-version'])]++;
  }
  for (let i = 0; i < 3; i++) served[String((await get(port, '/v2/')).headers['x-reviews-version'])]++;
  assert.equal((await get(port, '/')).body, 'remora demo: try /reviews\n');
});

after(async () => {
  await r?.close();
  for (const s of reviews ?? []) await closeServer(s.server);
});

function stats(body: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of body.split('\n')) {
    const i = line.indexOf(': ');
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 2));
  }
  return m;
}

test('traffic reached the right versions', () => {
  assert.equal(served.v1 + served.v3, 20);
  assert.equal(served.v2, 3);
  assert.ok(served.v1 > 0 && served.v3 > 0, JSON.stringify(served));
});

test('/clusters: Envoy text lines with per-host rq_success counts', async () => {
  const res = await get(admin, '/clusters');
  assert.equal(res.status, 200);
  assert.match(String(res.headers['content-type']), /^text\/plain/);
  const body = res.body;
  for (const [i, v] of ['v1', 'v2', 'v3'].entries()) {
    const host = `reviews-${v}::127.0.0.1:${reviews[i].port}`;
    assert.ok(body.includes(`reviews-${v}::observability_name::reviews-${v}\n`), body);
    assert.ok(body.includes(`reviews-${v}::default_priority::max_connections::1024\n`));
    assert.ok(body.includes(`reviews-${v}::added_via_api::false\n`));
    assert.ok(body.includes(`${host}::rq_success::${served[v]}\n`), `${host} rq_success ${served[v]}:\n${body}`);
    assert.ok(body.includes(`${host}::rq_total::${served[v]}\n`));
    assert.ok(body.includes(`${host}::rq_error::0\n`));
    assert.ok(body.includes(`${host}::health_flags::healthy\n`));
    assert.ok(body.includes(`${host}::weight::1\n`));
  }
  const json = JSON.parse((await get(admin, '/clusters?format=json')).body);
  const v2 = json.cluster_statuses.find((c: { name: string }) => c.name === 'reviews-v2');
  const hs = v2.host_statuses[0];
  assert.deepEqual(hs.address, { socket_address: { address: '127.0.0.1', port_value: reviews[1].port } });
  const success = hs.stats.find((s: { name: string }) => s.name === 'rq_success');
  assert.equal(Number(success.value), 3);
});

test('/stats: Envoy stat names and values, sorted', async () => {
  const body = (await get(admin, '/stats')).body;
  const s = stats(body);
  assert.equal(s.get('cluster.reviews-v1.upstream_rq_2xx'), String(served.v1));
  assert.equal(s.get('cluster.reviews-v1.upstream_rq_200'), String(served.v1));
  assert.equal(s.get('cluster.reviews-v3.upstream_rq_2xx'), String(served.v3));
  assert.equal(s.get('cluster.reviews-v2.upstream_rq_total'), '3');
  assert.equal(s.get('cluster.reviews-v2.upstream_rq_completed'), '3');
  assert.equal(s.get('cluster.reviews-v2.upstream_cx_total'), '1'); // one keep-alive connection reused
  assert.equal(s.get('http.ingress_http.downstream_rq_total'), '24');
  assert.equal(s.get('http.ingress_http.downstream_rq_2xx'), '24');
  assert.equal(s.get('http.ingress_http.downstream_cx_total'), '24');
  assert.equal(s.get('http.ingress_http.rq_direct_response'), '1');
  assert.equal(s.get('http.ingress_http.no_route'), '0');
  // Listener stats are scoped by the configured address (port 0 here), as in Envoy.
  assert.equal(s.get('listener.127.0.0.1_0.downstream_cx_total'), '24');
  assert.equal(s.get('listener_manager.total_listeners_active'), '1');
  assert.equal(s.get('cluster_manager.active_clusters'), '3');
  assert.equal(s.get('server.live'), '1');
  assert.equal(s.get('server.state'), '0');
  assert.match(s.get('http.ingress_http.downstream_rq_time') ?? '', /^P0\(/);
  // Counters and gauges sorted by name, histograms after them.
  const names = body.split('\n').filter((l) => l && !/: (P0\(|No recorded values)/.test(l)).map((l) => l.slice(0, l.indexOf(': ')));
  assert.deepEqual(names, [...names].sort());

  const filtered = (await get(admin, '/stats?filter=reviews-v2\\.upstream_rq_2xx')).body;
  assert.equal(filtered, 'cluster.reviews-v2.upstream_rq_2xx: 3\n');
  const json = JSON.parse((await get(admin, '/stats?format=json&filter=downstream_rq_total')).body);
  assert.deepEqual(json.stats.filter((x: { name?: string }) => x.name === 'http.ingress_http.downstream_rq_total'), [{ name: 'http.ingress_http.downstream_rq_total', value: 24 }]);
});

test('/stats/prometheus: Envoy tag extraction', async () => {
  const res = await get(admin, '/stats/prometheus');
  assert.equal(res.status, 200);
  const body = res.body;
  const line = (s: string) => assert.ok(body.includes(s + '\n'), `missing: ${s}`);
  line('# TYPE envoy_cluster_upstream_rq_xx counter');
  line(`envoy_cluster_upstream_rq_xx{envoy_response_code_class="2",envoy_cluster_name="reviews-v1"} ${served.v1}`);
  line(`envoy_cluster_upstream_rq_xx{envoy_response_code_class="2",envoy_cluster_name="reviews-v2"} 3`);
  line(`envoy_cluster_upstream_rq{envoy_response_code="200",envoy_cluster_name="reviews-v3"} ${served.v3}`);
  line('envoy_http_downstream_rq_total{envoy_http_conn_manager_prefix="ingress_http"} 24');
  line('envoy_listener_downstream_cx_total{envoy_listener_address="127.0.0.1_0"} 24');
  line('# TYPE envoy_server_live gauge');
  line('envoy_server_live{} 1');
  assert.match(body, /^# TYPE envoy_http_downstream_rq_time histogram$/m);
  assert.match(body, /^envoy_http_downstream_rq_time_count\{envoy_http_conn_manager_prefix="ingress_http"\} 24$/m);
});

test('/config_dump: Bootstrap, Clusters (static_clusters), Listeners, Routes dumps', async () => {
  const dump = JSON.parse((await get(admin, '/config_dump')).body);
  const types = dump.configs.map((c: { '@type': string }) => c['@type'].replace('type.googleapis.com/envoy.admin.v3.', ''));
  assert.deepEqual(types.filter((t: string) => ['BootstrapConfigDump', 'ClustersConfigDump', 'ListenersConfigDump', 'RoutesConfigDump'].includes(t)),
    ['BootstrapConfigDump', 'ClustersConfigDump', 'ListenersConfigDump', 'RoutesConfigDump']);
  const [boot, clusters, listeners, routes] = ['BootstrapConfigDump', 'ClustersConfigDump', 'ListenersConfigDump', 'RoutesConfigDump']
    .map((t) => dump.configs.find((c: { '@type': string }) => c['@type'] === `type.googleapis.com/envoy.admin.v3.${t}`));
  assert.deepEqual(boot.bootstrap.node, { id: 'remora-demo', cluster: 'demo' });
  assert.deepEqual(clusters.static_clusters.map((c: { cluster: { name: string } }) => c.cluster.name), ['reviews-v1', 'reviews-v2', 'reviews-v3']);
  assert.equal(clusters.static_clusters[0].cluster['@type'], 'type.googleapis.com/envoy.config.cluster.v3.Cluster');
  assert.equal(clusters.static_clusters[0].cluster.connect_timeout, '1s');
  assert.match(clusters.static_clusters[0].last_updated, /^\d{4}-\d\d-\d\dT/);
  assert.equal(listeners.static_listeners[0].listener.name, 'ingress');
  assert.equal(listeners.static_listeners[0].listener['@type'], 'type.googleapis.com/envoy.config.listener.v3.Listener');
  const rc = routes.static_route_configs[0].route_config;
  assert.equal(rc['@type'], 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration');
  assert.equal(rc.name, 'local_route');
  assert.deepEqual(rc.virtual_hosts[0].routes[0].route.weighted_clusters.clusters, [{ name: 'reviews-v1', weight: 50 }, { name: 'reviews-v3', weight: 50 }]);

  const only = JSON.parse((await get(admin, '/config_dump?resource=static_clusters')).body);
  assert.equal(only.configs.length, 3);
  assert.equal(only.configs[0]['@type'], 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump.StaticCluster');
  assert.equal(only.configs[1].cluster.name, 'reviews-v2');
  const masked = JSON.parse((await get(admin, '/config_dump?resource=static_clusters&mask=cluster.name')).body);
  assert.deepEqual(masked.configs.map((c: { cluster: { name: string; type?: string; load_assignment?: unknown } }) => [c.cluster.name, c.cluster.type, c.cluster.load_assignment]),
    [['reviews-v1', undefined, undefined], ['reviews-v2', undefined, undefined], ['reviews-v3', undefined, undefined]]);
  const bad = await get(admin, '/config_dump?resource=no_such_field');
  assert.equal(bad.status, 404);
});

test('/listeners and /server_info', async () => {
  assert.equal((await get(admin, '/listeners')).body, `ingress::127.0.0.1:${port}\n`);
  const json = JSON.parse((await get(admin, '/listeners?format=json')).body);
  assert.deepEqual(json, { listener_statuses: [{ name: 'ingress', local_address: { socket_address: { address: '127.0.0.1', port_value: port } } }] });
  const info = JSON.parse((await get(admin, '/server_info')).body);
  assert.equal(info.state, 'LIVE');
  assert.equal(info.node.id, 'remora-demo');
  assert.match(info.version, /^\d+\.\d+\.\d+/);
  assert.equal(info.command_line_options.drain_time, '1s');
});

test('/reset_counters zeroes counters; the next request counts from zero', async () => {
  assert.equal((await post(admin, '/reset_counters')).body, 'OK\n');
  assert.equal((await get(port, '/v2/')).status, 200);
  const s = stats((await get(admin, '/stats?filter=^cluster\\.reviews-v2\\.upstream_rq_total$')).body);
  assert.equal(s.get('cluster.reviews-v2.upstream_rq_total'), '1');
});
