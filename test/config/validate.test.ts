// protoc-gen-validate rules read from the descriptor's flattened field options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromJSON, parse, decode } from '../../src/config/json';
import { validateMessage } from '../../src/config/validate';
import { ConfigError } from '../../src/config/errors';
import { lookupType } from '../../src/config/protos';

const CLUSTER = 'envoy.config.cluster.v3.Cluster';
const LISTENER = 'envoy.config.listener.v3.Listener';

function throwsConfig(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

test('the descriptor carries PGV rules as flattened option keys', () => {
  const C = lookupType(CLUSTER)!;
  assert.equal(C.fields.name.options?.['(validate.rules).string.min_len'], 1);
  assert.equal(C.fields.lb_policy.options?.['(validate.rules).enum.defined_only'], true);
  const route = lookupType('envoy.config.route.v3.Route')!;
  assert.equal(route.fields.match.options?.['(validate.rules).message.required'], true);
  assert.equal(route.oneofs.action.options?.['(validate.required)'], true);
  const vh = lookupType('envoy.config.route.v3.VirtualHost')!;
  assert.equal(vh.fields.domains.options?.['(validate.rules).repeated.min_items'], 1);
  const backoff = lookupType('envoy.config.core.v3.BackoffStrategy')!;
  assert.equal(backoff.fields.base_interval.options?.['(validate.rules).duration.gte.nanos'], 1000000);
});

test('string.min_len', () => {
  throwsConfig(() => parse(CLUSTER, { name: '' }, 'static_resources.clusters[1]'), 'static_resources.clusters[1].name: value length must be at least 1 characters');
  throwsConfig(() => parse(CLUSTER, {}), 'name: value length must be at least 1 characters');
  assert.equal(parse(CLUSTER, { name: 'é' }).name, 'é');
});

test('message.required', () => {
  throwsConfig(() => parse('envoy.config.route.v3.Route', { route: { cluster: 'c' } }, 'virtual_hosts[0].routes[2]'), 'virtual_hosts[0].routes[2].match: value is required');
});

test('enum.defined_only', () => {
  throwsConfig(() => parse(CLUSTER, { name: 'c', lb_policy: 99 }), 'lb_policy: value must be one of the defined enum values');
});

test('oneof (validate.required)', () => {
  throwsConfig(() => parse('envoy.config.route.v3.Route', { match: { prefix: '/' } }, 'r'),
    'r.action: value is required: set one of "route", "redirect", "direct_response", "filter_action", "non_forwarding_action"');
  throwsConfig(() => parse('envoy.config.route.v3.RouteAction', {}), /^cluster_specifier: value is required: set one of "cluster"/);
});

test('repeated.min_items, numeric ranges, duration ranges, wrapper ranges, header-name regex', () => {
  throwsConfig(() => parse('envoy.config.route.v3.VirtualHost', { name: 'v', domains: [] }), 'domains: value must contain at least 1 item(s)');
  throwsConfig(() => parse('envoy.config.core.v3.SocketAddress', { address: 'a', port_value: 70000 }), 'port_value: value must be less than or equal to 65535');
  throwsConfig(() => parse('envoy.config.core.v3.BackoffStrategy', { base_interval: '0.0001s' }), 'base_interval: value must be greater than or equal to 0.001s');
  throwsConfig(() => parse('envoy.config.core.v3.BackoffStrategy', {}), 'base_interval: value is required');
  throwsConfig(() => parse(CLUSTER, { name: 'c', ring_hash_lb_config: { minimum_ring_size: 9000000 } }), 'ring_hash_lb_config.minimum_ring_size: value must be less than or equal to 8388608');
  // strict (default) header-name regex
  throwsConfig(() => parse('envoy.config.core.v3.UpstreamHttpProtocolOptions', { override_auto_sni_header: 'bad header' }),
    'override_auto_sni_header: value must be a valid HTTP header name (got "bad header")');
  // HeaderValue.key uses `strict: false`: only NUL, CR and LF are rejected
  assert.equal(parse('envoy.config.core.v3.HeaderValue', { key: 'odd header', value: 'v' }).key, 'odd header');
  throwsConfig(() => parse('envoy.config.core.v3.HeaderValue', { key: 'x\nInjected: 1' }), 'key: value must be a valid HTTP header name (got "x\\nInjected: 1")');
  throwsConfig(() => parse('envoy.config.overload.v3.ThresholdTrigger', { value: 1.5 }), 'value: value must be inside range [0, 1]');
  throwsConfig(() => parse('envoy.config.metrics.v3.HistogramBucketSettings', { match: { exact: 'x' }, buckets: [1, 1] }), 'buckets[1]: repeated value must contain unique items');
  throwsConfig(() => parse('envoy.config.metrics.v3.HistogramBucketSettings', { match: { exact: 'x' }, buckets: [1, -2] }), 'buckets[1]: value must be greater than 0');
});

test('only the active oneof member is validated', () => {
  // Bootstrap.stats_flush_on_admin has bool.const = true inside the stats_flush oneof
  throwsConfig(() => parse('envoy.config.bootstrap.v3.Bootstrap', { stats_flush_on_admin: false }), 'stats_flush_on_admin: value must equal true');
  assert.equal(parse('envoy.config.bootstrap.v3.Bootstrap', {}).stats_flush_on_admin, undefined);
});

test('validation can be deferred and run on a whole tree', () => {
  const m = fromJSON(CLUSTER, { name: '' }, '', { validate: false });
  throwsConfig(() => validateMessage(CLUSTER, m, 'static_resources.clusters[0]'), 'static_resources.clusters[0].name: value length must be at least 1 characters');
});

test('validateMessage on binary (xDS) messages descends into Any', () => {
  const listener = {
    name: 'l',
    address: { socket_address: { address: '0.0.0.0', port_value: 80 } },
    filter_chains: [{ filters: [{ name: 'hcm', typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      stat_prefix: '',
      rds: { route_config_name: 'r', config_source: { ads: {} } },
    } }] }],
  };
  const L = lookupType(LISTENER)!;
  const bytes = L.encode(fromJSON(LISTENER, listener, '', { validate: false })).finish();
  throwsConfig(() => decode(LISTENER, bytes, 'resources[0]'), 'resources[0].filter_chains[0].filters[0].typed_config.stat_prefix: value length must be at least 1 characters');
  const decoded = L.decode(bytes);
  throwsConfig(() => validateMessage(LISTENER, decoded, 'l'), 'l.filter_chains[0].filters[0].typed_config.stat_prefix: value length must be at least 1 characters');
  listener.filter_chains[0].filters[0].typed_config.stat_prefix = 'ok';
  const good = L.encode(fromJSON(LISTENER, listener)).finish();
  validateMessage(LISTENER, L.decode(good));
});

test('a corrupt Any body is an error naming the Any field', () => {
  const listener = {
    name: 'l',
    address: { socket_address: { address: '0.0.0.0', port_value: 80 } },
    filter_chains: [{ filters: [{ name: 'x', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 's', cluster: 'c' } }] }],
  };
  const L = lookupType(LISTENER)!;
  type L = { filter_chains: { filters: { typed_config: { type_url: string; value: Uint8Array } }[] }[] };
  const bad = L.decode(L.encode(fromJSON(LISTENER, listener)).finish()) as unknown as L;
  // a length-delimited field whose length runs past the end
  bad.filter_chains[0].filters[0].typed_config.value = Buffer.from([0x0a, 0xff]);
  throwsConfig(() => decode(LISTENER, L.encode(bad).finish(), 'resources[0]'),
    /^resources\[0\]\.filter_chains\[0\]\.filters\[0\]\.typed_config: unable to decode envoy\.extensions\.filters\.network\.tcp_proxy\.v3\.TcpProxy from Any/);
});
