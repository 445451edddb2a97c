import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/errors';
import {
  compileFraction, compileHeaderMatcher, compileMetadataMatcher, compileQueryParameterMatcher, compileStringMatcher,
  firstQueryValue, fractionEnabled, joinedHeader, matchHeaders, parseInt64,
} from '../../src/router/matchers';

test('StringMatcher: exact/prefix/suffix/contains/safe_regex with and without ignore_case', () => {
  const sm = (m: object) => compileStringMatcher(m, 'sm');
  assert.equal(sm({ exact: 'Foo' }).match('Foo'), true);
  assert.equal(sm({ exact: 'Foo' }).match('foo'), false);
  assert.equal(sm({ exact: 'Foo', ignore_case: true }).match('fOO'), true);
  assert.equal(sm({ exact: '' }).match(''), true);
  assert.equal(sm({ exact: '' }).match('x'), false);
  assert.equal(sm({ prefix: '/Ab' }).match('/Abc'), true);
  assert.equal(sm({ prefix: '/Ab' }).match('/abc'), false);
  assert.equal(sm({ prefix: '/Ab', ignore_case: true }).match('/aBc'), true);
  assert.equal(sm({ suffix: '.JS' }).match('a.JS'), true);
  assert.equal(sm({ suffix: '.JS' }).match('a.js'), false);
  assert.equal(sm({ suffix: '.JS', ignore_case: true }).match('a.js'), true);
  assert.equal(sm({ suffix: 'long-suffix', ignore_case: true }).match('fix'), false);
  assert.equal(sm({ contains: 'Mid' }).match('aMidb'), true);
  assert.equal(sm({ contains: 'Mid' }).match('amidb'), false);
  assert.equal(sm({ contains: 'Mid', ignore_case: true }).match('aMIDb'), true);
  assert.equal(sm({ contains: 'Mid', ignore_case: true }).match('Mi'), false);
  assert.equal(sm({ safe_regex: { regex: 'a.c' } }).match('abc'), true);
  assert.equal(sm({ safe_regex: { regex: 'a.c' } }).match('abcd'), false);
  // ignore_case is ASCII only, like absl.
  assert.equal(sm({ exact: 'é', ignore_case: true }).match('É'), false);
});

test('StringMatcher config errors', () => {
  assert.throws(() => compileStringMatcher({ safe_regex: { regex: 'a' }, ignore_case: true }, 'x'),
    (e: unknown) => e instanceof ConfigError && e.path === 'x.ignore_case');
  assert.throws(() => compileStringMatcher({ prefix: '' }, 'x'), /x\.prefix: value length/);
  assert.throws(() => compileStringMatcher({ ignore_case: true }, 'x'), /x: one of exact/);
  assert.throws(() => compileStringMatcher({ custom: { name: 'c' } }, 'x'), /x\.custom/);
});

test('HeaderMatcher kinds', () => {
  const hm = (m: object) => compileHeaderMatcher(m, 'h');
  const h = { 'x-a': 'hello', 'x-n': '42', 'x-multi': ['a', 'b'], ':method': 'GET' };
  assert.equal(hm({ name: 'X-A', string_match: { exact: 'hello' } }).matches(h), true, 'name is lowercased');
  assert.equal(hm({ name: 'x-a', string_match: { prefix: 'he' } }).matches(h), true);
  assert.equal(hm({ name: 'x-a', string_match: { suffix: 'lo' } }).matches(h), true);
  assert.equal(hm({ name: 'x-a', string_match: { contains: 'ell' } }).matches(h), true);
  assert.equal(hm({ name: 'x-a', string_match: { safe_regex: { regex: 'h.*o' } } }).matches(h), true);
  assert.equal(hm({ name: 'x-a', string_match: { safe_regex: { regex: 'h' } } }).matches(h), false, 'full match');
  assert.equal(hm({ name: 'x-a', exact_match: 'hello' }).matches(h), true);
  assert.equal(hm({ name: 'x-a', exact_match: '' }).matches(h), true, 'deprecated exact_match "" is a presence match');
  assert.equal(hm({ name: 'x-a', prefix_match: 'hel' }).matches(h), true);
  assert.equal(hm({ name: 'x-a', suffix_match: 'llo' }).matches(h), true);
  assert.equal(hm({ name: 'x-a', contains_match: 'll' }).matches(h), true);
  assert.equal(hm({ name: 'x-a', safe_regex_match: { regex: 'hel+o' } }).matches(h), true);
  assert.equal(hm({ name: ':method', string_match: { exact: 'GET' } }).matches(h), true);
  // multiple values are joined with ','
  assert.equal(hm({ name: 'x-multi', string_match: { exact: 'a,b' } }).matches(h), true);
  assert.equal(joinedHeader(h, 'x-multi'), 'a,b');
  // present / absent
  assert.equal(hm({ name: 'x-a' }).matches(h), true, 'no specifier = present');
  assert.equal(hm({ name: 'x-zz' }).matches(h), false);
  assert.equal(hm({ name: 'x-a', present_match: true }).matches(h), true);
  assert.equal(hm({ name: 'x-zz', present_match: true }).matches(h), false);
  assert.equal(hm({ name: 'x-a', present_match: false }).matches(h), false);
  assert.equal(hm({ name: 'x-zz', present_match: false }).matches(h), true);
});

test('HeaderMatcher range_match: [start, end), int64 parsing like absl::SimpleAtoi', () => {
  const r = compileHeaderMatcher({ name: 'x-n', range_match: { start: -10, end: 43 } }, 'h');
  assert.equal(r.matches({ 'x-n': '42' }), true);
  assert.equal(r.matches({ 'x-n': '43' }), false);
  assert.equal(r.matches({ 'x-n': '-10' }), true);
  assert.equal(r.matches({ 'x-n': '-11' }), false);
  assert.equal(r.matches({ 'x-n': ' 7 ' }), true);
  assert.equal(r.matches({ 'x-n': '+7' }), true);
  assert.equal(r.matches({ 'x-n': '7a' }), false);
  assert.equal(r.matches({ 'x-n': '4.2' }), false);
  assert.equal(r.matches({ 'x-n': '' }), false);
  assert.equal(r.matches({ 'x-n': '99999999999999999999' }), false, 'out of int64');
  assert.equal(r.matches({}), false);
  assert.equal(parseInt64('9223372036854775807'), 9223372036854775807n);
  assert.equal(parseInt64('-'), undefined);
  const big = compileHeaderMatcher({ name: 'x', range_match: { start: 0, end: 2 ** 53 } }, 'h');
  assert.equal(big.matches({ x: '1234567890123456' }), true);
});

test('HeaderMatcher invert_match and missing headers (Envoy semantics)', () => {
  const hm = (m: object) => compileHeaderMatcher(m, 'h');
  const inv = hm({ name: 'x-a', string_match: { exact: 'v' }, invert_match: true });
  assert.equal(inv.matches({ 'x-a': 'v' }), false);
  assert.equal(inv.matches({ 'x-a': 'w' }), true);
  assert.equal(inv.matches({}), false, 'an inverted value match does not match a missing header');
  assert.equal(hm({ name: 'x-a', present_match: true, invert_match: true }).matches({}), true);
  assert.equal(hm({ name: 'x-a', present_match: true, invert_match: true }).matches({ 'x-a': '' }), false);
  assert.equal(hm({ name: 'x-a', present_match: false, invert_match: true }).matches({}), false);
  assert.equal(hm({ name: 'x-a', present_match: false, invert_match: true }).matches({ 'x-a': 'q' }), true);
  const inr = hm({ name: 'x-n', range_match: { start: 0, end: 10 }, invert_match: true });
  assert.equal(inr.matches({ 'x-n': '20' }), true);
  assert.equal(inr.matches({ 'x-n': 'abc' }), true);
});

test('HeaderMatcher treat_missing_header_as_empty', () => {
  const hm = (m: object) => compileHeaderMatcher({ ...m, treat_missing_header_as_empty: true }, 'h');
  assert.equal(hm({ name: 'x', string_match: { exact: '' } }).matches({}), true);
  assert.equal(hm({ name: 'x', string_match: { safe_regex: { regex: '^(identity)?$' } } }).matches({}), true);
  assert.equal(hm({ name: 'x', string_match: { exact: 'a' } }).matches({}), false);
  assert.equal(hm({ name: 'x', string_match: { exact: 'a' }, invert_match: true }).matches({}), true);
  assert.equal(hm({ name: 'x' }).matches({}), true, 'name-only + treat_missing matches everything');
  assert.equal(hm({ name: 'x', present_match: false }).matches({}), false);
});

test('matchHeaders: all must match; empty list matches', () => {
  const ms = [compileHeaderMatcher({ name: 'a' }, 'h'), compileHeaderMatcher({ name: 'b', string_match: { exact: '1' } }, 'h')];
  assert.equal(matchHeaders({ a: 'x', b: '1' }, ms), true);
  assert.equal(matchHeaders({ a: 'x', b: '2' }, ms), false);
  assert.equal(matchHeaders({}, []), true);
});

test('HeaderMatcher config errors', () => {
  assert.throws(() => compileHeaderMatcher({ name: 'bad name' }, 'routes[0].match.headers[1]'),
    (e: unknown) => e instanceof ConfigError && e.path === 'routes[0].match.headers[1].name');
  assert.throws(() => compileHeaderMatcher({ name: 'x', prefix_match: '' }, 'h'), /h\.prefix_match/);
  assert.throws(() => compileHeaderMatcher({ name: 'x', safe_regex_match: { regex: '[' } }, 'h'), /h\.safe_regex_match\.regex: invalid regex/);
});

test('query parameters: first value, raw, present and string matches', () => {
  assert.equal(firstQueryValue('/p?a=1&b=2&a=3', 'a'), '1');
  assert.equal(firstQueryValue('/p?a=1&b=2&a=3', 'b'), '2');
  assert.equal(firstQueryValue('/p?ab=1&a', 'a'), '');
  assert.equal(firstQueryValue('/p?ab=1', 'a'), undefined);
  assert.equal(firstQueryValue('/p', 'a'), undefined);
  assert.equal(firstQueryValue('/p?a=%20x', 'a'), '%20x', 'not decoded');
  assert.equal(firstQueryValue('/p?x=1#a=2', 'a'), undefined, 'fragment is not query');
  assert.equal(firstQueryValue('/p?a=1=2', 'a'), '1=2');
  assert.equal(firstQueryValue('/p?&&a=&', 'a'), '');
  const q = (m: object) => compileQueryParameterMatcher(m, 'q');
  assert.equal(q({ name: 'debug' }).matches('/x?debug'), true);
  assert.equal(q({ name: 'debug', present_match: true }).matches('/x?debug=1'), true);
  assert.equal(q({ name: 'debug', present_match: true }).matches('/x?other=1'), false);
  assert.equal(q({ name: 'v', string_match: { exact: '2' } }).matches('/x?v=2'), true);
  assert.equal(q({ name: 'v', string_match: { exact: '2' } }).matches('/x?v=3&v=2'), false, 'first value only');
  assert.equal(q({ name: 'v', string_match: { prefix: 'ab', ignore_case: true } }).matches('/x?v=ABc'), true);
  assert.throws(() => q({ name: '' }), /q\.name/);
});

test('fractional percent: random % denominator < numerator', () => {
  const f = compileFraction({ numerator: 25, denominator: 'HUNDRED' }, 'f');
  assert.equal(fractionEnabled(f, 24), true);
  assert.equal(fractionEnabled(f, 25), false);
  assert.equal(fractionEnabled(f, 124), true);
  const tt = compileFraction({ numerator: 1, denominator: 'TEN_THOUSAND' }, 'f');
  assert.equal(fractionEnabled(tt, 10000), true);
  assert.equal(fractionEnabled(tt, 10001), false);
  assert.deepEqual(compileFraction({ numerator: 5, denominator: 'MILLION' }, 'f'), { numerator: 5, denominator: 1000000 });
  assert.equal(fractionEnabled(compileFraction({ numerator: 500, denominator: 'HUNDRED' }, 'f'), 99), true, 'numerator capped');
  let on = 0;
  for (let r = 0; r < 1000; r++) if (fractionEnabled(f, r)) on++;
  assert.equal(on, 250);
});

test('metadata matchers', () => {
  const md = { 'envoy.lb': { canary: true, ver: 'v2', n: 3, list: ['a', 'b'], nested: { k: 'v' }, nil: null } };
  const mm = (value: object, path: string[], invert = false) =>
    compileMetadataMatcher({ filter: 'envoy.lb', path: path.map((key) => ({ key })), value, invert }, 'm');
  assert.equal(mm({ bool_match: true }, ['canary']).matches(md), true);
  assert.equal(mm({ bool_match: false }, ['canary']).matches(md), false);
  assert.equal(mm({ string_match: { exact: 'v2' } }, ['ver']).matches(md), true);
  assert.equal(mm({ string_match: { exact: 'v2' } }, ['ver'], true).matches(md), false);
  assert.equal(mm({ double_match: { exact: 3 } }, ['n']).matches(md), true);
  assert.equal(mm({ double_match: { range: { start: 0, end: 3 } } }, ['n']).matches(md), false);
  assert.equal(mm({ present_match: true }, ['nested', 'k']).matches(md), true);
  assert.equal(mm({ present_match: true }, ['missing']).matches(md), false);
  assert.equal(mm({ present_match: false }, ['missing']).matches(md), true);
  assert.equal(mm({ null_match: {} }, ['nil']).matches(md), true);
  assert.equal(mm({ null_match: {} }, ['missing']).matches(md), false);
  assert.equal(mm({ list_match: { one_of: { string_match: { exact: 'b' } } } }, ['list']).matches(md), true);
  assert.equal(mm({ or_match: { value_matchers: [{ bool_match: false }, { bool_match: true }] } }, ['canary']).matches(md), true);
  assert.equal(mm({ bool_match: true }, ['canary']).matches(undefined), false);
  assert.throws(() => compileMetadataMatcher({ filter: 'f', path: [], value: { bool_match: true } }, 'm'), /m\.path/);
});
