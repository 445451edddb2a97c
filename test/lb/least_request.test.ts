import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { LeastRequestLoadBalancer, DEFAULT_LEAST_REQUEST } from '../../src/lb/least_request';
import { DEFAULT_COMMON_LB } from '../../src/lb/lb_base';
import { seededRandom } from '../../src/lb/random_source';
import { countPicks, deps, prioritySet } from './helpers';

test('P2C: the loaded host is picked only when both samples land on it (~25%)', () => {
  const ps = prioritySet([[{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }]]);
  ps.hostSets[0].hosts[0].activeRequests = 10;
  const lb = new LeastRequestLoadBalancer(ps, DEFAULT_COMMON_LB, DEFAULT_LEAST_REQUEST, deps(seededRandom(42)));
  const c = countPicks(() => lb.chooseHost(undefined), 4000);
  const loaded = (c.get('10.0.0.1:80') ?? 0) / 4000;
  assert.ok(loaded > 0.2 && loaded < 0.3, `loaded share ${loaded}`);
});

test('P2C: the least loaded of three hosts gets the most picks; ties are uniform', () => {
  const ps = prioritySet([[{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }, { ip: '10.0.0.3' }]]);
  const [a, b, c] = ps.hostSets[0].hosts;
  a.activeRequests = 5; b.activeRequests = 1; c.activeRequests = 0;
  const lb = new LeastRequestLoadBalancer(ps, DEFAULT_COMMON_LB, DEFAULT_LEAST_REQUEST, deps(seededRandom(1)));
  const n = 9000;
  const m = countPicks(() => lb.chooseHost(undefined), n);
  // P(c)=5/9, P(b)=3/9, P(a)=1/9.
  assert.ok(Math.abs(m.get('10.0.0.3:80')! / n - 5 / 9) < 0.03);
  assert.ok(Math.abs(m.get('10.0.0.2:80')! / n - 3 / 9) < 0.03);
  assert.ok(Math.abs(m.get('10.0.0.1:80')! / n - 1 / 9) < 0.03);
  a.activeRequests = 0; b.activeRequests = 0;
  const u = countPicks(() => lb.chooseHost(undefined), n);
  for (const k of ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80']) assert.ok(Math.abs(u.get(k)! / n - 1 / 3) < 0.03);
});

test('LEAST_REQUEST: choice_count = hosts with full scan always picks the minimum', () => {
  const ps = prioritySet([[{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }, { ip: '10.0.0.3' }]]);
  const [a, b, c] = ps.hostSets[0].hosts;
  a.activeRequests = 3; b.activeRequests = 0; c.activeRequests = 2;
  const lb = new LeastRequestLoadBalancer(ps, DEFAULT_COMMON_LB, { ...DEFAULT_LEAST_REQUEST, fullScan: true }, deps(seededRandom(5)));
  for (let i = 0; i < 50; i++) assert.equal(lb.chooseHost(undefined)!.address, '10.0.0.2');
});

test('LEAST_REQUEST weighted: weight / (active + 1) via EDF', () => {
  const ps = prioritySet([[{ ip: '10.0.0.1', weight: 1 }, { ip: '10.0.0.2', weight: 2 }]]);
  const lb = new LeastRequestLoadBalancer(ps, DEFAULT_COMMON_LB, DEFAULT_LEAST_REQUEST, deps(seededRandom(9)));
  // No load: behaves like weighted RR, 1:2.
  let c = countPicks(() => lb.chooseHost(undefined), 3000);
  assert.ok(Math.abs(c.get('10.0.0.2:80')! / 3000 - 2 / 3) < 0.01, JSON.stringify([...c]));
  // Host 2 carries 3 active requests: effective weights 1/1 vs 2/4 -> 2:1 in favour of host 1.
  ps.hostSets[0].hosts[1].activeRequests = 3;
  c = countPicks(() => lb.chooseHost(undefined), 3000);
  assert.ok(Math.abs(c.get('10.0.0.1:80')! / 3000 - 2 / 3) < 0.02, JSON.stringify([...c]));
});

test('LEAST_REQUEST weighted: active_request_bias 0 ignores load', () => {
  const ps = prioritySet([[{ ip: '10.0.0.1', weight: 1 }, { ip: '10.0.0.2', weight: 3 }]]);
  ps.hostSets[0].hosts[1].activeRequests = 100;
  const lb = new LeastRequestLoadBalancer(ps, DEFAULT_COMMON_LB, { ...DEFAULT_LEAST_REQUEST, activeRequestBias: 0 }, deps(seededRandom(2)));
  const c = countPicks(() => lb.chooseHost(undefined), 4000);
  assert.equal(c.get('10.0.0.2:80'), 3000);
});
