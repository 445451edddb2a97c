import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/errors';
import { compileRouteConfig, getPortStart, stripPort } from '../../src/router/index';
import { req } from './helpers';

function rcWith(vhosts: Array<[string, string[]]>, extra: object = {}) {
  return compileRouteConfig({
    name: 'rc',
    virtual_hosts: vhosts.map(([name, domains]) => ({ name, domains, routes: [{ match: { prefix: '/' }, route: { cluster: name } }] })),
    ...extra,
  });
}

test('domain precedence: exact > longest suffix wildcard > longest prefix wildcard > *', () => {
  const rc = rcWith([
    ['default', ['*']],
    ['exact', ['www.foo.com']],
    ['suffix', ['*.foo.com']],
    ['longsuffix', ['*-bar.foo.com']],
    ['prefix', ['www.*']],
    ['longprefix', ['www.foo.*']],
    ['nodot', ['*foo.org']],
  ]);
  const vh = (a: string) => rc.findVirtualHost(a)?.name;
  assert.equal(vh('www.foo.com'), 'exact');
  assert.equal(vh('WWW.Foo.COM'), 'exact', 'case-insensitive');
  assert.equal(vh('api.foo.com'), 'suffix');
  assert.equal(vh('baz-bar.foo.com'), 'longsuffix');
  assert.equal(vh('-bar.foo.com'), 'suffix', 'wildcard never matches the empty string');
  assert.equal(vh('.foo.com'), 'default', '*.foo.com does not match .foo.com');
  assert.equal(vh('www.foo.net'), 'longprefix');
  assert.equal(vh('www.bar.net'), 'prefix');
  assert.equal(vh('www.'), 'default');
  assert.equal(vh('a.foo.org'), 'nodot');
  assert.equal(vh('foo.org'), 'default');
  assert.equal(vh('other'), 'default');
  assert.equal(vh(''), 'default');
  // suffix beats prefix even when the prefix is longer
  const rc2 = rcWith([['s', ['*.com']], ['p', ['very.long.prefix.*']]]);
  assert.equal(rc2.findVirtualHost('very.long.prefix.com')?.name, 's');
});

test('no default vhost: unmatched authority gives null', () => {
  const rc = rcWith([['a', ['a.com']]]);
  assert.equal(rc.findVirtualHost('b.com'), null);
  assert.equal(rc.route(req('/', { authority: 'b.com' })), null);
});

test('ports: part of the host by default; stripped with ignore_port_in_host_matching', () => {
  const rc = rcWith([['a', ['a.com']], ['ap', ['a.com:8080']], ['w', ['*.b.com']], ['d', ['*']]]);
  assert.equal(rc.findVirtualHost('a.com')?.name, 'a');
  assert.equal(rc.findVirtualHost('a.com:8080')?.name, 'ap');
  assert.equal(rc.findVirtualHost('a.com:9090')?.name, 'd', 'no retry without the port (Envoy)');
  assert.equal(rc.findVirtualHost('x.b.com:80')?.name, 'd', 'the suffix wildcard sees the port too');
  const ig = rcWith([['a', ['a.com']], ['w', ['*.b.com']], ['v6', ['[::1]']], ['d', ['*']]], { ignore_port_in_host_matching: true });
  assert.equal(ig.findVirtualHost('a.com:9090')?.name, 'a');
  assert.equal(ig.findVirtualHost('x.b.com:80')?.name, 'w');
  assert.equal(ig.findVirtualHost('[::1]:443')?.name, 'v6');
  assert.equal(ig.findVirtualHost('[::1]')?.name, 'v6');
  assert.equal(getPortStart('[::1]'), -1);
  assert.equal(getPortStart('[::1]:80'), 5);
  assert.equal(getPortStart('host:80'), 4);
  assert.equal(stripPort('host:80'), 'host');
  assert.equal(stripPort('[::1]:80'), '[::1]');
});

test('only the default vhost: used even without an authority (Envoy fast path)', () => {
  const rc = rcWith([['d', ['*']]]);
  assert.equal(rc.findVirtualHost('')?.name, 'd');
  assert.equal(rc.findVirtualHost('anything:1')?.name, 'd');
});

test('duplicate domains and a second * are errors naming the field', () => {
  assert.throws(() => rcWith([['a', ['x.com']], ['b', ['y.com', 'X.COM']]]), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.path, 'virtual_hosts[1].domains[1]');
    assert.match(e.message, /Only unique values for domains are permitted. Duplicate entry of domain x.com in route rc/);
    return true;
  });
  assert.throws(() => rcWith([['a', ['*.x.com']], ['b', ['*.x.com']]]), /virtual_hosts\[1\]\.domains\[0\]: Only unique/);
  assert.throws(() => rcWith([['a', ['x.*']], ['b', ['x.*']]]), /Only unique/);
  assert.throws(() => rcWith([['a', ['*']], ['b', ['*']]]), /virtual_hosts\[1\]\.domains\[0\]: Only a single wildcard domain is permitted in route rc/);
  assert.throws(() => rcWith([['a', []]]), /virtual_hosts\[0\]\.domains: value must contain at least 1 item/);
  assert.throws(() => rcWith([['', ['a']]]), /virtual_hosts\[0\]\.name/);
});

test('1000 vhosts: exact lookups hit the right vhost', () => {
  const vhosts: Array<[string, string[]]> = [];
  for (let i = 0; i < 1000; i++) vhosts.push([`svc${i}`, [`svc${i}.ns.svc.cluster.local`, `svc${i}.ns.svc.cluster.local:8080`, `10.0.${i >> 8}.${i & 255}`]]);
  const rc = rcWith(vhosts);
  for (let i = 0; i < 1000; i += 37) {
    assert.equal(rc.findVirtualHost(`svc${i}.ns.svc.cluster.local:8080`)?.name, `svc${i}`);
    assert.equal(rc.findVirtualHost(`10.0.${i >> 8}.${i & 255}`)?.name, `svc${i}`);
  }
});
