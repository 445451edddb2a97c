import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { RandomLoadBalancer } from '../../src/lb/random_lb';
import { DEFAULT_COMMON_LB } from '../../src/lb/lb_base';
import { seededRandom } from '../../src/lb/random_source';
import { countPicks, counterRandom, deps, prioritySet } from './helpers';

test('RANDOM: uniform over healthy hosts, weights ignored (as Envoy)', () => {
  const ps = prioritySet([[{ ip: '10.0.0.1', weight: 1 }, { ip: '10.0.0.2', weight: 50 }, { ip: '10.0.0.3', weight: 1 }, { ip: '10.0.0.4', flags: 4 }]]);
  const lb = new RandomLoadBalancer(ps, DEFAULT_COMMON_LB, deps(seededRandom(11)));
  const n = 6000;
  const c = countPicks(() => lb.chooseHost(undefined), n);
  assert.equal(c.get('10.0.0.4:80'), undefined);
  for (const k of ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80']) assert.ok(Math.abs(c.get(k)! / n - 1 / 3) < 0.03, JSON.stringify([...c]));
});

test('RANDOM: index = random % hosts', () => {
  const ps = prioritySet([[{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }]]);
  const lb = new RandomLoadBalancer(ps, DEFAULT_COMMON_LB, deps(counterRandom(0)));
  assert.deepEqual([0, 1, 2, 3].map(() => lb.chooseHost(undefined)!.address), ['10.0.0.1', '10.0.0.2', '10.0.0.1', '10.0.0.2']);
});
