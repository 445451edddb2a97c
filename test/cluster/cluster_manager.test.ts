import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { HealthFlag, type Cluster } from '../../src/cluster/types';
import { cla, cluster, manager, sa, staticCluster, throwsAt } from './helpers';
import { register } from '../../src/common/registry';

test('STATIC cluster: hosts, defaults, initialized, stats names', () => {
  const { cm, store } = manager();
  const c = cm.addOrUpdate(cluster(staticCluster('web', [['127.0.0.1', 8080], ['127.0.0.2', 8080]])));
  assert.equal(c.initialized, true);
  let fired = false;
  c.onInitialized(() => { fired = true; });
  assert.equal(fired, true);
  assert.equal(cm.get('web'), c);
  assert.deepEqual([...cm.all()], [c]);
  const info = c.info;
  assert.equal(info.name, 'web');
  assert.equal(info.observabilityName, 'web');
  assert.equal(info.type, 'STATIC');
  assert.equal(info.connectTimeoutMs, 1000);
  assert.equal(info.perConnectionBufferLimitBytes, 1048576);
  assert.equal(info.upstreamProtocol, 'http1');
  assert.equal(info.idleTimeoutMs, 3600000);
  assert.equal(info.maxRequestsPerConnection, 0);
  assert.equal(info.maxConnectionDurationMs, 0);
  assert.equal(info.maxHeadersCount, 100);
  assert.equal(info.lbPolicy, 'ROUND_ROBIN');
  assert.equal(info.addedViaApi, false);
  const hosts = c.hostsByPriority()[0];
  assert.deepEqual(hosts.map((h) => h.key), ['127.0.0.1:8080', '127.0.0.2:8080']);
  assert.equal(store.gauges.get('cluster.web.membership_total')!.value, 2);
  assert.equal(store.gauges.get('cluster.web.membership_healthy')!.value, 2);
  assert.equal(store.gauges.get('cluster.web.max_host_weight')!.value, 1);
  for (const n of ['upstream_cx_total', 'upstream_rq_total', 'upstream_rq_pending_overflow', 'upstream_cx_none_healthy', 'lb_healthy_panic', 'membership_change']) {
    assert.ok(store.counters.has('cluster.web.' + n), n);
  }
  assert.ok(store.histograms.has('cluster.web.upstream_rq_time'));
  // rqCode creates upstream_rq_<code> lazily, once.
  assert.ok(!store.counters.has('cluster.web.upstream_rq_503'));
  const c503 = info.stats.rqCode(503);
  assert.equal(info.stats.rqCode(503), c503);
  assert.equal(store.counters.get('cluster.web.upstream_rq_503'), c503);
  // Per-host stats are not in the store.
  assert.ok(![...store.counters.keys()].some((k) => k.includes('127.0.0.1')));
  // Picks alternate.
  const a = c.chooseHost(undefined)!, b = c.chooseHost(undefined)!;
  assert.notEqual(a, b);
  cm.shutdown();
});

test('alt_stat_name sets observability name and the stats prefix', () => {
  const { cm, store } = manager();
  const c = cm.addOrUpdate(cluster({ ...staticCluster('outbound|80||web', [['10.0.0.1', 80]]), alt_stat_name: 'web_alt' }));
  assert.equal(c.info.observabilityName, 'web_alt');
  assert.ok(store.counters.has('cluster.web_alt.upstream_rq_total'));
  assert.ok(!store.counters.has('cluster.outbound|80||web.upstream_rq_total'));
});

test('load_assignment: priorities, localities, weights, health status, hostname, metadata', () => {
  const { cm, store } = manager();
  const c = cm.addOrUpdate(cluster({
    name: 'm', connect_timeout: '1s', type: 'STATIC',
    load_assignment: {
      cluster_name: 'm',
      policy: { overprovisioning_factor: 200 },
      endpoints: [
        { locality: { region: 'r1', zone: 'z1' }, load_balancing_weight: 3, lb_endpoints: [
          { endpoint: { ...sa('10.0.0.1', 80), hostname: 'a.example' }, load_balancing_weight: 7, metadata: { filter_metadata: { 'envoy.lb': { canary: true } } } },
          { endpoint: sa('10.0.0.2', 80), health_status: 'UNHEALTHY' },
          { endpoint: sa('10.0.0.3', 80), health_status: 'DRAINING' },
          { endpoint: sa('10.0.0.4', 80), health_status: 'DEGRADED' },
          { endpoint: sa('10.0.0.5', 80), health_status: 'TIMEOUT' },
          { endpoint: sa('::1', 80), health_status: 'HEALTHY' },
        ] },
        { priority: 1, lb_endpoints: [{ endpoint: sa('10.1.0.1', 81) }] },
      ],
    },
  }));
  const [p0, p1] = c.hostsByPriority();
  assert.equal(p0.length, 6);
  assert.equal(p1.length, 1);
  const [h1, h2, h3, h4, h5, h6] = p0;
  assert.equal(h1.hostname, 'a.example');
  assert.equal(h1.weight, 7);
  assert.equal(h1.canary, true);
  assert.deepEqual(h1.metadata, { 'envoy.lb': { canary: true } });
  assert.deepEqual(h1.locality, { region: 'r1', zone: 'z1', sub_zone: '' });
  assert.equal(h2.healthFlags, HealthFlag.FailedEdsHealth);
  assert.equal(h3.healthFlags, HealthFlag.EdsStatusDraining);
  assert.equal(h4.healthFlags, HealthFlag.DegradedEdsHealth);
  assert.equal(h5.healthFlags, HealthFlag.FailedEdsHealth);
  assert.equal(h6.key, '[::1]:80');
  assert.equal(p1[0].priority, 1);
  const hs = c.prioritySet.hostSets[0];
  assert.deepEqual(hs.healthyHosts, [h1, h6]);
  assert.deepEqual(hs.degradedHosts, [h4]);
  assert.deepEqual(hs.excludedHosts, [h3]);
  assert.equal(hs.overprovisioningFactor, 200);
  assert.deepEqual(hs.localityWeights, [3]);
  assert.equal(store.gauges.get('cluster.m.membership_total')!.value, 7);
  assert.equal(store.gauges.get('cluster.m.membership_healthy')!.value, 3);
  assert.equal(store.gauges.get('cluster.m.membership_degraded')!.value, 1);
  assert.equal(store.gauges.get('cluster.m.membership_excluded')!.value, 1);
  assert.equal(store.gauges.get('cluster.m.max_host_weight')!.value, 7);
  // P0 health = 200 * 2 healthy / 5 non-excluded = 80%: 80% to P0's healthy hosts, 20% spills to P1.
  // Unhealthy, timed-out and draining hosts are never picked.
  for (let i = 0; i < 200; i++) {
    const h = c.chooseHost(undefined)!;
    assert.ok(h !== h2 && h !== h3 && h !== h5, h.key);
  }
});

test('pipe addresses (Istio xds-grpc / sds-grpc static clusters)', () => {
  const { cm } = manager();
  const c = cm.addOrUpdate(cluster({
    name: 'xds-grpc', type: 'STATIC', connect_timeout: '1s',
    load_assignment: { cluster_name: 'xds-grpc', endpoints: [{ lb_endpoints: [{ endpoint: { address: { pipe: { path: './etc/istio/proxy/XDS' } } } }] }] },
    typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
      '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
      explicit_http_config: { http2_protocol_options: {} },
    } },
  }));
  const h = c.chooseHost(undefined)!;
  assert.equal(h.pipePath, './etc/istio/proxy/XDS');
  assert.equal(h.key, './etc/istio/proxy/XDS');
  assert.equal(c.info.upstreamProtocol, 'http2');
  assert.deepEqual(c.info.http2Options && typeof c.info.http2Options, 'object');
});

test('no healthy host: chooseHost returns null and counts upstream_cx_none_healthy', () => {
  const { cm, store } = manager();
  const c = cm.addOrUpdate(cluster({ name: 'blackhole', type: 'STATIC', connect_timeout: '1s' }));
  assert.equal(c.chooseHost(undefined), null);
  assert.equal(store.counters.get('cluster.blackhole.upstream_cx_none_healthy')!.value, 1);
});

test('protocol options: typed HttpProtocolOptions and deprecated cluster fields', () => {
  const { cm } = manager();
  const HPO = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
  const typed = (o: object) => ({ typed_extension_protocol_options: { [HPO]: { '@type': 'type.googleapis.com/' + HPO, ...o } } });
  let c = cm.addOrUpdate(cluster({ ...staticCluster('a', [['10.0.0.1', 80]]), ...typed({
    explicit_http_config: { http_protocol_options: {} },
    common_http_protocol_options: { idle_timeout: '300s', max_requests_per_connection: 10, max_connection_duration: '60s', max_headers_count: 50, max_stream_duration: '5s' },
  }) }));
  assert.equal(c.info.upstreamProtocol, 'http1');
  assert.equal(c.info.idleTimeoutMs, 300000);
  assert.equal(c.info.maxRequestsPerConnection, 10);
  assert.equal(c.info.maxConnectionDurationMs, 60000);
  assert.equal(c.info.maxHeadersCount, 50);
  assert.equal(c.info.maxStreamDurationMs, 5000);
  c = cm.addOrUpdate(cluster({ ...staticCluster('b', [['10.0.0.1', 80]]), ...typed({ use_downstream_protocol_config: {} }) }));
  assert.equal(c.info.upstreamProtocol, 'downstream');
  c = cm.addOrUpdate(cluster({ ...staticCluster('c', [['10.0.0.1', 80]]), ...typed({ auto_config: {} }) }));
  assert.equal(c.info.upstreamProtocol, 'http1');
  assert.equal(c.info.autoProtocol, true);
  c = cm.addOrUpdate(cluster({ ...staticCluster('d', [['10.0.0.1', 80]]), http2_protocol_options: {}, common_http_protocol_options: { idle_timeout: '0s' }, max_requests_per_connection: 3 }));
  assert.equal(c.info.upstreamProtocol, 'http2');
  assert.equal(c.info.idleTimeoutMs, 0);
  assert.equal(c.info.maxRequestsPerConnection, 3);
  c = cm.addOrUpdate(cluster({ ...staticCluster('e', [['10.0.0.1', 80]]), http2_protocol_options: {}, protocol_selection: 'USE_DOWNSTREAM_PROTOCOL' }));
  assert.equal(c.info.upstreamProtocol, 'downstream');
  const P = `typed_extension_protocol_options[${HPO}]`;
  throwsAt(() => cm.addOrUpdate(cluster({ ...staticCluster('f', [['10.0.0.1', 80]]), ...typed({ explicit_http_config: { http3_protocol_options: {} } }) })),
    `${P}.explicit_http_config.http3_protocol_options`);
  throwsAt(() => cm.addOrUpdate(cluster({ ...staticCluster('g', [['10.0.0.1', 80]]), ...typed({ explicit_http_config: { http_protocol_options: {} } }), http2_protocol_options: {} })),
    'http2_protocol_options');
  throwsAt(() => cm.addOrUpdate(cluster({ ...staticCluster('h', [['10.0.0.1', 80]]), ...typed({ explicit_http_config: { http_protocol_options: {} }, common_http_protocol_options: { max_requests_per_connection: 2 } }), max_requests_per_connection: 3 })),
    'max_requests_per_connection');
  throwsAt(() => cm.addOrUpdate(cluster({ ...staticCluster('i', [['10.0.0.1', 80]]), typed_extension_protocol_options: { 'x.unknown': { '@type': 'type.googleapis.com/google.protobuf.Empty' } } })),
    'typed_extension_protocol_options[x.unknown]');
  cm.shutdown();
});

test('config errors name the field (relative path, prefixed with opts.path)', () => {
  const { cm, store } = manager();
  throwsAt(() => cm.addOrUpdate(cluster({ ...staticCluster('x', [['10.0.0.1', 80]]), lb_policy: 'MAGLEV' })), 'lb_policy', /^lb_policy: unsupported load balancing policy MAGLEV$/);
  throwsAt(() => cm.addOrUpdate(cluster({ ...staticCluster('x', [['10.0.0.1', 80]]), lb_policy: 'MAGLEV' }), { path: 'static_resources.clusters[1]' }),
    'static_resources.clusters[1].lb_policy');
  throwsAt(() => cm.addOrUpdate(cluster(staticCluster('x', [['example.com', 80]]))),
    'load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address', /malformed IP address: example.com/);
  throwsAt(() => cm.addOrUpdate(cluster({ name: 'x', type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: '1s' })), 'lb_policy');
  throwsAt(() => cm.addOrUpdate(cluster({ name: 'x', type: 'ORIGINAL_DST', connect_timeout: '1s' })), 'type', /ORIGINAL_DST/);
  throwsAt(() => cm.addOrUpdate(cluster({ name: 'x', type: 'EDS', connect_timeout: '1s' })), 'eds_cluster_config');
  throwsAt(() => cm.addOrUpdate(cluster({ ...staticCluster('x', [['10.0.0.1', 80]]), outlier_detection: {} })), 'outlier_detection');
  throwsAt(() => cm.addOrUpdate(cluster({ ...staticCluster('x', [['10.0.0.1', 80]]), health_checks: [{ timeout: '1s', interval: '1s', unhealthy_threshold: 1, healthy_threshold: 1, tcp_health_check: {} }] })), 'health_checks');
  throwsAt(() => cm.addOrUpdate(cluster({ ...staticCluster('x', [['10.0.0.1', 80]]), common_lb_config: { locality_weighted_lb_config: {} }, round_robin_lb_config: { slow_start_config: {} } })), 'round_robin_lb_config.slow_start_config');
  throwsAt(() => cm.addOrUpdate(cluster({ ...staticCluster('x', [['10.0.0.1', 80]]), transport_socket: { name: 'tls', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext' } } })), 'transport_socket', /UpstreamTlsContext/);
  throwsAt(() => cm.addOrUpdate({ name: 'x', circuit_breakers: { thresholds: [{}, { priority: 'HIGH', retry_budget: { budget_percent: { value: 120 } } }] } }), 'circuit_breakers.thresholds[1].retry_budget.budget_percent');
  throwsAt(() => cm.addOrUpdate({ name: 'x', circuit_breakers: { thresholds: [{ priority: 'LOW' }] } }), 'circuit_breakers.thresholds[0].priority');
  throwsAt(() => cm.addOrUpdate({ name: 'x', connect_timeout: 0 }), 'connect_timeout');
  throwsAt(() => cm.addOrUpdate({ name: '' }), 'name');
  throwsAt(() => cm.addOrUpdate({ name: 'x', load_assignment: { endpoints: [{ lb_endpoints: [{ endpoint: sa('10.0.0.1', 80), load_balancing_weight: 0 }] }] } }),
    'load_assignment.endpoints[0].lb_endpoints[0].load_balancing_weight');
  throwsAt(() => cm.addOrUpdate({ name: 'x', load_assignment: { endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '10.0.0.1' } } } }] }] } }),
    'load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value');
  throwsAt(() => cm.addOrUpdate(cluster({ name: 'x', type: 'LOGICAL_DNS', connect_timeout: '1s', load_assignment: { cluster_name: 'x', endpoints: [{ lb_endpoints: [{ endpoint: sa('localhost', 80) }, { endpoint: sa('localhost', 81) }] }] } })),
    'load_assignment.endpoints', /single/);
  throwsAt(() => cm.addOrUpdate({ name: 'x', load_assignment: { policy: { drop_overloads: [{ category: 'lb' }] } } }), 'load_assignment.policy.drop_overloads');
  // Nothing was registered for the failed configs.
  assert.equal(cm.get('x'), undefined);
  assert.ok(![...store.counters.keys()].some((k) => k.startsWith('cluster.x.')), [...store.counters.keys()].join(','));
  assert.ok(![...store.gauges.keys()].some((k) => k.startsWith('cluster.x.')));
});

test('update replaces the cluster (identical config is a no-op); remove drops it and its stats', () => {
  const { cm, store } = manager();
  const seen: string[] = [];
  const off = cm.addUpdateCallbacks({ onClusterAddOrUpdate: (c: Cluster) => seen.push('add:' + c.info.name), onClusterRemoval: (n) => seen.push('rm:' + n) });
  const cfg = cluster(staticCluster('web', [['10.0.0.1', 80]]));
  const c1 = cm.addOrUpdate(cfg, { addedViaApi: true, versionInfo: 'v1' });
  const h1 = c1.hostsByPriority()[0][0];
  h1.stats.rq_total.inc();
  assert.equal(cm.addOrUpdate(cluster(staticCluster('web', [['10.0.0.1', 80]])), { addedViaApi: true, versionInfo: 'v1' }), c1);
  const c2 = cm.addOrUpdate(cluster(staticCluster('web', [['10.0.0.1', 80], ['10.0.0.2', 80]])), { addedViaApi: true, versionInfo: 'v2' });
  assert.notEqual(c2, c1);
  assert.equal(c2.info.versionInfo, 'v2');
  assert.equal(cm.get('web'), c2);
  assert.equal(store.counters.get('cluster_manager.cluster_added')!.value, 1);
  assert.equal(store.counters.get('cluster_manager.cluster_modified')!.value, 1);
  // A static cluster cannot be changed or removed through the API.
  const s = cm.addOrUpdate(cluster(staticCluster('static', [['10.0.0.9', 80]])));
  assert.equal(cm.addOrUpdate(cluster(staticCluster('static', [['10.0.0.8', 80]])), { addedViaApi: true }), s);
  assert.equal(cm.remove('static', { viaApi: true }), false);
  assert.equal(cm.remove('web'), true);
  assert.equal(cm.remove('web'), false);
  assert.equal(cm.get('web'), undefined);
  assert.ok(![...store.counters.keys()].some((k) => k.startsWith('cluster.web.')));
  assert.equal(store.gauges.get('cluster_manager.active_clusters')!.value, 1);
  assert.deepEqual(seen, ['add:web', 'add:web', 'add:static', 'rm:web']);
  off();
  cm.remove('static');
  assert.equal(seen.length, 4);
});

test('removing cluster "a" keeps the stats of cluster "a.b"', () => {
  const { cm, store } = manager();
  cm.addOrUpdate(cluster(staticCluster('a', [['10.0.0.1', 80]])));
  cm.addOrUpdate(cluster(staticCluster('a.b', [['10.0.0.1', 80]])));
  cm.remove('a');
  assert.ok(store.counters.has('cluster.a.b.upstream_rq_total'));
  assert.ok(!store.counters.has('cluster.a.upstream_rq_total'));
  assert.ok(store.gauges.has('cluster.a.b.circuit_breakers.default.cx_open'));
  assert.ok(!store.gauges.has('cluster.a.circuit_breakers.default.cx_open'));
});

test('EDS seam: applyLoadAssignment initializes, reuses hosts by address, moves priorities', () => {
  const { cm, store } = manager();
  const c = cm.addOrUpdate(cluster({ name: 'eds', type: 'EDS', connect_timeout: '1s', eds_cluster_config: { service_name: 'svc', eds_config: { ads: {} } } }), { addedViaApi: true });
  assert.equal(c.initialized, false);
  let inits = 0;
  c.onInitialized(() => inits++);
  assert.equal(c.chooseHost(undefined), null);
  assert.equal(cm.applyLoadAssignment('eds', cla({ cluster_name: 'svc', endpoints: [{ lb_endpoints: [{ endpoint: sa('10.0.0.1', 80) }, { endpoint: sa('10.0.0.2', 80) }] }] })), true);
  assert.equal(c.initialized, true);
  assert.equal(inits, 1);
  const h1 = c.hostsByPriority()[0][0];
  h1.stats.rq_total.add(5);
  // 10.0.0.1 moves to priority 1 with a new weight; 10.0.0.2 goes away; 10.0.0.3 is new.
  cm.applyLoadAssignment('eds', cla({ cluster_name: 'svc', endpoints: [
    { lb_endpoints: [{ endpoint: sa('10.0.0.3', 80) }] },
    { priority: 1, lb_endpoints: [{ endpoint: sa('10.0.0.1', 80), load_balancing_weight: 4 }] },
  ] }));
  const [p0, p1] = c.hostsByPriority();
  assert.deepEqual(p0.map((h) => h.key), ['10.0.0.3:80']);
  assert.equal(p1[0], h1);
  assert.equal(h1.priority, 1);
  assert.equal(h1.weight, 4);
  assert.equal(h1.stats.rq_total.value, 5);
  assert.equal(inits, 1);
  assert.equal(store.counters.get('cluster.eds.update_success')!.value, 2);
  assert.equal(store.counters.get('cluster.eds.membership_change')!.value, 2);
  // A bad assignment is rejected with a path and changes nothing.
  throwsAt(() => cm.applyLoadAssignment('eds', { endpoints: [{ lb_endpoints: [{ endpoint: sa('not-an-ip', 80) }] }] }),
    'endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address');
  assert.equal(store.counters.get('cluster.eds.update_rejected')!.value, 1);
  assert.deepEqual(c.hostsByPriority()[0].map((h) => h.key), ['10.0.0.3:80']);
  // Empty assignment: no hosts.
  cm.applyLoadAssignment('eds', cla({ cluster_name: 'svc' }));
  assert.deepEqual(c.hostsByPriority().map((l) => l.length), [0, 0]);
  assert.equal(store.counters.get('cluster.eds.update_empty')!.value, 1);
  assert.equal(cm.applyLoadAssignment('nope', cla({ cluster_name: 'nope' })), false);
});

test('EDS cluster replaced with the same service keeps serving the last assignment', () => {
  const { cm } = manager();
  const cfg = { name: 'eds', type: 'EDS', connect_timeout: '1s', eds_cluster_config: { service_name: 'svc', eds_config: { ads: {} } } };
  cm.addOrUpdate(cluster(cfg), { addedViaApi: true });
  cm.applyLoadAssignment('eds', cla({ cluster_name: 'svc', endpoints: [{ lb_endpoints: [{ endpoint: sa('10.0.0.1', 80) }] }] }));
  const c2 = cm.addOrUpdate(cluster({ ...cfg, connect_timeout: '2s' }), { addedViaApi: true });
  assert.equal(c2.initialized, true);
  assert.equal(c2.chooseHost(undefined)!.key, '10.0.0.1:80');
});

test('refreshHealth: health flag changes take effect for picks and membership gauges', () => {
  const { cm, store } = manager();
  const c = cm.addOrUpdate(cluster(staticCluster('h', [['10.0.0.1', 80], ['10.0.0.2', 80], ['10.0.0.3', 80]])));
  const [a] = c.hostsByPriority()[0];
  a.healthFlags |= HealthFlag.FailedActiveHc;
  assert.equal(a.healthy(), false);
  c.refreshHealth();
  assert.equal(store.gauges.get('cluster.h.membership_healthy')!.value, 2);
  for (let i = 0; i < 30; i++) assert.notEqual(c.chooseHost(undefined), a);
});

test('cluster filters: only no-op upstream filters (Istio metadata exchange) are accepted; transport sockets must be registered', () => {
  const { cm } = manager();
  const MX = 'type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange.remora_test';
  const filters = [{ name: 'istio.metadata_exchange', typed_config: { '@type': MX, '@unknown': true } }];
  throwsAt(() => cm.addOrUpdate({ name: 'f', filters }), 'filters[0]', /upstream network filter/);
  register('network_filter', { typeNames: ['envoy.tcp.metadataexchange.config.MetadataExchange.remora_test'], create: () => ({}), noop: true });
  assert.ok(cm.addOrUpdate({ name: 'f', filters }));
  throwsAt(() => cm.addOrUpdate({ name: 'g', filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy' } }] }), 'filters[0]');
  // raw_buffer is built in; other transport sockets need a registered factory.
  assert.ok(cm.addOrUpdate({ name: 'r', transport_socket: { name: 'envoy.transport_sockets.raw_buffer', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer' } } }));
  throwsAt(() => cm.addOrUpdate({ name: 't', transport_socket_matches: [{ name: 'tlsMode-istio', transport_socket: { name: 'tls', typed_config: { '@type': 'type.googleapis.com/x.TlsTest' } } }] }),
    'transport_socket_matches[0].transport_socket');
  register('transport_socket', { typeNames: ['x.TlsTest'], create: () => ({}) });
  assert.ok(cm.addOrUpdate({ name: 't', transport_socket_matches: [{ name: 'tlsMode-istio', transport_socket: { name: 'tls', typed_config: { '@type': 'type.googleapis.com/x.TlsTest' } } }] }));
  cm.shutdown();
});
