import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { cluster, manager, staticCluster } from './helpers';

test('circuit breakers: Envoy defaults for DEFAULT and HIGH', () => {
  const { cm, store } = manager();
  const c = cm.addOrUpdate(cluster(staticCluster('d', [['10.0.0.1', 80]])));
  for (const rm of c.info.resourceManagers) {
    assert.equal(rm.connections.max, 1024);
    assert.equal(rm.pendingRequests.max, 1024);
    assert.equal(rm.requests.max, 1024);
    assert.equal(rm.retries.max, 3);
    assert.equal(rm.connectionPools.max, Number.MAX_SAFE_INTEGER);
  }
  assert.ok(store.gauges.has('cluster.d.circuit_breakers.default.cx_open'));
  assert.ok(store.gauges.has('cluster.d.circuit_breakers.high.rq_pending_open'));
  // remaining_* only with track_remaining.
  assert.ok(!store.gauges.has('cluster.d.circuit_breakers.default.remaining_cx'));
});

test('circuit breakers: limits, open gauges and remaining gauges (track_remaining)', () => {
  const { cm, store } = manager();
  const c = cm.addOrUpdate(cluster({
    ...staticCluster('cb', [['10.0.0.1', 80]]),
    circuit_breakers: { thresholds: [
      { max_connections: 2, max_pending_requests: 1, max_requests: 3, max_retries: 1, track_remaining: true },
      { priority: 'HIGH', max_connections: 7 },
    ] },
  }));
  const [def, high] = c.info.resourceManagers;
  assert.equal(high.connections.max, 7);
  assert.equal(high.retries.max, 3);
  const cx = def.connections;
  const open = store.gauges.get('cluster.cb.circuit_breakers.default.cx_open')!;
  const remaining = store.gauges.get('cluster.cb.circuit_breakers.default.remaining_cx')!;
  assert.equal(remaining.value, 2);
  assert.equal(cx.canCreate(), true);
  cx.inc();
  assert.equal(remaining.value, 1);
  assert.equal(open.value, 0);
  cx.inc();
  assert.equal(cx.canCreate(), false);
  assert.equal(open.value, 1);
  assert.equal(remaining.value, 0);
  cx.dec();
  assert.equal(cx.canCreate(), true);
  assert.equal(open.value, 0);
  assert.equal(remaining.value, 1);
  cx.dec(); cx.dec(); // never below zero
  assert.equal(cx.count, 0);
  const pending = def.pendingRequests;
  pending.inc();
  assert.equal(pending.canCreate(), false);
  assert.equal(store.gauges.get('cluster.cb.circuit_breakers.default.rq_pending_open')!.value, 1);
  assert.equal(store.gauges.get('cluster.cb.circuit_breakers.default.remaining_pending')!.value, 0);
  // HIGH priority is independent.
  assert.equal(high.pendingRequests.canCreate(), true);
});

test('circuit breakers: retry budget scales with active + pending requests', () => {
  const { cm } = manager();
  const c = cm.addOrUpdate(cluster({
    ...staticCluster('rb', [['10.0.0.1', 80]]),
    circuit_breakers: { thresholds: [{ retry_budget: { budget_percent: { value: 25 }, min_retry_concurrency: 2 } }] },
  }));
  const rm = c.info.resourceManagers[0];
  assert.equal(rm.retries.max, 2);
  for (let i = 0; i < 16; i++) rm.requests.inc();
  for (let i = 0; i < 4; i++) rm.pendingRequests.inc();
  assert.equal(rm.retries.max, 5);
  for (let i = 0; i < 5; i++) { assert.ok(rm.retries.canCreate()); rm.retries.inc(); }
  assert.equal(rm.retries.canCreate(), false);
});

test('circuit breakers: per_host_thresholds max_connections', () => {
  const { cm } = manager();
  const c = cm.addOrUpdate(cluster({ ...staticCluster('ph', [['10.0.0.1', 80]]), circuit_breakers: { per_host_thresholds: [{ max_connections: 5 }] } }));
  assert.equal(c.info.perHostMaxConnections, 5);
  const d = cm.addOrUpdate(cluster(staticCluster('ph2', [['10.0.0.1', 80]])));
  assert.equal(d.info.perHostMaxConnections, Infinity);
});
