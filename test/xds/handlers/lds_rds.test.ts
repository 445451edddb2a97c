// LDS + RDS handlers on a real Server: listener warming on RDS, route swaps on live
// keep-alive connections, NACKs, readiness, /config_dump and /xds_status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import {
  KeepAliveConnection, TYPE, assertOk, bootstrapYaml, cla, edsCluster, get, nackOf, rdsListener, routeConfig, startHarness,
  startUpstream, staticCluster, tick, waitFor, type Harness,
} from './helpers';

async function withHarness(fn: (h: Harness) => Promise<void>, yaml?: string): Promise<void> {
  const h = await startHarness(yaml);
  try { await fn(h); } finally { await h.close(); }
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

test('LDS: a listener using rds warms until its RouteConfiguration arrives, then serves it', async () => {
  const up = await startUpstream('A');
  await withHarness(async (h) => {
    assertOk(h.client.push(TYPE.CLUSTER, [staticCluster('a', up.port)]));
    assertOk(h.client.push(TYPE.LISTENER, [rdsListener('l1', 'r1')], { version: 'L1' }));
    assert.equal(h.server.listenerManager.get('l1'), undefined, 'warming listener is not active');
    assert.equal(h.store.gauge('listener_manager.total_listeners_warming').value, 1);
    const dump = h.server.dynamic!.lds.configDump() as { version_info: string; dynamic_listeners: Json[] };
    assert.equal(dump.version_info, 'L1');
    assert.equal(dump.dynamic_listeners[0].name, 'l1');
    assert.equal(dump.dynamic_listeners[0].warming_state.version_info, 'L1');
    assert.equal(dump.dynamic_listeners[0].active_state, undefined);
    await tick();
    assert.deepEqual(h.client.subscribed(TYPE.ROUTE), ['r1']);
    assertOk(h.client.push(TYPE.ROUTE, [routeConfig('r1', 'a')], { version: 'R1' }));
    await waitFor(() => h.server.listenerManager.get('l1') !== undefined, 'listener active');
    await waitFor(() => h.store.gauge('listener_manager.total_listeners_warming').value === 0, 'warming gauge');
    const r = await get(h.port('l1'), '/x');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'A /x');
    assert.equal(h.store.counter('http.ingress.rds.r1.update_success').value, 1);
    assert.equal(h.store.counter('http.ingress.rds.r1.update_attempt').value, 1);
    assert.equal(h.store.textReadouts.get('http.ingress.rds.r1.version_text'), 'R1');
    assert.notEqual(h.store.gauge('http.ingress.rds.r1.version').value, 0);
    const active = (h.server.dynamic!.lds.configDump() as { dynamic_listeners: Json[] }).dynamic_listeners[0];
    assert.equal(active.active_state.version_info, 'L1');
    assert.equal(active.active_state.listener['@type'], TYPE.LISTENER);
    assert.equal(active.warming_state, undefined);
  });
  await up.close();
});

test('RDS: an update swaps the route table on a live keep-alive connection without closing it', async () => {
  const a = await startUpstream('A');
  const b = await startUpstream('B');
  await withHarness(async (h) => {
    assertOk(h.client.push(TYPE.CLUSTER, [staticCluster('a', a.port), staticCluster('b', b.port)]));
    assertOk(h.client.push(TYPE.LISTENER, [rdsListener('l1', 'r1')]));
    assertOk(h.client.push(TYPE.ROUTE, [routeConfig('r1', 'a')], { version: 'R1' }));
    await waitFor(() => h.server.listenerManager.get('l1') !== undefined, 'listener active');
    const conn = await KeepAliveConnection.open(h.port('l1'));
    try {
      const localPort = conn.sock.localPort;
      const r1 = await conn.send('/one');
      assert.equal(r1.status, 200);
      assert.equal(r1.body, 'A /one');
      assertOk(h.client.push(TYPE.ROUTE, [routeConfig('r1', 'b')], { version: 'R2' }));
      const r2 = await conn.send('/two');
      assert.equal(r2.status, 200);
      assert.equal(r2.body, 'B /two', 'the next request on the same connection uses the new table');
      assert.equal(conn.closed, false);
      assert.equal(conn.sock.localPort, localPort);
      assert.doesNotMatch(r2.headers, /connection: close/i, 'RDS does not drain the connection');
      assert.equal(h.store.counter('http.ingress.rds.r1.config_reload').value, 2);
      // An identical RDS response is accepted without a reload.
      assertOk(h.client.push(TYPE.ROUTE, [routeConfig('r1', 'b')], { version: 'R3' }));
      assert.equal(h.store.counter('http.ingress.rds.r1.config_reload').value, 2);
      assert.equal(h.store.counter('http.ingress.rds.r1.update_success').value, 3);
      const r3 = await conn.send('/three');
      assert.equal(r3.body, 'B /three');
    } finally {
      conn.close();
    }
  });
  await a.close();
  await b.close();
});

test('RDS NACKs: invalid regex, weighted_clusters total 0; nothing swapped, the old table keeps serving', async () => {
  const a = await startUpstream('A');
  await withHarness(async (h) => {
    assertOk(h.client.push(TYPE.CLUSTER, [staticCluster('a', a.port)]));
    assertOk(h.client.push(TYPE.LISTENER, [rdsListener('l1', 'r1'), rdsListener('l2', 'r2')]));
    assertOk(h.client.push(TYPE.ROUTE, [routeConfig('r1', 'a'), routeConfig('r2', 'a')]));
    await waitFor(() => h.server.listenerManager.get('l1') !== undefined && h.server.listenerManager.get('l2') !== undefined, 'listeners');

    const badRegex = routeConfig('r1', 'a');
    badRegex.virtual_hosts[0].routes[0].match = { safe_regex: { regex: '(' } };
    let err = nackOf(h.client.push(TYPE.ROUTE, [routeConfig('r2', 'nowhere'), badRegex]));
    assert.match(err, /^RouteConfiguration "r1": virtual_hosts\[0\]\.routes\[0\]\.match\.safe_regex\.regex: /);
    assert.equal(h.store.counter('http.ingress.rds.r1.update_rejected').value, 1);

    err = nackOf(h.client.push(TYPE.ROUTE, [routeConfig('r1', [{ name: 'a', weight: 0 }, { name: 'a', weight: 0 }])]));
    assert.match(err, /^RouteConfiguration "r1": virtual_hosts\[0\]\.routes\[0\]\.route\.weighted_clusters: Sum of weights in the weighted_cluster must be greater than 0/);

    err = nackOf(h.client.push(TYPE.ROUTE, [routeConfig('r1', 'a'), routeConfig('r1', 'a')]));
    assert.match(err, /^RouteConfiguration "r1": duplicate resource name/);

    // r2 was in the rejected response: still the old table.
    assert.equal((await get(h.port('l2'), '/y')).body, 'A /y');
    assert.equal((await get(h.port('l1'), '/z')).body, 'A /z');
  });
  await a.close();
});

test('LDS NACKs: duplicate listener address (in one response and against a running listener), invalid config; error_state recorded', () => withHarness(async (h) => {
  const port = await freePort();
  const mk = (name: string) => ({ ...rdsListener(name, 'r1'), address: { socket_address: { address: '127.0.0.1', port_value: port } } });
  let err = nackOf(h.client.push(TYPE.LISTENER, [mk('a'), mk('b')]));
  assert.equal(err, `Listener "a": address: duplicate address '127.0.0.1:${port}' as existing listener "b"`);
  assert.equal(h.server.dynamic!.lds.warmingNames().length, 0, 'nothing applied');

  assertOk(h.client.push(TYPE.LISTENER, [mk('a')], { version: 'L1' }));
  err = nackOf(h.client.push(TYPE.LISTENER, [mk('a'), mk('b')], { version: 'L2' }));
  assert.equal(err, `Listener "b": address: duplicate address '127.0.0.1:${port}' as existing listener "a"`);
  // Moving a listener onto a port freed in the same response is fine.
  assertOk(h.client.push(TYPE.LISTENER, [mk('b')], { version: 'L3' }));
  assert.deepEqual(h.server.dynamic!.lds.warmingNames(), ['b']);

  const bad: Json = rdsListener('c', 'r1');
  bad.filter_chains[0].filters.unshift({ name: 'nope', typed_config: { '@type': 'type.googleapis.com/remora.test.NoSuchFilter' } });
  err = nackOf(h.client.push(TYPE.LISTENER, [mk('b'), bad], { version: 'L4' }));
  assert.match(err, /^Listener "c": filter_chains\[0\]\.filters\[0\]/);
  const dump = h.server.dynamic!.lds.configDump() as { version_info: string; dynamic_listeners: Json[] };
  assert.equal(dump.version_info, 'L3');
  const c = dump.dynamic_listeners.find((l) => l.name === 'c')!;
  assert.equal(c.error_state.version_info, 'L4');
  assert.match(c.error_state.details, /^Listener "c": filter_chains\[0\]\.filters\[0\]/);
  assert.equal(c.error_state.failed_configuration.name, 'c');
}));

test('LDS: removal stops the listener and unsubscribes its route config; static listeners stay', async () => {
  const staticPort = await freePort();
  const yaml = bootstrapYaml(`  listeners:
  - name: static-l
    address: { socket_address: { address: 127.0.0.1, port_value: ${staticPort} } }
    filter_chains: [{ filters: [{ name: envoy.filters.network.http_connection_manager, typed_config: {
      "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager,
      stat_prefix: st, route_config: { virtual_hosts: [{ name: v, domains: ["*"], routes: [{ match: { prefix: / }, direct_response: { status: 200, body: { inline_string: static } } }] }] },
      http_filters: [{ name: envoy.filters.http.router, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } }] } }] }]
`);
  await withHarness(async (h) => {
    assertOk(h.client.push(TYPE.LISTENER, [rdsListener('l1', 'r1'), { ...rdsListener('static-l', 'r9'), address: { socket_address: { address: '127.0.0.1', port_value: staticPort + 0 } } }]));
    assertOk(h.client.push(TYPE.ROUTE, [routeConfig('r1', 'x')]));
    await waitFor(() => h.server.listenerManager.get('l1') !== undefined, 'listener');
    const port = h.port('l1');
    await tick();
    assert.deepEqual(h.client.subscribed(TYPE.ROUTE), ['r1'], 'the static listener was not replaced (r9 never subscribed)');
    assertOk(h.client.push(TYPE.LISTENER, []));
    assert.equal(h.server.listenerManager.get('l1'), undefined);
    assert.ok(h.server.listenerManager.get('static-l'));
    assert.equal((await get(staticPort, '/')).body, 'static');
    await tick();
    await tick();
    assert.deepEqual(h.client.subscribed(TYPE.ROUTE), []);
    await assert.rejects(get(port, '/'), /ECONNREFUSED/);
  }, yaml);
});

test('RDS: rds.config_source.initial_fetch_timeout ends listener warming; requests get 404 until the routes arrive', async () => {
  const a = await startUpstream('A');
  await withHarness(async (h) => {
    assertOk(h.client.push(TYPE.CLUSTER, [staticCluster('a', a.port)]));
    assertOk(h.client.push(TYPE.LISTENER, [rdsListener('l1', 'r1', { timeout: '0.05s' })]));
    await waitFor(() => h.server.listenerManager.get('l1') !== undefined, 'listener after the timeout');
    assert.equal((await get(h.port('l1'), '/')).status, 404);
    assertOk(h.client.push(TYPE.ROUTE, [routeConfig('r1', 'a')]));
    assert.equal((await get(h.port('l1'), '/late')).body, 'A /late');
  });
  await a.close();
});

test('readiness: INITIALIZING until CDS, EDS warming, LDS and RDS are done; LDS is requested after clusters are warm', async () => {
  const a = await startUpstream('A');
  await withHarness(async (h) => {
    const ready = async () => (await get(h.adminPort, '/ready')).status;
    assert.equal(h.server.state, 'INITIALIZING');
    assert.equal(await ready(), 503);
    assert.ok(h.client.wildcard.has(TYPE.CLUSTER));
    assert.ok(!h.client.wildcard.has(TYPE.LISTENER), 'LDS waits for CDS');
    assertOk(h.client.push(TYPE.CLUSTER, [edsCluster('c1')]));
    assert.ok(!h.client.wildcard.has(TYPE.LISTENER), 'LDS waits for the warming cluster');
    assertOk(h.client.push(TYPE.ENDPOINT, [cla('c1', [a.port])]));
    await tick(); // readiness is re-checked once per EDS response, after its assignments are applied
    assert.ok(h.client.wildcard.has(TYPE.LISTENER));
    assert.equal(await ready(), 503);
    assertOk(h.client.push(TYPE.LISTENER, [rdsListener('l1', 'r1')]));
    await tick();
    assert.equal(await ready(), 503, 'listener still warming on RDS');
    assertOk(h.client.push(TYPE.ROUTE, [routeConfig('r1', 'c1')]));
    await h.server.dynamic!.initialized();
    await waitFor(() => h.server.state === 'LIVE', 'LIVE');
    const r = await get(h.adminPort, '/ready');
    assert.equal(r.status, 200);
    assert.equal(r.body.trim(), 'LIVE');
    assert.equal((await get(h.port('l1'), '/p')).body, 'A /p');
  });
  await a.close();
});

test('admin: /config_dump dynamic sections (clusters, warming, endpoints with include_eds, listeners, routes) and /xds_status', async () => {
  const a = await startUpstream('A');
  await withHarness(async (h) => {
    assertOk(h.client.push(TYPE.CLUSTER, [edsCluster('c1'), edsCluster('c2')], { version: 'C1' }));
    assertOk(h.client.push(TYPE.ENDPOINT, [cla('c1', [a.port])], { version: 'E1' }));
    assertOk(h.client.push(TYPE.LISTENER, [rdsListener('l1', 'r1')], { version: 'L1' }));
    assertOk(h.client.push(TYPE.ROUTE, [routeConfig('r1', 'c1')], { version: 'R1' }));
    nackOf(h.client.push(TYPE.ROUTE, [routeConfig('r1', [{ name: 'c1', weight: 0 }])], { version: 'R2' }));
    await waitFor(() => h.server.listenerManager.get('l1') !== undefined, 'listener');
    const dump = JSON.parse((await get(h.adminPort, '/config_dump?include_eds')).body) as { configs: Json[] };
    const byType = (t: string) => dump.configs.find((c) => c['@type'] === `type.googleapis.com/envoy.admin.v3.${t}`)!;
    const clusters = byType('ClustersConfigDump');
    assert.equal(clusters.version_info, 'C1');
    assert.deepEqual(clusters.static_clusters.map((c: Json) => c.cluster.name), ['xds-grpc']);
    assert.deepEqual(clusters.dynamic_active_clusters.map((c: Json) => [c.version_info, c.cluster.name, c.cluster['@type']]), [['C1', 'c1', TYPE.CLUSTER]]);
    assert.deepEqual(clusters.dynamic_warming_clusters.map((c: Json) => c.cluster.name), ['c2']);
    assert.ok(!Number.isNaN(Date.parse(clusters.dynamic_active_clusters[0].last_updated)));
    const eps = byType('EndpointsConfigDump');
    assert.deepEqual(eps.dynamic_endpoint_configs.map((e: Json) => [e.version_info, e.endpoint_config.cluster_name]), [['E1', 'c1']]);
    assert.equal(eps.dynamic_endpoint_configs[0].endpoint_config['@type'], TYPE.ENDPOINT);
    const listeners = byType('ListenersConfigDump');
    assert.equal(listeners.version_info, 'L1');
    assert.equal(listeners.dynamic_listeners[0].name, 'l1');
    assert.equal(listeners.dynamic_listeners[0].active_state.listener.name, 'l1');
    const routes = byType('RoutesConfigDump');
    assert.deepEqual(routes.dynamic_route_configs.map((r: Json) => [r.version_info, r.route_config.name]), [['R1', 'r1']]);
    // Without include_eds there is no EndpointsConfigDump.
    const plain = JSON.parse((await get(h.adminPort, '/config_dump')).body) as { configs: Json[] };
    assert.ok(!plain.configs.some((c) => c['@type'].endsWith('EndpointsConfigDump')));
    // ?resource= works on the dynamic sections too (the admin server filters).
    const only = JSON.parse((await get(h.adminPort, '/config_dump?resource=dynamic_warming_clusters')).body) as { configs: Json[] };
    assert.equal(only.configs.length, 1);
    assert.equal(only.configs[0].cluster.name, 'c2');

    const st = JSON.parse((await get(h.adminPort, '/xds_status')).body) as Json;
    assert.equal(st.connected, true);
    const rds = st.types.find((t: Json) => t.type_url === TYPE.ROUTE);
    assert.equal(rds.last_acked_version, 'R1');
    assert.match(rds.last_nack.error, /^RouteConfiguration "r1": /);
    assert.equal(rds.last_nack.version, 'R2');
    assert.deepEqual(st.warming.clusters, ['c2']);
  });
  await a.close();
});

test('LDS: a listener update warms next to the running listener; an in-place chain update keeps the open connection', async () => {
  const a = await startUpstream('A');
  await withHarness(async (h) => {
    assertOk(h.client.push(TYPE.CLUSTER, [staticCluster('a', a.port)]));
    const v1 = rdsListener('l1', 'r1');
    assertOk(h.client.push(TYPE.LISTENER, [v1], { version: 'L1' }));
    assertOk(h.client.push(TYPE.ROUTE, [routeConfig('r1', 'a')]));
    await waitFor(() => h.server.listenerManager.get('l1') !== undefined, 'listener');
    const l1 = h.server.listenerManager.get('l1');
    const conn = await KeepAliveConnection.open(h.port('l1'));
    try {
      assert.equal((await conn.send('/1')).body, 'A /1');
      // Add a second chain that needs route config r2: the update warms, the old listener serves.
      const extra = rdsListener('x', 'r2').filter_chains[0];
      extra.filter_chain_match = { source_prefix_ranges: [{ address_prefix: '10.0.0.0', prefix_len: 8 }] };
      const v2 = { ...v1, filter_chains: [...v1.filter_chains, extra] };
      assertOk(h.client.push(TYPE.LISTENER, [v2], { version: 'L2' }));
      assert.deepEqual(h.server.dynamic!.lds.warmingNames(), ['l1']);
      const d = (h.server.dynamic!.lds.configDump() as { dynamic_listeners: Json[] }).dynamic_listeners[0];
      assert.equal(d.active_state.version_info, 'L1');
      assert.equal(d.warming_state.version_info, 'L2');
      assert.equal((await conn.send('/2')).body, 'A /2');
      assertOk(h.client.push(TYPE.ROUTE, [routeConfig('r2', 'a')]));
      await waitFor(() => h.server.dynamic!.lds.warmingNames().length === 0 && h.server.dynamic!.lds.isWarm(), 'update applied');
      assert.equal(h.server.listenerManager.get('l1'), l1, 'same listener object: updated in place');
      assert.equal(h.store.counter('listener_manager.listener_in_place_updated').value, 1);
      const r3 = await conn.send('/3');
      assert.equal(r3.body, 'A /3');
      assert.doesNotMatch(r3.headers, /connection: close/i, 'the untouched chain does not drain');
      assert.equal(conn.closed, false);
    } finally {
      conn.close();
    }
  });
  await a.close();
});

test('LDS: a bind failure (port held by another process) cannot NACK the ACKed update; it is the listener error_state', async () => {
  const holder = net.createServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
  const port = (holder.address() as net.AddressInfo).port;
  try {
    await withHarness(async (h) => {
      const l = { ...rdsListener('l1', 'r1'), address: { socket_address: { address: '127.0.0.1', port_value: port } } };
      assertOk(h.client.push(TYPE.LISTENER, [l], { version: 'L1' }));
      assertOk(h.client.push(TYPE.ROUTE, [routeConfig('r1', 'a')]));
      await waitFor(() => h.server.dynamic!.lds.isWarm(), 'activation attempt done');
      assert.equal(h.server.listenerManager.get('l1'), undefined);
      const d = (h.server.dynamic!.lds.configDump() as { dynamic_listeners: Json[] }).dynamic_listeners[0];
      assert.equal(d.name, 'l1');
      assert.equal(d.active_state, undefined);
      assert.equal(d.error_state.version_info, 'L1');
      assert.match(d.error_state.details, /^Listener "l1": .*(EADDRINUSE|address already in use)/i);
      assert.equal(h.store.counter('listener_manager.listener_create_failure').value, 1);
    });
  } finally {
    await new Promise<void>((r) => holder.close(() => r()));
  }
});
