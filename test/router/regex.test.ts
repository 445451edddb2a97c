import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/errors';
import {
  applyRegexRewrite, compileRegexMatcher, compileRegexRewrite, compileRegexString, parseSubstitution, regexLiteralPrefix,
} from '../../src/router/regex';

test('safe_regex is a full match (RE2::FullMatch)', () => {
  const re = compileRegexString('/api/v[0-9]+', 'p');
  assert.equal(re.fullMatch('/api/v1'), true);
  assert.equal(re.fullMatch('/api/v12'), true);
  assert.equal(re.fullMatch('/api/v1/x'), false);
  assert.equal(re.fullMatch('x/api/v1'), false);
  assert.equal(re.search('x/api/v1/y'), true);
});

test('RE2 syntax: no backreferences or lookahead; errors name the field', () => {
  for (const bad of ['(', '(?=a)', '\\1', 'a{1001}', '[z-a]']) {
    assert.throws(() => compileRegexMatcher({ regex: bad }, 'routes[0].match.safe_regex'), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.path, 'routes[0].match.safe_regex.regex');
      assert.ok(e.message.startsWith(`routes[0].match.safe_regex.regex: invalid regex "${bad}": `), e.message);
      return true;
    });
  }
  assert.throws(() => compileRegexMatcher({ regex: '' }, 'x'), /x\.regex: regex must not be empty/);
});

test('pathological patterns are linear (correctness only)', () => {
  const input = 'a'.repeat(30) + '!';
  assert.equal(compileRegexString('(a+)+$', 'p').fullMatch(input), false);
  assert.equal(compileRegexString('(a+)+$', 'p').search(input), false);
  assert.equal(compileRegexString('(a|aa)+', 'p').fullMatch('a'.repeat(30)), true);
  assert.equal(compileRegexString('(.*a){20}', 'p').fullMatch('a'.repeat(30) + 'b'), false);
  assert.equal(compileRegexString('(x+x+)+y', 'p').fullMatch('x'.repeat(30)), false);
});

test('replaceAll follows RE2::GlobalReplace', () => {
  const rw = (pattern: string, sub: string, input: string) =>
    applyRegexRewrite(compileRegexRewrite({ pattern: { regex: pattern }, substitution: sub }, 'p'), input);
  assert.equal(rw('a*', '-', 'baaac'), '-b-c-');
  assert.equal(rw('b', 'x', 'abcb'), 'axcx');
  assert.equal(rw('^/service/([^/]+)(/.*)$', '\\2/instance/\\1', '/service/foo/v1/api'), '/v1/api/instance/foo');
  assert.equal(rw('(\\d+)', '<\\1>', 'a1b22c'), 'a<1>b<22>c');
  assert.equal(rw('x', 'y', 'abc'), 'abc');
  assert.equal(rw('.', '\\0\\0', 'ab'), 'aabb');
  assert.equal(rw('a', '\\\\', 'a'), '\\');
  assert.equal(rw('(a)|(b)', '[\\2]', 'ab'), '[][b]');
  assert.equal(rw('^', '/p', '/x'), '/p/x');
  assert.equal(rw('/+', '/', '//a///b'), '/a/b');
});

test('substitution syntax errors and group bounds', () => {
  assert.deepEqual(parseSubstitution('a\\1b\\\\', 'p').parts, ['a', 1, 'b\\']);
  assert.throws(() => parseSubstitution('\\x', 's'), /s: invalid rewrite pattern/);
  assert.throws(() => parseSubstitution('x\\', 's'), /trailing backslash/);
  assert.throws(() => compileRegexRewrite({ pattern: { regex: '(a)' }, substitution: '\\2' }, 'r'),
    (e: unknown) => e instanceof ConfigError && e.path === 'r.substitution' && /requested group 2/.test(e.message));
  assert.throws(() => compileRegexRewrite({ pattern: { regex: '(' }, substitution: '' }, 'r'),
    (e: unknown) => e instanceof ConfigError && e.path === 'r.pattern.regex');
});

test('literal prefix extraction for the route index', () => {
  assert.equal(regexLiteralPrefix('/api/v1/users/[0-9]+'), '/api/v1/users/');
  assert.equal(regexLiteralPrefix('^/abc'), '/abc');
  assert.equal(regexLiteralPrefix('/ab*'), '/a');
  assert.equal(regexLiteralPrefix('/ab?c'), '/a');
  assert.equal(regexLiteralPrefix('/ab{2}'), '/a');
  assert.equal(regexLiteralPrefix('/ab+'), '/ab');
  assert.equal(regexLiteralPrefix('/a|/b'), '');
  assert.equal(regexLiteralPrefix('(?i)/abc'), '');
  assert.equal(regexLiteralPrefix('.*'), '');
  assert.equal(regexLiteralPrefix('/a\\.b'), '/a');
});
