import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/errors';
import { applyHeaderMutations, compileRouteConfig, rewriteHost } from '../../src/router/index';
import { oneVhost, req } from './helpers';

function wrc(clusters: object[], extra: object = {}) {
  return compileRouteConfig(oneVhost([{ match: { prefix: '/' }, route: { weighted_clusters: { clusters, ...extra } } }]));
}

test('weighted picking: (random % total) over cumulative weights, in order', () => {
  const rc = wrc([{ name: 'a', weight: 10 }, { name: 'b', weight: 30 }, { name: 'c', weight: 60 }]);
  const pick = (r: number) => rc.route(req('/'), r)!.clusterName;
  assert.equal(pick(0), 'a');
  assert.equal(pick(9), 'a');
  assert.equal(pick(10), 'b');
  assert.equal(pick(39), 'b');
  assert.equal(pick(40), 'c');
  assert.equal(pick(99), 'c');
  assert.equal(pick(100), 'a');
  assert.equal(pick(4294967295), 'c', '4294967295 % 100 = 95');
  const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
  for (let r = 0; r < 100000; r++) counts[pick(r)]++;
  assert.deepEqual(counts, { a: 10000, b: 30000, c: 60000 });
  // results are precomputed per weighted cluster
  assert.equal(rc.route(req('/'), 1), rc.route(req('/'), 2));
  assert.equal(rc.route(req('/'), 1)!.route.kind, 'weighted_clusters');
  assert.equal(rc.route(req('/'), 1)!.weightedCluster!.name, 'a');
});

test('zero-weight clusters are never picked; a zero total is an error', () => {
  const rc = wrc([{ name: 'a', weight: 0 }, { name: 'b', weight: 1 }, { name: 'c', weight: 0 }]);
  for (let r = 0; r < 50; r++) assert.equal(rc.route(req('/'), r)!.clusterName, 'b');
  assert.throws(() => wrc([{ name: 'a', weight: 0 }]), (e: unknown) =>
    e instanceof ConfigError && e.path === 'virtual_hosts[0].routes[0].route.weighted_clusters' &&
    /Sum of weights in the weighted_cluster must be greater than 0/.test(e.message));
  assert.throws(() => wrc([]), /weighted_clusters\.clusters: value must contain at least 1 item/);
  assert.throws(() => wrc([{ name: 'a', weight: 1 }], { total_weight: 100 }), /total_weight/);
  assert.doesNotThrow(() => wrc([{ name: 'a', weight: 60 }, { name: 'b', weight: 40 }], { total_weight: 100 }));
  assert.throws(() => wrc([{ weight: 1 }]), /clusters\[0\]: At least one of name or cluster_header/);
  assert.throws(() => wrc([{ name: 'a', cluster_header: 'x', weight: 1 }]), /clusters\[0\]: Only one of name or cluster_header/);
  assert.throws(() => wrc([{ name: 'a', weight: 4294967295 }, { name: 'b', weight: 1 }]), /exceeds 4294967295/);
});

test('header_name supplies the random value when it is a single valid uint64', () => {
  const rc = wrc([{ name: 'a', weight: 50 }, { name: 'b', weight: 50 }], { header_name: 'X-Pick' });
  const pick = (h: Record<string, string | string[]>, r: number) => rc.route(req('/', { headers: h }), r)!.clusterName;
  assert.equal(pick({ 'x-pick': '10' }, 99), 'a');
  assert.equal(pick({ 'x-pick': '60' }, 0), 'b');
  assert.equal(pick({ 'x-pick': '18446744073709551615' }, 0), 'a', '2^64-1 % 100 = 15');
  assert.equal(pick({ 'x-pick': 'abc' }, 99), 'b', 'invalid -> stream random');
  assert.equal(pick({ 'x-pick': ['10', '11'] }, 99), 'b', 'multi-valued -> stream random');
  assert.equal(pick({ 'x-pick': '-5' }, 99), 'b');
});

test('weighted cluster_header, host_rewrite_literal, header mutations and metadata', () => {
  const rc = compileRouteConfig({
    name: 'rc',
    request_headers_to_add: [{ header: { key: 'x-level', value: 'config' } }],
    virtual_hosts: [{
      name: 'vh', domains: ['*'],
      request_headers_to_add: [{ header: { key: 'x-level', value: 'vhost' } }],
      routes: [{
        match: { prefix: '/' },
        request_headers_to_add: [{ header: { key: 'x-level', value: 'route' } }],
        route: { weighted_clusters: { clusters: [
          { name: 'a', weight: 1, host_rewrite_literal: 'a.internal',
            request_headers_to_add: [{ header: { key: 'x-level', value: 'wc' } }, { header: { key: 'x-wc', value: 'a' } }],
            response_headers_to_add: [{ header: { key: 'x-resp', value: 'a' } }],
            metadata_match: { filter_metadata: { 'envoy.lb': { version: 'v1' } } } },
          { cluster_header: 'X-Dyn', weight: 1 },
        ] } },
      }],
    }],
  });
  const a = rc.route(req('/'), 0)!;
  assert.equal(a.clusterName, 'a');
  assert.equal(a.clusterHostRewriteLiteral, 'a.internal');
  assert.equal(rewriteHost(a, {}, '/'), 'a.internal');
  assert.deepEqual(a.weightedCluster!.metadataMatch, { version: 'v1' });
  const h: Record<string, string | string[]> = {};
  applyHeaderMutations(a.requestHeaderMutations, h, { requestHeaders: h });
  assert.deepEqual(h, { 'x-level': ['wc', 'route', 'vhost', 'config'], 'x-wc': 'a' }, 'weighted cluster level first');
  const rh: Record<string, string | string[]> = {};
  applyHeaderMutations(a.responseHeaderMutations, rh, {});
  assert.deepEqual(rh, { 'x-resp': 'a' });
  const b = rc.route(req('/', { headers: { 'x-dyn': 'dynamic-cluster' } }), 1)!;
  assert.equal(b.clusterName, 'dynamic-cluster');
  assert.equal(b.weightedCluster!.clusterHeader, 'x-dyn');
  assert.equal(rc.route(req('/'), 1)!.clusterName, '');
});
