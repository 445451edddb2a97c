// The TestControlPlane itself: snapshot/upsert/remove semantics, per-resource versions in
// delta, JSON with '@type', bounded observation logs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestControlPlane } from '../../src/xds/control_plane';
import { TYPE, clusterJson, harness, claJson } from './helpers';

test('delta: only resources whose bytes changed are resent; per-resource versions stay', async () => {
  const h = await harness({ apiType: 'DELTA_GRPC' });
  try {
    const { cp, client } = h;
    const v1 = cp.setResources(TYPE.CLUSTER, [{ json: { '@type': TYPE.CLUSTER, ...clusterJson('a') } }, { json: clusterJson('b') }]);
    client.subscribe(TYPE.CLUSTER, '*');
    client.start();
    await cp.waitForAck(TYPE.CLUSTER, v1);
    const v2 = cp.upsertResources(TYPE.CLUSTER, [{ json: clusterJson('b', { connect_timeout: '3s' }) }, { json: clusterJson('c') }]);
    await cp.waitForAck(TYPE.CLUSTER, v2);
    const u = h.handlers[TYPE.CLUSTER].last();
    assert.deepEqual(u.added.map((d) => d.name).sort(), ['b', 'c']);
    assert.deepEqual(client.resourceVersions(TYPE.CLUSTER), { a: v1, b: v2, c: v2 });
    const v3 = cp.removeResources(TYPE.CLUSTER, ['a']);
    await cp.waitForAck(TYPE.CLUSTER, v3);
    assert.deepEqual(h.handlers[TYPE.CLUSTER].last().removed, ['a']);
    assert.deepEqual(cp.resourceNames(TYPE.CLUSTER).sort(), ['b', 'c']);
    // setting identical content again sends nothing new
    const before = h.handlers[TYPE.CLUSTER].updates.length;
    cp.setResources(TYPE.CLUSTER, [{ json: clusterJson('b', { connect_timeout: '3s' }) }, { json: clusterJson('c') }]);
    const mark = cp.requestCount();
    const v5 = cp.upsertResources(TYPE.CLUSTER, [{ json: clusterJson('d') }]);
    await cp.waitForAck(TYPE.CLUSTER, v5);
    assert.equal(h.handlers[TYPE.CLUSTER].updates.length, before + 1);
    assert.deepEqual(h.handlers[TYPE.CLUSTER].last().added.map((d) => d.name), ['d']);
    assert.ok(cp.requestCount() > mark);
  } finally {
    await h.close();
  }
});

test('autoPush:false holds changes until push()', async () => {
  const h = await harness({ apiType: 'GRPC', cp: { autoPush: false } });
  try {
    const { cp, client } = h;
    cp.setResources(TYPE.ENDPOINT, [{ json: claJson('a') }]);
    client.subscribe(TYPE.ENDPOINT, ['a']);
    client.start();
    await cp.waitForRequest((r) => r.typeUrl === TYPE.ENDPOINT);
    // the first request is answered from what is set
    await cp.waitForAck(TYPE.ENDPOINT, cp.version(TYPE.ENDPOINT));
    const v2 = cp.setResources(TYPE.ENDPOINT, [{ json: claJson('a', 9999) }]);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(h.handlers[TYPE.ENDPOINT].updates.length, 1);
    cp.push();
    await cp.waitForAck(TYPE.ENDPOINT, v2);
    assert.equal(h.handlers[TYPE.ENDPOINT].updates.length, 2);
  } finally {
    await h.close();
  }
});

test('bad input to the control plane API is reported, the log is bounded', async () => {
  const cp = new TestControlPlane({ logLimit: 10 });
  await cp.start();
  try {
    assert.throws(() => cp.setResources('type.googleapis.com/acme.Nope', [{ json: {} }]), /unknown type/);
    assert.throws(() => cp.setResources(TYPE.CLUSTER, [{ json: { '@type': TYPE.LISTENER, name: 'x' } }]), /is not/);
    assert.throws(() => cp.setResources(TYPE.CLUSTER, [{ name: 'x' }]), /give json or message/);
    assert.throws(() => cp.setResources(TYPE.CLUSTER, [{ json: { name: 'x', bogus_field: 1 } }]), /unknown field "bogus_field"/);
    const h = await harness({ apiType: 'GRPC', controlPlane: cp, target: cp.target });
    try {
      h.client.subscribe(TYPE.CLUSTER, '*');
      h.client.start();
      let last = '';
      for (let i = 0; i < 12; i++) {
        last = cp.setResources(TYPE.CLUSTER, [{ json: clusterJson(`c${i}`) }]);
        await cp.waitForAck(TYPE.CLUSTER, last);
      }
      assert.ok(cp.requests.length <= 10, `kept ${cp.requests.length}`);
      assert.ok(cp.requestCount() >= 13);
      const mark = cp.requestCount();
      const v = cp.setResources(TYPE.CLUSTER, [{ json: clusterJson('z') }]);
      const r = await cp.waitForRequest((q) => q.typeUrl === TYPE.CLUSTER, 5000, mark);
      assert.equal(cp.responseFor(r.stream, r.responseNonce)?.version, v);
      assert.equal(r.index, mark);
    } finally {
      h.client.stop();
    }
  } finally {
    await cp.stop();
  }
});
