// Bootstrap loading: file formats, --config-yaml merge, YAML quirks, and every real
// Envoy / Istio bootstrap in the shared fixtures.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadBootstrap, loadBootstrapMessage, parseYaml, readConfigFile } from '../../src/config/bootstrap';
import { decode, fromJSON, parse, toJSON, toPlain } from '../../src/config/json';
import { mergeMessage } from '../../src/config/merge';
import { lookupType } from '../../src/config/protos';
import { ConfigError } from '../../src/config/errors';

import { FIXTURES as SHARED_FIXTURES } from '../shared_fixtures';
const FIXTURES = SHARED_FIXTURES;
const BOOTSTRAP = 'envoy.config.bootstrap.v3.Bootstrap';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'remora-config-test-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, text);
  return p;
}

function throwsConfig(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

const BASE_YAML = `
admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: 9901 }
static_resources:
  clusters:
  - name: a
    connect_timeout: 0.25s
    type: STATIC
    load_assignment:
      cluster_name: a
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 8080 } } }
`;

test('loads YAML, JSON, and files without a known extension', () => {
  const y = loadBootstrap({ configPath: write('b.yaml', BASE_YAML) });
  assert.equal(y.static_resources.clusters[0].name, 'a');
  assert.equal(y.static_resources.clusters[0].connect_timeout, 250);
  assert.equal(y.static_resources.clusters[0].type, 'STATIC');
  assert.equal(y.admin.address.socket_address.port_value, 9901);
  const asJson = JSON.stringify(toJSON(BOOTSTRAP, loadBootstrapMessage({ configPath: write('b.yml', BASE_YAML) })));
  assert.deepEqual(loadBootstrap({ configPath: write('b.json', asJson) }), y);
  assert.deepEqual(loadBootstrap({ configPath: write('b.conf', asJson) }), y);
  assert.deepEqual(loadBootstrap({ configPath: write('b2.conf', BASE_YAML) }), y);
});

test('--config-yaml merges over the file with MergeFrom semantics', () => {
  const file = write('m.yaml', BASE_YAML);
  const overlay = `
admin: { address: { socket_address: { port_value: 15000 } } }
static_resources:
  clusters:
  - name: b
    type: EDS
    eds_cluster_config: { eds_config: { ads: {} } }
node: { id: n1, metadata: { k: v } }
`;
  const p = loadBootstrap({ configPath: file, configYaml: overlay });
  assert.deepEqual(p.static_resources.clusters.map((c: { name: string }) => c.name), ['a', 'b']); // repeated: appended
  assert.equal(p.admin.address.socket_address.port_value, 15000); // scalar: replaced
  assert.equal(p.admin.address.socket_address.address, '127.0.0.1'); // message: merged
  assert.equal(p.node.id, 'n1');
  // config-yaml alone
  assert.equal(loadBootstrap({ configYaml: 'node: { id: x, cluster: c1 }' }).node.cluster, 'c1');
  // as in Envoy (yaml-cpp), an unquoted `y` is a boolean, so it is not a valid string
  throwsConfig(() => loadBootstrap({ configYaml: 'node: { id: x, cluster: y }' }), 'node.cluster: expected a string, got true');
  throwsConfig(() => loadBootstrap({}), 'At least one of --config-path or --config-yaml should be non-empty');
});

test('MergeFrom details: oneofs switch, maps replace per key, default scalars do not override', () => {
  const C = 'envoy.config.cluster.v3.Cluster';
  const dst = fromJSON(C, { name: 'a', type: 'STATIC', lb_policy: 'RANDOM', metadata: { filter_metadata: { x: { a: 1 }, y: { b: 2 } } }, connect_timeout: '1s' });
  const src = fromJSON(C, { name: '', cluster_type: { name: 'custom' }, lb_policy: 'ROUND_ROBIN', metadata: { filter_metadata: { y: { c: 3 } } }, connect_timeout: '0.5s' }, '', { validate: false });
  const p = toPlain(C, mergeMessage(C, dst, src));
  assert.equal(p.name, 'a');
  assert.ok(!('type' in p));
  assert.equal(p.cluster_type.name, 'custom');
  assert.equal(p.lb_policy, 'RANDOM'); // ROUND_ROBIN is the proto3 default: not copied
  assert.deepEqual(p.metadata.filter_metadata, { x: { a: 1 }, y: { c: 3 } });
  // Duration is a message: seconds 0 is not copied, nanos is; protobuf gives 1.5s here too
  assert.equal(p.connect_timeout, 1500);
});

test('the merged result is validated, naming the field path', () => {
  const file = write('v.yaml', BASE_YAML);
  throwsConfig(() => loadBootstrap({ configPath: file, configYaml: 'static_resources: { clusters: [ { name: "" } ] }' }),
    'static_resources.clusters[1].name: value length must be at least 1 characters');
  const three = `
static_resources:
  clusters:
  - { name: a }
  - { name: b }
  - { name: c, lb_policy: ROUND_ROBN }
`;
  throwsConfig(() => loadBootstrap({ configPath: write('e.yaml', three) }), 'static_resources.clusters[2].lb_policy: unknown enum value "ROUND_ROBN"');
  throwsConfig(() => loadBootstrap({ configPath: path.join(tmp, 'missing.yaml') }), /^unable to read file: .*missing\.yaml/);
  throwsConfig(() => loadBootstrap({ configPath: write('bad.yaml', 'a: [1, 2\n') }), /^unable to parse YAML from .*bad\.yaml/);
  throwsConfig(() => loadBootstrap({ configPath: write('bad.json', '{"a": ') }), /^unable to parse JSON from .*bad\.json/);
  throwsConfig(() => loadBootstrap({ configPath: write('list.yaml', '- 1\n') }), /expected a mapping at the top level/);
});

test('YAML scalars are read the way Envoy reads them (yaml-cpp)', () => {
  const y = parseYaml(`
a: yes
b: "yes"
c: On
d: 2147483647
e: 2147483648
f: 0.5
g: 0x10
h: 010
i: ~
j: 99999999999999999999
!ignore anchors: &x { k: 1 }
l: *x
m: { <<: *x, n: 2 }
y: 1
`, 'test') as Record<string, unknown>;
  assert.deepEqual(y, {
    a: true, b: 'yes', c: true, d: 2147483647, e: '2147483648', f: '0.5', g: 16, h: 8, i: null, j: '99999999999999999999',
    l: { k: 1 }, m: { k: 1, n: 2 }, y: 1,
  });
  // numeric strings are accepted for numeric fields
  const p = loadBootstrap({ configYaml: 'stats_flush_interval: 1.5s\noverload_manager: { refresh_interval: 0.25s, resource_monitors: [ { name: m, typed_config: { "@type": type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig, max_active_downstream_connections: 5000000000 } } ] }' });
  assert.equal(p.stats_flush_interval, 1500);
  assert.equal(p.overload_manager.resource_monitors[0].typed_config.max_active_downstream_connections, 5000000000);
  assert.equal(loadBootstrap({ configYaml: 'enable_dispatcher_stats: yes' }).enable_dispatcher_stats, true);
});

// ---- the shared fixtures ----------------------------------------------------------

function walk(dir: string, re: RegExp, acc: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, re, acc);
    else if (re.test(e.name)) acc.push(p);
  }
  return acc.sort();
}

/** Files under the globs that are not bootstraps: what they are, and how they are checked instead. */
const NOT_BOOTSTRAPS: Record<string, { type: string; why: string }> = {
  'envoyproxy-examples/dynamic-config-fs/configs/cds.yaml': { type: 'envoy.service.discovery.v3.DiscoveryResponse', why: 'filesystem CDS resource file (resources: [Cluster])' },
  'envoyproxy-examples/dynamic-config-fs/configs/lds.yaml': { type: 'envoy.service.discovery.v3.DiscoveryResponse', why: 'filesystem LDS resource file (resources: [Listener]); its `filters:` is a single object, accepted by Envoy\'s legacy JSON syntax' },
};

/** Bootstraps that must NOT load, with the reason and the exact error. */
const EXPECTED_FAILURES: Record<string, { why: string; error: string }> = {
  'envoyproxy-envoy/configs/envoyproxy_io_proxy.yaml': {
    why: 'invalid against the v3 API: HttpConnectionManager.scheme_header_transformation is a message ' +
      '(SchemeHeaderTransformation{scheme_to_overwrite}), not the enum-like "OVERWRITE_SCHEME", and HCM has no `scheme` field; Envoy rejects it too',
    error: 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.scheme_header_transformation: ' +
      'expected an object (envoy.config.core.v3.SchemeHeaderTransformation), got "OVERWRITE_SCHEME"',
  },
};

/** Typed configs whose proto the bundle lacks (contrib extensions): kept as '@unknown' for the registry to judge. */
const EXPECTED_UNKNOWN_TYPES: Record<string, string[]> = {
  'envoyproxy-examples/kafka/envoy.yaml': ['type.googleapis.com/envoy.extensions.filters.network.kafka_broker.v3.KafkaBroker'],
  'envoyproxy-examples/mysql/envoy.yaml': ['type.googleapis.com/envoy.extensions.filters.network.mysql_proxy.v3.MySQLProxy'],
};

function unknownTypes(p: unknown, acc: Set<string> = new Set()): Set<string> {
  if (p && typeof p === 'object' && !Buffer.isBuffer(p)) {
    const o = p as Record<string, unknown>;
    if (o['@unknown'] === true) acc.add(o['@type'] as string);
    for (const k of Object.keys(o)) unknownTypes(o[k], acc);
  }
  return acc;
}

/** After a binary round trip an unknown typed config is bytes: decode them as the Struct they hold. */
function unknownAsStruct(p: unknown): unknown {
  if (Array.isArray(p)) return p.map(unknownAsStruct);
  if (!p || typeof p !== 'object' || Buffer.isBuffer(p)) return p;
  const o = p as Record<string, unknown>;
  if (o['@unknown'] === true && Buffer.isBuffer(o.value)) {
    return { '@type': o['@type'], '@unknown': true, struct: toPlain('google.protobuf.Struct', lookupType('google.protobuf.Struct')!.decode(o.value)) };
  }
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) out[k] = unknownAsStruct(o[k]);
  return out;
}

const yamlFixtures = [
  ...walk(path.join(FIXTURES, 'envoyproxy-examples'), /\.ya?ml$/),
  ...walk(path.join(FIXTURES, 'envoyproxy-envoy', 'configs'), /\.ya?ml$/),
];

test('fixture set is present', () => {
  assert.ok(yamlFixtures.length >= 40, `only ${yamlFixtures.length} YAML fixtures found`);
});

for (const file of yamlFixtures) {
  const rel = path.relative(FIXTURES, file);
  test(`fixture ${rel}`, () => {
    const other = NOT_BOOTSTRAPS[rel];
    if (other) {
      const p = parse(other.type, readConfigFile(file));
      assert.ok(p.resources.length > 0, other.why);
      assert.deepEqual([...unknownTypes(p)], []);
      return;
    }
    const failure = EXPECTED_FAILURES[rel];
    if (failure) {
      throwsConfig(() => loadBootstrap({ configPath: file }), failure.error);
      return;
    }
    const p = loadBootstrap({ configPath: file });
    assert.equal(typeof p, 'object');
    assert.deepEqual([...unknownTypes(p)].sort(), EXPECTED_UNKNOWN_TYPES[rel] ?? []);
    // binary round trip of the whole bootstrap: unknown typed configs come back as bytes
    // holding their JSON as a google.protobuf.Struct; everything else is identical
    const msg = loadBootstrapMessage({ configPath: file });
    const B = lookupType(BOOTSTRAP)!;
    const decoded = toPlain(BOOTSTRAP, decode(BOOTSTRAP, B.encode(msg).finish()));
    assert.deepStrictEqual(unknownAsStruct(decoded), p);
    // and toJSON (config_dump) output reads back to the same plain form
    assert.deepStrictEqual(parse(BOOTSTRAP, toJSON(BOOTSTRAP, msg)), p);
  });
}

test('the JSON config_dump excerpts in the examples parse as ClustersConfigDump entries', () => {
  const files = walk(path.join(FIXTURES, 'envoyproxy-examples'), /\.json$/);
  assert.equal(files.length, 3);
  for (const file of files) {
    const entries = readConfigFile(file) as unknown[];
    for (const [i, e] of entries.entries()) {
      const p = parse('envoy.admin.v3.ClustersConfigDump.DynamicCluster', e, `[${i}]`);
      assert.ok(p.cluster['@type'].endsWith('Cluster'));
      if (file.endsWith('dynamic-config-cp/_include/response-config-cluster.json')) {
        // a v2 API type: not in the v3 bundle, kept as unknown
        assert.equal(p.cluster['@type'], 'type.googleapis.com/envoy.api.v2.Cluster');
        assert.equal(p.cluster['@unknown'], true);
        assert.equal(p.cluster.struct.name, 'xds_cluster');
      } else {
        assert.equal(p.cluster.name, 'example_proxy_cluster');
      }
    }
  }
});

const istioDir = path.join(FIXTURES, 'istio-istio', 'pkg', 'bootstrap', 'testdata');
const istioGoldens = fs.readdirSync(istioDir).filter((f) => f.endsWith('_golden.json')).sort();

test('Istio pilot-agent golden bootstraps are present', () => {
  assert.ok(istioGoldens.length >= 8, istioGoldens.join(', '));
});

for (const name of istioGoldens) {
  test(`Istio golden ${name}`, () => {
    const p = loadBootstrap({ configPath: path.join(istioDir, name) });
    assert.match(p.node.id, /^sidecar~/);
    assert.equal(p.dynamic_resources.ads_config.api_type, 'DELTA_GRPC');
    assert.equal(p.dynamic_resources.cds_config.initial_fetch_timeout, 0);
    const xds = p.static_resources.clusters.find((c: { name: string }) => c.name === 'xds-grpc');
    assert.ok(xds, 'xds-grpc cluster');
    // the internal_listener bootstrap extension arrives as a udpa TypedStruct and is unwrapped
    const il = p.bootstrap_extensions.find((e: { name: string }) => e.name === 'envoy.bootstrap.internal_listener');
    assert.equal(il.typed_config['@type'], 'type.googleapis.com/envoy.extensions.bootstrap.internal_listener.v3.InternalListener');
    assert.equal(il.typed_config.buffer_size_kb, 64);
    assert.deepEqual([...unknownTypes(p)], []);
  });
}
