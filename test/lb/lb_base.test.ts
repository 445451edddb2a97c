// Priority selection, panic, localities and the retry host predicate, through real LBs.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { HealthFlag, type Host, type LoadBalancerContext } from '../../src/cluster/types';
import { RoundRobinLoadBalancer } from '../../src/lb/round_robin';
import { RandomLoadBalancer } from '../../src/lb/random_lb';
import { DEFAULT_COMMON_LB } from '../../src/lb/lb_base';
import { seededRandom } from '../../src/lb/random_source';
import { countPicks, counterRandom, deps, prioritySet } from './helpers';

const U = HealthFlag.FailedEdsHealth;

function byPriority(c: Map<string, number>, prefix: string): number {
  let n = 0;
  for (const [k, v] of c) if (k.startsWith(prefix)) n += v;
  return n;
}

test('priority spillover: P0 with 50% healthy hosts gets exactly 70% of traffic', () => {
  const ps = prioritySet([
    [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }, { ip: '10.0.0.3', flags: U }, { ip: '10.0.0.4', flags: U }],
    [{ ip: '10.1.0.1' }, { ip: '10.1.0.2' }],
  ]);
  // counterRandom walks random % 100 over every value once per 100 picks.
  const lb = new RoundRobinLoadBalancer(ps, DEFAULT_COMMON_LB, deps(counterRandom(0)));
  const c = countPicks(() => lb.chooseHost(undefined), 1000);
  assert.equal(byPriority(c, '10.0.'), 700);
  assert.equal(byPriority(c, '10.1.'), 300);
  assert.equal(c.get('10.0.0.3:80'), undefined);
  assert.equal(c.get('10.0.0.4:80'), undefined);
});

test('priority spillover with a random source stays within tolerance', () => {
  const ps = prioritySet([
    [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }, { ip: '10.0.0.3', flags: U }, { ip: '10.0.0.4', flags: U }],
    [{ ip: '10.1.0.1' }],
  ]);
  const lb = new RandomLoadBalancer(ps, DEFAULT_COMMON_LB, deps(seededRandom(99)));
  const c = countPicks(() => lb.chooseHost(undefined), 10000);
  assert.ok(Math.abs(byPriority(c, '10.0.') / 10000 - 0.7) < 0.02);
});

test('panic: below 50% healthy, traffic goes to all hosts and lb_healthy_panic counts', () => {
  const ps = prioritySet([[{ ip: '10.0.0.1' }, { ip: '10.0.0.2', flags: U }, { ip: '10.0.0.3', flags: U }, { ip: '10.0.0.4', flags: U }]]);
  const d = deps(counterRandom(0));
  const lb = new RoundRobinLoadBalancer(ps, DEFAULT_COMMON_LB, d);
  const c = countPicks(() => lb.chooseHost(undefined), 400);
  for (const k of ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80', '10.0.0.4:80']) assert.equal(c.get(k), 100);
  assert.equal(d.lbHealthyPanic.value, 400);
});

test('panic: healthy_panic_threshold 0 disables panic (no host -> null)', () => {
  const ps = prioritySet([[{ ip: '10.0.0.1', flags: U }, { ip: '10.0.0.2', flags: U }]]);
  const d = deps(counterRandom(0));
  const lb = new RoundRobinLoadBalancer(ps, { ...DEFAULT_COMMON_LB, panicThreshold: 0 }, d);
  assert.equal(lb.chooseHost(undefined), null);
  assert.equal(d.lbHealthyPanic.value, 0);
});

test('panic: fail_traffic_on_panic returns no host', () => {
  const ps = prioritySet([[{ ip: '10.0.0.1' }, { ip: '10.0.0.2', flags: U }, { ip: '10.0.0.3', flags: U }]]);
  const d = deps(counterRandom(0));
  const lb = new RoundRobinLoadBalancer(ps, { ...DEFAULT_COMMON_LB, failTrafficOnPanic: true }, d);
  assert.equal(lb.chooseHost(undefined), null);
  assert.equal(d.lbHealthyPanic.value, 1);
});

test('degraded hosts are used only for the load healthy hosts cannot take', () => {
  const D = HealthFlag.DegradedEdsHealth;
  const ps = prioritySet([[{ ip: '10.0.0.1' }, { ip: '10.0.0.2', flags: D }, { ip: '10.0.0.3', flags: D }, { ip: '10.0.0.4', flags: D }]]);
  const lb = new RoundRobinLoadBalancer(ps, DEFAULT_COMMON_LB, deps(counterRandom(0)));
  const c = countPicks(() => lb.chooseHost(undefined), 1000);
  assert.equal(c.get('10.0.0.1:80'), 350);
  assert.equal((c.get('10.0.0.2:80') ?? 0) + (c.get('10.0.0.3:80') ?? 0) + (c.get('10.0.0.4:80') ?? 0), 650);
});

test('locality weighted: traffic split by locality weight, scaled by locality health', () => {
  const ps = prioritySet([[
    { ip: '10.0.0.1', zone: 'a' }, { ip: '10.0.0.2', zone: 'a' },
    { ip: '10.0.1.1', zone: 'b' }, { ip: '10.0.1.2', zone: 'b' },
  ]], { localityWeights: [{ a: 1, b: 3 }] });
  const lb = new RoundRobinLoadBalancer(ps, { ...DEFAULT_COMMON_LB, localityWeighted: true }, deps(counterRandom(0)));
  let c = countPicks(() => lb.chooseHost(undefined), 4000);
  assert.equal(byPriority(c, '10.0.0.'), 1000);
  assert.equal(byPriority(c, '10.0.1.'), 3000);
  // Zone b loses 3 of 4... here 1 of 2 hosts: availability 0.5 * 1.4 = 0.7 -> effective 2.1 vs 1.
  ps.hostSets[0].hosts[3].healthFlags = U;
  ps.hostSets[0].rebuild();
  lb.refresh();
  c = countPicks(() => lb.chooseHost(undefined), 3100);
  assert.equal(byPriority(c, '10.0.0.'), 1000);
  assert.equal(c.get('10.0.1.1:80'), 2100);
});

test('locality weighted: localities without a weight get no traffic', () => {
  const ps = prioritySet([[{ ip: '10.0.0.1', zone: 'a' }, { ip: '10.0.1.1', zone: 'b' }]], { localityWeights: [{ b: 5 }] });
  const lb = new RoundRobinLoadBalancer(ps, { ...DEFAULT_COMMON_LB, localityWeighted: true }, deps(counterRandom(0)));
  const c = countPicks(() => lb.chooseHost(undefined), 100);
  assert.equal(c.get('10.0.1.1:80'), 100);
});

test('retry host predicate: shouldSelectAnotherHost is honoured up to hostSelectionRetryCount', () => {
  const ps = prioritySet([[{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }, { ip: '10.0.0.3' }]]);
  const lb = new RoundRobinLoadBalancer(ps, DEFAULT_COMMON_LB, deps(counterRandom(0)));
  const previous = new Set<Host>();
  let asked = 0;
  const ctx: LoadBalancerContext = {
    hostSelectionRetryCount: 5,
    shouldSelectAnotherHost(h) { asked++; return previous.has(h); },
  };
  const first = lb.chooseHost(ctx)!;
  previous.add(first);
  const second = lb.chooseHost(ctx)!;
  assert.notEqual(second, first);
  previous.add(second);
  const third = lb.chooseHost(ctx)!;
  assert.ok(!previous.has(third));
  // Every host rejected: after 1 + retry count picks the last pick is returned anyway
  // (the predicate is not consulted about the final pick: its answer could not change the result).
  previous.add(third);
  asked = 0;
  const before = lb.chooseHost(undefined)!;
  const forced = lb.chooseHost(ctx);
  assert.ok(forced !== null);
  assert.equal(asked, 5);
  // 6 picks were made: RR over 3 hosts is back where it was after the reference pick + 1 + 6.
  const after = lb.chooseHost(undefined)!;
  const order = ps.hostSets[0].hosts;
  assert.equal(order.indexOf(after as never), (order.indexOf(before as never) + 7) % 3);
  // Without a retry count only one pick is made and the predicate is not needed.
  asked = 0;
  assert.ok(lb.chooseHost({ shouldSelectAnotherHost() { asked++; return true; } }) !== null);
  assert.equal(asked, 0);
});
