// Unit tests for the router's pure pieces: retry decisions and back-off, timeout
// computation and the gRPC timeout codec, hash policies.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Store } from '../../../../src/stats/stats';
import { parse } from '../../../../src/config/json';
import { compileRetryPolicy } from '../../../../src/router';
import { RetryState, RetryStatus } from '../../../../src/filters/http/router/retry_state';
import { finalTimeout, formatGrpcTimeout, parseGrpcTimeout, type TimeoutRoute } from '../../../../src/filters/http/router/timeouts';
import { computeHash, xxHash64 } from '../../../../src/filters/http/router/hash';
import { ResetReason } from '../../../../src/filters/http/router/upstream/types';
import { clusterManager, staticCluster } from './harness';
import type { Headers } from '../../../../src/http/headers';

function policy(json: object) {
  return compileRetryPolicy(parse('envoy.config.route.v3.RetryPolicy', json), 'retry_policy');
}

function cluster(extra?: object) {
  const store = new Store();
  const cm = clusterManager(store);
  return cm.addOrUpdate(staticCluster('c', [1], extra)).info;
}

test('retry state: no policy and no headers means no retry state', () => {
  const info = cluster();
  assert.equal(RetryState.create(null, {}, info.resourceManagers[0], info.stats), null);
});

test('retry state: header conditions merge with the route policy and are consumed', () => {
  const info = cluster();
  const h: Headers = { 'x-envoy-retry-on': '5xx', 'x-envoy-retry-grpc-on': 'cancelled', 'x-envoy-max-retries': '4', 'x-envoy-retriable-status-codes': '418' };
  const r = RetryState.create(policy({ retry_on: 'connect-failure' }), h, info.resourceManagers[0], info.stats)!;
  assert.deepEqual(h, {});
  assert.equal(r.retriesRemaining, 4);
  assert.ok(r.wouldRetryFromHeaders(500, { ':status': '500' }));
  assert.ok(r.wouldRetryFromHeaders(200, { ':status': '200', 'grpc-status': '1' }));
  assert.ok(!r.wouldRetryFromHeaders(200, { ':status': '200', 'grpc-status': '14' }));
  assert.ok(r.wouldRetryFromReset(ResetReason.ConnectionFailure, false));
  assert.ok(!r.wouldRetryFromReset(ResetReason.Overflow, false));
  assert.ok(!r.wouldRetryFromHeaders(418, { ':status': '418' })); // needs retriable-status-codes in retry_on
});

test('retry state: reset conditions per Envoy', () => {
  const info = cluster();
  const mk = (on: string) => RetryState.create(policy({ retry_on: on }), {}, info.resourceManagers[0], info.stats)!;
  assert.ok(mk('connect-failure').wouldRetryFromReset(ResetReason.ConnectionTimeout, false));
  assert.ok(!mk('connect-failure').wouldRetryFromReset(ResetReason.ConnectionTermination, true));
  assert.ok(!mk('connect-failure').wouldRetryFromReset(ResetReason.LocalReset, true)); // per-try timeout
  assert.ok(mk('5xx').wouldRetryFromReset(ResetReason.LocalReset, true));
  assert.ok(mk('gateway-error').wouldRetryFromReset(ResetReason.RemoteReset, true));
  assert.ok(mk('reset').wouldRetryFromReset(ResetReason.ConnectionTermination, true));
  assert.ok(mk('refused-stream').wouldRetryFromReset(ResetReason.RemoteRefusedStreamReset, true));
  assert.ok(!mk('refused-stream').wouldRetryFromReset(ResetReason.RemoteReset, true));
  assert.ok(mk('reset-before-request').wouldRetryFromReset(ResetReason.ConnectionTermination, false));
  assert.ok(!mk('reset-before-request').wouldRetryFromReset(ResetReason.ConnectionTermination, true));
  assert.ok(!mk('5xx').wouldRetryFromHeaders(200, { ':status': '503', 'x-envoy-ratelimited': 'true' }));
  assert.ok(mk('envoy-ratelimited').wouldRetryFromHeaders(429, { ':status': '429', 'x-envoy-ratelimited': 'true' }));
  assert.ok(mk('retriable-headers').wouldRetryFromHeaders(200, { ':status': '200' }) === false);
  const rh = RetryState.create(policy({ retry_on: 'retriable-headers', retriable_headers: [{ name: 'x-retry-me', present_match: true }] }), {}, info.resourceManagers[0], info.stats)!;
  assert.ok(rh.wouldRetryFromHeaders(200, { ':status': '200', 'x-retry-me': '1' }));
});

test('retry state: retriable_request_headers gate the policy', () => {
  const info = cluster();
  const p = policy({ retry_on: '5xx', retriable_request_headers: [{ name: ':method', string_match: { exact: 'GET' } }] });
  assert.ok(RetryState.create(p, { ':method': 'GET' }, info.resourceManagers[0], info.stats)!.enabled());
  assert.ok(!RetryState.create(p, { ':method': 'POST' }, info.resourceManagers[0], info.stats)!.enabled());
});

test('retry state: budget, circuit breaker slot and success accounting', () => {
  const info = cluster({ circuit_breakers: { thresholds: [{ max_retries: 1 }] } });
  const rm = info.resourceManagers[0];
  const a = RetryState.create(policy({ retry_on: '5xx', num_retries: 2 }), {}, rm, info.stats)!;
  const b = RetryState.create(policy({ retry_on: '5xx', num_retries: 2 }), {}, rm, info.stats)!;
  assert.equal(a.shouldRetry(true), RetryStatus.Yes);
  assert.equal(rm.retries.count, 1);
  assert.equal(b.shouldRetry(true), RetryStatus.NoOverflow); // max_retries 1 is held by `a`
  assert.equal(info.stats.upstream_rq_retry_overflow.value, 1);
  assert.equal(a.shouldRetry(false), RetryStatus.No);
  assert.equal(info.stats.upstream_rq_retry_success.value, 1);
  assert.equal(rm.retries.count, 0);
  assert.equal(a.shouldRetry(true), RetryStatus.Yes);
  assert.equal(a.shouldRetry(true), RetryStatus.NoRetryLimitExceeded);
  assert.equal(info.stats.upstream_rq_retry_limit_exceeded.value, 1);
  assert.equal(info.stats.upstream_rq_retry.value, 2);
  a.release();
  b.release();
  assert.equal(rm.retries.count, 0);
});

test('retry back-off: fully jittered, doubling from 25 ms, capped at 250 ms by default', () => {
  const info = cluster();
  for (let trial = 0; trial < 20; trial++) {
    const r = RetryState.create(policy({ retry_on: '5xx' }), {}, info.resourceManagers[0], info.stats)!;
    const bounds = [25, 50, 100, 200, 250, 250, 250];
    for (const b of bounds) {
      const v = r.nextBackoffMs();
      assert.ok(v >= 0 && v < b, `${v} !< ${b}`);
    }
  }
  const custom = RetryState.create(policy({ retry_on: '5xx', retry_back_off: { base_interval: '0.1s', max_interval: '0.15s' } }), {}, info.resourceManagers[0], info.stats)!;
  for (const b of [100, 150, 150]) assert.ok(custom.nextBackoffMs() < b);
});

test('previous_hosts predicate rejects already attempted hosts', () => {
  const info = cluster();
  const p = policy({ retry_on: '5xx', retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts' }], host_selection_retry_max_attempts: 3 });
  const r = RetryState.create(p, {}, info.resourceManagers[0], info.stats)!;
  const h1 = { key: 'a' } as never;
  const h2 = { key: 'b' } as never;
  assert.ok(!r.shouldSelectAnotherHost(h1));
  r.onHostAttempted(h1);
  assert.ok(r.shouldSelectAnotherHost(h1));
  assert.ok(!r.shouldSelectAnotherHost(h2));
  assert.equal(r.hostSelectionMaxAttempts, 3);
});

test('gRPC timeout header codec (Envoy getGrpcTimeout / toGrpcTimeout)', () => {
  assert.equal(parseGrpcTimeout('1S'), 1000);
  assert.equal(parseGrpcTimeout('2M'), 120000);
  assert.equal(parseGrpcTimeout('1H'), 3600000);
  assert.equal(parseGrpcTimeout('150m'), 150);
  assert.equal(parseGrpcTimeout('1500u'), 2);
  assert.equal(parseGrpcTimeout('1n'), 1);
  assert.equal(parseGrpcTimeout('123456789m'), undefined);
  assert.equal(parseGrpcTimeout('10x'), undefined);
  assert.equal(parseGrpcTimeout('m'), undefined);
  assert.equal(formatGrpcTimeout(150), '150m');
  assert.equal(formatGrpcTimeout(100_000_000), '100000S');
  assert.equal(formatGrpcTimeout(99_999_999), '99999999m');
  assert.equal(formatGrpcTimeout(1e15), '99999999H');
});

function route(extra: Partial<TimeoutRoute>): TimeoutRoute {
  return {
    timeoutMs: 15000, maxStreamDurationMs: undefined, maxGrpcTimeoutMs: undefined, grpcTimeoutOffsetMs: undefined,
    grpcTimeoutHeaderMaxMs: undefined, grpcTimeoutHeaderOffsetMs: undefined, retryPolicy: null, ...extra,
  };
}
const out = () => ({ globalMs: 0, perTryMs: 0, perTryIdleMs: 0 });

test('finalTimeout: route default, request header override, per-try capping, expected timeout header', () => {
  const h: Headers = {};
  assert.deepEqual(finalTimeout(route({}), h, true, false, false, out()), { globalMs: 15000, perTryMs: 0, perTryIdleMs: 0 });
  assert.equal(h['x-envoy-expected-rq-timeout-ms'], '15000');
  const h2: Headers = { 'x-envoy-upstream-rq-timeout-ms': '300', 'x-envoy-upstream-rq-per-try-timeout-ms': '100' };
  const t = finalTimeout(route({}), h2, true, false, false, out());
  assert.deepEqual(t, { globalMs: 300, perTryMs: 100, perTryIdleMs: 0 });
  assert.equal(h2['x-envoy-upstream-rq-timeout-ms'], undefined);
  assert.equal(h2['x-envoy-expected-rq-timeout-ms'], '100');
  // per-try >= global is ignored
  const h3: Headers = {};
  assert.equal(finalTimeout(route({ timeoutMs: 100, retryPolicy: { perTryTimeoutMs: 200, perTryIdleTimeoutMs: 0 } }), h3, true, false, false, out()).perTryMs, 0);
  // suppress_envoy_headers
  const h4: Headers = {};
  finalTimeout(route({}), h4, false, false, false, out());
  assert.equal(h4['x-envoy-expected-rq-timeout-ms'], undefined);
  // timeout 0: nothing to announce
  const h5: Headers = {};
  assert.equal(finalTimeout(route({ timeoutMs: 0 }), h5, true, false, false, out()).globalMs, 0);
  assert.equal(h5['x-envoy-expected-rq-timeout-ms'], undefined);
  // respect_expected_rq_timeout
  const h6: Headers = { 'x-envoy-expected-rq-timeout-ms': '700', 'x-envoy-upstream-rq-timeout-ms': '50' };
  assert.equal(finalTimeout(route({}), h6, true, false, true, out()).globalMs, 700);
});

test('finalTimeout: gRPC timeouts (max_grpc_timeout and grpc_timeout_header_max)', () => {
  const g = (r: Partial<TimeoutRoute>, grpcTimeout?: string) => {
    const h: Headers = grpcTimeout ? { 'grpc-timeout': grpcTimeout } : {};
    const t = finalTimeout(route(r), h, true, true, false, out());
    return { t: t.globalMs, h };
  };
  assert.equal(g({ grpcTimeoutHeaderMaxMs: 0, maxStreamDurationMs: 0 }, '2S').t, 2000);
  assert.equal(g({ grpcTimeoutHeaderMaxMs: 1000 }, '2S').t, 1000);
  assert.equal(g({ grpcTimeoutHeaderMaxMs: 1000 }).t, 1000); // no header: the max
  assert.equal(g({ grpcTimeoutHeaderMaxMs: 0 }).t, 0); // no header, no max: infinite
  assert.equal(g({ grpcTimeoutHeaderMaxMs: 0, grpcTimeoutHeaderOffsetMs: 100 }, '1S').t, 900);
  assert.equal(g({}, '1S').t, 15000); // not configured: the route timeout
  const legacy = g({ maxGrpcTimeoutMs: 5000 }, '3S');
  assert.equal(legacy.t, 3000);
  assert.equal(legacy.h['grpc-timeout'], '3000m'); // rewritten with the expected timeout
});

test('xxHash64 matches the reference vectors', () => {
  assert.equal(xxHash64(''), 0xef46db3751d8e999n);
  assert.equal(xxHash64('a'), 0xd24ec4f1a98c6e5bn);
  assert.equal(xxHash64('abc'), 0x44bc2cf5ad770999n);
  assert.equal(xxHash64('Nobody inspects the spammish repetition'), 0xfbcea83c8a378bf1n);
  assert.equal(xxHash64('0123456789abcdef0123456789abcdef0123456789'), xxHash64(Buffer.from('0123456789abcdef0123456789abcdef0123456789')));
});

test('hash policies: header (order-insensitive), cookie, source ip, query parameter, terminal', () => {
  const hp = (kind: string, extra: object, terminal = false) => ({ kind, terminal, ...extra }) as never;
  const a = computeHash([hp('header', { headerName: 'x-user' })], { 'x-user': ['b', 'a'] }, '', undefined);
  const b = computeHash([hp('header', { headerName: 'x-user' })], { 'x-user': ['a', 'b'] }, '', undefined);
  assert.equal(a, b);
  assert.equal(computeHash([hp('header', { headerName: 'x-user' })], {}, '', undefined), undefined);
  assert.equal(computeHash([hp('cookie', { name: 'sid' })], { cookie: 'a=1; sid=xyz' }, '', undefined), xxHash64('xyz'));
  assert.equal(computeHash([hp('connection_properties', { sourceIp: true })], {}, '10.0.0.1', undefined), xxHash64('10.0.0.1'));
  assert.equal(computeHash([hp('query_parameter', { name: 'u' })], { ':path': '/p?u=7&v=1' }, '', undefined), xxHash64('7'));
  const first = xxHash64('7');
  const combined = computeHash([hp('query_parameter', { name: 'u' }), hp('connection_properties', { sourceIp: true })], { ':path': '/p?u=7' }, '1.2.3.4', undefined)!;
  const rot = ((first << 1n) | (first >> 63n)) & ((1n << 64n) - 1n);
  assert.equal(combined, rot ^ xxHash64('1.2.3.4'));
  assert.equal(computeHash([hp('query_parameter', { name: 'u' }, true), hp('connection_properties', { sourceIp: true })], { ':path': '/p?u=7' }, '1.2.3.4', undefined), first);
});
