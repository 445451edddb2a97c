// The xDS stream under failure: server disconnects and restarts (backoff, resubscription with
// the last versions, delta initial_resource_versions), garbage from the server, a stalled
// server, initial_fetch_timeout, unix socket transport, rate limiting, stats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestControlPlane } from '../../src/xds/control_plane';
import { AdsClient, defaultStatsPrefix } from '../../src/xds/client';
import { JitteredBackoff } from '../../src/xds/backoff';
import { versionHash, xxHash64 } from '../../src/xds/hash';
import { Store } from '../../src/stats/stats';
import { MODES, TYPE, claJson, clusterJson, harness, listenerJson, memoryLog, routeJson, sleep, waitUntil, RecordingHandler } from './helpers';

for (const mode of MODES) {
  const delta = mode.apiType === 'DELTA_GRPC';

  test(`${mode.name}: after the server drops the stream the client reconnects and resubscribes with its versions`, async () => {
    const h = await harness({ apiType: mode.apiType });
    try {
      const { cp, client, stats } = h;
      const vc = cp.setResources(TYPE.CLUSTER, [{ json: clusterJson('a') }, { json: clusterJson('b') }]);
      const ve = cp.setResources(TYPE.ENDPOINT, [{ json: claJson('a') }]);
      client.subscribe(TYPE.CLUSTER, '*');
      client.subscribe(TYPE.ENDPOINT, ['a']);
      client.start();
      await cp.waitForAck(TYPE.CLUSTER, vc);
      await cp.waitForAck(TYPE.ENDPOINT, ve);
      const applied = h.handlers[TYPE.CLUSTER].updates.length;
      assert.equal(stats.gauges.get('control_plane.connected_state')?.value, 1);
      const firstStream = cp.connectedStreams()[0].id;
      const mark = cp.requestCount();
      cp.disconnectAll();
      // the new stream restates every subscription
      const c = await cp.waitForRequest((r) => r.typeUrl === TYPE.CLUSTER && r.stream !== firstStream, 5000, mark);
      const e = await cp.waitForRequest((r) => r.typeUrl === TYPE.ENDPOINT && r.stream !== firstStream, 5000, mark);
      assert.equal(c.responseNonce, '', 'nonces do not survive the stream');
      assert.equal(c.hasNode, true);
      if (delta) {
        assert.deepEqual(c.subscribe, [], 'wildcard: the legacy empty subscription');
        assert.deepEqual(c.initialResourceVersions, { a: vc, b: vc });
        assert.deepEqual(e.subscribe, ['a']);
        assert.deepEqual(e.initialResourceVersions, { a: ve });
      } else {
        assert.equal(c.versionInfo, vc, 'SotW resends the last accepted version');
        assert.deepEqual(c.resourceNames, []);
        assert.equal(e.versionInfo, ve);
        assert.deepEqual(e.resourceNames, ['a']);
      }
      await waitUntil(() => client.connected(), 5000, 'reconnected');
      if (delta) {
        // the server knows the client is current: nothing is resent, nothing re-applied
        await sleep(100);
        assert.equal(h.handlers[TYPE.CLUSTER].updates.length, applied);
      } else {
        await waitUntil(() => h.handlers[TYPE.CLUSTER].updates.length > applied, 5000, 'SotW re-send');
        assert.deepEqual(h.handlers[TYPE.CLUSTER].last().removed, []);
      }
      // serving state never went away
      assert.deepEqual(h.handlers[TYPE.CLUSTER].names(), ['a', 'b']);
      assert.ok((stats.counters.get('cluster_manager.cds.update_failure')?.value ?? 0) >= 1);
      // and updates keep flowing on the new stream
      const v2 = cp.setResources(TYPE.CLUSTER, [{ json: clusterJson('a') }]);
      await cp.waitForAck(TYPE.CLUSTER, v2);
      assert.deepEqual(h.handlers[TYPE.CLUSTER].names(), ['a']);
    } finally {
      await h.close();
    }
  });

  test(`${mode.name}: a restarted control plane on the same port is picked up with backoff; state is kept meanwhile`, async () => {
    const cp1 = new TestControlPlane();
    const { port } = await cp1.start();
    const h = await harness({ apiType: mode.apiType, controlPlane: cp1, target: `127.0.0.1:${port}`, backoff: { baseMs: 50, maxMs: 300 } });
    let cp2: TestControlPlane | undefined;
    try {
      const v1 = cp1.setResources(TYPE.LISTENER, [{ json: listenerJson('l1') }]);
      h.client.subscribe(TYPE.LISTENER, '*');
      h.client.start();
      await cp1.waitForAck(TYPE.LISTENER, v1);
      await cp1.stop();
      await waitUntil(() => !h.client.connected(), 5000, 'disconnect');
      assert.equal(h.stats.gauges.get('control_plane.connected_state')?.value, 0);
      // several failed attempts while nothing listens; the listener stays
      await sleep(400);
      assert.deepEqual(h.handlers[TYPE.LISTENER].names(), ['l1']);
      const failures = h.stats.counters.get('listener_manager.lds.update_failure')?.value ?? 0;
      assert.ok(failures >= 2, `update_failure ${failures}`);
      cp2 = new TestControlPlane({ address: `127.0.0.1:${port}` });
      await cp2.start();
      const v2 = cp2.setResources(TYPE.LISTENER, [{ json: listenerJson('l2', 10002) }], 'restarted-1');
      await cp2.waitForAck(TYPE.LISTENER, v2, 10000);
      assert.deepEqual(h.handlers[TYPE.LISTENER].names(), ['l2']);
      assert.equal(h.stats.gauges.get('control_plane.connected_state')?.value, 1);
      const first = cp2.requests[0];
      if (delta) assert.deepEqual(first.initialResourceVersions, { l1: v1 });
      else assert.equal(first.versionInfo, v1);
    } finally {
      h.client.stop();
      await cp1.stop();
      await cp2?.stop();
    }
  });

  test(`${mode.name}: garbage from the control plane resets the stream without throwing`, async () => {
    const h = await harness({ apiType: mode.apiType });
    try {
      const { cp, client } = h;
      const v1 = cp.setResources(TYPE.CLUSTER, [{ json: clusterJson('a') }]);
      client.subscribe(TYPE.CLUSTER, '*');
      client.start();
      await cp.waitForAck(TYPE.CLUSTER, v1);
      const firstStream = cp.connectedStreams()[0].id;
      const mark = cp.requestCount();
      cp.sendGarbage();
      await cp.waitForRequest((r) => r.stream !== firstStream, 5000, mark);
      assert.ok(h.log.lines.some((l) => /unable to decode (Delta)?DiscoveryResponse/.test(l)), h.log.lines.join('\n'));
      assert.deepEqual(h.handlers[TYPE.CLUSTER].names(), ['a']);
      const v2 = cp.setResources(TYPE.CLUSTER, [{ json: clusterJson('b') }]);
      await cp.waitForAck(TYPE.CLUSTER, v2);
      assert.deepEqual(h.handlers[TYPE.CLUSTER].names(), ['b']);
    } finally {
      await h.close();
    }
  });

  test(`${mode.name}: delta getInitialResourceVersions hook / SotW version across a stall`, async () => {
    const versions: Record<string, string> = { r1: 'from-hook' };
    const h = await harness({ apiType: mode.apiType, getInitialResourceVersions: (t) => (t === TYPE.ROUTE ? versions : undefined) });
    try {
      const { cp, client } = h;
      cp.stall(300);
      const v1 = cp.setResources(TYPE.ROUTE, [{ json: routeJson('r1') }]);
      client.subscribe(TYPE.ROUTE, ['r1']);
      client.start();
      const first = await cp.waitForRequest((r) => r.typeUrl === TYPE.ROUTE);
      if (delta) assert.deepEqual(first.initialResourceVersions, { r1: 'from-hook' });
      // nothing answers during the stall; still connected (the channel is READY)
      await waitUntil(() => client.connected(), 5000, 'connected');
      assert.equal(h.handlers[TYPE.ROUTE].updates.length, 0);
      await cp.waitForAck(TYPE.ROUTE, v1);
      assert.deepEqual(h.handlers[TYPE.ROUTE].names(), ['r1']);
    } finally {
      await h.close();
    }
  });
}

test('initial_fetch_timeout fires for a type that gets no answer; 0 waits forever', async () => {
  const stats = new Store();
  const h = await harness({ apiType: 'GRPC', stats, initialFetchTimeoutMs: { [TYPE.ENDPOINT]: 150, [TYPE.ROUTE]: 0 } });
  try {
    const { cp, client } = h;
    const vc = cp.setResources(TYPE.CLUSTER, [{ json: clusterJson('a') }]);
    client.subscribe(TYPE.CLUSTER, '*');
    client.subscribe(TYPE.ENDPOINT, ['a']);
    client.subscribe(TYPE.ROUTE, ['r']);
    const reasons: Record<string, string> = {};
    for (const t of [TYPE.CLUSTER, TYPE.ENDPOINT, TYPE.ROUTE]) client.onInitialFetchDone(t, (r) => { reasons[t] = r; });
    const events: string[] = [];
    client.on('initialFetchDone', (t: string, r: string) => events.push(`${t}:${r}`));
    client.start();
    await cp.waitForAck(TYPE.CLUSTER, vc);
    await waitUntil(() => reasons[TYPE.ENDPOINT] !== undefined, 5000, 'EDS timeout');
    assert.equal(reasons[TYPE.CLUSTER], 'accepted');
    assert.equal(reasons[TYPE.ENDPOINT], 'timeout');
    assert.equal(stats.counters.get('remora.xds.eds.init_fetch_timeout')?.value, 1);
    assert.ok(client.initialFetchDone(TYPE.ENDPOINT));
    // 15 s default applies to CDS but it answered; RDS with 0 never times out
    await sleep(300);
    assert.equal(reasons[TYPE.ROUTE], undefined);
    assert.equal(client.initialFetchDone(TYPE.ROUTE), false);
    // a late answer still arrives and is applied
    const ve = cp.setResources(TYPE.ENDPOINT, [{ json: claJson('a') }]);
    await cp.waitForAck(TYPE.ENDPOINT, ve);
    assert.deepEqual(h.handlers[TYPE.ENDPOINT].names(), ['a']);
    // a rejected first response also ends the initial fetch
    h.handlers[TYPE.ROUTE].throwNext = 'bad route';
    cp.setResources(TYPE.ROUTE, [{ json: routeJson('r') }]);
    await cp.waitForNack(TYPE.ROUTE);
    await waitUntil(() => reasons[TYPE.ROUTE] !== undefined, 5000, 'RDS done');
    assert.equal(reasons[TYPE.ROUTE], 'rejected');
    // a callback registered afterwards is called at once
    let late = '';
    client.onInitialFetchDone(TYPE.CLUSTER, (r) => { late = r; });
    await waitUntil(() => late !== '', 1000, 'late callback');
    assert.equal(late, 'accepted');
    assert.deepEqual(events.sort(), [`${TYPE.CLUSTER}:accepted`, `${TYPE.ENDPOINT}:timeout`, `${TYPE.ROUTE}:rejected`].sort());
  } finally {
    await h.close();
  }
});

test('unix socket transport: absolute path and a relative path like Istio\'s unix:./etc/istio/proxy/XDS', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'remora-xds-'));
  const sock = path.join(dir, 'XDS');
  const cp = new TestControlPlane({ address: `unix:${sock}` });
  const started = await cp.start();
  assert.equal(started.target, `unix:${sock}`);
  const clients: AdsClient[] = [];
  try {
    const v = cp.setResources(TYPE.CLUSTER, [{ json: clusterJson('uds') }]);
    const rel = path.relative(process.cwd(), sock);
    for (const target of [`unix:${sock}`, `unix:./${rel}`]) {
      const hnd = new RecordingHandler();
      const c = new AdsClient({ target, apiType: 'DELTA_GRPC', node: { id: 'n' }, stats: new Store(), log: memoryLog(), setNodeOnFirstMessageOnly: true, backoff: { baseMs: 20, maxMs: 100 } });
      clients.push(c);
      c.setHandler(TYPE.CLUSTER, hnd);
      c.subscribe(TYPE.CLUSTER, '*');
      c.start();
      await waitUntil(() => hnd.names().includes('uds'), 5000, `cluster over ${target}`);
      await cp.waitForAck(TYPE.CLUSTER, v);
    }
    assert.equal(cp.connectedStreams().length, 2);
  } finally {
    for (const c of clients) c.stop();
    await cp.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('stats: Envoy names and prefixes, version hash and text, setStatsPrefix', async () => {
  const stats = new Store();
  const h = await harness({ apiType: 'GRPC', stats, statsPrefixes: { [TYPE.ROUTE]: 'http.ingress.rds.' } });
  try {
    const { cp, client } = h;
    assert.equal(defaultStatsPrefix(TYPE.CLUSTER), 'cluster_manager.cds.');
    assert.equal(defaultStatsPrefix(TYPE.LISTENER), 'listener_manager.lds.');
    assert.equal(defaultStatsPrefix(TYPE.ENDPOINT), 'remora.xds.eds.');
    assert.equal(defaultStatsPrefix(TYPE.SECRET), 'remora.xds.sds.');
    assert.equal(stats.gauges.get('control_plane.connected_state')?.value, 0);
    const vc = cp.setResources(TYPE.CLUSTER, [{ json: clusterJson('a') }], 'cds-v1');
    const vl = cp.setResources(TYPE.LISTENER, [], 'lds-v1');
    const vr = cp.setResources(TYPE.ROUTE, [{ json: routeJson('r') }], 'rds-v1');
    client.subscribe(TYPE.CLUSTER, '*');
    client.subscribe(TYPE.LISTENER, '*');
    client.subscribe(TYPE.ROUTE, ['r']);
    client.setStatsPrefix(TYPE.ENDPOINT, 'cluster.a.');
    client.subscribe(TYPE.ENDPOINT, ['a']);
    client.start();
    await cp.waitForAck(TYPE.CLUSTER, vc);
    await cp.waitForAck(TYPE.LISTENER, vl);
    await cp.waitForAck(TYPE.ROUTE, vr);
    const c = (n: string): number | undefined => stats.counters.get(n)?.value;
    const g = (n: string): number | undefined => stats.gauges.get(n)?.value;
    assert.equal(g('control_plane.connected_state'), 1);
    assert.equal(c('cluster_manager.cds.update_success'), 1);
    assert.equal(c('cluster_manager.cds.update_attempt'), 2, 'subscription start + the update');
    assert.equal(c('cluster_manager.cds.update_rejected'), 0);
    assert.equal(c('cluster_manager.cds.config_reload'), 1);
    assert.equal(g('cluster_manager.cds.version'), versionHash('cds-v1'));
    assert.equal(stats.textReadouts.get('cluster_manager.cds.version_text'), 'cds-v1');
    assert.ok((g('cluster_manager.cds.update_time') ?? 0) > 1.6e12);
    assert.equal(c('listener_manager.lds.update_success'), 1);
    assert.equal(c('listener_manager.lds.update_empty'), 1);
    assert.equal(c('listener_manager.lds.config_reload'), 0, 'nothing changed');
    assert.equal(c('http.ingress.rds.update_success'), 1);
    assert.equal(stats.textReadouts.get('http.ingress.rds.version_text'), 'rds-v1');
    assert.ok(stats.counters.has('cluster.a.update_attempt'));
    assert.equal(stats.histograms.get('cluster_manager.cds.update_duration')?.count, 1);
    // moving a prefix later keeps the numbers
    client.setStatsPrefix(TYPE.CLUSTER, 'moved.cds.');
    assert.equal(c('moved.cds.update_success'), 1);
    // a NACK
    h.handlers[TYPE.CLUSTER].throwNext = 'no';
    cp.setResources(TYPE.CLUSTER, [{ json: clusterJson('b') }], 'cds-v2');
    await cp.waitForNack(TYPE.CLUSTER);
    assert.equal(c('moved.cds.update_rejected'), 1);
    assert.equal(stats.textReadouts.get('moved.cds.version_text'), 'cds-v1', 'version_text stays at the last accepted one');
    // control_plane.identifier from DiscoveryResponse.control_plane
    cp.sendResponse({ type_url: TYPE.CLUSTER, version_info: 'cds-v3', resources: [], control_plane: { identifier: 'istiod-abc' } }, 'sotw');
    await cp.waitForAck(TYPE.CLUSTER, 'cds-v3');
    assert.equal(stats.textReadouts.get('control_plane.identifier'), 'istiod-abc');
  } finally {
    await h.close();
  }
});

test('rate_limit_settings: requests beyond the token bucket are delayed and counted', async () => {
  const stats = new Store();
  const h = await harness({ apiType: 'GRPC', stats, rateLimit: { maxTokens: 1, fillRatePerSec: 20 } });
  try {
    const { cp, client } = h;
    client.subscribe(TYPE.CLUSTER, '*');
    client.subscribe(TYPE.LISTENER, '*');
    client.subscribe(TYPE.ROUTE, ['r']);
    client.start();
    await waitUntil(() => new Set(cp.requests.map((r) => r.typeUrl)).size === 3, 5000, 'all three requests');
    assert.ok((stats.counters.get('control_plane.rate_limit_enforced')?.value ?? 0) >= 1);
    await waitUntil(() => stats.gauges.get('control_plane.pending_requests')?.value === 0, 5000, 'queue drained');
  } finally {
    await h.close();
  }
});

test('the client survives a handler that throws from onExpired and listeners that throw', async () => {
  const h = await harness({ apiType: 'DELTA_GRPC' });
  try {
    const { cp, client } = h;
    client.on('accepted', () => {
      throw new Error('listener bug');
    });
    const hnd = h.handlers[TYPE.CLUSTER];
    hnd.onExpired = () => {
      throw new Error('expiry bug');
    };
    const v = cp.setResources(TYPE.CLUSTER, [{ json: clusterJson('t'), ttlMs: 50 }]);
    client.subscribe(TYPE.CLUSTER, '*');
    client.start();
    await cp.waitForAck(TYPE.CLUSTER, v);
    await waitUntil(() => h.log.lines.some((l) => l.includes('expiry bug')), 5000, 'expiry logged');
    assert.ok(h.log.lines.some((l) => l.includes('listener bug')));
    const v2 = cp.setResources(TYPE.CLUSTER, [{ json: clusterJson('u') }]);
    await cp.waitForAck(TYPE.CLUSTER, v2);
  } finally {
    await h.close();
  }
});

test('xxHash64 matches the reference vectors; version gauge uses its low 53 bits', () => {
  assert.equal(xxHash64(''), 0xef46db3751d8e999n);
  assert.equal(xxHash64('a'), 0xd24ec4f1a98c6e5bn);
  assert.equal(xxHash64('abc'), 0x44bc2cf5ad770999n);
  assert.equal(xxHash64('Nobody inspects the spammish repetition'), 0xfbcea83c8a378bf1n);
  const long = 'xDS version 2024-01-01T00:00:00Z/af4b21c7-0f2d-4d1c-9b1e-2f6d8c3a9e10';
  assert.equal(versionHash(long), Number(xxHash64(long) & ((1n << 53n) - 1n)));
  assert.ok(Number.isSafeInteger(versionHash(long)));
});

test('jittered exponential backoff: doubles to the max, random below the interval, reset', () => {
  let r = 0.999999;
  const b = new JitteredBackoff(500, 30000, () => r);
  const seen: number[] = [];
  for (let i = 0; i < 10; i++) seen.push(b.next());
  assert.deepEqual(seen, [499, 999, 1999, 3999, 7999, 15999, 29999, 29999, 29999, 29999]);
  r = 0;
  assert.equal(b.next(), 0);
  b.reset();
  r = 0.5;
  assert.equal(b.next(), 250);
  assert.equal(b.next(), 500);
});
