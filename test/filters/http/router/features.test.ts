import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Store } from '../../../../src/stats/stats';
import { ClusterManagerImpl } from '../../../../src/cluster/cluster_manager';
import { parse } from '../../../../src/config/json';
import { responseFlagsToString } from '../../../../src/common/response_flags';
import { flushAllAccessLogs } from '../../../../src/access_loggers';
import { lookup } from '../../../../src/common/registry';
import type { HttpFilterFactory } from '../../../../src/http/filter';
import { destroyHostPools, livePoolCount, closeAllPools } from '../../../../src/filters/http/router/upstream/pools';
import {
  clusterManager, counter, h1Upstream, quietLog, request, routes, staticCluster, startProxy, teardownPools, until,
} from './harness';

after(() => teardownPools());

test('strict_check_headers: an invalid x-envoy header is a 400 IH', async () => {
  const up = await h1Upstream((_q, res) => res.end('ok'));
  const store = new Store();
  const cm = clusterManager(store);
  cm.addOrUpdate(staticCluster('b', [up.port]));
  const proxy = await startProxy({
    rc: routes([{ match: { prefix: '/' }, route: { cluster: 'b' } }]), cm, store,
    router: { strict_check_headers: ['x-envoy-upstream-rq-timeout-ms', 'x-envoy-retry-on'] },
  });
  try {
    const r = await request(proxy.port, { headers: { 'x-envoy-upstream-rq-timeout-ms': 'soon' } });
    assert.equal(r.status, 400);
    assert.equal(r.body, "invalid header 'x-envoy-upstream-rq-timeout-ms' with value 'soon'");
    assert.equal(responseFlagsToString(proxy.streams[0].streamInfo.responseFlags), 'IH');
    assert.equal(proxy.streams[0].streamInfo.responseCodeDetails, 'request_headers_failed_strict_check');
    const r2 = await request(proxy.port, { headers: { 'x-envoy-retry-on': '5xx,bogus' } });
    assert.equal(r2.status, 400);
    const ok = await request(proxy.port, { headers: { 'x-envoy-retry-on': '5xx', 'x-envoy-upstream-rq-timeout-ms': '100' } });
    assert.equal(ok.status, 200);
  } finally {
    await proxy.close();
    await up.close();
  }
});

test('router config validation', () => {
  const f = lookup<HttpFilterFactory>('http_filter', 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router')!;
  const store = new Store();
  const cm = clusterManager(store);
  assert.throws(() => f.create({ '@type': 'x', strict_check_headers: ['x-foo'] }, { path: 'p', clusterManager: cm }), /p\.strict_check_headers\[0\]/);
  assert.throws(() => f.create({ '@type': 'x', upstream_http_filters: [{ name: 'envoy.filters.http.buffer' }] }, { path: 'p', clusterManager: cm }), /p\.upstream_http_filters/);
  assert.throws(() => f.create({ '@type': 'x' }, { path: 'p' }), /cluster manager/);
  // The HCM's scope is used when given.
  const scope = store.scope('http.hcm.');
  const made = f.create({ '@type': 'x' }, { path: 'p', clusterManager: cm, scope, statPrefix: 'http.hcm.' }) as HttpFilterFactory & { config: { stats: { rq_total: { name: string } } } };
  assert.equal(made.config.stats.rq_total.name, 'http.hcm.rq_total');
  assert.equal(made.terminal, true);
  assert.equal(lookup('http_filter', 'envoy.filters.http.router'), f);
});

test('suppress_envoy_headers drops the x-envoy-* headers the router adds', async () => {
  const up = await h1Upstream((req, res) => res.end(JSON.stringify({ e: req.headers['x-envoy-expected-rq-timeout-ms'] ?? null, o: req.headers['x-envoy-original-path'] ?? null })));
  const store = new Store();
  const cm = clusterManager(store);
  cm.addOrUpdate(staticCluster('b', [up.port]));
  const proxy = await startProxy({
    rc: routes([{ match: { prefix: '/a' }, route: { cluster: 'b', prefix_rewrite: '/z' } }]), cm, store,
    router: { suppress_envoy_headers: true },
  });
  try {
    const r = await request(proxy.port, { path: '/a' });
    assert.deepEqual(JSON.parse(r.body), { e: null, o: null });
    assert.equal(r.headers['x-envoy-upstream-service-time'], undefined);
  } finally {
    await proxy.close();
    await up.close();
  }
});

test('auto_host_rewrite uses the DNS name of the chosen host', async () => {
  const up = await h1Upstream((req, res) => res.end(String(req.headers.host)));
  const store = new Store();
  const cm = new ClusterManagerImpl({
    stats: store, log: quietLog,
    dnsResolve: async (name) => ({ addresses: name === 'svc.example' ? ['127.0.0.1'] : [], ttlSec: 0 }),
  });
  cm.addOrUpdate(parse('envoy.config.cluster.v3.Cluster', {
    name: 'dns', type: 'STRICT_DNS', connect_timeout: '1s',
    load_assignment: { cluster_name: 'dns', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'svc.example', port_value: up.port } } } }] }] },
  }));
  const c = cm.get('dns')!;
  await new Promise<void>((r) => c.initialized ? r() : c.onInitialized(r));
  const proxy = await startProxy({ rc: routes([{ match: { prefix: '/' }, route: { cluster: 'dns', auto_host_rewrite: true } }]), cm, store });
  try {
    const r = await request(proxy.port, {});
    assert.equal(r.body, 'svc.example');
  } finally {
    await proxy.close();
    await up.close();
    cm.shutdown();
  }
});

test('per_try_idle_timeout resets an upstream that goes quiet', async () => {
  const up = await h1Upstream((_q, res) => {
    res.writeHead(200, { 'content-length': '10' });
    res.write('12345');
    // ...and never the rest
  });
  const store = new Store();
  const cm = clusterManager(store);
  cm.addOrUpdate(staticCluster('b', [up.port]));
  const proxy = await startProxy({
    rc: routes([{ match: { prefix: '/' }, route: { cluster: 'b', timeout: '5s', retry_policy: { retry_on: 'connect-failure', per_try_idle_timeout: '0.1s' } } }]), cm, store,
  });
  try {
    await assert.rejects(request(proxy.port, {}));
    await until(() => counter(store, 'cluster.b.upstream_rq_per_try_idle_timeout') === 1);
    const si = proxy.streams[0].streamInfo;
    assert.equal(responseFlagsToString(si.responseFlags), 'UT');
    assert.equal(si.responseCodeDetails, 'upstream_per_try_idle_timeout');
  } finally {
    await proxy.close();
    await up.close();
  }
});

test('upstream_log writes one line per attempt', async () => {
  const file = path.join(os.tmpdir(), `remora-upstream-log-${process.pid}-${Date.now()}.log`);
  const up = await h1Upstream((_q, res, _b, n) => { res.statusCode = n === 1 ? 503 : 200; res.end(); });
  const store = new Store();
  const cm = clusterManager(store);
  cm.addOrUpdate(staticCluster('b', [up.port]));
  const proxy = await startProxy({
    rc: routes([{ match: { prefix: '/' }, route: { cluster: 'b', retry_policy: { retry_on: '5xx', retry_back_off: { base_interval: '0.001s' } } } }]), cm, store,
    router: { upstream_log: [{ name: 'envoy.access_loggers.file', typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog', path: file,
      log_format: { text_format_source: { inline_string: 'attempt %UPSTREAM_HOST% %UPSTREAM_CLUSTER%\n' } } } }] },
  });
  try {
    assert.equal((await request(proxy.port, {})).status, 200);
    await flushAllAccessLogs();
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    assert.equal(lines.length, 2);
    for (const l of lines) assert.equal(l, `attempt 127.0.0.1:${up.port} b`);
  } finally {
    await proxy.close();
    await up.close();
    fs.rmSync(file, { force: true });
  }
});

test('Istio-style default retry policy retries a 503 on another host', async () => {
  const bad = await h1Upstream((_q, res) => { res.statusCode = 503; res.end('bad'); });
  const good = await h1Upstream((_q, res) => res.end('good'));
  const store = new Store();
  const cm = clusterManager(store);
  cm.addOrUpdate(staticCluster('mesh', [bad.port, good.port]));
  const proxy = await startProxy({
    rc: routes([{ match: { prefix: '/' }, route: { cluster: 'mesh', timeout: '0s', retry_policy: {
      retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes', num_retries: 2,
      retriable_status_codes: [503],
      retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' } }],
      host_selection_retry_max_attempts: 5 } } }]),
    cm, store,
  });
  try {
    for (let i = 0; i < 4; i++) assert.equal((await request(proxy.port, {})).body, 'good');
  } finally {
    await proxy.close();
    await bad.close();
    await good.close();
  }
});

test('destroyHostPools closes a host\'s connections; a cluster update replaces its pools', async () => {
  const closedSockets: number[] = [];
  const up = await h1Upstream((_q, res) => res.end('x'));
  up.server.on('connection', (s) => s.on('close', () => closedSockets.push(1)));
  const store = new Store();
  const cm = clusterManager(store);
  cm.addOrUpdate(staticCluster('b', [up.port]));
  const proxy = await startProxy({ rc: routes([{ match: { prefix: '/' }, route: { cluster: 'b' } }]), cm, store });
  try {
    closeAllPools();
    assert.equal(livePoolCount(), 0);
    await request(proxy.port, {});
    assert.equal(livePoolCount(), 1);
    const host = cm.get('b')!.hostsByPriority()[0][0];
    assert.ok(host.pools.has('h1'));
    destroyHostPools(host);
    assert.equal(host.pools.size, 0);
    assert.equal(livePoolCount(), 0);
    await until(() => closedSockets.length === 1);
    await until(() => counter(store, 'cluster.b.upstream_cx_destroy') === 1);
    // New cluster config (new ClusterInfo): the next request builds a new pool, the old one drains.
    await request(proxy.port, {});
    cm.addOrUpdate(staticCluster('b', [up.port], { connect_timeout: '2s' }));
    await request(proxy.port, {});
    const host2 = cm.get('b')!.hostsByPriority()[0][0];
    const pool = host2.pools.get('h1') as { info: unknown };
    assert.equal(pool.info, cm.get('b')!.info);
  } finally {
    await proxy.close();
    await up.close();
  }
});

test('pools follow the cluster manager: removed hosts and removed clusters drain their pools', async () => {
  const a = await h1Upstream((_q, res) => res.end('a'));
  const b = await h1Upstream((_q, res) => res.end('b'));
  const closed = { a: 0, b: 0 };
  a.server.on('connection', (s) => s.on('close', () => closed.a++));
  b.server.on('connection', (s) => s.on('close', () => closed.b++));
  const store = new Store();
  const cm = clusterManager(store);
  cm.addOrUpdate(staticCluster('two', [a.port, b.port]));
  const proxy = await startProxy({ rc: routes([{ match: { prefix: '/' }, route: { cluster: 'two' } }]), cm, store });
  try {
    closeAllPools();
    await request(proxy.port, {});
    await request(proxy.port, {});
    assert.equal(livePoolCount(), 2);
    const c = cm.get('two')!;
    const [ha, hb] = c.hostsByPriority()[0];
    // EDS-style membership change: host b leaves.
    c.updateHosts(0, [ha]);
    assert.equal(hb.pools.size, 0);
    assert.equal(livePoolCount(), 1);
    await until(() => closed.b === 1);
    assert.equal(closed.a, 0);
    cm.remove('two');
    assert.equal(livePoolCount(), 0);
    await until(() => closed.a === 1);
  } finally {
    await proxy.close();
    await a.close();
    await b.close();
  }
});
