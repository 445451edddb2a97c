import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AdminServer } from '../../src/admin';
import { fakeProviders, start, get, type Fake } from './helpers';

const T = 'type.googleapis.com/';
const cluster = (name: string) => ({ '@type': T + 'envoy.config.cluster.v3.Cluster', name, type: 'EDS', connect_timeout: '10s' });

function dump(includeEds: boolean): object {
  const configs: object[] = [
    { '@type': T + 'envoy.admin.v3.BootstrapConfigDump', bootstrap: { node: { id: 'sidecar~1' }, static_resources: {} }, last_updated: '2024-01-01T00:00:00Z' },
    {
      '@type': T + 'envoy.admin.v3.ClustersConfigDump', version_info: '2024-01-01T00:00:00Z/5',
      static_clusters: [{ cluster: cluster('xds-grpc'), last_updated: '2024-01-01T00:00:00Z' }],
      dynamic_active_clusters: [
        { version_info: 'v5', cluster: cluster('outbound|80||web.ns.svc.cluster.local'), last_updated: '2024-01-01T00:00:01Z' },
        { version_info: 'v5', cluster: cluster('inbound|8080||'), last_updated: '2024-01-01T00:00:01Z' },
      ],
    },
  ];
  if (includeEds) {
    configs.push({
      '@type': T + 'envoy.admin.v3.EndpointsConfigDump',
      dynamic_endpoint_configs: [{ endpoint_config: { '@type': T + 'envoy.config.endpoint.v3.ClusterLoadAssignment', cluster_name: 'outbound|80||web.ns.svc.cluster.local', endpoints: [] } }],
    });
  }
  configs.push(
    {
      '@type': T + 'envoy.admin.v3.ListenersConfigDump', version_info: 'v5',
      dynamic_listeners: [{ name: 'virtualOutbound', active_state: { version_info: 'v5', listener: { '@type': T + 'envoy.config.listener.v3.Listener', name: 'virtualOutbound' } } }],
    },
    {
      '@type': T + 'envoy.admin.v3.RoutesConfigDump',
      dynamic_route_configs: [{ version_info: 'v5', route_config: { '@type': T + 'envoy.config.route.v3.RouteConfiguration', name: '80', virtual_hosts: [] } }],
    },
    { '@type': T + 'envoy.admin.v3.SecretsConfigDump', dynamic_active_secrets: [{ name: 'default', version_info: '1' }, { name: 'ROOTCA', version_info: '1' }] },
  );
  return { configs };
}

let fake: Fake;
let admin: AdminServer;
let port = 0;

before(async () => {
  fake = fakeProviders(undefined, {
    configDump: (q) => { fake.calls.configDumpQueries.push(q); return dump(q.includeEds); },
  });
  admin = await start(fake);
  port = admin.port;
});

after(async () => { await admin.close(); });

test('/config_dump returns the provider dump, pretty printed like Envoy (one-space indent)', async () => {
  fake.calls.configDumpQueries.length = 0;
  const r = await get(port, '/config_dump');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.ok(r.body.startsWith('{\n "configs": [\n  {\n   "@type": "type.googleapis.com/envoy.admin.v3.BootstrapConfigDump",\n'), r.body.slice(0, 200));
  assert.deepEqual(JSON.parse(r.body), dump(false));
  assert.deepEqual(fake.calls.configDumpQueries, [{ includeEds: false }]);
});

test('?include_eds asks the provider for endpoints', async () => {
  fake.calls.configDumpQueries.length = 0;
  const j = JSON.parse((await get(port, '/config_dump?include_eds')).body);
  assert.ok(j.configs.some((c: { '@type': string }) => c['@type'].endsWith('EndpointsConfigDump')));
  assert.deepEqual(fake.calls.configDumpQueries, [{ includeEds: true }]);
});

test('?resource= returns the elements of a repeated field, typed by the proto schema', async () => {
  const j = JSON.parse((await get(port, '/config_dump?resource=dynamic_active_clusters')).body);
  assert.equal(j.configs.length, 2);
  assert.equal(j.configs[0]['@type'], T + 'envoy.admin.v3.ClustersConfigDump.DynamicCluster');
  assert.equal(j.configs[0].cluster.name, 'outbound|80||web.ns.svc.cluster.local');
  assert.equal(j.configs[0].version_info, 'v5');
  const s = JSON.parse((await get(port, '/config_dump?resource=dynamic_active_secrets')).body);
  assert.deepEqual(s.configs.map((c: { '@type': string; name: string }) => [c['@type'], c.name]), [
    [T + 'envoy.admin.v3.SecretsConfigDump.DynamicSecret', 'default'],
    [T + 'envoy.admin.v3.SecretsConfigDump.DynamicSecret', 'ROOTCA'],
  ]);
  const l = JSON.parse((await get(port, '/config_dump?resource=dynamic_listeners')).body);
  assert.equal(l.configs[0]['@type'], T + 'envoy.admin.v3.ListenersConfigDump.DynamicListener');
  const empty = await get(port, '/config_dump?resource=static_route_configs');
  assert.deepEqual([empty.status, empty.body], [200, '{}']);
});

test('?resource= errors: singular field 400, unknown field 404', async () => {
  const single = await get(port, '/config_dump?resource=version_info');
  assert.deepEqual([single.status, single.body], [400, 'version_info is not a repeated field. Use ?mask=version_info to get only this field']);
  const missing = await get(port, '/config_dump?resource=nope');
  assert.deepEqual([missing.status, missing.body], [404, 'nope not found in config dump']);
});

test('?resource=&mask= trims each element, reaching into its Any field', async () => {
  const j = JSON.parse((await get(port, '/config_dump?resource=dynamic_active_clusters&mask=cluster.name,version_info')).body);
  assert.deepEqual(j.configs[0], {
    '@type': T + 'envoy.admin.v3.ClustersConfigDump.DynamicCluster',
    version_info: 'v5',
    cluster: { '@type': T + 'envoy.config.cluster.v3.Cluster', name: 'outbound|80||web.ns.svc.cluster.local' },
  });
});

test('?mask= without resource trims every top-level config', async () => {
  const j = JSON.parse((await get(port, '/config_dump?mask=static_clusters')).body);
  assert.deepEqual(j.configs[0], { '@type': T + 'envoy.admin.v3.BootstrapConfigDump' });
  assert.deepEqual(Object.keys(j.configs[1]), ['@type', 'static_clusters']);
  assert.equal(j.configs[1].static_clusters[0].cluster.name, 'xds-grpc');
});

test('?name_regex= keeps resources whose name fully matches (RE2), in every section', async () => {
  const j = JSON.parse((await get(port, '/config_dump?name_regex=' + encodeURIComponent('outbound.*|default'))).body);
  assert.equal(j.configs[0].bootstrap.node.id, 'sidecar~1');
  assert.deepEqual(j.configs[1].static_clusters, []);
  assert.deepEqual(j.configs[1].dynamic_active_clusters.map((c: { cluster: { name: string } }) => c.cluster.name), ['outbound|80||web.ns.svc.cluster.local']);
  assert.deepEqual(j.configs[2].dynamic_listeners, []);
  assert.deepEqual(j.configs[3].dynamic_route_configs, []);
  assert.deepEqual(j.configs[4].dynamic_active_secrets.map((s: { name: string }) => s.name), ['default']);
  const partial = JSON.parse((await get(port, '/config_dump?resource=dynamic_active_secrets&name_regex=ROOT')).body);
  assert.deepEqual(partial, {}, 'full match, not partial');
  const both = JSON.parse((await get(port, '/config_dump?resource=dynamic_active_clusters&name_regex=inbound.*&mask=cluster.name')).body);
  assert.deepEqual(both.configs.map((c: { cluster: { name: string } }) => c.cluster.name), ['inbound|8080||']);
  const eds = JSON.parse((await get(port, '/config_dump?include_eds&resource=dynamic_endpoint_configs&name_regex=outbound.*')).body);
  assert.equal(eds.configs.length, 1);
  const bad = await get(port, '/config_dump?name_regex=(');
  assert.equal(bad.status, 400);
  assert.match(bad.body, /^Error while parsing name_regex/);
});

test('an empty dump prints {}', async () => {
  const f = fakeProviders();
  const a = await start(f);
  try {
    const r = await get(a.port, '/config_dump');
    assert.deepEqual([r.status, r.body], [200, '{}']);
  } finally {
    await a.close();
  }
});
