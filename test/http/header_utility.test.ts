import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  canonicalizePath, mergeSlashes, unescapeSlashes, stripHostPort, hostPortStart, lastAddressFromXff, appendXff,
  isDefaultInternalAddress, isUpgradeRequest, isH2cUpgrade, sanitizeTe, headerHasToken,
} from '../../src/http/header_utility';
import { parseIp } from '../../src/common/cidr';

test('canonicalizePath (RFC 3986 / Envoy PathUtil::canonicalPath)', () => {
  const cases: Array<[string, string | null]> = [
    ['/', '/'],
    ['/a/b', '/a/b'],
    ['/a/./b', '/a/b'],
    ['/a/../b', '/b'],
    ['/../a', '/a'],
    ['/a/b/..', '/a/'],
    ['/a/b/.', '/a/b/'],
    ['/a/%2e%2E/b', '/b'],
    ['/a/.%2e/b', '/b'],
    ['/%41%62%7e', '/Ab~'],
    ['/a%2fb', '/a%2Fb'],
    ['/a%zz', '/a%zz'],
    ['/a\\b', '/a/b'],
    ['/a b', '/a%20b'],
    ['/ü', '/%C3%BC'],
    ['/a/../b?x=/../y', '/b?x=/../y'],
    ['/a//b', '/a//b'],
    ['a/b', null],
    ['', null],
  ];
  for (const [inp, want] of cases) assert.equal(canonicalizePath(inp), want, inp);
});

test('mergeSlashes / unescapeSlashes keep the query', () => {
  assert.equal(mergeSlashes('//a///b/?q=//x'), '/a/b/?q=//x');
  assert.equal(mergeSlashes('/a/b'), '/a/b');
  assert.equal(unescapeSlashes('/a%2Fb%2fc%5C%5cd?x=%2F'), '/a/b/c\\\\d?x=%2F');
  assert.equal(unescapeSlashes('/a/b'), null);
});

test('host ports', () => {
  assert.equal(hostPortStart('a:80'), 1);
  assert.equal(hostPortStart('[::1]:80'), 5);
  assert.equal(hostPortStart('[::1]'), -1);
  assert.equal(hostPortStart('::1'), -1);
  assert.equal(stripHostPort('a.com:8080', 8080), 'a.com');
  assert.equal(stripHostPort('a.com:8080', 80), null);
  assert.equal(stripHostPort('a.com:8080', -1), 'a.com');
  assert.equal(stripHostPort('[::1]:443', -1), '[::1]');
  assert.equal(stripHostPort('a.com:x', -1), null);
  assert.equal(stripHostPort('a.com', -1), null);
});

test('X-Forwarded-For', () => {
  const h = { 'x-forwarded-for': '1.2.3.4, 10.0.0.1 ,192.168.1.1' };
  assert.equal(lastAddressFromXff(h, 0).address, '192.168.1.1');
  assert.equal(lastAddressFromXff(h, 0).single, false);
  assert.equal(lastAddressFromXff(h, 1).address, '10.0.0.1');
  assert.equal(lastAddressFromXff(h, 2).address, '1.2.3.4');
  assert.equal(lastAddressFromXff(h, 3).ip, null);
  assert.equal(lastAddressFromXff({ 'x-forwarded-for': '5.6.7.8' }, 0).single, true);
  assert.equal(lastAddressFromXff({ 'x-forwarded-for': 'garbage' }, 0).ip, null);
  assert.equal(lastAddressFromXff({}, 0).ip, null);
  const m: Record<string, string> = {};
  appendXff(m, '1.1.1.1');
  appendXff(m, '2.2.2.2');
  assert.equal(m['x-forwarded-for'], '1.1.1.1,2.2.2.2');
});

test('internal addresses (Envoy default: RFC 1918, 127.0.0.1, fd00::/8, ::1)', () => {
  for (const a of ['10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.0.1', '127.0.0.1', 'fd00::1', '::1']) {
    assert.ok(isDefaultInternalAddress(parseIp(a)!), a);
  }
  for (const a of ['8.8.8.8', '172.32.0.1', '127.0.0.2', '2001:db8::1', 'fc00::1']) {
    assert.ok(!isDefaultInternalAddress(parseIp(a)!), a);
  }
});

test('upgrade / connection tokens / te', () => {
  assert.ok(isUpgradeRequest({ connection: 'keep-alive, Upgrade', upgrade: 'websocket' }));
  assert.ok(!isUpgradeRequest({ connection: 'keep-alive', upgrade: 'websocket' }));
  assert.ok(!isUpgradeRequest({ connection: 'upgrade' }));
  assert.ok(isH2cUpgrade({ upgrade: 'H2C' }));
  assert.ok(headerHasToken({ connection: ['a', 'b ,  Close'] }, 'connection', 'close'));
  const t1: Record<string, string> = { te: 'gzip, trailers' };
  sanitizeTe(t1);
  assert.equal(t1.te, 'trailers');
  const t2: Record<string, string> = { te: 'gzip' };
  sanitizeTe(t2);
  assert.equal(t2.te, undefined);
});
