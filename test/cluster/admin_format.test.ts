// /clusters output against Envoy's own expected outputs (clusters_handler_test.cc).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Counter, Gauge } from '../../src/stats/stats';
import { HealthFlag, type HostStats, type SuccessRateMonitorType } from '../../src/cluster/types';
import type { HostImpl } from '../../src/cluster/host';
import { fmtG, healthFlagsToString, renderClustersJson, renderClustersText } from '../../src/cluster/admin_format';
import { cla, cluster, manager, sa, staticCluster } from './helpers';

function fixture(name: string): string {
  // Works from test/ (tsx) and dist/test/ (compiled): walk up to the package root.
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('package root not found');
    dir = up;
  }
  return fs.readFileSync(path.join(dir, 'test', 'cluster', 'fixtures', name), 'utf8');
}

/** Proto3 JSON equivalence: drop fields that hold their default value (the fixture spells some out). */
function withoutDefaults(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutDefaults);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if ((k === 'protocol' && x === 'TCP') || (k === 'type' && x === 'COUNTER') || (k === 'priority' && (x === 'DEFAULT' || x === 0))) continue;
      if (x === false || x === '' || x === 0) continue;
      out[k] = withoutDefaults(x);
    }
    return out;
  }
  return v;
}

/**
 * The fixture's cluster: config supplies everything config can (EDS cluster with service name,
 * alt_stat_name, circuit breakers, an endpoint at priority 6 with locality, weight, hostname and
 * DEGRADED health). The rest is runtime state that Envoy's test mocks and that health checking and
 * outlier detection own: the other health flags, outlier success rates, and the host's stat set.
 */
function fakeCluster() {
  const { cm } = manager();
  const c = cm.addOrUpdate(cluster({
    name: 'fake_cluster', alt_stat_name: 'observability_name', type: 'EDS', connect_timeout: '1s',
    eds_cluster_config: { service_name: 'potato_launcher', eds_config: { ads: {} } },
    circuit_breakers: { thresholds: [{ max_connections: 1, max_retries: 1 }, { priority: 'HIGH', max_connections: 1, max_retries: 1 }] },
  }), { addedViaApi: true });
  cm.applyLoadAssignment('fake_cluster', cla({
    cluster_name: 'potato_launcher',
    endpoints: [{
      priority: 6,
      locality: { region: 'test_region', zone: 'test_zone', sub_zone: 'test_sub_zone' },
      lb_endpoints: [{ endpoint: { ...sa('1.2.3.4', 80), hostname: 'foo.com' }, health_status: 'DEGRADED', load_balancing_weight: 5 }],
    }],
  }));
  const host = c.hostsByPriority()[6][0] as HostImpl;
  host.healthFlags |= HealthFlag.FailedActiveHc | HealthFlag.FailedOutlierCheck | HealthFlag.DegradedActiveHc | HealthFlag.PendingDynamicRemoval;
  c.refreshHealth();
  const counter = (n: number) => { const x = new Counter('x'); x.add(n); return x; };
  const gauge = (n: number) => { const x = new Gauge('x'); x.set(n); return x; };
  host.stats = {
    arest_counter: counter(5), rest_counter: counter(10), test_counter: counter(10),
    atest_gauge: gauge(10), test_gauge: gauge(11),
  } as unknown as HostStats;
  host.outlier = { successRate: (t: SuccessRateMonitorType) => (t === 'external' ? 43.2 : 93.2) };
  c.outlierDetector = {
    successRateAverage: () => 0,
    successRateEjectionThreshold: (t: SuccessRateMonitorType) => (t === 'external' ? 6 : 9),
  };
  return cm;
}

test('/clusters text matches Envoy\'s expected output line for line', () => {
  const cm = fakeCluster();
  const expected = fixture('clusters_handler_test.expected_clusters.txt');
  const actual = renderClustersText(cm);
  assert.deepEqual(actual.split('\n'), expected.split('\n'));
  assert.equal(actual, expected);
});

test('/clusters?format=json is proto-equivalent to Envoy\'s expected JSON', () => {
  const cm = fakeCluster();
  const expected = JSON.parse(fixture('clusters_handler_test.expected_clusters.json'));
  const actual = renderClustersJson(cm);
  assert.deepEqual(actual, withoutDefaults(expected));
  // Defaults are omitted: no protocol TCP, no COUNTER type, no DEFAULT priority.
  const s = JSON.stringify(actual);
  assert.ok(!s.includes('"TCP"') && !s.includes('"COUNTER"') && !s.includes('"DEFAULT"'));
});

test('/clusters for a plain static cluster: real host stats, healthy, -1 success rates, no outlier lines', () => {
  const { cm } = manager();
  const c = cm.addOrUpdate(cluster({
    ...staticCluster('web', [['10.0.0.1', 8080]]),
    circuit_breakers: { thresholds: [{ max_connections: 4294967295, max_pending_requests: 4294967295, max_requests: 4294967295, max_retries: 4294967295, track_remaining: true }] },
  }));
  const h = c.hostsByPriority()[0][0];
  h.stats.rq_total.add(17); h.stats.rq_success.add(17); h.stats.cx_total.add(2); h.stats.cx_active.set(2);
  const text = renderClustersText(cm);
  assert.equal(text, [
    'web::observability_name::web',
    'web::default_priority::max_connections::4294967295',
    'web::default_priority::max_pending_requests::4294967295',
    'web::default_priority::max_requests::4294967295',
    'web::default_priority::max_retries::4294967295',
    'web::high_priority::max_connections::1024',
    'web::high_priority::max_pending_requests::1024',
    'web::high_priority::max_requests::1024',
    'web::high_priority::max_retries::3',
    'web::added_via_api::false',
    'web::10.0.0.1:8080::cx_active::2',
    'web::10.0.0.1:8080::cx_connect_fail::0',
    'web::10.0.0.1:8080::cx_total::2',
    'web::10.0.0.1:8080::rq_active::0',
    'web::10.0.0.1:8080::rq_error::0',
    'web::10.0.0.1:8080::rq_success::17',
    'web::10.0.0.1:8080::rq_timeout::0',
    'web::10.0.0.1:8080::rq_total::17',
    'web::10.0.0.1:8080::hostname::',
    'web::10.0.0.1:8080::health_flags::healthy',
    'web::10.0.0.1:8080::weight::1',
    'web::10.0.0.1:8080::region::',
    'web::10.0.0.1:8080::zone::',
    'web::10.0.0.1:8080::sub_zone::',
    'web::10.0.0.1:8080::canary::false',
    'web::10.0.0.1:8080::priority::0',
    'web::10.0.0.1:8080::success_rate::-1',
    'web::10.0.0.1:8080::local_origin_success_rate::-1',
    '',
  ].join('\n'));
  const json = renderClustersJson(cm) as { cluster_statuses: Record<string, unknown>[] };
  const hs = (json.cluster_statuses[0].host_statuses as Record<string, unknown>[])[0];
  assert.deepEqual(hs.address, { socket_address: { address: '10.0.0.1', port_value: 8080 } });
  assert.deepEqual(hs.health_status, { eds_health_status: 'HEALTHY' });
  assert.deepEqual(hs.locality, {});
  assert.equal(hs.weight, 1);
  assert.equal(hs.success_rate, undefined);
  assert.deepEqual((hs.stats as unknown[])[0], { name: 'cx_connect_fail' });
  assert.deepEqual((hs.stats as unknown[])[1], { name: 'cx_total', value: '2' });
  assert.deepEqual((hs.stats as unknown[])[6], { name: 'cx_active', value: '2', type: 'GAUGE' });
  assert.equal(json.cluster_statuses[0].added_via_api, undefined);
  // filter option (the admin handler's ?filter=)
  assert.equal(renderClustersText(cm, { filter: (n) => n === 'other' }), '');
  assert.deepEqual(renderClustersJson(cm, { filter: () => false }), {});
});

test('health flag strings in Envoy order; eds_status_draining; DRAINING in JSON', () => {
  assert.equal(healthFlagsToString(0), 'healthy');
  assert.equal(healthFlagsToString(HealthFlag.EdsStatusDraining | HealthFlag.FailedActiveHc), '/failed_active_hc/eds_status_draining');
  const { cm } = manager();
  cm.addOrUpdate(cluster({
    name: 'd', type: 'STATIC', connect_timeout: '1s',
    load_assignment: { cluster_name: 'd', endpoints: [{ lb_endpoints: [{ endpoint: sa('10.0.0.1', 80), health_status: 'DRAINING' }, { endpoint: sa('10.0.0.2', 80), health_status: 'UNHEALTHY' }] }] },
  }));
  const text = renderClustersText(cm);
  assert.match(text, /^d::10\.0\.0\.1:80::health_flags::\/eds_status_draining$/m);
  assert.match(text, /^d::10\.0\.0\.2:80::health_flags::\/failed_eds_health$/m);
  const json = renderClustersJson(cm) as { cluster_statuses: { host_statuses: { health_status: unknown }[] }[] };
  assert.deepEqual(json.cluster_statuses[0].host_statuses.map((h) => h.health_status), [{ eds_health_status: 'DRAINING' }, { eds_health_status: 'UNHEALTHY' }]);
});

test('%g formatting of outlier values', () => {
  assert.equal(fmtG(0), '0');
  assert.equal(fmtG(6), '6');
  assert.equal(fmtG(-1), '-1');
  assert.equal(fmtG(43.2), '43.2');
  assert.equal(fmtG(99.99999), '100');
  assert.equal(fmtG(1234567), '1.23457e+06');
  assert.equal(fmtG(0.00001), '1e-05');
  assert.equal(fmtG(0.5), '0.5');
});
