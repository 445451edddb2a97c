import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatG, formatShortest, formatInteger } from '../../src/stats/format';

test('formatG reproduces printf %g (precision 6)', () => {
  const cases: Array<[number, string]> = [
    [0, '0'], [0.5, '0.5'], [1, '1'], [25, '25'], [99.5, '99.5'], [100, '100'], [300000, '300000'],
    [1800000, '1.8e+06'], [3600000, '3.6e+06'], [0.0001, '0.0001'], [0.00001, '1e-05'], [123456789, '1.23457e+08'],
    [-2.5, '-2.5'], [NaN, 'nan'], [Infinity, 'inf'], [-Infinity, '-inf'],
  ];
  for (const [x, want] of cases) assert.equal(formatG(x), want, String(x));
});

test('formatG with precision 32 prints the exact decimal value (Envoy le="..." and _sum)', () => {
  assert.equal(formatG(0.5, 32), '0.5');
  assert.equal(formatG(3600000, 32), '3600000');
  assert.equal(formatG(205, 32), '205');
  assert.equal(formatG(0.1, 32), '0.10000000000000000555111512312578');
  assert.equal(formatG(1e25, 32), '10000000000000000905969664');
  assert.equal(formatG(1e40, 32), '1.0000000000000000303786028427004e+40');
});

test('formatShortest reproduces fmt "{}" for doubles', () => {
  const cases: Array<[number, string]> = [
    [200, '200'], [202.5, '202.5'], [209.95, '209.95'], [1800000, '1800000'], [0.0001, '0.0001'],
    [0.00001, '1e-05'], [1e16, '1e+16'], [123456789012345, '123456789012345'], [1.5e300, '1.5e+300'],
    [-0.25, '-0.25'], [NaN, 'nan'],
  ];
  for (const [x, want] of cases) assert.equal(formatShortest(x), want, String(x));
});

test('formatInteger prints integers without exponent', () => {
  assert.equal(formatInteger(0), '0');
  assert.equal(formatInteger(18446744073709552000), '18446744073709551616');
  assert.equal(formatInteger(-3), '-3');
  assert.equal(formatInteger(1.5), '1.5');
});
