import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { EdfScheduler } from '../../src/lb/edf';

test('EDF: weights 1:2:3 give exact counts over whole cycles', () => {
  const s = new EdfScheduler<string>();
  s.add(1, 'a'); s.add(2, 'b'); s.add(3, 'c');
  const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
  for (let i = 0; i < 6000; i++) counts[s.pick()!]++;
  assert.deepEqual(counts, { a: 1000, b: 2000, c: 3000 });
});

test('EDF: picks interleave: every window of one cycle holds each entry weight times', () => {
  const s = new EdfScheduler<string>();
  s.add(1, 'a'); s.add(1, 'b'); s.add(2, 'c');
  const seq: string[] = [];
  for (let i = 0; i < 8; i++) seq.push(s.pick()!);
  // Ties go to the entry rescheduled first (Envoy's order_offset).
  assert.deepEqual(seq, ['c', 'a', 'b', 'c', 'c', 'a', 'b', 'c']);
  for (let i = 0; i + 4 <= seq.length; i += 4) {
    const win = seq.slice(i, i + 4).sort().join('');
    assert.equal(win, 'abcc');
  }
});

test('EDF: large weight ratios stay exact', () => {
  const s = new EdfScheduler<number>();
  const weights = [1, 7, 13, 100];
  weights.forEach((w, i) => s.add(w, i));
  const total = weights.reduce((a, b) => a + b, 0);
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < total * 50; i++) counts[s.pick()!]++;
  assert.deepEqual(counts, weights.map((w) => w * 50));
});

test('EDF: pickAndAdd re-weights the picked entry', () => {
  const s = new EdfScheduler<string>();
  s.add(1, 'a'); s.add(1, 'b');
  const w: Record<string, number> = { a: 1, b: 1 };
  // After the first picks, b becomes 4x heavier.
  const counts: Record<string, number> = { a: 0, b: 0 };
  for (let i = 0; i < 2; i++) s.pickAndAdd((x) => w[x]);
  w.b = 4;
  for (let i = 0; i < 2; i++) s.pickAndAdd((x) => w[x]);
  for (let i = 0; i < 5000; i++) counts[s.pickAndAdd((x) => w[x])!]++;
  assert.ok(Math.abs(counts.b / 5000 - 0.8) < 0.01, JSON.stringify(counts));
});

test('EDF: empty scheduler and zero weights', () => {
  const s = new EdfScheduler<string>();
  assert.equal(s.pick(), undefined);
  assert.equal(s.pickAndAdd(() => 1), undefined);
  s.add(0, 'zero');
  assert.equal(s.size, 0);
  s.add(2, 'x');
  assert.equal(s.peek(), 'x');
  assert.equal(s.pick(), 'x');
  s.clear();
  assert.equal(s.size, 0);
});
