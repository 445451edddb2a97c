import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { HealthFlag } from '../../src/cluster/types';
import { PriorityLoad, choosePriority, computePriorityLoad } from '../../src/lb/priority_load';
import { prioritySet } from './helpers';

const U = HealthFlag.FailedEdsHealth;
const D = HealthFlag.DegradedEdsHealth;
const X = HealthFlag.EdsStatusDraining;

function load(hosts: Parameters<typeof prioritySet>[0], panic = 50, of?: number): PriorityLoad {
  const pl = new PriorityLoad();
  computePriorityLoad(prioritySet(hosts, { overprovisioningFactor: of }).hostSets, panic, pl);
  return pl;
}

test('priority load: all healthy P0 takes everything', () => {
  const pl = load([[{}, {}], [{}, {}]]);
  assert.deepEqual(pl.healthyLoad, [100, 0]);
  assert.deepEqual(pl.degradedLoad, [0, 0]);
  assert.deepEqual(pl.panic, [false, false]);
  assert.equal(pl.fixedChoice, 0);
});

test('priority load: P0 with 50% healthy hosts gets 70% (overprovisioning 1.4)', () => {
  const pl = load([[{}, {}, { flags: U }, { flags: U }], [{}, {}]]);
  assert.deepEqual(pl.healthAvailability, [70, 100]);
  assert.deepEqual(pl.healthyLoad, [70, 30]);
  assert.deepEqual(pl.panic, [false, false]);
  assert.equal(pl.fixedChoice, -1);
});

test('priority load: overprovisioning_factor 100 gives proportional spillover', () => {
  const pl = load([[{}, {}, { flags: U }, { flags: U }], [{}, {}]], 50, 100);
  assert.deepEqual(pl.healthyLoad, [50, 50]);
});

test('priority load: degraded hosts absorb what healthy ones cannot', () => {
  // 1 healthy + 3 degraded in P0: healthy 35%, degraded 100% -> total normalized 100.
  const pl = load([[{}, { flags: D }, { flags: D }, { flags: D }]]);
  assert.deepEqual(pl.healthyLoad, [35]);
  assert.deepEqual(pl.degradedLoad, [65]);
  assert.equal(choosePriority(35, pl), 0);
  assert.equal(choosePriority(36, pl), 1); // priority 0, degraded
});

test('priority load: excluded (draining) hosts do not count in the denominator', () => {
  const pl = load([[{}, {}, { flags: X }, { flags: X }], [{}]]);
  assert.deepEqual(pl.healthAvailability, [100, 100]);
  assert.deepEqual(pl.healthyLoad, [100, 0]);
});

test('panic: below the threshold in every priority splits by host count', () => {
  // P0: 1/4 healthy (25% < 50), P1: 0/2 healthy.
  const pl = load([[{}, { flags: U }, { flags: U }, { flags: U }], [{ flags: U }, { flags: U }]]);
  assert.deepEqual(pl.panic, [true, true]);
  assert.deepEqual(pl.healthyLoad, [67, 33]);
});

test('panic: a panicking priority next to a healthy one keeps availability-based load', () => {
  const pl = load([[{}, { flags: U }, { flags: U }, { flags: U }], [{}, {}]]);
  assert.deepEqual(pl.healthAvailability, [35, 100]);
  assert.deepEqual(pl.healthyLoad, [35, 65]);
  // normalized availability is 100: Envoy never panics then.
  assert.deepEqual(pl.panic, [false, false]);
});

test('panic: threshold 0 disables panic and puts all load on P0', () => {
  const pl = load([[{ flags: U }, { flags: U }]], 0);
  assert.deepEqual(pl.panic, [false]);
  assert.deepEqual(pl.healthyLoad, [100]);
});

test('panic: exactly at the threshold is not panic', () => {
  const pl = load([[{}, { flags: U }]], 50);
  assert.deepEqual(pl.healthAvailability, [70]);
  assert.deepEqual(pl.panic, [false]);
  assert.deepEqual(pl.healthyLoad, [100]);
});

test('priority load: no host sets and empty priorities', () => {
  const pl = new PriorityLoad();
  computePriorityLoad([], 50, pl);
  assert.deepEqual(pl.healthyLoad, []);
  const pl2 = load([[], []]);
  assert.deepEqual(pl2.panic, [true, true]);
  assert.deepEqual(pl2.healthyLoad, [100, 0]);
});
