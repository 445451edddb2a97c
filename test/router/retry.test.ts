import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/errors';
import {
  compileHedgePolicy, compileRetryPolicy, compileRouteConfig, parseRetryOn,
  RETRY_ON_5XX, RETRY_ON_CONNECT_FAILURE, RETRY_ON_ENVOY_RATE_LIMITED, RETRY_ON_GATEWAY_ERROR, RETRY_ON_GRPC_CANCELLED,
  RETRY_ON_GRPC_DEADLINE_EXCEEDED, RETRY_ON_GRPC_INTERNAL, RETRY_ON_GRPC_RESOURCE_EXHAUSTED, RETRY_ON_GRPC_UNAVAILABLE,
  RETRY_ON_REFUSED_STREAM, RETRY_ON_RESET, RETRY_ON_RESET_BEFORE_REQUEST, RETRY_ON_RETRIABLE_4XX, RETRY_ON_RETRIABLE_HEADERS,
  RETRY_ON_RETRIABLE_STATUS_CODES,
} from '../../src/router/index';
import { oneVhost, req } from './helpers';

test('retry_on tokens map to Envoy bits', () => {
  const all = '5xx,gateway-error,reset,connect-failure,refused-stream,retriable-4xx,retriable-status-codes,retriable-headers,envoy-ratelimited,reset-before-request,cancelled,deadline-exceeded,internal,resource-exhausted,unavailable';
  const p = parseRetryOn(all);
  assert.equal(p.bits, RETRY_ON_5XX | RETRY_ON_GATEWAY_ERROR | RETRY_ON_RESET | RETRY_ON_CONNECT_FAILURE | RETRY_ON_REFUSED_STREAM |
    RETRY_ON_RETRIABLE_4XX | RETRY_ON_RETRIABLE_STATUS_CODES | RETRY_ON_RETRIABLE_HEADERS | RETRY_ON_ENVOY_RATE_LIMITED |
    RETRY_ON_RESET_BEFORE_REQUEST | RETRY_ON_GRPC_CANCELLED | RETRY_ON_GRPC_DEADLINE_EXCEEDED | RETRY_ON_GRPC_INTERNAL |
    RETRY_ON_GRPC_RESOURCE_EXHAUSTED | RETRY_ON_GRPC_UNAVAILABLE);
  assert.deepEqual(p.unknown, []);
  assert.equal(RETRY_ON_5XX, 0x1);
  assert.equal(RETRY_ON_RESET_BEFORE_REQUEST, 0x8000);
  assert.deepEqual(parseRetryOn(' 5xx , ,bogus'), { bits: RETRY_ON_5XX, unknown: ['bogus'] });
  assert.deepEqual(parseRetryOn('5xx,unavailable', 'http'), { bits: RETRY_ON_5XX, unknown: ['unavailable'] });
  assert.deepEqual(parseRetryOn('5xx,unavailable', 'grpc'), { bits: RETRY_ON_GRPC_UNAVAILABLE, unknown: ['5xx'] });
  assert.deepEqual(parseRetryOn(''), { bits: 0, unknown: [] });
});

test('retry policy defaults and Istio\'s default policy', () => {
  const d = compileRetryPolicy({}, 'rp');
  assert.equal(d.numRetries, 1);
  assert.equal(d.perTryTimeoutMs, 0);
  assert.equal(d.baseIntervalMs, 25);
  assert.equal(d.maxIntervalMs, 250);
  assert.equal(d.backOffConfigured, false);
  assert.equal(d.hostSelectionRetryMaxAttempts, 1);
  assert.equal(d.retryPriority, null);
  const istio = compileRetryPolicy({
    retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
    num_retries: 2,
    retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts',
      typed_config: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' } }],
    host_selection_retry_max_attempts: 5,
    retriable_status_codes: [503],
  }, 'rp');
  assert.equal(istio.retryOn, RETRY_ON_CONNECT_FAILURE | RETRY_ON_REFUSED_STREAM | RETRY_ON_GRPC_UNAVAILABLE | RETRY_ON_GRPC_CANCELLED | RETRY_ON_RETRIABLE_STATUS_CODES);
  assert.equal(istio.numRetries, 2);
  assert.deepEqual(istio.retryHostPredicates.map((p) => p.name), ['envoy.retry_host_predicates.previous_hosts']);
  assert.equal(istio.hostSelectionRetryMaxAttempts, 5);
  assert.deepEqual([...istio.retriableStatusCodes], [503]);
  assert.equal(compileRetryPolicy({ num_retries: 0 }, 'rp').numRetries, 0);
});

test('retry back-off, rate limited back-off, per-try timeouts, retriable headers', () => {
  const p = compileRetryPolicy({
    per_try_timeout: 2000, per_try_idle_timeout: 500,
    retry_back_off: { base_interval: 100 },
    rate_limited_retry_back_off: { reset_headers: [{ name: 'Retry-After', format: 'SECONDS' }, { name: 'x-ratelimit-reset', format: 'UNIX_TIMESTAMP' }] },
    retriable_headers: [{ name: 'x-retry', string_match: { exact: 'yes' } }],
    retriable_request_headers: [{ name: ':method', string_match: { exact: 'GET' } }],
    retry_priority: { name: 'envoy.retry_priorities.previous_priorities' },
  }, 'rp');
  assert.equal(p.perTryTimeoutMs, 2000);
  assert.equal(p.perTryIdleTimeoutMs, 500);
  assert.equal(p.baseIntervalMs, 100);
  assert.equal(p.maxIntervalMs, 1000, 'max defaults to 10 x base');
  assert.deepEqual(p.rateLimitedRetryBackOff, { resetHeaders: [{ name: 'retry-after', format: 'SECONDS' }, { name: 'x-ratelimit-reset', format: 'UNIX_TIMESTAMP' }], maxIntervalMs: 300000 });
  assert.equal(p.retriableHeaders[0].matches({ 'x-retry': 'yes' }), true);
  assert.equal(p.retriableRequestHeaders[0].matches({ ':method': 'POST' }), false);
  assert.equal(p.retryPriority!.name, 'envoy.retry_priorities.previous_priorities');
  assert.equal(compileRetryPolicy({ retry_back_off: { base_interval: 10, max_interval: 30 } }, 'rp').maxIntervalMs, 30);
  assert.equal(compileRetryPolicy({ retry_back_off: { base_interval: 0.5 } }, 'rp').baseIntervalMs, 1, 'sub-ms rounds up to 1 ms');
  assert.throws(() => compileRetryPolicy({ retry_back_off: { base_interval: 100, max_interval: 50 } }, 'rp'),
    (e: unknown) => e instanceof ConfigError && e.path === 'rp.retry_back_off.max_interval' && /greater than or equal to the base_interval/.test(e.message));
  assert.throws(() => compileRetryPolicy({ retry_back_off: {} }, 'rp'), /rp\.retry_back_off\.base_interval: value is required/);
  assert.throws(() => compileRetryPolicy({ retry_host_predicate: [{ name: 'made.up' }] }, 'rp'),
    /rp\.retry_host_predicate\[0\]\.name: Didn't find a registered implementation/);
  assert.throws(() => compileRetryPolicy({ retry_options_predicates: [{ name: 'x' }] }, 'rp'), /rp\.retry_options_predicates/);
});

test('hedge policy', () => {
  assert.deepEqual(compileHedgePolicy({}, 'h'), { initialRequests: 1, additionalRequestChance: { numerator: 0, denominator: 100 }, hedgeOnPerTryTimeout: false });
  assert.deepEqual(compileHedgePolicy({ initial_requests: 2, additional_request_chance: { numerator: 5, denominator: 'TEN_THOUSAND' }, hedge_on_per_try_timeout: true }, 'h'),
    { initialRequests: 2, additionalRequestChance: { numerator: 5, denominator: 10000 }, hedgeOnPerTryTimeout: true });
  assert.throws(() => compileHedgePolicy({ initial_requests: 0 }, 'h'), /h\.initial_requests/);
});

test('route retry/hedge policy overrides the virtual host\'s (no merging)', () => {
  const rc = compileRouteConfig(oneVhost([
    { match: { path: '/own' }, route: { cluster: 'c', retry_policy: { retry_on: '5xx', num_retries: 7 }, hedge_policy: { hedge_on_per_try_timeout: true } } },
    { match: { prefix: '/' }, route: { cluster: 'c' } },
  ], { retry_policy: { retry_on: 'reset', per_try_timeout: 300 }, hedge_policy: { initial_requests: 3 } }));
  const own = rc.route(req('/own'), 0)!.route;
  assert.equal(own.retryPolicy!.retryOn, RETRY_ON_5XX);
  assert.equal(own.retryPolicy!.numRetries, 7);
  assert.equal(own.retryPolicy!.perTryTimeoutMs, 0, 'not merged with the vhost policy');
  assert.equal(own.hedgePolicy!.initialRequests, 1);
  const inh = rc.route(req('/x'), 0)!.route;
  assert.equal(inh.retryPolicy!.retryOn, RETRY_ON_RESET);
  assert.equal(inh.retryPolicy!.numRetries, 1);
  assert.equal(inh.retryPolicy!.perTryTimeoutMs, 300);
  assert.equal(inh.hedgePolicy!.initialRequests, 3);
  assert.equal(rc.findVirtualHost('x')!.retryPolicy!.retryOn, RETRY_ON_RESET);
});
