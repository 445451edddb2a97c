// The xDS client against the real gRPC TestControlPlane on loopback: every core type over
// ADS in SotW and delta, ACK/NACK contents, decoding failures, full-state deletions, named
// subscriptions, TTL, per-type services.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestControlPlane } from '../../src/xds/control_plane';
import { GrpcXdsClient } from '../../src/xds/client';
import { RESOURCE_WRAPPER_URL, discoveryTypes, encodeMessage } from '../../src/xds/protocol';
import { lookupType } from '../../src/config/protos';
import { fromJSON } from '../../src/config/json';
import {
  MODES, TYPE, claJson, clusterJson, harness, listenerJson, routeJson, secretJson, sleep, waitUntil, RecordingHandler,
} from './helpers';

function packJson(typeUrl: string, json: Record<string, unknown>): { type_url: string; value: Buffer } {
  const t = lookupType(typeUrl);
  if (!t) throw new Error('no type');
  return { type_url: typeUrl, value: encodeMessage(t, fromJSON(typeUrl, json, '', { validate: false })) };
}

for (const mode of MODES) {
  const delta = mode.apiType === 'DELTA_GRPC';

  test(`${mode.name}: LDS, RDS, CDS, EDS and SDS over ADS are decoded, applied and ACKed`, async () => {
    const h = await harness({ apiType: mode.apiType });
    try {
      const { cp, client } = h;
      cp.setResources(TYPE.CLUSTER, [{ json: clusterJson('c1') }, { json: clusterJson('c2') }]);
      cp.setResources(TYPE.ENDPOINT, [{ json: claJson('c1') }, { json: claJson('c2', 8081) }, { json: claJson('other') }]);
      cp.setResources(TYPE.LISTENER, [{ json: listenerJson('l1') }]);
      cp.setResources(TYPE.ROUTE, [{ json: routeJson('r1') }, { json: routeJson('r2') }]);
      cp.setResources(TYPE.SECRET, [{ json: secretJson('default') }, { json: secretJson('ROOTCA') }]);
      client.subscribe(TYPE.CLUSTER, '*');
      client.subscribe(TYPE.LISTENER, '*');
      client.subscribe(TYPE.ENDPOINT, ['c1', 'c2']);
      client.subscribe(TYPE.ROUTE, ['r1']);
      client.subscribe(TYPE.SECRET, ['default']);
      client.start();
      for (const t of Object.values(TYPE)) await cp.waitForAck(t, cp.version(t));
      const hs = h.handlers;
      assert.deepEqual(hs[TYPE.CLUSTER].names(), ['c1', 'c2']);
      assert.deepEqual(hs[TYPE.ENDPOINT].names(), ['c1', 'c2']);
      assert.deepEqual(hs[TYPE.LISTENER].names(), ['l1']);
      assert.deepEqual(hs[TYPE.ROUTE].names(), ['r1']);
      assert.deepEqual(hs[TYPE.SECRET].names(), ['default']);
      // plain form (src/config/plain.ts): durations in ms, enums by name, Any expanded
      const c1 = hs[TYPE.CLUSTER].current.get('c1') as Record<string, any>;
      assert.equal(c1.connect_timeout, 1000);
      assert.equal(c1.type, 'EDS');
      const l1 = hs[TYPE.LISTENER].current.get('l1') as Record<string, any>;
      assert.equal(l1.filter_chains[0].filters[0].typed_config['@type'], 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy');
      assert.equal(l1.filter_chains[0].filters[0].typed_config.cluster, 'c1');
      const cla = hs[TYPE.ENDPOINT].current.get('c2') as Record<string, any>;
      assert.equal(cla.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value, 8081);
      // proto3 JSON for /config_dump
      const d = hs[TYPE.CLUSTER].updates.flatMap((u) => u.added).find((x) => x.name === 'c1');
      assert.ok(d);
      assert.deepEqual((d.json as Record<string, unknown>).connect_timeout, '1s');
      const u = hs[TYPE.CLUSTER].last();
      assert.equal(u.typeUrl, TYPE.CLUSTER);
      assert.equal(u.versionInfo, cp.version(TYPE.CLUSTER));
      assert.equal(u.isFullState, !delta);
      assert.ok(client.connected());
      // every request carried the node (set_node_on_first_message_only is off by default)
      assert.ok(cp.requests.every((r) => r.hasNode));
      const node = cp.connectedStreams()[0].node as Record<string, any>;
      assert.equal(node.id, 'sidecar~10.0.0.1~pod.ns~ns.svc.cluster.local');
      assert.equal(node.user_agent_name, 'remora');
      assert.ok(node.user_agent_version);
      assert.ok(node.client_features.includes('xds.config.supports-resource-ttl'));
      assert.ok(node.client_features.includes('xds.config.resource-in-sotw'));
      assert.equal(cp.connectedStreams()[0].service, 'ads');
      assert.equal(cp.connectedStreams()[0].delta, delta);
    } finally {
      await h.close();
    }
  });

  test(`${mode.name}: ACK carries the version and nonce; NACK keeps the last good version and names resource and field`, async () => {
    const h = await harness({ apiType: mode.apiType });
    try {
      const { cp, client } = h;
      const v1 = cp.setResources(TYPE.CLUSTER, [{ json: clusterJson('good') }]);
      client.subscribe(TYPE.CLUSTER, '*');
      client.start();
      const ack = await cp.waitForAck(TYPE.CLUSTER, v1);
      const resp1 = cp.responseFor(ack.stream, ack.responseNonce);
      assert.ok(resp1);
      if (!delta) assert.equal(ack.versionInfo, v1);
      assert.equal(ack.errorDetail, undefined);
      // an invalid enum value: PGV defined_only
      const v2 = cp.setResources(TYPE.CLUSTER, [{ json: clusterJson('good') }, { message: { name: 'bad', lb_policy: 99 } }]);
      const nack = await cp.waitForNack(TYPE.CLUSTER);
      assert.equal(nack.code, 13);
      assert.equal(nack.message, 'Cluster "bad": lb_policy: value must be one of the defined enum values');
      if (!delta) assert.equal(nack.request.versionInfo, v1, 'NACK carries the previous good version');
      const resp2 = cp.responseFor(nack.request.stream, nack.request.responseNonce);
      assert.equal(resp2?.version, v2, 'the NACK answers the nonce of the bad response');
      // the handler never saw the bad update
      assert.equal(h.handlers[TYPE.CLUSTER].updates.length, 1);
      assert.deepEqual(h.handlers[TYPE.CLUSTER].names(), ['good']);
      const st = client.status().find((s) => s.typeUrl === TYPE.CLUSTER);
      assert.equal(st?.lastAckedVersion, v1);
      assert.equal(st?.lastNack?.error, nack.message);
      assert.equal(st?.lastNack?.nonce, nack.request.responseNonce);
      // a later good version is ACKed
      const v3 = cp.setResources(TYPE.CLUSTER, [{ json: clusterJson('good') }, { json: clusterJson('fixed') }]);
      await cp.waitForAck(TYPE.CLUSTER, v3);
      assert.deepEqual(h.handlers[TYPE.CLUSTER].names(), ['fixed', 'good']);
      assert.equal(h.stats.counters.get('cluster_manager.cds.update_rejected')?.value, 1);
      assert.equal(h.stats.counters.get('cluster_manager.cds.update_success')?.value, 2);
    } finally {
      await h.close();
    }
  });

  test(`${mode.name}: a throwing handler NACKs with its message`, async () => {
    const h = await harness({ apiType: mode.apiType });
    try {
      const { cp, client } = h;
      const v1 = cp.setResources(TYPE.LISTENER, [{ json: listenerJson('l1') }]);
      client.subscribe(TYPE.LISTENER, '*');
      client.start();
      await cp.waitForAck(TYPE.LISTENER, v1);
      h.handlers[TYPE.LISTENER].throwNext = 'Listener "l2": filter_chains[0].filters[0]: unknown network filter';
      cp.setResources(TYPE.LISTENER, [{ json: listenerJson('l1') }, { json: listenerJson('l2', 10001) }]);
      const nack = await cp.waitForNack(TYPE.LISTENER);
      assert.equal(nack.message, 'Listener "l2": filter_chains[0].filters[0]: unknown network filter');
      if (!delta) assert.equal(nack.request.versionInfo, v1);
      assert.deepEqual(h.handlers[TYPE.LISTENER].names(), ['l1']);
      assert.equal(h.stats.counters.get('listener_manager.lds.update_rejected')?.value, 1);
    } finally {
      await h.close();
    }
  });

  test(`${mode.name}: an undecodable Any and a wrong @type are NACKed naming the resource; the handler is not called`, async () => {
    const h = await harness({ apiType: mode.apiType });
    try {
      const { cp, client } = h;
      const v1 = cp.setResources(TYPE.CLUSTER, [{ json: clusterJson('c1') }]);
      client.subscribe(TYPE.CLUSTER, '*');
      client.start();
      await cp.waitForAck(TYPE.CLUSTER, v1);
      // bytes that are not a Cluster
      cp.setRaw(TYPE.CLUSTER, [{ type_url: TYPE.CLUSTER, value: Buffer.from([0x0a, 0xff, 0xff, 0x01]) }], { names: ['broken'] });
      let nack = await cp.waitForNack(TYPE.CLUSTER);
      assert.match(nack.message, delta ? /^Cluster "broken": unable to decode Cluster: / : /^Cluster \(resource #0\): unable to decode Cluster: /);
      // an Any of another type inside a Cluster response
      cp.setRaw(TYPE.CLUSTER, [packJson(TYPE.CLUSTER, clusterJson('ok')), packJson(TYPE.ROUTE, routeJson('x'))], { names: ['ok', 'x'] });
      nack = await cp.waitForNack(TYPE.CLUSTER);
      assert.match(nack.message, /type URL type\.googleapis\.com\/envoy\.config\.route\.v3\.RouteConfiguration embedded in an individual Any does not match the message-wide type URL type\.googleapis\.com\/envoy\.config\.cluster\.v3\.Cluster/);
      if (delta) assert.match(nack.message, /^Cluster "x": /);
      else assert.match(nack.message, /^Cluster \(resource #1\): /);
      // a type remora's schema does not know at all
      cp.setRaw(TYPE.CLUSTER, [{ type_url: 'type.googleapis.com/acme.Unknown', value: Buffer.alloc(0) }], { names: ['u'] });
      nack = await cp.waitForNack(TYPE.CLUSTER);
      assert.match(nack.message, /acme\.Unknown embedded in an individual Any does not match/);
      // a validation error deep in a typed_config
      const bad = listenerJson('deep');
      ((bad.filter_chains as any)[0].filters[0].typed_config as Record<string, unknown>).stat_prefix = '';
      client.subscribe(TYPE.LISTENER, '*');
      await cp.waitForRequest((r) => r.typeUrl === TYPE.LISTENER);
      cp.setRaw(TYPE.LISTENER, [packJson(TYPE.LISTENER, bad)], { names: ['deep'] });
      nack = await cp.waitForNack(TYPE.LISTENER);
      assert.equal(nack.message, 'Listener "deep": filter_chains[0].filters[0].typed_config.stat_prefix: value length must be at least 1 characters');
      assert.equal(h.handlers[TYPE.CLUSTER].updates.length, 1);
      assert.equal(h.handlers[TYPE.LISTENER].updates.length, 0);
      assert.equal(h.stats.counters.get('cluster_manager.cds.update_rejected')?.value, 3);
      // still connected on the same stream
      assert.equal(cp.connectedStreams().length, 1);
    } finally {
      await h.close();
    }
  });

  test(`${mode.name}: duplicate resource names in one response are NACKed`, async () => {
    const h = await harness({ apiType: mode.apiType });
    try {
      const { cp, client } = h;
      const v1 = cp.setResources(TYPE.CLUSTER, [{ json: clusterJson('c1') }]);
      client.subscribe(TYPE.CLUSTER, '*');
      client.start();
      await cp.waitForAck(TYPE.CLUSTER, v1);
      cp.setRaw(TYPE.CLUSTER, [packJson(TYPE.CLUSTER, clusterJson('dup')), packJson(TYPE.CLUSTER, clusterJson('dup'))], { names: ['dup', 'dup'] });
      let nack = await cp.waitForNack(TYPE.CLUSTER);
      assert.match(nack.message, delta ? /duplicate name dup found among added\/updated resources/ : /Cluster "dup": duplicate resource name in one response/);
      if (delta) {
        // a name both updated and removed
        cp.sendResponse({ type_url: TYPE.CLUSTER, system_version_info: 'x', resources: [{ name: 'c9', version: '1', resource: packJson(TYPE.CLUSTER, clusterJson('c9')) }], removed_resources: ['c9'] }, 'delta');
        nack = await cp.waitForNack(TYPE.CLUSTER);
        assert.match(nack.message, /duplicate name c9 found in the union of added\+removed resources/);
      }
      assert.deepEqual(h.handlers[TYPE.CLUSTER].names(), ['c1']);
    } finally {
      await h.close();
    }
  });

  test(`${mode.name}: LDS/CDS deletions reach the handler as removed names`, async () => {
    const h = await harness({ apiType: mode.apiType });
    try {
      const { cp, client } = h;
      const v1 = cp.setResources(TYPE.CLUSTER, [{ json: clusterJson('a') }, { json: clusterJson('b') }, { json: clusterJson('c') }]);
      const l1 = cp.setResources(TYPE.LISTENER, [{ json: listenerJson('x') }, { json: listenerJson('y', 10001) }]);
      client.subscribe(TYPE.CLUSTER, '*');
      client.subscribe(TYPE.LISTENER, '*');
      client.start();
      await cp.waitForAck(TYPE.CLUSTER, v1);
      await cp.waitForAck(TYPE.LISTENER, l1);
      const v2 = cp.setResources(TYPE.CLUSTER, [{ json: clusterJson('a') }, { json: clusterJson('c', { connect_timeout: '2s' }) }]);
      await cp.waitForAck(TYPE.CLUSTER, v2);
      const u = h.handlers[TYPE.CLUSTER].last();
      assert.deepEqual(u.removed, ['b']);
      if (delta) assert.deepEqual(u.added.map((d) => d.name), ['c'], 'delta sends only what changed');
      else assert.deepEqual(u.added.map((d) => d.name).sort(), ['a', 'c'], 'SotW LDS/CDS carry the full state');
      assert.deepEqual(h.handlers[TYPE.CLUSTER].names(), ['a', 'c']);
      // an empty full state deletes everything
      const l2 = cp.setResources(TYPE.LISTENER, []);
      await cp.waitForAck(TYPE.LISTENER, l2);
      assert.deepEqual(h.handlers[TYPE.LISTENER].last().removed.sort(), ['x', 'y']);
      assert.deepEqual(h.handlers[TYPE.LISTENER].names(), []);
      assert.deepEqual(client.resourceVersions(TYPE.LISTENER), {});
    } finally {
      await h.close();
    }
  });

  test(`${mode.name}: RDS/EDS named subscriptions, unsubscribe, and unrequested resources ignored`, async () => {
    const h = await harness({ apiType: mode.apiType });
    try {
      const { cp, client } = h;
      const v1 = cp.setResources(TYPE.ENDPOINT, [{ json: claJson('a') }, { json: claJson('b') }, { json: claJson('c') }]);
      client.subscribe(TYPE.ENDPOINT, ['a']);
      client.start();
      await cp.waitForAck(TYPE.ENDPOINT, v1);
      assert.deepEqual(h.handlers[TYPE.ENDPOINT].names(), ['a']);
      const first = cp.requests.find((r) => r.typeUrl === TYPE.ENDPOINT);
      if (delta) assert.deepEqual(first?.subscribe, ['a']);
      else assert.deepEqual(first?.resourceNames, ['a']);
      // subscribe to more: a request with the new names; the server sends them
      const mark = cp.requestCount();
      client.subscribe(TYPE.ENDPOINT, ['b', 'c']);
      const req = await cp.waitForRequest((r) => r.typeUrl === TYPE.ENDPOINT && (delta ? r.subscribe.length > 0 : r.resourceNames.length === 3), 5000, mark);
      if (delta) assert.deepEqual(req.subscribe.sort(), ['b', 'c']);
      else {
        assert.deepEqual(req.resourceNames.sort(), ['a', 'b', 'c']);
        assert.equal(req.versionInfo, v1, 'a subscription change carries the current version');
      }
      await waitUntil(() => h.handlers[TYPE.ENDPOINT].names().length === 3, 5000, 'b and c');
      // unsubscribe
      const mark2 = cp.requestCount();
      client.unsubscribe(TYPE.ENDPOINT, ['a', 'b']);
      const req2 = await cp.waitForRequest((r) => r.typeUrl === TYPE.ENDPOINT, 5000, mark2);
      if (delta) assert.deepEqual(req2.unsubscribe.sort(), ['a', 'b']);
      else assert.deepEqual(req2.resourceNames, ['c']);
      assert.deepEqual(cp.connectedStreams()[0].subscriptions.find((s) => s.typeUrl === TYPE.ENDPOINT)?.names, ['c']);
      // a resource unsubscribed a moment ago ('a') is ignored (a race with the unsubscribe); a
      // ClusterLoadAssignment for a name never asked about ('zzz') reaches the handler, whose
      // EDS implementation NACKs it as an assignment for an unknown cluster
      const before = h.handlers[TYPE.ENDPOINT].updates.length;
      cp.setRaw(TYPE.ENDPOINT, [packJson(TYPE.ENDPOINT, claJson('c', 9000)), packJson(TYPE.ENDPOINT, claJson('a')), packJson(TYPE.ENDPOINT, claJson('zzz'))], { names: ['c', 'a', 'zzz'], version: 'raw1' });
      await waitUntil(() => h.handlers[TYPE.ENDPOINT].updates.length > before, 5000, 'raw update');
      const u = h.handlers[TYPE.ENDPOINT].last();
      assert.deepEqual(u.added.map((d) => d.name), ['c', 'zzz']);
      assert.equal(u.isFullState, false);
      assert.deepEqual(u.removed, []);
      // SotW EDS is not full state: names absent from a response are not removed
      if (!delta) assert.ok(h.handlers[TYPE.ENDPOINT].current.has('c'));
    } finally {
      await h.close();
    }
  });

  test(`${mode.name}: resource TTL expires without heartbeats, heartbeats keep it`, async () => {
    const h = await harness({ apiType: mode.apiType });
    try {
      const { cp, client } = h;
      const v1 = cp.setResources(TYPE.CLUSTER, [{ json: clusterJson('ttl'), ttlMs: 600 }, { json: clusterJson('keep') }]);
      client.subscribe(TYPE.CLUSTER, '*');
      client.start();
      await cp.waitForAck(TYPE.CLUSTER, v1);
      const u = h.handlers[TYPE.CLUSTER].last();
      assert.equal(u.added.find((d) => d.name === 'ttl')?.ttlMs, 600);
      // heartbeats every 100 ms for 1.5 s: no expiry, and "ttl" is never re-applied
      // (SotW CDS is full state, so each heartbeat response also carries "keep" in full)
      const applied = h.handlers[TYPE.CLUSTER].updates.length;
      for (let i = 0; i < 15; i++) {
        cp.heartbeat(TYPE.CLUSTER, ['ttl']);
        await sleep(100);
      }
      assert.deepEqual(h.handlers[TYPE.CLUSTER].expired, []);
      const later = h.handlers[TYPE.CLUSTER].updates.slice(applied);
      assert.ok(later.every((x) => !x.added.some((d) => d.name === 'ttl') && x.removed.length === 0), 'heartbeats are not updates');
      if (delta) assert.equal(later.length, 0);
      // each heartbeat was ACKed at the same version
      const hbAcks = cp.requests.filter((r) => r.typeUrl === TYPE.CLUSTER && !r.errorDetail && cp.responseFor(r.stream, r.responseNonce)?.version === v1);
      assert.ok(hbAcks.length >= 10, `heartbeat ACKs: ${hbAcks.length}`);
      // stop heartbeating: it expires, the other resource stays
      await waitUntil(() => h.handlers[TYPE.CLUSTER].expired.length > 0, 5000, 'expiry');
      assert.deepEqual(h.handlers[TYPE.CLUSTER].expired, [{ typeUrl: TYPE.CLUSTER, names: ['ttl'] }]);
      assert.deepEqual(h.handlers[TYPE.CLUSTER].names(), ['keep']);
      assert.deepEqual(Object.keys(client.resourceVersions(TYPE.CLUSTER)), ['keep']);
    } finally {
      await h.close();
    }
  });

  test(`${mode.name}: per-type discovery service (ClusterDiscoveryService) instead of ADS`, async () => {
    const h = await harness({ apiType: mode.apiType, service: 'clusters' });
    try {
      const { cp, client } = h;
      const v1 = cp.setResources(TYPE.CLUSTER, [{ json: clusterJson('c1') }]);
      client.subscribe(TYPE.CLUSTER, '*');
      client.start();
      await cp.waitForAck(TYPE.CLUSTER, v1);
      assert.equal(cp.connectedStreams()[0].service, 'clusters');
      assert.deepEqual(h.handlers[TYPE.CLUSTER].names(), ['c1']);
      assert.throws(() => client.subscribe(TYPE.LISTENER, '*'), /carries only/);
    } finally {
      await h.close();
    }
  });
}

test('SotW: first wildcard request uses the legacy empty resource_names; "*" once names are added', async () => {
  const h = await harness({ apiType: 'GRPC' });
  try {
    const { cp, client } = h;
    const v1 = cp.setResources(TYPE.LISTENER, [{ json: listenerJson('l1') }]);
    client.subscribe(TYPE.LISTENER, '*');
    client.start();
    const ack = await cp.waitForAck(TYPE.LISTENER, v1);
    const first = cp.requests.find((r) => r.typeUrl === TYPE.LISTENER);
    assert.deepEqual(first?.resourceNames, []);
    assert.equal(first?.versionInfo, '');
    assert.equal(first?.responseNonce, '');
    assert.deepEqual(ack.resourceNames, []);
    const mark = cp.requestCount();
    client.subscribe(TYPE.LISTENER, ['extra']);
    const r = await cp.waitForRequest((q) => q.typeUrl === TYPE.LISTENER, 5000, mark);
    assert.deepEqual(r.resourceNames.sort(), ['*', 'extra']);
  } finally {
    await h.close();
  }
});

test('SotW: a stale ACK (superseded nonce) is ignored by the server; the client applies both responses in order', async () => {
  const h = await harness({ apiType: 'GRPC', cp: { autoPush: false } });
  try {
    const { cp, client } = h;
    const v1 = cp.setResources(TYPE.CLUSTER, [{ json: clusterJson('a') }]);
    client.subscribe(TYPE.CLUSTER, '*');
    client.start();
    await cp.waitForAck(TYPE.CLUSTER, v1);
    // two responses back to back: the ACK of the first arrives after the second was sent
    cp.sendResponse({ type_url: TYPE.CLUSTER, version_info: 'v2', resources: [packJson(TYPE.CLUSTER, clusterJson('b'))] }, 'sotw');
    cp.sendResponse({ type_url: TYPE.CLUSTER, version_info: 'v3', resources: [packJson(TYPE.CLUSTER, clusterJson('c'))] }, 'sotw');
    await cp.waitForAck(TYPE.CLUSTER, 'v3');
    await cp.waitForAck(TYPE.CLUSTER, 'v2');
    const stale = cp.requests.filter((r) => r.typeUrl === TYPE.CLUSTER && r.stale);
    assert.equal(stale.length, 1);
    assert.equal(stale[0].versionInfo, 'v2');
    const us = h.handlers[TYPE.CLUSTER].updates;
    assert.deepEqual(us.map((u) => u.versionInfo), [v1, 'v2', 'v3']);
    assert.deepEqual(us[1].removed, ['a']);
    assert.deepEqual(us[2].removed, ['b']);
    assert.equal(client.status()[0].lastAckedVersion, 'v3');
  } finally {
    await h.close();
  }
});

test('SotW: Resource wrappers carry name and TTL; a bodyless wrapper that is not a heartbeat is NACKed', async () => {
  const h = await harness({ apiType: 'GRPC' });
  try {
    const { cp, client } = h;
    client.subscribe(TYPE.ROUTE, ['r1']);
    client.start();
    await cp.waitForRequest((r) => r.typeUrl === TYPE.ROUTE);
    const T = discoveryTypes();
    const wrapped = { type_url: RESOURCE_WRAPPER_URL, value: encodeMessage(T.Resource, { name: 'r1', version: 'x', resource: packJson(TYPE.ROUTE, routeJson('inner-name')), ttl: { seconds: 30, nanos: 0 } }) };
    cp.sendResponse({ type_url: TYPE.ROUTE, version_info: 'w1', resources: [wrapped] }, 'sotw');
    await cp.waitForAck(TYPE.ROUTE, 'w1');
    const d = h.handlers[TYPE.ROUTE].last().added[0];
    assert.equal(d.name, 'r1', 'the wrapper name wins');
    assert.equal(d.ttlMs, 30000);
    assert.equal(d.version, 'w1');
    const empty = { type_url: RESOURCE_WRAPPER_URL, value: encodeMessage(T.Resource, { name: 'r1', version: 'x' }) };
    cp.sendResponse({ type_url: TYPE.ROUTE, version_info: 'w2', resources: [empty] }, 'sotw');
    const nack = await cp.waitForNack(TYPE.ROUTE);
    assert.match(nack.message, /^RouteConfiguration "r1": Resource wrapper without a resource that is not a heartbeat/);
    assert.equal(nack.request.versionInfo, 'w1');
    client.stop();
  } finally {
    await h.close();
  }
});

test('delta: removed_resources for an explicitly subscribed name that does not exist, and a later creation', async () => {
  const h = await harness({ apiType: 'DELTA_GRPC' });
  try {
    const { cp, client } = h;
    cp.setResources(TYPE.ROUTE, [{ json: routeJson('r1') }]);
    client.subscribe(TYPE.ROUTE, ['r1', 'missing']);
    client.start();
    await waitUntil(() => h.handlers[TYPE.ROUTE].updates.some((u) => u.removed.includes('missing')) && h.handlers[TYPE.ROUTE].current.has('r1'), 5000, 'r1 + missing');
    const v = cp.upsertResources(TYPE.ROUTE, [{ json: routeJson('missing') }]);
    await cp.waitForAck(TYPE.ROUTE, v);
    assert.deepEqual(h.handlers[TYPE.ROUTE].last().added.map((d) => d.name), ['missing']);
    assert.equal(h.handlers[TYPE.ROUTE].last().added[0].version, v);
  } finally {
    await h.close();
  }
});

test('set_node_on_first_message_only sends the node only on the first request of a stream', async () => {
  const h = await harness({ apiType: 'GRPC', setNodeOnFirstMessageOnly: true });
  try {
    const { cp, client } = h;
    cp.setResources(TYPE.CLUSTER, [{ json: clusterJson('c1') }]);
    const vl = cp.setResources(TYPE.LISTENER, [{ json: listenerJson('l1') }]);
    client.subscribe(TYPE.CLUSTER, '*');
    client.subscribe(TYPE.LISTENER, '*');
    client.start();
    await cp.waitForAck(TYPE.LISTENER, vl);
    await cp.waitForAck(TYPE.CLUSTER, cp.version(TYPE.CLUSTER));
    const reqs = cp.requests;
    assert.ok(reqs.length >= 4);
    assert.equal(reqs[0].hasNode, true);
    assert.ok(reqs.slice(1).every((r) => !r.hasNode));
    // the first request is CDS: subscriptions go out in the order they were made
    assert.equal(reqs[0].typeUrl, TYPE.CLUSTER);
    assert.equal(reqs[1].typeUrl, TYPE.LISTENER);
    // a new stream gets the node again
    const mark = cp.requestCount();
    cp.disconnectAll();
    const again = await cp.waitForRequest(() => true, 5000, mark);
    assert.equal(again.hasNode, true);
  } finally {
    await h.close();
  }
});

test('a response for a type nobody subscribed to is ignored without ACK or NACK', async () => {
  const h = await harness({ apiType: 'GRPC' });
  try {
    const { cp, client } = h;
    const v = cp.setResources(TYPE.CLUSTER, [{ json: clusterJson('c1') }]);
    client.subscribe(TYPE.CLUSTER, '*');
    client.start();
    await cp.waitForAck(TYPE.CLUSTER, v);
    const before = cp.requestCount();
    cp.sendResponse({ type_url: TYPE.SECRET, version_info: 's1', resources: [] }, 'sotw', { anyStream: true });
    await waitUntil(() => h.log.lines.some((l) => l.includes('which we have not subscribed to')), 5000, 'the warning');
    // a later CDS response is still answered, and nothing answered the secret one
    const v2 = cp.setResources(TYPE.CLUSTER, [{ json: clusterJson('c2') }]);
    await cp.waitForAck(TYPE.CLUSTER, v2);
    assert.ok(cp.requests.slice(before).every((r) => r.typeUrl === TYPE.CLUSTER));
  } finally {
    await h.close();
  }
});

test('status() lists every subscribed type', async () => {
  const h = await harness({ apiType: 'DELTA_GRPC' });
  try {
    const { cp, client } = h;
    const v = cp.setResources(TYPE.ENDPOINT, [{ json: claJson('a') }]);
    client.subscribe(TYPE.ENDPOINT, ['a', 'b']);
    client.subscribe(TYPE.CLUSTER, '*');
    client.start();
    await cp.waitForAck(TYPE.ENDPOINT, v);
    const st = client.status();
    assert.deepEqual(st.map((s) => s.typeUrl), [TYPE.ENDPOINT, TYPE.CLUSTER]);
    assert.deepEqual(st[0].subscribed, ['a', 'b']);
    assert.equal(st[0].wildcard, false);
    assert.equal(st[0].lastAckedVersion, v);
    assert.ok(st[0].lastAckedNonce);
    assert.ok(!Number.isNaN(Date.parse(st[0].lastUpdated)));
    assert.equal(st[1].wildcard, true);
    assert.equal(st[1].lastAckedVersion, '');
  } finally {
    await h.close();
  }
});

test('GrpcXdsClient rejects unknown services and api types', () => {
  assert.throws(() => new GrpcXdsClient({ target: '127.0.0.1:1', node: {}, service: 'nope' as never }), /unknown xDS service/);
  assert.throws(() => new GrpcXdsClient({ target: '127.0.0.1:1', node: {}, apiType: 'REST' as never }), /unsupported xDS api_type/);
});

test('a handler registered after subscribe still receives updates; no handler NACKs', async () => {
  const cp = new TestControlPlane();
  const { target } = await cp.start();
  const client = new GrpcXdsClient({ target, node: { id: 'n' }, log: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, critical() {} }, initialFetchTimeoutMs: 0 });
  try {
    const v = cp.setResources(TYPE.SECRET, [{ json: secretJson('s') }]);
    client.subscribe(TYPE.SECRET, ['s']);
    client.start();
    const nack = await cp.waitForNack(TYPE.SECRET);
    assert.match(nack.message, /no handler/);
    const hnd = new RecordingHandler();
    client.setHandler(TYPE.SECRET, hnd);
    const v2 = cp.setResources(TYPE.SECRET, [{ json: secretJson('s') }, { json: secretJson('t') }]);
    await cp.waitForAck(TYPE.SECRET, v2);
    assert.deepEqual(hnd.names(), ['s']);
    assert.notEqual(v, v2);
  } finally {
    client.stop();
    await cp.stop();
  }
});
