// CDS + EDS handlers on a real Server (cluster manager, router pools, upstreams on loopback),
// fed by the in-test XdsClient.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  TYPE, assertOk, cla, decoded, edsCluster, get, nackOf, rdsListener, routeConfig, startHarness, startUpstream, staticCluster, tick, waitFor,
  type Harness,
} from './helpers';

async function withHarness(fn: (h: Harness) => Promise<void>): Promise<void> {
  const h = await startHarness();
  try { await fn(h); } finally { await h.close(); }
}

test('CDS: a STATIC cluster is added at once, via the API, with its version', () => withHarness(async (h) => {
  assertOk(h.client.push(TYPE.CLUSTER, [staticCluster('s1', 9)], { version: 'v1' }));
  const c = h.server.clusterManager.get('s1');
  assert.ok(c);
  assert.equal(c.info.addedViaApi, true);
  assert.equal(c.info.versionInfo, 'v1');
  assert.equal(h.store.gauge('cluster_manager.warming_clusters').value, 0);
}));

test('CDS: an EDS cluster warms until its first assignment (subscribed by service_name), then serves', () => withHarness(async (h) => {
  assertOk(h.client.push(TYPE.CLUSTER, [edsCluster('c1', { service: 'svc-1' })], { version: 'v1' }));
  assert.equal(h.server.clusterManager.get('c1'), undefined, 'warming cluster is not active');
  assert.equal(h.store.gauge('cluster_manager.warming_clusters').value, 1);
  assert.deepEqual(h.server.dynamic!.cds.warmingNames(), ['c1']);
  await tick();
  assert.deepEqual(h.client.subscribed(TYPE.ENDPOINT), ['svc-1']);
  assertOk(h.client.push(TYPE.ENDPOINT, [cla('svc-1', [1111])], { version: 'e1' }));
  const c = h.server.clusterManager.get('c1');
  assert.ok(c, 'active after the assignment');
  assert.equal(c.initialized, true);
  assert.equal(c.chooseHost(undefined)?.port, 1111);
  assert.equal(h.store.gauge('cluster_manager.warming_clusters').value, 0);
}));

test('CDS: a changed EDS cluster is built next to the old one and swapped when warm (make-before-break)', () => withHarness(async (h) => {
  assertOk(h.client.push(TYPE.CLUSTER, [edsCluster('c1', { service: 'a' })]));
  assertOk(h.client.push(TYPE.ENDPOINT, [cla('a', [1001])]));
  const old = h.server.clusterManager.get('c1')!;
  // New service name: nothing cached, so it warms while the old one serves.
  assertOk(h.client.push(TYPE.CLUSTER, [edsCluster('c1', { service: 'b' })], { version: 'v2' }));
  assert.equal(h.server.clusterManager.get('c1'), old, 'old cluster keeps serving while the new one warms');
  assert.equal(old.chooseHost(undefined)?.port, 1001);
  const dump = h.server.dynamic!.cds.configDump() as { dynamic_active_clusters: { cluster: { eds_cluster_config: { service_name: string } } }[]; dynamic_warming_clusters: { version_info: string; cluster: { eds_cluster_config: { service_name: string } } }[] };
  assert.equal(dump.dynamic_active_clusters[0].cluster.eds_cluster_config.service_name, 'a');
  assert.equal(dump.dynamic_warming_clusters[0].cluster.eds_cluster_config.service_name, 'b');
  assert.equal(dump.dynamic_warming_clusters[0].version_info, 'v2');
  await tick();
  assert.deepEqual(h.client.subscribed(TYPE.ENDPOINT), ['a', 'b']);
  assertOk(h.client.push(TYPE.ENDPOINT, [cla('b', [2002])]));
  const now = h.server.clusterManager.get('c1')!;
  assert.notEqual(now, old);
  assert.equal(now.chooseHost(undefined)?.port, 2002);
  assert.equal(now.info.versionInfo, 'v2');
  await tick();
  assert.deepEqual(h.client.subscribed(TYPE.ENDPOINT), ['b'], 'the old service name is unsubscribed');
}));

test('CDS: a changed EDS cluster with a cached assignment for its service name is swapped at once', () => withHarness(async (h) => {
  assertOk(h.client.push(TYPE.CLUSTER, [edsCluster('c1', { service: 'a' })]));
  assertOk(h.client.push(TYPE.ENDPOINT, [cla('a', [1001, 1002])]));
  const old = h.server.clusterManager.get('c1')!;
  assertOk(h.client.push(TYPE.CLUSTER, [edsCluster('c1', { service: 'a', lbPolicy: 'RANDOM' })], { version: 'v2' }));
  const now = h.server.clusterManager.get('c1')!;
  assert.notEqual(now, old);
  assert.equal(now.info.lbPolicy, 'RANDOM');
  assert.equal(now.hostsByPriority()[0].length, 2);
  assert.equal(h.server.dynamic!.cds.warmingNames().length, 0);
}));

test('CDS: identical config is a no-op; static clusters are not changed or removed via the API', () => withHarness(async (h) => {
  assertOk(h.client.push(TYPE.CLUSTER, [staticCluster('s1', 9)], { version: 'v1' }));
  const c = h.server.clusterManager.get('s1');
  assertOk(h.client.push(TYPE.CLUSTER, [staticCluster('s1', 9), staticCluster('xds-grpc', 7)], { version: 'v2' }));
  assert.equal(h.server.clusterManager.get('s1'), c);
  const xds = h.server.clusterManager.get('xds-grpc')!;
  assert.equal(xds.info.addedViaApi, false);
  assert.equal(xds.chooseHost(undefined)?.port, 1, 'static cluster untouched');
  assertOk(h.client.push(TYPE.CLUSTER, [], { version: 'v3', removed: ['s1', 'xds-grpc'] }));
  assert.equal(h.server.clusterManager.get('s1'), undefined);
  assert.ok(h.server.clusterManager.get('xds-grpc'), 'static cluster not removed');
}));

test('CDS NACKs: missing name, duplicate names, invalid field; the whole response is rejected and nothing changes', () => withHarness(async (h) => {
  const cm = h.server.clusterManager;
  // (The real client's PGV check rejects this before the handler; the handler checks too.)
  let err = nackOf(h.client.push(TYPE.CLUSTER, [staticCluster('ok-1', 9), decoded(TYPE.CLUSTER, { connect_timeout: '1s', type: 'STATIC' }, '1', false)]));
  assert.match(err, /^Cluster "": name: cluster name must not be empty/);
  assert.equal(cm.get('ok-1'), undefined, 'the valid cluster of a rejected response is not applied');

  err = nackOf(h.client.push(TYPE.CLUSTER, [staticCluster('dup', 9), staticCluster('dup', 10)]));
  assert.match(err, /^Cluster "dup": duplicate resource name/);
  assert.equal(cm.get('dup'), undefined);

  const unknownTs = { name: 'x', typed_config: { '@type': 'type.googleapis.com/remora.test.NoSuchTransportSocket' } };
  err = nackOf(h.client.push(TYPE.CLUSTER, [staticCluster('ok-1', 9), { ...staticCluster('bad', 9), transport_socket: unknownTs }]));
  assert.equal(err, 'Cluster "bad": transport_socket: unsupported transport socket "type.googleapis.com/remora.test.NoSuchTransportSocket"');
  assert.equal(cm.get('ok-1'), undefined);

  err = nackOf(h.client.push(TYPE.CLUSTER, [{ ...staticCluster('bad2', 9), load_assignment: cla('bad2', [0]) }]));
  assert.match(err, /^Cluster "bad2": load_assignment\.endpoints\[0\]\.lb_endpoints\[0\]\.endpoint\.address\.socket_address\.port_value: /);

  err = nackOf(h.client.push(TYPE.CLUSTER, [{ ...edsCluster('e'), eds_cluster_config: { eds_config: { path_config_source: { path: '/tmp/x' } } } }]));
  assert.match(err, /^Cluster "e": eds_cluster_config\.eds_config\.path_config_source: only ADS/);

  // After the NACKs an accepted update applies normally; a later NACK keeps it serving.
  assertOk(h.client.push(TYPE.CLUSTER, [staticCluster('ok-1', 9)], { version: 'v9' }));
  const c = cm.get('ok-1');
  nackOf(h.client.push(TYPE.CLUSTER, [{ ...staticCluster('ok-1', 10), transport_socket: unknownTs }]));
  assert.equal(cm.get('ok-1'), c);
  assert.equal(h.server.dynamic!.cds.versionInfo, 'v9');
}));

test('CDS: a cluster absent from a SotW response is removed and its EDS name unsubscribed', () => withHarness(async (h) => {
  assertOk(h.client.push(TYPE.CLUSTER, [edsCluster('c1'), edsCluster('c2')]));
  assertOk(h.client.push(TYPE.ENDPOINT, [cla('c1', [1]), cla('c2', [2])]));
  await tick();
  assert.deepEqual(h.client.subscribed(TYPE.ENDPOINT), ['c1', 'c2']);
  assertOk(h.client.push(TYPE.CLUSTER, [edsCluster('c2')]));
  assert.equal(h.server.clusterManager.get('c1'), undefined);
  assert.ok(h.server.clusterManager.get('c2'));
  await tick();
  assert.deepEqual(h.client.subscribed(TYPE.ENDPOINT), ['c2']);
  // A response that crossed the unsubscribe is ignored, not NACKed.
  assertOk(h.client.push(TYPE.ENDPOINT, [cla('c1', [1])]));
}));

test('EDS NACKs: an assignment for an unknown cluster, an invalid endpoint; nothing applied', () => withHarness(async (h) => {
  assertOk(h.client.push(TYPE.CLUSTER, [edsCluster('c1')]));
  let err = nackOf(h.client.push(TYPE.ENDPOINT, [cla('c1', [1]), cla('nope', [2])]));
  assert.match(err, /^ClusterLoadAssignment "nope": no cluster uses this EDS service name \(unknown cluster\)/);
  assert.equal(h.server.clusterManager.get('c1'), undefined, 'c1 still warming: the valid assignment was not applied');
  const bad = cla('c1', [1]);
  bad.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address = 'not-an-ip';
  err = nackOf(h.client.push(TYPE.ENDPOINT, [bad]));
  assert.match(err, /^ClusterLoadAssignment "c1": endpoints\[0\]\.lb_endpoints\[0\]\.endpoint\.address\.socket_address\.address: malformed IP address/);
  err = nackOf(h.client.push(TYPE.ENDPOINT, [cla('c1', [1]), cla('c1', [2])]));
  assert.match(err, /duplicate resource name/);
  assert.equal(h.server.clusterManager.get('c1'), undefined);
}));

test('EDS: UNHEALTHY and DRAINING endpoints are not picked; updates apply to the active cluster', () => withHarness(async (h) => {
  assertOk(h.client.push(TYPE.CLUSTER, [edsCluster('c1')]));
  assertOk(h.client.push(TYPE.ENDPOINT, [cla('c1', [1, 2, 3], ['UNHEALTHY', 'HEALTHY', 'DRAINING'])]));
  const c = h.server.clusterManager.get('c1')!;
  for (let i = 0; i < 10; i++) assert.equal(c.chooseHost(undefined)?.port, 2);
  assertOk(h.client.push(TYPE.ENDPOINT, [cla('c1', [4])]));
  assert.equal(h.server.clusterManager.get('c1'), c, 'same cluster object, new hosts');
  assert.equal(c.chooseHost(undefined)?.port, 4);
}));

test('EDS: eds_config.initial_fetch_timeout ends warming without hosts', () => withHarness(async (h) => {
  assertOk(h.client.push(TYPE.CLUSTER, [edsCluster('c1', { timeout: '0.05s' })]));
  assert.equal(h.server.clusterManager.get('c1'), undefined);
  await waitFor(() => h.server.clusterManager.get('c1') !== undefined, 'warming timeout');
  const c = h.server.clusterManager.get('c1')!;
  assert.equal(c.initialized, true);
  assert.equal(c.chooseHost(undefined), null);
  assertOk(h.client.push(TYPE.ENDPOINT, [cla('c1', [5])]));
  assert.equal(c.chooseHost(undefined)?.port, 5);
}));

test('EDS: TTL expiry removes the hosts; delta removal keeps them', () => withHarness(async (h) => {
  assertOk(h.client.push(TYPE.CLUSTER, [edsCluster('c1')]));
  assertOk(h.client.push(TYPE.ENDPOINT, [cla('c1', [1])]));
  const c = h.server.clusterManager.get('c1')!;
  assertOk(h.client.push(TYPE.ENDPOINT, [], { removed: ['c1'] }));
  assert.equal(c.chooseHost(undefined)?.port, 1);
  h.client.handlers.get(TYPE.ENDPOINT)!.onExpired!(TYPE.ENDPOINT, ['c1']);
  assert.equal(c.chooseHost(undefined), null);
}));

test('CDS: a removed cluster lets its in-flight request finish; new requests get 503', async () => {
  const slow = await startUpstream('slow', 300);
  const h = await startHarness();
  try {
    assertOk(h.client.push(TYPE.CLUSTER, [edsCluster('c1')]));
    assertOk(h.client.push(TYPE.ENDPOINT, [cla('c1', [slow.port])]));
    assertOk(h.client.push(TYPE.LISTENER, [rdsListener('l1', 'r1')]));
    assertOk(h.client.push(TYPE.ROUTE, [routeConfig('r1', 'c1')]));
    await waitFor(() => h.server.listenerManager.get('l1') !== undefined, 'listener');
    const port = h.port('l1');
    const inFlight = get(port, '/slow');
    await waitFor(() => slow.hits === 1, 'request reached the upstream');
    assertOk(h.client.push(TYPE.CLUSTER, []));
    assert.equal(h.server.clusterManager.get('c1'), undefined);
    const r = await inFlight;
    assert.equal(r.status, 200);
    assert.equal(r.body, 'slow /slow');
    const after = await get(port, '/again');
    assert.equal(after.status, 503);
    assert.equal(slow.hits, 1);
  } finally {
    await h.close();
    await slow.close();
  }
});
