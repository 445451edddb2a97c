import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addsLocation, compileRouteConfig, redirectLocation, rewriteHost, rewritePath } from '../../src/router/index';
import { oneVhost, req } from './helpers';

function one(route: object) {
  return compileRouteConfig(oneVhost([route]));
}

test('prefix_rewrite replaces the matched prefix and keeps the query', () => {
  const pr = (match: object, rewrite: string, path: string) => {
    const rc = one({ match, route: { cluster: 'c', prefix_rewrite: rewrite } });
    const m = rc.route(req(path), 0);
    assert.ok(m, `no match for ${path}`);
    return rewritePath(m, path);
  };
  assert.equal(pr({ prefix: '/prefix/' }, '/', '/prefix/etc'), '/etc');
  assert.equal(pr({ prefix: '/prefix' }, '/', '/prefix/etc'), '//etc', 'Envoy documents this double slash');
  assert.equal(pr({ prefix: '/api' }, '/v2', '/api/users?x=1'), '/v2/users?x=1');
  assert.equal(pr({ prefix: '/API', case_sensitive: false }, '/v2', '/api/x'), '/v2/x');
  assert.equal(pr({ path: '/old' }, '/new', '/old?q'), '/new?q');
  assert.equal(pr({ path_separated_prefix: '/sep' }, '/other', '/sep/a'), '/other/a');
  assert.equal(pr({ safe_regex: { regex: '/re/[0-9]+' } }, '/new', '/re/1?x'), '/new?x', 'regex routes replace the whole path');
  assert.equal(pr({ prefix: '' }, '/root', '/a'), '/root/a');
  const none = one({ match: { prefix: '/' }, route: { cluster: 'c' } });
  assert.equal(rewritePath(none.route(req('/x'), 0)!, '/x'), null);
});

test('regex_rewrite rewrites the path without the query (RE2 substitution)', () => {
  const rr = (pattern: string, substitution: string, path: string) => {
    const rc = one({ match: { prefix: '/' }, route: { cluster: 'c', regex_rewrite: { pattern: { regex: pattern }, substitution } } });
    return rewritePath(rc.route(req(path), 0)!, path);
  };
  assert.equal(rr('^/service/([^/]+)(/.*)$', '\\2/instance/\\1', '/service/foo/v1/api?x=1'), '/v1/api/instance/foo?x=1');
  assert.equal(rr('one', 'two', '/xxx/one/yyy/one/zzz'), '/xxx/two/yyy/two/zzz');
  assert.equal(rr('^(.*?)/$', '\\1', '/dir/'), '/dir');
  assert.equal(rr('q', 'Q', '/p?q=q'), '/p?q=q', 'the query is untouched');
});

test('host rewrites: literal, header, path regex', () => {
  const host = (action: object, headers: Record<string, string> = {}, path = '/x') => {
    const rc = one({ match: { prefix: '/' }, route: { cluster: 'c', ...action } });
    return rewriteHost(rc.route(req(path, { headers }), 0)!, headers, path);
  };
  assert.equal(host({ host_rewrite_literal: 'upstream.local' }), 'upstream.local');
  assert.equal(host({ host_rewrite_header: 'X-Host' }, { 'x-host': 'from.header' }), 'from.header');
  assert.equal(host({ host_rewrite_header: 'X-Host' }), null, 'missing header: keep the host');
  assert.equal(host({ host_rewrite_path_regex: { pattern: { regex: '^/prefix/([^/]+)/.*$' }, substitution: '\\1.example.com' } }, {}, '/prefix/svc/x?q'),
    'svc.example.com');
  assert.equal(host({}), null);
  const rc = one({ match: { prefix: '/' }, route: { cluster: 'c', auto_host_rewrite: true } });
  assert.equal(rc.route(req('/'), 0)!.route.autoHostRewrite, true);
});

test('redirect Location strings', () => {
  const loc = (redirect: object, path: string, authority: string, opts: { scheme?: string; xfp?: string; match?: object } = {}) => {
    const rc = one({ match: opts.match ?? { prefix: '/' }, redirect });
    const r = req(path, { authority, scheme: opts.scheme, headers: opts.xfp ? { 'x-forwarded-proto': opts.xfp } : {} });
    const m = rc.route(r, 0)!;
    return redirectLocation(m, r);
  };
  assert.equal(loc({ https_redirect: true }, '/p?q=1', 'a.com'), 'https://a.com/p?q=1');
  assert.equal(loc({ https_redirect: true }, '/p', 'a.com:80'), 'https://a.com/p', 'default http port dropped');
  assert.equal(loc({ https_redirect: true }, '/p', 'a.com:8080'), 'https://a.com:8080/p');
  assert.equal(loc({ https_redirect: true }, '/p', '[::1]:80'), 'https://[::1]/p');
  assert.equal(loc({ scheme_redirect: 'http' }, '/p', 'a.com:443', { scheme: 'https' }), 'http://a.com/p');
  assert.equal(loc({ scheme_redirect: 'https' }, '/p', 'a.com:443', { scheme: 'https' }), 'https://a.com:443/p', 'same scheme keeps the port');
  assert.equal(loc({ host_redirect: 'b.com' }, '/p?x', 'a.com:9000'), 'http://b.com/p?x');
  assert.equal(loc({ port_redirect: 8443 }, '/p', 'a.com:80'), 'http://a.com:8443/p');
  assert.equal(loc({ port_redirect: 8443, host_redirect: 'b.com' }, '/p', 'a.com'), 'http://b.com:8443/p');
  assert.equal(loc({ path_redirect: '/new' }, '/old?x=1', 'a.com'), 'http://a.com/new?x=1', 'request query kept');
  assert.equal(loc({ path_redirect: '/new', strip_query: true }, '/old?x=1', 'a.com'), 'http://a.com/new');
  assert.equal(loc({ path_redirect: '/new?y=2', strip_query: true }, '/old?x=1', 'a.com'), 'http://a.com/new?y=2', 'path_redirect query wins');
  assert.equal(loc({ path_redirect: 'rel' }, '/old', 'a.com'), 'http://a.com/rel');
  assert.equal(loc({ strip_query: true, host_redirect: 'b.com' }, '/p?x=1', 'a.com'), 'http://b.com/p');
  assert.equal(loc({ prefix_rewrite: '/new' }, '/old/x?q', 'a.com', { match: { prefix: '/old' } }), 'http://a.com/new/x?q');
  assert.equal(loc({ prefix_rewrite: '/' }, '/old/x', 'a.com', { match: { prefix: '/old/' } }), 'http://a.com/x');
  assert.equal(loc({ regex_rewrite: { pattern: { regex: '^/old/(.*)$' }, substitution: '/new/\\1' } }, '/old/a/b?q', 'a.com', { match: { prefix: '/old' } }),
    'http://a.com/new/a/b?q', 'regex rewrite replaces the full path even for prefix routes');
  assert.equal(loc({ https_redirect: true }, '/p', 'a.com:443', { scheme: 'http', xfp: 'https' }), 'https://a.com:443/p',
    'x-forwarded-proto https with the same new scheme keeps :443');
  assert.equal(loc({ https_redirect: true }, '/p', 'a.com:80', { xfp: 'https' }), 'https://a.com:80/p');
  const codes = { MOVED_PERMANENTLY: 301, FOUND: 302, SEE_OTHER: 303, TEMPORARY_REDIRECT: 307, PERMANENT_REDIRECT: 308 };
  for (const [name, code] of Object.entries(codes)) {
    assert.equal(one({ match: { prefix: '/' }, redirect: { response_code: name } }).route(req('/'), 0)!.route.redirect!.responseCode, code);
  }
});

test('Location for require_tls and 201/3xx direct responses', () => {
  const rc = compileRouteConfig({ name: 'rc', virtual_hosts: [
    { name: 'tls', domains: ['secure.com', 'secure.com:80'], require_tls: 'ALL', routes: [{ match: { prefix: '/' }, route: { cluster: 'c' } }] },
    { name: 'dr', domains: ['*'], routes: [{ match: { prefix: '/' }, direct_response: { status: 302 } }] },
  ] });
  const r1 = req('/a?b', { authority: 'secure.com:80' });
  assert.equal(redirectLocation(rc.route(r1, 0)!, r1), 'https://secure.com:80/a?b', 'Envoy keeps the authority as is');
  const r2 = req('/x?y', { authority: 'h.com:80', scheme: 'http' });
  const m = rc.route(r2, 0)!;
  assert.equal(m.route.directResponse!.status, 302);
  assert.equal(m.route.directResponse!.body, null);
  assert.equal(redirectLocation(m, r2), 'http://h.com:80/x?y');
  assert.equal(addsLocation(201), true);
  assert.equal(addsLocation(302), true);
  assert.equal(addsLocation(200), false);
});
