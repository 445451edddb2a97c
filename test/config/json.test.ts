// proto3 JSON mapping: fromJSON / toPlain / toJSON against the real Envoy schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromJSON, toPlain, toJSON, parse, decode, decodeAny, parseDuration, formatDuration } from '../../src/config/json';
import { ConfigError } from '../../src/config/errors';
import { lookupType } from '../../src/config/protos';

const CLUSTER = 'envoy.config.cluster.v3.Cluster';
const LISTENER = 'envoy.config.listener.v3.Listener';
const BOOTSTRAP = 'envoy.config.bootstrap.v3.Bootstrap';

function encode(typeName: string, msg: object): Uint8Array {
  return (lookupType(typeName) as NonNullable<ReturnType<typeof lookupType>>).encode(msg).finish();
}

function throwsConfig(fn: () => unknown, message: string | RegExp, path?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    if (path !== undefined) assert.equal(e.path, path);
    return true;
  });
}

test('snake_case and lowerCamelCase (json_name) field names both map to proto fields', () => {
  const a = parse(CLUSTER, { name: 'c', connect_timeout: '2s', lb_policy: 'LEAST_REQUEST', per_connection_buffer_limit_bytes: 1024 });
  const b = parse(CLUSTER, { name: 'c', connectTimeout: '2s', lbPolicy: 'LEAST_REQUEST', perConnectionBufferLimitBytes: 1024 });
  assert.deepEqual(a, b);
  assert.equal(a.connect_timeout, 2000);
  assert.equal(a.lb_policy, 'LEAST_REQUEST');
  assert.equal(a.per_connection_buffer_limit_bytes, 1024);
});

test('plain form: scalar defaults, enums by name, absent messages undefined, empty lists and maps', () => {
  const p = parse(CLUSTER, { name: 'c' });
  assert.equal(p.name, 'c');
  assert.equal(p.lb_policy, 'ROUND_ROBIN'); // first enum value
  assert.equal(p.respect_dns_ttl, false);
  assert.equal(p.alt_stat_name, '');
  assert.equal(p.connect_timeout, undefined);
  assert.equal(p.load_assignment, undefined);
  assert.ok(!('load_assignment' in p));
  assert.deepEqual(p.transport_socket_matches, []);
  assert.deepEqual(p.typed_extension_protocol_options, {});
  // oneof members are present only when set
  assert.ok(!('type' in p));
  assert.ok(!('cluster_type' in p));
  assert.equal(parse(CLUSTER, { name: 'c', type: 'STATIC' }).type, 'STATIC');
});

test('null means unset', () => {
  const p = parse(CLUSTER, { name: 'c', load_assignment: null, lb_policy: null, connect_timeout: null, type: null });
  assert.equal(p.load_assignment, undefined);
  assert.equal(p.lb_policy, 'ROUND_ROBIN');
  assert.equal(p.connect_timeout, undefined);
  assert.ok(!('type' in p));
});

test('Durations: "0.25s", "1s", "-1.5s" as milliseconds; other strings rejected', () => {
  assert.equal(parse('google.protobuf.Duration', '0.25s'), 250);
  assert.equal(parse('google.protobuf.Duration', '1s'), 1000);
  assert.equal(parse('google.protobuf.Duration', '-1.5s'), -1500);
  assert.equal(parse('google.protobuf.Duration', '0.000000001s'), 0.000001);
  assert.deepEqual(parseDuration('-0.5s'), { seconds: 0, nanos: -500000000 });
  throwsConfig(() => parse(CLUSTER, { name: 'c', connect_timeout: '10' }, 'static_resources.clusters[0]'),
    /^static_resources\.clusters\[0\]\.connect_timeout: invalid duration "10": expected a string of seconds with an "s" suffix/);
  throwsConfig(() => parse(CLUSTER, { name: 'c', connect_timeout: '1m' }), /^connect_timeout: invalid duration "1m"/, 'connect_timeout');
  throwsConfig(() => parse(CLUSTER, { name: 'c', connect_timeout: 10 }), /^connect_timeout: invalid duration 10/);
  throwsConfig(() => parse('google.protobuf.Duration', '.5s'), /invalid duration/);
  throwsConfig(() => parse('google.protobuf.Duration', '1.1234567891s'), /invalid duration/);
  throwsConfig(() => parse('google.protobuf.Duration', '315576000001s'), /out of range/);
  // legacy (ESF) syntax Envoy accepts: the message form
  assert.equal(parse('google.protobuf.Duration', { seconds: 3, nanos: 500000000 }), 3500);
});

test('Durations print as proto3 JSON in toJSON', () => {
  assert.equal(formatDuration(1, 500000000), '1.500s');
  assert.equal(formatDuration(1, 0), '1s');
  assert.equal(formatDuration(0, 1000), '0.000001s');
  assert.equal(formatDuration(0, 1), '0.000000001s');
  assert.equal(formatDuration(-1, -500000000), '-1.500s');
  assert.equal(formatDuration(0, -250000000), '-0.250s');
  const j = toJSON(CLUSTER, fromJSON(CLUSTER, { name: 'c', connect_timeout: '1.5s' }));
  assert.equal(j.connect_timeout, '1.500s');
});

test('Timestamp: RFC 3339 to epoch milliseconds and back', () => {
  assert.equal(parse('google.protobuf.Timestamp', '1972-01-01T10:00:20.021Z'), 63108020021);
  assert.equal(parse('google.protobuf.Timestamp', '1972-01-01T11:00:20.021+01:00'), 63108020021);
  assert.equal(parse('google.protobuf.Timestamp', '1970-01-01T00:00:00Z'), 0);
  assert.equal(toJSON('google.protobuf.Timestamp', fromJSON('google.protobuf.Timestamp', '2024-02-29T23:59:59.5Z')), '2024-02-29T23:59:59.500Z');
  throwsConfig(() => parse('google.protobuf.Timestamp', '2024-02-30T00:00:00Z'), /invalid timestamp/);
  throwsConfig(() => parse('google.protobuf.Timestamp', '2024-01-01 00:00:00'), /invalid timestamp/);
});

test('wrapper types are bare values; absent is undefined', () => {
  const p = parse(CLUSTER, {
    name: 'c',
    per_connection_buffer_limit_bytes: 32768, // UInt32Value
    ring_hash_lb_config: { minimum_ring_size: '1024' }, // UInt64Value from a string
    preconnect_policy: { per_upstream_preconnect_ratio: 1.5 }, // DoubleValue
  });
  assert.equal(p.per_connection_buffer_limit_bytes, 32768);
  assert.equal(p.ring_hash_lb_config.minimum_ring_size, 1024);
  assert.equal(p.ring_hash_lb_config.maximum_ring_size, undefined);
  assert.equal(p.preconnect_policy.per_upstream_preconnect_ratio, 1.5);
  const h = parse('envoy.config.core.v3.Http1ProtocolOptions', { allow_absolute_url: false }); // BoolValue
  assert.equal(h.allow_absolute_url, false);
  assert.equal(parse('envoy.config.core.v3.Http1ProtocolOptions', {}).allow_absolute_url, undefined);
  // legacy object form {"value": x}
  assert.equal(parse(CLUSTER, { name: 'c', per_connection_buffer_limit_bytes: { value: 7 } }).per_connection_buffer_limit_bytes, 7);
  assert.equal(toJSON(CLUSTER, fromJSON(CLUSTER, { name: 'c', per_connection_buffer_limit_bytes: 0 })).per_connection_buffer_limit_bytes, 0);
});

test('Struct / Value / ListValue are plain JSON', () => {
  const metadata = { a: 1, b: [true, null, 'x', 2.5, { c: {} }], d: { e: 'f' }, g: null };
  const p = parse('envoy.config.core.v3.Node', { id: 'n', metadata });
  assert.deepEqual(p.metadata, metadata);
  assert.deepEqual(toJSON('envoy.config.core.v3.Node', fromJSON('envoy.config.core.v3.Node', { id: 'n', metadata })).metadata, metadata);
  assert.deepEqual(parse('google.protobuf.Value', [1, 'a', null]), [1, 'a', null]);
  assert.equal(parse('google.protobuf.Value', null), null);
  assert.deepEqual(parse('google.protobuf.ListValue', [[1], { a: [2] }]), [[1], { a: [2] }]);
  throwsConfig(() => parse('envoy.config.core.v3.Node', { metadata: [1] }), /^metadata: expected an object \(google\.protobuf\.Struct\)/);
  // a __proto__ key is data, not a prototype
  const p2 = parse('envoy.config.core.v3.Node', JSON.parse('{"metadata": {"__proto__": {"x": 1}}}'));
  assert.deepEqual(Object.keys(p2.metadata), ['__proto__']);
  assert.equal(Object.getPrototypeOf(p2.metadata), Object.prototype);
});

test('enums by name, by number, case-insensitively (as Envoy parses them)', () => {
  assert.equal(parse(CLUSTER, { name: 'c', lb_policy: 1 }).lb_policy, 'LEAST_REQUEST');
  assert.equal(parse(CLUSTER, { name: 'c', lb_policy: 'MAGLEV' }).lb_policy, 'MAGLEV');
  assert.equal(parse(CLUSTER, { name: 'c', lb_policy: 'random' }).lb_policy, 'RANDOM');
  assert.equal(parse(CLUSTER, { name: 'c', lb_policy: '3' }).lb_policy, 'RANDOM');
  assert.equal(toJSON(CLUSTER, fromJSON(CLUSTER, { name: 'c', lb_policy: 3 })).lb_policy, 'RANDOM');
  throwsConfig(() => parse(CLUSTER, { name: 'c', lb_policy: 'ROUND_ROBN' }, 'static_resources.clusters[2]'),
    'static_resources.clusters[2].lb_policy: unknown enum value "ROUND_ROBN"', 'static_resources.clusters[2].lb_policy');
  throwsConfig(() => parse(CLUSTER, { name: 'c', lb_policy: true }), /^lb_policy: expected an enum value name/);
});

test('int64 / uint64 as strings or numbers, exact in toJSON', () => {
  const OPT = 'envoy.config.core.v3.SocketOption';
  const big = '9007199254740993'; // 2^53 + 1: not a safe double
  const m = fromJSON(OPT, { level: 1, name: '2', int_value: big, state: 'STATE_PREBIND' });
  assert.equal(toJSON(OPT, m).int_value, big);
  assert.equal(toJSON(OPT, m).name, '2');
  const p = toPlain(OPT, m);
  assert.equal(p.level, 1);
  assert.equal(p.name, 2);
  assert.equal(p.int_value, 9007199254740992);
  assert.equal(parse(OPT, { int_value: -5 }).int_value, -5);
  assert.equal(parse(OPT, { int_value: '-9223372036854775808' }).int_value, -9223372036854775808);
  throwsConfig(() => parse(OPT, { int_value: '9223372036854775808' }), /^int_value: value "9223372036854775808" out of range for int64/);
  throwsConfig(() => parse(OPT, { int_value: 1.5 }), /^int_value: expected an integer \(int64\)/);
  throwsConfig(() => parse(CLUSTER, { name: 'c', ring_hash_lb_config: { minimum_ring_size: '-1' } }), /minimum_ring_size: value "-1" out of range for uint64/);
  // 32-bit range checks
  throwsConfig(() => parse('envoy.config.core.v3.SocketAddress', { address: 'a', port_value: 4294967296 }), /^port_value: value 4294967296 out of range for uint32/);
  assert.equal(parse('envoy.config.core.v3.SocketAddress', { address: 'a', port_value: '8080' }).port_value, 8080);
});

test('bytes are base64 in JSON and Buffers in plain form', () => {
  const DS = 'envoy.config.core.v3.DataSource';
  const p = parse(DS, { inline_bytes: 'aGVsbG8=' });
  assert.ok(Buffer.isBuffer(p.inline_bytes));
  assert.equal(p.inline_bytes.toString(), 'hello');
  assert.equal(toJSON(DS, fromJSON(DS, { inline_bytes: 'aGVsbG8' })).inline_bytes, 'aGVsbG8=');
  assert.equal(parse(DS, { inline_bytes: '-_8=' }).inline_bytes.toString('hex'), 'fbff'); // URL-safe alphabet
  throwsConfig(() => parse(DS, { inline_bytes: 'not base64!' }), /^inline_bytes: expected base64-encoded bytes/);
  const ka = parse('envoy.config.core.v3.KeyValue', { key: 'k' });
  assert.ok(Buffer.isBuffer(ka.value) && ka.value.length === 0);
});

test('maps: string keys with Struct and Any values, uint32 keys', () => {
  const md = parse('envoy.config.core.v3.Metadata', { filter_metadata: { 'envoy.lb': { canary: true }, istio: { x: 'y' } } });
  assert.deepEqual(md.filter_metadata, { 'envoy.lb': { canary: true }, istio: { x: 'y' } });
  assert.deepEqual(md.typed_filter_metadata, {});
  const route = parse('envoy.config.route.v3.Route', {
    match: { prefix: '/' },
    route: { cluster: 'c' },
    typed_per_filter_config: {
      'envoy.filters.http.router': { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router', suppress_envoy_headers: true },
    },
  });
  assert.equal(route.typed_per_filter_config['envoy.filters.http.router']['@type'], 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router');
  assert.equal(route.typed_per_filter_config['envoy.filters.http.router'].suppress_envoy_headers, true);
  const MM = 'envoy.extensions.filters.network.dubbo_proxy.v3.MethodMatch';
  const mm = fromJSON(MM, { name: { exact: 'm' }, params_match: { 1: { exact_match: 'a' }, '7': { range_match: { start: 1, end: 5 } } } });
  const plain = toPlain(MM, mm);
  assert.deepEqual(Object.keys(plain.params_match).sort(), ['1', '7']);
  assert.equal(plain.params_match['1'].exact_match, 'a');
  assert.deepEqual(toPlain(MM, lookupType(MM)!.decode(encode(MM, mm))), plain);
  throwsConfig(() => parse(MM, { params_match: { x: {} } }), /^params_match\[x\]: expected an integer \(uint32\)/);
});

test('oneofs: one member is fine, two members of one oneof is an error', () => {
  const p = parse(CLUSTER, { name: 'c', cluster_type: { name: 'envoy.clusters.aggregate', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.clusters.aggregate.v3.ClusterConfig', clusters: ['a'] } } });
  assert.equal(p.cluster_type.name, 'envoy.clusters.aggregate');
  assert.deepEqual(p.cluster_type.typed_config.clusters, ['a']);
  throwsConfig(() => parse(CLUSTER, { name: 'c', type: 'STATIC', cluster_type: { name: 'x' } }, 'static_resources.clusters[0]'),
    'static_resources.clusters[0].cluster_type: only one of "type", "cluster_type" may be set (oneof cluster_discovery_type), but "type" is set too');
  throwsConfig(() => parse('envoy.config.route.v3.RouteMatch', { prefix: '/', path: '/x' }), /^path: only one of "prefix", "path", .* may be set \(oneof path_specifier\), but "prefix" is set too$/);
});

test('unknown field is an error naming its path', () => {
  throwsConfig(() => parse(BOOTSTRAP, { static_resources: { clusters: [{ name: 'c', lb_polcy: 'RANDOM' }] } }),
    'static_resources.clusters[0].lb_polcy: unknown field "lb_polcy" in envoy.config.cluster.v3.Cluster',
    'static_resources.clusters[0].lb_polcy');
  throwsConfig(() => parse(CLUSTER, { name: 'c', '@type': 'x' }), /^@type: unknown field "@type"/);
});

test('type mismatches name the path', () => {
  throwsConfig(() => parse(CLUSTER, { name: 5 }), 'name: expected a string, got 5');
  throwsConfig(() => parse(CLUSTER, { name: 'c', load_assignment: 'x' }), 'load_assignment: expected an object (envoy.config.endpoint.v3.ClusterLoadAssignment), got "x"');
  throwsConfig(() => parse(CLUSTER, { name: 'c', respect_dns_ttl: 'maybe' }), 'respect_dns_ttl: expected true or false, got "maybe"');
  throwsConfig(() => fromJSON('foo.Bar', {}), 'unknown type "foo.Bar"');
});

test('Envoy legacy JSON syntax: single value for a list, flattened nested lists, bool strings', () => {
  const vh = parse('envoy.config.route.v3.VirtualHost', { name: 'v', domains: '*' });
  assert.deepEqual(vh.domains, ['*']);
  const vh2 = parse('envoy.config.route.v3.VirtualHost', { name: 'v', domains: [['a', 'b'], 'c'] });
  assert.deepEqual(vh2.domains, ['a', 'b', 'c']);
  assert.equal(parse(CLUSTER, { name: 'c', respect_dns_ttl: 'true' }).respect_dns_ttl, true);
  // but google.protobuf.ListValue keeps nesting
  assert.deepEqual(parse('google.protobuf.ListValue', [[1, 2]]), [[1, 2]]);
});

test('nested Any is packed recursively and expanded with @type', () => {
  const listener = {
    name: 'l',
    address: { socket_address: { address: '0.0.0.0', port_value: 8080 } },
    filter_chains: [{
      filters: [{
        name: 'envoy.filters.network.http_connection_manager',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
          statPrefix: 'ingress',
          route_config: { virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c', timeout: '0s' } }] }] },
          http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
        },
      }],
    }],
  };
  const msg = fromJSON(LISTENER, listener);
  const p = toPlain(LISTENER, msg);
  const hcm = p.filter_chains[0].filters[0].typed_config;
  assert.equal(hcm['@type'], 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager');
  assert.equal(hcm.stat_prefix, 'ingress');
  assert.equal(hcm.codec_type, 'AUTO');
  assert.equal(hcm.route_config.virtual_hosts[0].routes[0].route.timeout, 0);
  assert.equal(hcm.http_filters[0].typed_config['@type'], 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router');
  assert.equal(hcm.http_filters[0].typed_config.suppress_envoy_headers, false);
  // the Any's value really holds the encoded inner message
  const any = (msg as unknown as { filter_chains: { filters: { typed_config: { value: Uint8Array } }[] }[] }).filter_chains[0].filters[0].typed_config;
  const HCM = lookupType('envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager')!;
  assert.equal((HCM.decode(any.value) as unknown as { stat_prefix: string }).stat_prefix, 'ingress');
  // errors inside an Any carry the full path
  const bad = structuredClone(listener);
  (bad.filter_chains[0].filters[0].typed_config as Record<string, unknown>).codec_type = 'HTTP9';
  throwsConfig(() => parse(LISTENER, bad, 'static_resources.listeners[0]'),
    'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.codec_type: unknown enum value "HTTP9"');
  // toJSON keeps @type first and prints the inner fields
  const j = toJSON(LISTENER, msg);
  const tj = j.filter_chains[0].filters[0].typed_config;
  assert.equal(Object.keys(tj)[0], '@type');
  assert.equal(tj.stat_prefix, 'ingress');
  assert.deepEqual(tj.http_filters[0].typed_config, { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' });
});

test('well-known types inside Any use {"@type", "value"}', () => {
  const A = 'google.protobuf.Any';
  const p = parse(A, { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '1.5s' });
  assert.deepEqual(p, { '@type': 'type.googleapis.com/google.protobuf.Duration', value: 1500 });
  const s = fromJSON(A, { '@type': 'type.googleapis.com/google.protobuf.Struct', value: { a: [1] } });
  assert.deepEqual(toJSON(A, s), { '@type': 'type.googleapis.com/google.protobuf.Struct', value: { a: [1] } });
  const nested = parse(A, { '@type': 'type.googleapis.com/google.protobuf.Any', value: { '@type': 'type.googleapis.com/google.protobuf.UInt32Value', value: 5 } });
  assert.deepEqual(nested, { '@type': 'type.googleapis.com/google.protobuf.Any', value: { '@type': 'type.googleapis.com/google.protobuf.UInt32Value', value: 5 } });
  assert.deepEqual(parse(A, {}), { '@type': '', '@unknown': true, value: Buffer.alloc(0) });
  throwsConfig(() => parse(A, { x: 1 }), 'missing "@type" in google.protobuf.Any');
  throwsConfig(() => parse(A, { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '1s', other: 1 }), /^other: unknown field "other" in Any of google\.protobuf\.Duration/);
});

test('unknown Any type is kept (not an error) as { @type, @unknown, struct }', () => {
  const url = 'type.googleapis.com/foo.Bar';
  const tc = { '@type': url, a: 1, b: { c: ['d'] } };
  const TS = 'envoy.config.core.v3.TransportSocket';
  const msg = fromJSON(TS, { name: 'x', typed_config: tc });
  const p = toPlain(TS, msg);
  assert.deepEqual(p.typed_config, { '@type': url, '@unknown': true, struct: { a: 1, b: { c: ['d'] } } });
  assert.deepEqual(toJSON(TS, msg).typed_config, tc);
  // after a binary round trip only the bytes remain (they hold the JSON as a google.protobuf.Struct)
  const decoded = lookupType(TS)!.decode(encode(TS, msg));
  const p2 = toPlain(TS, decoded);
  assert.equal(p2.typed_config['@unknown'], true);
  assert.ok(Buffer.isBuffer(p2.typed_config.value));
  assert.deepEqual(toPlain('google.protobuf.Struct', lookupType('google.protobuf.Struct')!.decode(p2.typed_config.value)), { a: 1, b: { c: ['d'] } });
  // decodeAny of an unknown type
  assert.deepEqual(decodeAny(url, Buffer.from([1, 2])), { '@type': url, '@unknown': true, value: Buffer.from([1, 2]) });
});

test('TypedStruct (udpa.type.v1 and xds.type.v3) is kept in the message and unwrapped in plain form', () => {
  const TS = 'envoy.config.core.v3.TypedExtensionConfig';
  const known = {
    name: 'envoy.bootstrap.internal_listener',
    typed_config: {
      '@type': 'type.googleapis.com/udpa.type.v1.TypedStruct',
      type_url: 'type.googleapis.com/envoy.extensions.bootstrap.internal_listener.v3.InternalListener',
      value: { buffer_size_kb: 64 },
    },
  };
  const msg = fromJSON(TS, known);
  // the message keeps the TypedStruct as-is
  assert.deepEqual(toJSON(TS, msg).typed_config, known.typed_config);
  const p = toPlain(TS, msg);
  assert.equal(p.typed_config['@type'], 'type.googleapis.com/envoy.extensions.bootstrap.internal_listener.v3.InternalListener');
  assert.equal(p.typed_config.buffer_size_kb, 64);
  assert.equal(p.typed_config['@unknown'], undefined);

  const unknown = {
    name: 'istio.metadata_exchange',
    typed_config: { '@type': 'type.googleapis.com/xds.type.v3.TypedStruct', type_url: 'type.googleapis.com/io.istio.http.peer_metadata.Config', value: { upstream_discovery: [{ istio_headers: {} }] } },
  };
  assert.deepEqual(parse(TS, unknown).typed_config, {
    '@type': 'type.googleapis.com/io.istio.http.peer_metadata.Config',
    '@unknown': true,
    struct: { upstream_discovery: [{ istio_headers: {} }] },
  });

  // a known body that does not fit its type fails when unwrapped, naming the path
  const bad = structuredClone(known);
  (bad.typed_config.value as Record<string, unknown>).buffer_size_kb = 'lots';
  const badMsg = fromJSON(TS, bad, 'bootstrap_extensions[0]');
  throwsConfig(() => toPlain(TS, badMsg, 'bootstrap_extensions[0]'), /^bootstrap_extensions\[0\]\.typed_config\.buffer_size_kb: expected an integer \(uint32\)/);
});

test('binary round trip: fromJSON -> encode -> decode -> toPlain equals the fromJSON plain', () => {
  const boot = {
    node: { id: 'sidecar~10.0.0.1~p.ns~ns.svc.cluster.local', cluster: 'c', metadata: { ISTIO_VERSION: '1.22', LABELS: { app: 'a' }, n: 3 } },
    static_resources: {
      clusters: [{
        name: 'c', type: 'STRICT_DNS', connect_timeout: '0.25s', lb_policy: 'RING_HASH', dns_lookup_family: 'V4_ONLY',
        ring_hash_lb_config: { minimum_ring_size: 1024 },
        load_assignment: { cluster_name: 'c', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'localhost', port_value: 9000 } } }, load_balancing_weight: 3 }] }] },
        circuit_breakers: { thresholds: [{ priority: 'HIGH', max_connections: 10 }] },
        transport_socket: { name: 'tls', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', sni: 'x' } },
        metadata: { filter_metadata: { istio: { config: '/apis/x' } } },
      }],
      listeners: [{
        name: 'l', address: { socket_address: { address: '127.0.0.1', port_value: 10000 } },
        filter_chains: [{ filters: [{ name: 'tcp', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 's', cluster: 'c', idle_timeout: '3600s' } }] }],
      }],
    },
    bootstrap_extensions: [{ name: 'il', typed_config: { '@type': 'type.googleapis.com/udpa.type.v1.TypedStruct', type_url: 'type.googleapis.com/envoy.extensions.bootstrap.internal_listener.v3.InternalListener', value: { buffer_size_kb: 64 } } }],
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 15000 } } },
    stats_flush_interval: '5s',
  };
  const msg = fromJSON(BOOTSTRAP, boot);
  const expected = toPlain(BOOTSTRAP, msg);
  const decoded = decode(BOOTSTRAP, encode(BOOTSTRAP, msg));
  assert.deepStrictEqual(toPlain(BOOTSTRAP, decoded), expected);
  assert.deepStrictEqual(toJSON(BOOTSTRAP, decoded), toJSON(BOOTSTRAP, msg));
  // and toJSON output parses back to the same plain form
  assert.deepStrictEqual(parse(BOOTSTRAP, toJSON(BOOTSTRAP, msg)), expected);
  assert.equal(expected.static_resources.clusters[0].connect_timeout, 250);
  assert.equal(expected.stats_flush_interval, 5000);
});

test('decodeAny decodes, validates and expands a packed message', () => {
  const url = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
  const bytes = encode(CLUSTER, fromJSON(CLUSTER, { name: 'c', type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } } }));
  const p = decodeAny(url, bytes, 'resources[0]');
  assert.equal(p['@type'], url);
  assert.equal(p.name, 'c');
  assert.equal(p.type, 'EDS');
  assert.deepEqual(p.eds_cluster_config.eds_config.ads, {});
  const empty = encode(CLUSTER, fromJSON(CLUSTER, { type: 'EDS' }, '', { validate: false }));
  throwsConfig(() => decodeAny(url, empty, 'resources[3]'), 'resources[3].name: value length must be at least 1 characters');
  throwsConfig(() => decodeAny(url, Buffer.from([0x0a, 0xff]), 'resources[4]'), /^resources\[4\]: unable to decode envoy\.config\.cluster\.v3\.Cluster/);
});

test('toJSON omits defaults, keeps snake_case names and set oneof members', () => {
  const j = toJSON(CLUSTER, fromJSON(CLUSTER, { name: 'c', type: 'STATIC', lb_policy: 'ROUND_ROBIN', respect_dns_ttl: false, alt_stat_name: '' }));
  assert.deepEqual(j, { name: 'c', type: 'STATIC' }); // type is a oneof member: printed although it is the zero value
});

test('toPlain works on plain objects with proto field names', () => {
  const p = toPlain(CLUSTER, { name: 'c', lb_policy: 2, connect_timeout: { seconds: 1, nanos: 5e8 }, per_connection_buffer_limit_bytes: { value: 9 } });
  assert.equal(p.lb_policy, 'RING_HASH');
  assert.equal(p.connect_timeout, 1500);
  assert.equal(p.per_connection_buffer_limit_bytes, 9);
});

test('absurdly nested input is a ConfigError, not a crash', () => {
  const root: Record<string, unknown> = {};
  let v = root;
  for (let i = 0; i < 50000; i++) {
    const next: Record<string, unknown> = {};
    v.a = next;
    v = next;
  }
  throwsConfig(() => parse('envoy.config.core.v3.Node', { metadata: root }, 'node'), 'node: config is nested too deeply');
});

test('decode: a truncated message in a Buffer is an error, not a silently shortened value', () => {
  const T = lookupType('envoy.config.cluster.v3.Cluster')!;
  const full = Buffer.from(T.encode(fromJSON('envoy.config.cluster.v3.Cluster', { name: 'a-fairly-long-cluster-name' })).finish());
  const cut = full.subarray(0, full.length - 5);
  assert.throws(() => decode('envoy.config.cluster.v3.Cluster', cut), /unable to decode/);
  assert.equal((decode('envoy.config.cluster.v3.Cluster', full) as unknown as { name: string }).name, 'a-fairly-long-cluster-name');
});
