import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileRouteConfig, computePathEnd, type CompiledRouteConfig, type RouteRequest } from '../../src/router/index';
import { cluster, oneVhost, req } from './helpers';

function routeName(rc: CompiledRouteConfig, r: RouteRequest, random = 0): string | null {
  const m = rc.route(r, random);
  return m === null ? null : m.clusterName || m.route.kind;
}

test('prefix, path, safe_regex, path_separated_prefix; query and fragment are ignored', () => {
  const rc = compileRouteConfig(oneVhost([
    cluster({ path: '/exact' }, 'path'),
    cluster({ safe_regex: { regex: '/re/[0-9]+' } }, 'regex'),
    cluster({ path_separated_prefix: '/sep' }, 'sep'),
    cluster({ prefix: '/pre' }, 'prefix'),
    cluster({ prefix: '' }, 'empty-prefix'),
  ]));
  assert.equal(routeName(rc, req('/exact')), 'path');
  assert.equal(routeName(rc, req('/exact?x=1')), 'path');
  assert.equal(routeName(rc, req('/exact#frag')), 'path');
  assert.equal(routeName(rc, req('/exact/')), 'empty-prefix');
  assert.equal(routeName(rc, req('/Exact')), 'empty-prefix');
  assert.equal(routeName(rc, req('/re/123')), 'regex');
  assert.equal(routeName(rc, req('/re/123?q=abc')), 'regex', 'regex sees the path without query');
  assert.equal(routeName(rc, req('/re/12a')), 'empty-prefix');
  assert.equal(routeName(rc, req('/sep')), 'sep');
  assert.equal(routeName(rc, req('/sep/')), 'sep');
  assert.equal(routeName(rc, req('/sep/x')), 'sep');
  assert.equal(routeName(rc, req('/sep?x')), 'sep');
  assert.equal(routeName(rc, req('/separate')), 'empty-prefix', '/sep does not match /separate');
  assert.equal(routeName(rc, req('/prefix/x')), 'prefix');
  assert.equal(routeName(rc, req('/p?/pre')), 'empty-prefix', 'the query is never part of a prefix match');
});

test('case_sensitive: false for prefix, path and path_separated_prefix; regex unaffected', () => {
  const rc = compileRouteConfig(oneVhost([
    cluster({ path: '/Exact', case_sensitive: false }, 'path'),
    cluster({ prefix: '/API', case_sensitive: false }, 'prefix'),
    cluster({ path_separated_prefix: '/Sep', case_sensitive: false }, 'sep'),
    cluster({ safe_regex: { regex: '/re' }, case_sensitive: false }, 'regex'),
    cluster({ prefix: '/' }, 'fallback'),
  ]));
  assert.equal(routeName(rc, req('/eXACT')), 'path');
  assert.equal(routeName(rc, req('/api/v1')), 'prefix');
  assert.equal(routeName(rc, req('/sEP/x')), 'sep');
  assert.equal(routeName(rc, req('/SEPx')), 'fallback');
  assert.equal(routeName(rc, req('/re')), 'regex');
  assert.equal(routeName(rc, req('/RE')), 'fallback');
});

test('ignore_path_parameters_in_path_matching strips ;params before matching', () => {
  const routes = [cluster({ path: '/a/b' }, 'ab'), cluster({ prefix: '/' }, 'other')];
  const plain = compileRouteConfig(oneVhost(routes));
  const ign = compileRouteConfig(oneVhost(routes, {}, { ignore_path_parameters_in_path_matching: true }));
  assert.equal(routeName(plain, req('/a/b;jsessionid=1')), 'other');
  assert.equal(routeName(ign, req('/a/b;jsessionid=1')), 'ab');
  assert.equal(routeName(ign, req('/a/b?x=;y')), 'ab');
  assert.equal(computePathEnd('/a;b?c', true), 2);
  assert.equal(computePathEnd('/a;b?c', false), 4);
});

test('connect_matcher matches CONNECT (and connect-udp upgrades); pathless requests only match CONNECT routes', () => {
  const rc = compileRouteConfig(oneVhost([
    cluster({ prefix: '/' }, 'http'),
    cluster({ connect_matcher: {} }, 'connect'),
  ]));
  assert.equal(routeName(rc, req('', { method: 'CONNECT', authority: 'x:443' })), 'connect');
  assert.equal(routeName(rc, req('/', { method: 'CONNECT' })), 'http', 'first match wins');
  assert.equal(routeName(rc, req('/x', { method: 'GET', headers: { upgrade: 'CONNECT-UDP' } })), 'http');
  const only = compileRouteConfig(oneVhost([cluster({ connect_matcher: {} }, 'connect')]));
  assert.equal(routeName(only, req('/x', { headers: { upgrade: 'connect-udp' } })), 'connect');
  assert.equal(routeName(only, req('/x')), null);
  const none = compileRouteConfig(oneVhost([cluster({ prefix: '' }, 'all')]));
  assert.equal(routeName(none, req('', { method: 'CONNECT' })), null);
});

test('grpc matcher: content-type application/grpc or application/grpc+*', () => {
  const rc = compileRouteConfig(oneVhost([cluster({ prefix: '/', grpc: {} }, 'grpc'), cluster({ prefix: '/' }, 'http')]));
  assert.equal(routeName(rc, req('/svc/M', { headers: { 'content-type': 'application/grpc' } })), 'grpc');
  assert.equal(routeName(rc, req('/svc/M', { headers: { 'content-type': 'application/grpc+proto' } })), 'grpc');
  assert.equal(routeName(rc, req('/svc/M', { headers: { 'content-type': 'application/grpc-web' } })), 'http');
  assert.equal(routeName(rc, req('/svc/M', { headers: { 'content-type': 'application/json' } })), 'http');
  assert.equal(routeName(rc, req('/svc/M')), 'http');
});

test('headers and query_parameters conditions', () => {
  const rc = compileRouteConfig(oneVhost([
    cluster({ prefix: '/', headers: [{ name: 'x-canary', string_match: { exact: 'true' } }, { name: ':method', string_match: { exact: 'POST' } }] }, 'canary-post'),
    cluster({ prefix: '/', query_parameters: [{ name: 'debug', present_match: true }, { name: 'v', string_match: { exact: '2' } }] }, 'debug-v2'),
    cluster({ prefix: '/', headers: [{ name: 'x-user', string_match: { prefix: 'admin' }, invert_match: true }] }, 'not-admin'),
    cluster({ prefix: '/' }, 'rest'),
  ]));
  assert.equal(routeName(rc, req('/', { method: 'POST', headers: { 'x-canary': 'true' } })), 'canary-post');
  assert.equal(routeName(rc, req('/', { method: 'GET', headers: { 'x-canary': 'true', 'x-user': 'bob' } })), 'not-admin');
  assert.equal(routeName(rc, req('/?v=2&debug', { headers: { 'x-user': 'admin1' } })), 'debug-v2');
  assert.equal(routeName(rc, req('/?v=3&debug', { headers: { 'x-user': 'admin1' } })), 'rest');
  assert.equal(routeName(rc, req('/', { headers: { 'x-user': 'admin1' } })), 'rest');
  assert.equal(routeName(rc, req('/')), 'rest', 'inverted prefix match does not match a missing header');
});

test('runtime_fraction uses default_value with the supplied random value', () => {
  const rc = compileRouteConfig(oneVhost([
    cluster({ prefix: '/', runtime_fraction: { default_value: { numerator: 30, denominator: 'HUNDRED' }, runtime_key: 'k' } }, 'thirty'),
    cluster({ prefix: '/' }, 'rest'),
  ]));
  assert.equal(routeName(rc, req('/'), 29), 'thirty');
  assert.equal(routeName(rc, req('/'), 30), 'rest');
  assert.equal(routeName(rc, req('/'), 129), 'thirty');
  let n = 0;
  for (let r = 0; r < 10000; r++) if (routeName(rc, req('/'), r) === 'thirty') n++;
  assert.equal(n, 3000);
});

test('tls_context and dynamic_metadata conditions', () => {
  const rc = compileRouteConfig(oneVhost([
    cluster({ prefix: '/', tls_context: { presented: true, validated: true } }, 'mtls'),
    cluster({ prefix: '/', tls_context: { presented: false } }, 'no-cert'),
    cluster({ prefix: '/', dynamic_metadata: [{ filter: 'f', path: [{ key: 'k' }], value: { string_match: { exact: 'v' } } }] }, 'md'),
    cluster({ prefix: '/' }, 'rest'),
  ]));
  assert.equal(routeName(rc, req('/', { tls: { presented: true, validated: true } })), 'mtls');
  assert.equal(routeName(rc, req('/', { tls: { presented: true, validated: false } })), 'rest');
  assert.equal(routeName(rc, req('/')), 'no-cert');
  const r = req('/', { tls: { presented: true, validated: false }, dynamicMetadata: { f: { k: 'v' } } });
  assert.equal(routeName(rc, r), 'md');
});

test('first match wins, and later identical routes are shadowed', () => {
  const rc = compileRouteConfig(oneVhost([
    cluster({ prefix: '/a' }, 'first'),
    cluster({ prefix: '/a/b' }, 'never'),
    cluster({ path: '/a/b' }, 'never2'),
  ]));
  assert.equal(routeName(rc, req('/a/b')), 'first');
});

test('route kinds: direct_response, redirect, non_forwarding, cluster_header', () => {
  const rc = compileRouteConfig(oneVhost([
    { match: { path: '/dr' }, direct_response: { status: 418, body: { inline_string: 'teapot' } } },
    { match: { path: '/redir' }, redirect: { path_redirect: '/new' } },
    { match: { path: '/nf' }, non_forwarding_action: {} },
    { match: { prefix: '/ch' }, route: { cluster_header: 'X-Cluster' } },
  ]));
  const dr = rc.route(req('/dr'), 0)!;
  assert.equal(dr.route.kind, 'direct_response');
  assert.equal(dr.isDirectResponse, true);
  assert.deepEqual(dr.route.directResponse, { status: 418, body: Buffer.from('teapot') });
  assert.equal(rc.route(req('/redir'), 0)!.route.kind, 'redirect');
  assert.equal(rc.route(req('/redir'), 0)!.route.redirect!.responseCode, 301);
  assert.equal(rc.route(req('/nf'), 0)!.route.kind, 'non_forwarding');
  const ch = rc.route(req('/ch', { headers: { 'x-cluster': ['c1', 'c2'] } }), 0)!;
  assert.equal(ch.route.kind, 'cluster_header');
  assert.equal(ch.clusterName, 'c1', 'first value only');
  assert.equal(rc.route(req('/ch'), 0)!.clusterName, '');
  // static results are shared (no per-request allocation)
  assert.equal(rc.route(req('/dr'), 1), rc.route(req('/dr'), 2));
});

test('require_tls: ALL redirects any non-https request; EXTERNAL_ONLY spares x-envoy-internal', () => {
  const rc = compileRouteConfig({
    name: 'rc',
    virtual_hosts: [
      { name: 'all', domains: ['all.com'], require_tls: 'ALL', routes: [cluster({ prefix: '/' }, 'a')] },
      { name: 'ext', domains: ['ext.com'], require_tls: 'EXTERNAL_ONLY', routes: [cluster({ prefix: '/' }, 'e')] },
    ],
  });
  const r1 = rc.route(req('/x?y', { authority: 'all.com' }), 0)!;
  assert.equal(r1.route.sslRedirect, true);
  assert.equal(r1.route.redirect!.responseCode, 301);
  assert.equal(rc.route(req('/', { authority: 'all.com', headers: { 'x-forwarded-proto': 'https' } }), 0)!.clusterName, 'a');
  assert.equal(rc.route(req('/', { authority: 'all.com', scheme: 'https' }), 0)!.clusterName, 'a');
  assert.equal(rc.route(req('/', { authority: 'all.com', scheme: 'https', headers: { 'x-forwarded-proto': 'http' } }), 0)!.route.sslRedirect, true,
    'x-forwarded-proto decides');
  assert.equal(rc.route(req('/', { authority: 'ext.com' }), 0)!.route.sslRedirect, true);
  assert.equal(rc.route(req('/', { authority: 'ext.com', headers: { 'x-envoy-internal': 'true' } }), 0)!.clusterName, 'e');
});

test('timeouts and action facts are precomputed', () => {
  const rc = compileRouteConfig(oneVhost([
    cluster({ path: '/d' }, 'd'),
    cluster({ path: '/t' }, 't', {
      timeout: 0, idle_timeout: 5000,
      max_stream_duration: { max_stream_duration: 60000, grpc_timeout_header_max: 0, grpc_timeout_header_offset: 10 },
      upgrade_configs: [{ upgrade_type: 'WebSocket' }, { upgrade_type: 'CONNECT', enabled: false, connect_config: { allow_post: true } }],
      hash_policy: [{ header: { header_name: 'X-User' } }, { cookie: { name: 'sid', ttl: 1000, path: '/' }, terminal: true },
        { connection_properties: { source_ip: true } }, { query_parameter: { name: 'q' } }, { filter_state: { key: 'k' } }],
      request_mirror_policies: [{ cluster: 'shadow', runtime_fraction: { default_value: { numerator: 10 } } }],
      priority: 'HIGH', auto_host_rewrite: true, append_x_forwarded_host: true,
    }),
  ]));
  const d = rc.route(req('/d'), 0)!.route;
  assert.equal(d.timeoutMs, 15000);
  assert.equal(d.idleTimeoutMs, undefined);
  assert.equal(d.retryPolicy, null);
  assert.equal(d.maxStreamDurationMs, undefined);
  const t = rc.route(req('/t'), 0)!.route;
  assert.equal(t.timeoutMs, 0);
  assert.equal(t.idleTimeoutMs, 5000);
  assert.equal(t.maxStreamDurationMs, 60000);
  assert.equal(t.grpcTimeoutHeaderMaxMs, 0);
  assert.equal(t.grpcTimeoutHeaderOffsetMs, 10);
  assert.deepEqual([...t.upgradeConfigs.values()], [{ upgradeType: 'websocket', enabled: true }, { upgradeType: 'connect', enabled: false }]);
  assert.deepEqual(t.connectConfig, { proxyProtocolConfig: undefined, allowPost: true });
  assert.deepEqual(t.hashPolicy.map((h) => h.kind), ['header', 'cookie', 'connection_properties', 'query_parameter', 'filter_state']);
  assert.equal(t.hashPolicy[0].headerName, 'x-user');
  assert.equal(t.hashPolicy[1].ttlMs, 1000);
  assert.equal(t.hashPolicy[1].terminal, true);
  assert.equal(t.requestMirrorPolicies[0].cluster, 'shadow');
  assert.deepEqual(t.requestMirrorPolicies[0].runtimeFraction, { numerator: 10, denominator: 100 });
  assert.equal(t.priority, 'HIGH');
  assert.equal(t.autoHostRewrite, true);
  assert.equal(t.appendXForwardedHost, true);
  assert.deepEqual([...rc.referencedClusters].sort(), ['d', 'shadow', 't']);
});

test('request_mirror_policies inherit: route > vhost > route config', () => {
  const rc = compileRouteConfig({
    name: 'rc',
    request_mirror_policies: [{ cluster: 'm-config' }],
    virtual_hosts: [
      { name: 'a', domains: ['a'], request_mirror_policies: [{ cluster_header: 'X-Mirror' }],
        routes: [cluster({ path: '/own' }, 'c', { request_mirror_policies: [{ cluster: 'm-route' }] }), cluster({ prefix: '/' }, 'c')] },
      { name: 'b', domains: ['b'], routes: [cluster({ prefix: '/' }, 'c')] },
    ],
  });
  assert.equal(rc.route(req('/own', { authority: 'a' }), 0)!.route.requestMirrorPolicies[0].cluster, 'm-route');
  assert.equal(rc.route(req('/x', { authority: 'a' }), 0)!.route.requestMirrorPolicies[0].clusterHeader, 'x-mirror');
  assert.equal(rc.route(req('/x', { authority: 'b' }), 0)!.route.requestMirrorPolicies[0].cluster, 'm-config');
  assert.deepEqual(rc.route(req('/x', { authority: 'b' }), 0)!.route.requestMirrorPolicies[0].runtimeFraction, { numerator: 100, denominator: 100 });
});

test('virtual clusters: first match by headers, "other" when none match', () => {
  const rc = compileRouteConfig(oneVhost([cluster({ prefix: '/' }, 'c')], {
    virtual_clusters: [
      { name: 'users', headers: [{ name: ':path', string_match: { prefix: '/users' } }, { name: ':method', string_match: { exact: 'GET' } }] },
    ],
    include_request_attempt_count: true,
    include_attempt_count_in_response: true,
  }));
  const vh = rc.findVirtualHost('x')!;
  assert.equal(vh.virtualClusterFor(req('/users/1').headers)?.name, 'users');
  assert.equal(vh.virtualClusterFor(req('/users/1', { method: 'POST' }).headers)?.name, 'other');
  assert.equal(vh.includeRequestAttemptCount, true);
  assert.equal(vh.includeAttemptCountInResponse, true);
  const none = compileRouteConfig(oneVhost([cluster({ prefix: '/' }, 'c')]));
  assert.equal(none.findVirtualHost('x')!.virtualClusterFor({}), null);
});

test('typed_per_filter_config: weighted cluster > route > vhost > route config; FilterConfig wrapper', () => {
  const any = (v: string) => ({ '@type': 'type.googleapis.com/test.Cfg', v });
  const rc = compileRouteConfig({
    name: 'rc',
    typed_per_filter_config: { f1: any('config'), f2: any('config'), f3: any('config') },
    virtual_hosts: [{
      name: 'vh', domains: ['*'], typed_per_filter_config: { f2: any('vhost') },
      routes: [
        { match: { path: '/r' }, route: { cluster: 'c' }, typed_per_filter_config: {
          f3: any('route'),
          f4: { '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig', disabled: true },
          f5: { '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig', config: { '@type': 'x/unknown.T', '@unknown': true }, is_optional: true },
        } },
        { match: { path: '/w' }, route: { weighted_clusters: { clusters: [{ name: 'w', weight: 1, typed_per_filter_config: { f1: any('wc') } }] } } },
      ],
    }],
  });
  const m = rc.route(req('/r'), 0)!;
  assert.deepEqual(m.perFilterConfig('f1'), any('config'));
  assert.deepEqual(m.perFilterConfig('f2'), any('vhost'));
  assert.deepEqual(m.perFilterConfig('f3'), any('route'));
  assert.equal(m.perFilterConfig('f4'), undefined);
  assert.equal(m.filterDisabled('f4'), true);
  assert.equal(m.filterDisabled('f3'), false);
  assert.equal(m.filterDisabled('nope'), undefined);
  assert.equal(m.perFilterConfig('f5'), undefined, 'optional unknown config is skipped');
  assert.deepEqual(m.perFilterConfigs('f3'), [any('config'), any('route')]);
  const w = rc.route(req('/w'), 0)!;
  assert.deepEqual(w.perFilterConfig('f1'), any('wc'));
  assert.deepEqual(w.perFilterConfigs('f1'), [any('config'), any('wc')]);
  assert.deepEqual(rc.perFilterConfig('f1'), any('config'));
  assert.deepEqual(rc.findVirtualHost('x')!.perFilterConfig('f2'), any('vhost'));
  // compile hook
  const seen: string[] = [];
  const rc2 = compileRouteConfig(oneVhost([{ match: { prefix: '/' }, route: { cluster: 'c' }, typed_per_filter_config: { f: any('x') } }]), {
    perFilterConfig: (name, cfg, path) => { seen.push(`${name}@${path}`); return { compiled: cfg.v }; },
  });
  assert.deepEqual(rc2.route(req('/'), 0)!.perFilterConfig('f'), { compiled: 'x' });
  assert.deepEqual(seen, ['f@virtual_hosts[0].routes[0].typed_per_filter_config[f]']);
});

// ---------------------------------------------------------------------------------------------
// The radix index must give exactly the linear-scan answer.

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s; };
}

test('indexed matching equals a linear scan (randomized, deterministic)', () => {
  const rnd = lcg(12345);
  const segs = ['api', 'v1', 'v2', 'users', 'Users', 'a', 'b', 'items', 'x'];
  const pick = () => segs[rnd() % segs.length];
  const mkPath = (n: number) => { let p = ''; for (let i = 0; i < n; i++) p += '/' + pick(); return p; };
  for (let round = 0; round < 20; round++) {
    const routes: object[] = [];
    const nRoutes = 16 + (rnd() % 80);
    for (let i = 0; i < nRoutes; i++) {
      const p = mkPath(1 + (rnd() % 3));
      const k = rnd() % 9;
      const cs = rnd() % 4 !== 0;
      const name = `r${i}`;
      let match: Record<string, unknown>;
      switch (k) {
        case 0: match = { path: p }; break;
        case 1: match = { path_separated_prefix: p }; break;
        case 2: match = { safe_regex: { regex: p + '(/[a-z0-9]+)*' } }; break;
        case 3: match = { safe_regex: { regex: '.*' + pick() } }; break;
        case 4: match = { prefix: p.slice(0, 1 + (rnd() % p.length)) }; break;
        case 5: match = { prefix: p, headers: [{ name: 'x-h', string_match: { exact: pick() } }] }; break;
        case 6: match = { prefix: p, query_parameters: [{ name: 'q', present_match: true }] }; break;
        case 7: match = { prefix: p, runtime_fraction: { default_value: { numerator: 50 } } }; break;
        default: match = { prefix: p + (rnd() % 2 ? '/' : '') }; break;
      }
      if (k !== 2 && k !== 3) match.case_sensitive = cs;
      routes.push({ name, match, route: { cluster: name } });
    }
    const rc = compileRouteConfig(oneVhost(routes));
    const vh = rc.findVirtualHost('x')!;
    for (let j = 0; j < 60; j++) {
      let path = mkPath(1 + (rnd() % 4));
      if (rnd() % 5 === 0) path += '?q=1';
      if (rnd() % 7 === 0) path = path.toUpperCase();
      const r = req(path, { headers: rnd() % 2 ? { 'x-h': pick() } : {} });
      const random = rnd() % 100;
      const got = rc.route(r, random)?.route.name ?? null;
      let want: string | null = null;
      const end = computePathEnd(path, false);
      for (const rt of vh.routes) if (rt.matches(r, end, random)) { want = rt.name; break; }
      assert.equal(got, want, `round ${round} path ${path}`);
    }
  }
});

test('large tables: 10000 routes resolve to the right entry', () => {
  const routes: object[] = [];
  for (let i = 0; i < 10000; i++) {
    if (i % 3 === 0) routes.push(cluster({ path: `/svc${i}/exact` }, `c${i}`));
    else if (i % 3 === 1) routes.push(cluster({ prefix: `/svc${i}/` }, `c${i}`));
    else routes.push(cluster({ safe_regex: { regex: `/svc${i}/[0-9]+` } }, `c${i}`));
  }
  routes.push(cluster({ prefix: '/' }, 'default'));
  const rc = compileRouteConfig(oneVhost(routes));
  assert.equal(rc.route(req('/svc0/exact'), 0)!.clusterName, 'c0');
  assert.equal(rc.route(req('/svc9999/exact'), 0)!.clusterName, 'c9999');
  assert.equal(rc.route(req('/svc9997/anything'), 0)!.clusterName, 'c9997');
  assert.equal(rc.route(req('/svc9998/123'), 0)!.clusterName, 'c9998');
  assert.equal(rc.route(req('/svc9998/abc'), 0)!.clusterName, 'default');
  assert.equal(rc.route(req('/svc1/x'), 0)!.clusterName, 'c1');
  assert.equal(rc.route(req('/nothing'), 0)!.clusterName, 'default');
});
