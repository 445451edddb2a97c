import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { RoundRobinLoadBalancer } from '../../src/lb/round_robin';
import { DEFAULT_COMMON_LB } from '../../src/lb/lb_base';
import { seededRandom } from '../../src/lb/random_source';
import { countPicks, counterRandom, deps, prioritySet } from './helpers';

test('RR: equal weights rotate in order from the seed offset', () => {
  const ps = prioritySet([[{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }, { ip: '10.0.0.3' }]]);
  // counterRandom(1): the seed is 1, so rotation starts at the second host.
  const lb = new RoundRobinLoadBalancer(ps, DEFAULT_COMMON_LB, deps(counterRandom(1)));
  const seq = Array.from({ length: 6 }, () => lb.chooseHost(undefined)!.address);
  assert.deepEqual(seq, ['10.0.0.2', '10.0.0.3', '10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.1']);
});

test('RR: weights 1:2:3 give exact counts (EDF)', () => {
  const ps = prioritySet([[{ ip: '10.0.0.1', weight: 1 }, { ip: '10.0.0.2', weight: 2 }, { ip: '10.0.0.3', weight: 3 }]]);
  const lb = new RoundRobinLoadBalancer(ps, DEFAULT_COMMON_LB, deps(seededRandom(7)));
  const c = countPicks(() => lb.chooseHost(undefined), 6 * 1000);
  assert.equal(c.get('10.0.0.1:80'), 1000);
  assert.equal(c.get('10.0.0.2:80'), 2000);
  assert.equal(c.get('10.0.0.3:80'), 3000);
});

test('RR: weighted picks interleave (heaviest host never picked 3 times in a row at 1:2:3)', () => {
  const ps = prioritySet([[{ ip: '10.0.0.1', weight: 1 }, { ip: '10.0.0.2', weight: 2 }, { ip: '10.0.0.3', weight: 3 }]]);
  const lb = new RoundRobinLoadBalancer(ps, DEFAULT_COMMON_LB, deps(seededRandom(3)));
  let run = 0, maxRun = 0, last = '';
  for (let i = 0; i < 600; i++) {
    const a = lb.chooseHost(undefined)!.address;
    run = a === last ? run + 1 : 1;
    last = a;
    maxRun = Math.max(maxRun, run);
  }
  assert.ok(maxRun <= 2, `max run ${maxRun}`);
});

test('RR: unhealthy hosts are skipped; refresh() after health changes', () => {
  const ps = prioritySet([[{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }, { ip: '10.0.0.3' }]]);
  const lb = new RoundRobinLoadBalancer(ps, DEFAULT_COMMON_LB, deps(counterRandom(0)));
  ps.hostSets[0].hosts[1].healthFlags = 1; // FailedActiveHc
  ps.hostSets[0].rebuild();
  lb.refresh();
  const c = countPicks(() => lb.chooseHost(undefined), 100);
  assert.equal(c.get('10.0.0.2:80'), undefined);
  assert.equal(c.get('10.0.0.1:80'), 50);
  assert.equal(c.get('10.0.0.3:80'), 50);
});

test('RR: no hosts -> null', () => {
  const lb = new RoundRobinLoadBalancer(prioritySet([[]]), DEFAULT_COMMON_LB, deps(counterRandom(0)));
  assert.equal(lb.chooseHost(undefined), null);
});
