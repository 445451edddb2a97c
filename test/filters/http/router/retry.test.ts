import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { Store } from '../../../../src/stats/stats';
import { responseFlagsToString } from '../../../../src/common/response_flags';
import {
  clusterManager, counter, deadPort, gauge, h1Upstream, request, routes, staticCluster, startProxy, teardownPools, until,
} from './harness';

after(() => teardownPools());

const FAST_BACKOFF = { base_interval: '0.001s', max_interval: '0.002s' };

async function setup(handler: Parameters<typeof h1Upstream>[0], routeAction: object, vhost?: object, clusterExtra?: object) {
  const up = await h1Upstream(handler);
  const store = new Store();
  const cm = clusterManager(store);
  cm.addOrUpdate(staticCluster('backend', [up.port], clusterExtra));
  const proxy = await startProxy({ rc: routes([{ match: { prefix: '/' }, route: { cluster: 'backend', ...routeAction } }], vhost), cm, store });
  return {
    up, store, cm, proxy,
    async close() { await proxy.close(); await up.close(); },
  };
}

test('5xx is retried; the retry succeeds (upstream_rq_retry, _success, attempt count headers)', async () => {
  const t = await setup((req, res, _b, n) => {
    res.statusCode = n === 1 ? 503 : 200;
    res.end(`attempt ${n} count ${req.headers['x-envoy-attempt-count']}`);
  }, { retry_policy: { retry_on: '5xx', num_retries: 2, retry_back_off: FAST_BACKOFF } },
  { include_request_attempt_count: true, include_attempt_count_in_response: true });
  try {
    const r = await request(t.proxy.port, {});
    assert.equal(r.status, 200);
    assert.equal(r.body, 'attempt 2 count 2');
    assert.equal(r.headers['x-envoy-attempt-count'], '2');
    assert.equal(counter(t.store, 'cluster.backend.upstream_rq_retry'), 1);
    assert.equal(counter(t.store, 'cluster.backend.upstream_rq_retry_success'), 1);
    assert.equal(counter(t.store, 'cluster.backend.retry.upstream_rq_503'), 1);
    assert.equal(counter(t.store, 'cluster.backend.upstream_rq_total'), 2);
    assert.equal(t.proxy.streams[0].streamInfo.attemptCount, 2);
    assert.equal(responseFlagsToString(t.proxy.streams[0].streamInfo.responseFlags), '-');
  } finally { await t.close(); }
});

test('retries exhausted: the last upstream response is forwarded with URX', async () => {
  const t = await setup((_q, res, _b, n) => { res.statusCode = 503; res.end(`no ${n}`); },
    { retry_policy: { retry_on: '5xx', num_retries: 2, retry_back_off: FAST_BACKOFF } });
  try {
    const r = await request(t.proxy.port, {});
    assert.equal(r.status, 503);
    assert.equal(r.body, 'no 3');
    assert.equal(t.up.requests.length, 3);
    assert.equal(counter(t.store, 'cluster.backend.upstream_rq_retry'), 2);
    assert.equal(counter(t.store, 'cluster.backend.upstream_rq_retry_limit_exceeded'), 1);
    assert.equal(responseFlagsToString(t.proxy.streams[0].streamInfo.responseFlags), 'URX');
    assert.equal(gauge(t.store, 'cluster.backend.circuit_breakers.default.rq_retry_open'), 0);
  } finally { await t.close(); }
});

test('gateway-error retries 502/503/504 but not 500; retriable-4xx retries 409; retriable-status-codes', async () => {
  const codes = [502, 500];
  const t = await setup((req, res, _b, n) => {
    const u = req.url ?? '';
    if (u === '/gw') res.statusCode = codes[n - 1] ?? 200;
    else if (u === '/409') res.statusCode = n === 3 ? 409 : 200;
    else if (u === '/418') res.statusCode = n === 5 ? 418 : 200;
    res.end(String(n));
  }, { retry_policy: { retry_on: 'gateway-error,retriable-4xx,retriable-status-codes', retriable_status_codes: [418], num_retries: 3, retry_back_off: FAST_BACKOFF } });
  try {
    const gw = await request(t.proxy.port, { path: '/gw' });
    assert.equal(gw.status, 500); // 502 retried, 500 is not a gateway error
    assert.equal(gw.body, '2');
    const c = await request(t.proxy.port, { path: '/409' });
    assert.equal(c.status, 200);
    assert.equal(c.body, '4');
    const s = await request(t.proxy.port, { path: '/418' });
    assert.equal(s.status, 200);
    assert.equal(s.body, '6');
  } finally { await t.close(); }
});

test('x-envoy-retry-on / x-envoy-max-retries / x-envoy-retriable-status-codes request headers', async () => {
  const t = await setup((req, res, _b, n) => {
    res.statusCode = n <= 3 ? 429 : 200;
    res.end(JSON.stringify({ n, ro: req.headers['x-envoy-retry-on'] ?? null, mr: req.headers['x-envoy-max-retries'] ?? null }));
  }, {});
  try {
    const r = await request(t.proxy.port, {
      headers: { 'x-envoy-retry-on': 'retriable-status-codes', 'x-envoy-retriable-status-codes': '429', 'x-envoy-max-retries': '3' },
    });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { n: 4, ro: null, mr: null }); // consumed, never forwarded
    // Without the headers and without a policy: no retry.
    const r2 = await request(t.proxy.port, {});
    assert.equal(r2.status, 200);
    assert.equal(t.up.requests.length, 5);
  } finally { await t.close(); }
});

test('upstream reset before headers: 503 UC without retries; retried with retry_on reset', async () => {
  const t = await setup((req, res, _b, n) => {
    if (req.url === '/reset' || (req.url === '/once' && n === 2)) { req.socket.destroy(); return; }
    res.end('ok');
  }, {});
  try {
    const r = await request(t.proxy.port, { path: '/reset' });
    assert.equal(r.status, 503);
    assert.equal(r.body, 'upstream connect error or disconnect/reset before headers. reset reason: connection termination');
    const si = t.proxy.streams[0].streamInfo;
    assert.equal(responseFlagsToString(si.responseFlags), 'UC');
    assert.equal(si.responseCodeDetails, 'upstream_reset_before_response_started{connection_termination}');
    assert.equal(counter(t.store, 'cluster.backend.upstream_rq_503'), 1);
  } finally { await t.close(); }

  const t2 = await setup((req, res, _b, n) => {
    if (n === 1) { req.socket.destroy(); return; }
    res.end('second');
  }, { retry_policy: { retry_on: 'reset', retry_back_off: FAST_BACKOFF } });
  try {
    const r = await request(t2.proxy.port, {});
    assert.equal(r.status, 200);
    assert.equal(r.body, 'second');
  } finally { await t2.close(); }
});

test('connection refused: 503 UF; connect-failure + previous_hosts retries another host', async () => {
  const dead = await deadPort();
  const store = new Store();
  const cm = clusterManager(store);
  cm.addOrUpdate(staticCluster('dead', [dead]));
  const up = await h1Upstream((_q, res) => res.end('alive'));
  cm.addOrUpdate(staticCluster('mixed', [dead, up.port]));
  const proxy = await startProxy({
    rc: routes([
      { match: { prefix: '/dead' }, route: { cluster: 'dead' } },
      { match: { prefix: '/' }, route: { cluster: 'mixed', retry_policy: {
        retry_on: 'connect-failure', num_retries: 3, retry_back_off: FAST_BACKOFF,
        retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts',
          typed_config: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' } }],
        host_selection_retry_max_attempts: 5 } } },
    ]),
    cm, store,
  });
  try {
    const r = await request(proxy.port, { path: '/dead' });
    assert.equal(r.status, 503);
    assert.equal(r.body, 'upstream connect error or disconnect/reset before headers. reset reason: connection failure');
    const si = proxy.streams[0].streamInfo;
    assert.equal(responseFlagsToString(si.responseFlags), 'UF');
    assert.equal(si.responseCodeDetails, 'upstream_reset_before_response_started{connection_failure}');
    assert.ok(si.upstreamTransportFailureReason.length > 0);
    assert.equal(counter(store, 'cluster.dead.upstream_cx_connect_fail'), 1);
    assert.equal(counter(store, 'cluster.dead.upstream_rq_pending_failure_eject'), 1);
    const host = cm.get('dead')!.hostsByPriority()[0][0];
    assert.equal(host.stats.cx_connect_fail.value, 1);
    for (let i = 0; i < 6; i++) {
      const ok = await request(proxy.port, { path: '/m' });
      assert.equal(ok.status, 200, ok.body);
      assert.equal(ok.body, 'alive');
    }
    // Every attempt that hit the dead host was retried on the other one (never the same host twice).
    for (const s of proxy.streams.slice(1)) assert.ok(s.streamInfo.attemptCount <= 2);
  } finally {
    await proxy.close();
    await up.close();
  }
});

test('retries exhausted on connect failure: 503 with URX and UF', async () => {
  const dead = await deadPort();
  const store = new Store();
  const cm = clusterManager(store);
  cm.addOrUpdate(staticCluster('dead', [dead]));
  const proxy = await startProxy({
    rc: routes([{ match: { prefix: '/' }, route: { cluster: 'dead', retry_policy: { retry_on: 'connect-failure', num_retries: 1, retry_back_off: FAST_BACKOFF } } }]),
    cm, store,
  });
  try {
    const r = await request(proxy.port, {});
    assert.equal(r.status, 503);
    assert.equal(r.body, 'upstream connect error or disconnect/reset before headers. retried and the latest reset reason: connection failure');
    assert.equal(responseFlagsToString(proxy.streams[0].streamInfo.responseFlags), 'UF,URX');
    assert.equal(counter(store, 'cluster.dead.upstream_rq_retry_limit_exceeded'), 1);
  } finally { await proxy.close(); }
});

test('the request body is buffered and replayed on retry; beyond the buffer limit retries are abandoned', async () => {
  const t = await setup((_q, res, body, n) => {
    res.statusCode = n % 2 === 1 ? 503 : 200;
    res.end(`${n}:${body.length}`);
  }, { retry_policy: { retry_on: '5xx', retry_back_off: FAST_BACKOFF } });
  try {
    const body = Buffer.alloc(50_000, 'b');
    const r = await request(t.proxy.port, { method: 'POST', body, headers: { 'content-length': String(body.length) } });
    assert.equal(r.status, 200);
    assert.equal(r.body, '2:50000');
    assert.equal(t.up.requests[0].body.length, 50_000);
    t.proxy.bufferLimit = 1000;
    const r2 = await request(t.proxy.port, { method: 'POST', body, headers: { 'content-length': String(body.length) } });
    assert.equal(r2.status, 503); // not retried: the body did not fit the retry buffer
    assert.equal(r2.body, '3:50000');
    assert.equal(counter(t.store, 'cluster.backend.retry_or_shadow_abandoned'), 1);
  } finally { await t.close(); }
});

test('max_retries circuit breaker: upstream_rq_retry_overflow and UO', async () => {
  const t = await setup((_q, res) => { res.statusCode = 503; res.end('x'); },
    { retry_policy: { retry_on: '5xx', num_retries: 3, retry_back_off: FAST_BACKOFF } }, undefined,
    { circuit_breakers: { thresholds: [{ max_retries: 0 }] } });
  try {
    const r = await request(t.proxy.port, {});
    assert.equal(r.status, 503);
    assert.equal(t.up.requests.length, 1);
    assert.equal(counter(t.store, 'cluster.backend.upstream_rq_retry_overflow'), 1);
    assert.equal(responseFlagsToString(t.proxy.streams[0].streamInfo.responseFlags), 'UO');
  } finally { await t.close(); }
});

test('no retry once the response started: a reset mid-body resets the downstream', async () => {
  const t = await setup((req, res) => {
    res.writeHead(200, { 'content-length': '100' });
    res.write('partial');
    setTimeout(() => req.socket.destroy(), 20);
  }, { retry_policy: { retry_on: '5xx,reset', num_retries: 3, retry_back_off: FAST_BACKOFF } });
  try {
    await assert.rejects(request(t.proxy.port, {}));
    assert.equal(t.up.requests.length, 1);
    await until(() => counter(t.store, 'http.test.rq_reset_after_downstream_response_started') === 1);
    const si = t.proxy.streams[0].streamInfo;
    assert.equal(responseFlagsToString(si.responseFlags), 'UC');
    assert.equal(si.responseCodeDetails, 'upstream_reset_after_response_started{connection_termination}');
  } finally { await t.close(); }
});

test('route timeout: 504 UT "upstream request timeout"; x-envoy-upstream-rq-timeout-ms overrides it', async () => {
  const t = await setup((req, res) => {
    const delay = req.url === '/slow' ? 2000 : 0;
    const tm = setTimeout(() => res.end(`done ${req.headers['x-envoy-expected-rq-timeout-ms']}`), delay);
    res.on('close', () => clearTimeout(tm));
  }, { timeout: '0.15s' });
  try {
    const r = await request(t.proxy.port, { path: '/slow' });
    assert.equal(r.status, 504);
    assert.equal(r.body, 'upstream request timeout');
    const si = t.proxy.streams[0].streamInfo;
    assert.equal(responseFlagsToString(si.responseFlags), 'UT');
    assert.equal(si.responseCodeDetails, 'upstream_response_timeout');
    assert.equal(counter(t.store, 'cluster.backend.upstream_rq_timeout'), 1);
    assert.equal(counter(t.store, 'cluster.backend.upstream_rq_504'), 1);
    const host = t.cm.get('backend')!.hostsByPriority()[0][0];
    assert.equal(host.stats.rq_timeout.value, 1);
    const fast = await request(t.proxy.port, { path: '/fast', headers: { 'x-envoy-upstream-rq-timeout-ms': '5000' } });
    assert.equal(fast.body, 'done 5000');
    const again = await request(t.proxy.port, { path: '/slow', headers: { 'x-envoy-upstream-rq-timeout-ms': '50' } });
    assert.equal(again.status, 504);
  } finally { await t.close(); }
});

test('timeout 0 disables the route timeout (no x-envoy-expected-rq-timeout-ms)', async () => {
  const t = await setup((req, res) => res.end(String(req.headers['x-envoy-expected-rq-timeout-ms'] ?? 'none')), { timeout: '0s' });
  try {
    assert.equal((await request(t.proxy.port, {})).body, 'none');
  } finally { await t.close(); }
});

test('per_try_timeout: a slow attempt is abandoned and retried (upstream_rq_per_try_timeout)', async () => {
  const t = await setup((_q, res, _b, n) => {
    const tm = setTimeout(() => res.end(`attempt ${n}`), n === 1 ? 3000 : 0);
    res.on('close', () => clearTimeout(tm));
  }, { timeout: '5s', retry_policy: { retry_on: '5xx', num_retries: 1, per_try_timeout: '0.1s', retry_back_off: FAST_BACKOFF } });
  try {
    const r = await request(t.proxy.port, {});
    assert.equal(r.status, 200);
    assert.equal(r.body, 'attempt 2');
    assert.equal(counter(t.store, 'cluster.backend.upstream_rq_per_try_timeout'), 1);
    assert.equal(t.up.requests.length, 2);
  } finally { await t.close(); }
});

test('per_try_timeout without retries left: 504 UT (upstream_per_try_timeout)', async () => {
  const t = await setup((_q, res) => {
    const tm = setTimeout(() => res.end('late'), 3000);
    res.on('close', () => clearTimeout(tm));
  }, { timeout: '5s', retry_policy: { retry_on: 'connect-failure', num_retries: 1, per_try_timeout: '0.1s' } });
  try {
    const r = await request(t.proxy.port, {});
    assert.equal(r.status, 504);
    assert.equal(r.body, 'upstream request timeout');
    assert.equal(t.proxy.streams[0].streamInfo.responseCodeDetails, 'upstream_per_try_timeout');
  } finally { await t.close(); }
});

test('circuit breakers: max_requests and max_pending_requests overflow -> 503 UO', async () => {
  let release: (() => void) | null = null;
  const t = await setup((_q, res) => {
    release = () => res.end('held');
  }, {}, undefined, { circuit_breakers: { thresholds: [{ max_requests: 1 }] } });
  try {
    const first = request(t.proxy.port, {});
    await until(() => release !== null);
    const second = await request(t.proxy.port, {});
    assert.equal(second.status, 503);
    assert.equal(second.body, 'upstream connect error or disconnect/reset before headers. reset reason: overflow');
    assert.equal(responseFlagsToString(t.proxy.streams[1].streamInfo.responseFlags), 'UO');
    assert.equal(counter(t.store, 'cluster.backend.upstream_rq_pending_overflow'), 1);
    release!();
    assert.equal((await first).body, 'held');
  } finally { await t.close(); }

  const t2 = await setup((_q, res) => res.end('x'), {}, undefined, { circuit_breakers: { thresholds: [{ max_pending_requests: 0 }] } });
  try {
    // No connection yet: the request would have to wait for one, and no pending request is allowed.
    const r = await request(t2.proxy.port, {});
    assert.equal(r.status, 503);
    assert.equal(responseFlagsToString(t2.proxy.streams[0].streamInfo.responseFlags), 'UO');
    assert.equal(counter(t2.store, 'cluster.backend.upstream_rq_pending_overflow'), 1);
  } finally { await t2.close(); }
});

test('upstream closing idle keep-alive connections does not fail later requests', async () => {
  const up = await h1Upstream((_q, res) => res.end('fresh'), { keepAliveTimeout: 30 });
  const store = new Store();
  const cm = clusterManager(store);
  cm.addOrUpdate(staticCluster('backend', [up.port]));
  const proxy = await startProxy({ rc: routes([{ match: { prefix: '/' }, route: { cluster: 'backend' } }]), cm, store });
  try {
    for (let i = 0; i < 3; i++) {
      const r = await request(proxy.port, {});
      assert.equal(r.status, 200);
      await new Promise((res) => setTimeout(res, 80));
    }
    assert.ok(counter(store, 'cluster.backend.upstream_cx_total') >= 2);
    await until(() => counter(store, 'cluster.backend.upstream_cx_destroy') >= 2);
  } finally {
    await proxy.close();
    await up.close();
  }
});

test('downstream disconnect cancels the upstream request', async () => {
  let closed = false;
  const t = await setup((_q, res) => { res.on('close', () => { closed = true; }); }, {});
  try {
    await assert.rejects(request(t.proxy.port, {}, 100));
    await until(() => closed);
    await until(() => gauge(t.store, 'cluster.backend.upstream_rq_active') === 0);
    assert.equal(counter(t.store, 'cluster.backend.upstream_rq_tx_reset'), 1);
  } finally { await t.close(); }
});
