import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError } from '../../src/config/errors';
import { compileRouteConfig } from '../../src/router/index';
import { oneVhost, req } from './helpers';

function expectError(cfg: object, wantPath: string, re: RegExp, opts?: Parameters<typeof compileRouteConfig>[1]): void {
  assert.throws(() => compileRouteConfig(cfg, opts), (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.path, wantPath, e.message);
    assert.match(e.message, re);
    assert.ok(e.message.startsWith(wantPath + ': '), e.message);
    return true;
  });
}

const ok = { match: { prefix: '/' }, route: { cluster: 'c' } };

test('errors carry the field path (brief example)', () => {
  expectError(oneVhost([ok, ok, ok, { match: { safe_regex: { regex: '(' } }, route: { cluster: 'c' } }]),
    'virtual_hosts[0].routes[3].match.safe_regex.regex', /invalid regex "\(": /);
  expectError(oneVhost([{ match: { safe_regex: { regex: '(' } }, route: { cluster: 'c' } }]),
    'static_resources.listeners[0].route_config.virtual_hosts[0].routes[0].match.safe_regex.regex', /invalid regex/,
    { path: 'static_resources.listeners[0].route_config' });
});

test('structural errors', () => {
  expectError(oneVhost([{ route: { cluster: 'c' } }]), 'virtual_hosts[0].routes[0].match', /value is required/);
  expectError(oneVhost([{ match: {}, route: { cluster: 'c' } }]), 'virtual_hosts[0].routes[0].match', /one of prefix, path/);
  expectError(oneVhost([{ match: { prefix: '/' } }]), 'virtual_hosts[0].routes[0]', /one of route, redirect, direct_response/);
  expectError(oneVhost([{ match: { prefix: '/' }, route: {} }]), 'virtual_hosts[0].routes[0].route', /one of cluster, cluster_header, weighted_clusters/);
  expectError(oneVhost([{ match: { prefix: '/' }, route: { cluster: '' } }]), 'virtual_hosts[0].routes[0].route.cluster', /at least 1 characters/);
  expectError(oneVhost([{ match: { path_separated_prefix: '/a/' }, route: { cluster: 'c' } }]),
    'virtual_hosts[0].routes[0].match.path_separated_prefix', /does not match regex pattern/);
  expectError(oneVhost([{ match: { path_separated_prefix: '/a?b' }, route: { cluster: 'c' } }]),
    'virtual_hosts[0].routes[0].match.path_separated_prefix', /does not match/);
  expectError(oneVhost([{ match: { prefix: '/' }, route: { cluster: 'c', prefix_rewrite: '/x', regex_rewrite: { pattern: { regex: 'a' }, substitution: 'b' } } }]),
    'virtual_hosts[0].routes[0].route', /Specify only one of prefix_rewrite, regex_rewrite or path_rewrite_policy/);
  expectError(oneVhost([{ match: { prefix: '/' }, route: { cluster: 'c', upgrade_configs: [{ upgrade_type: 'websocket' }, { upgrade_type: 'WebSocket' }] } }]),
    'virtual_hosts[0].routes[0].route.upgrade_configs[1]', /Duplicate upgrade WebSocket/);
  expectError(oneVhost([{ match: { prefix: '/' }, route: { cluster: 'c', upgrade_configs: [{ upgrade_type: 'websocket', connect_config: {} }] } }]),
    'virtual_hosts[0].routes[0].route.upgrade_configs[0]', /Non-CONNECT upgrade type websocket has ConnectConfig/);
  expectError(oneVhost([{ match: { prefix: '/' }, route: { cluster: 'c', request_mirror_policies: [{ cluster: 'a', cluster_header: 'b' }] } }]),
    'virtual_hosts[0].routes[0].route.request_mirror_policies[0]', /Only one of cluster 'a' or cluster_header 'b'/);
  expectError(oneVhost([{ match: { prefix: '/' }, route: { cluster: 'c', request_mirror_policies: [{}] } }]),
    'virtual_hosts[0].routes[0].route.request_mirror_policies[0]', /Exactly one of cluster or cluster_header/);
  expectError(oneVhost([{ match: { prefix: '/' }, route: { cluster: 'c', timeout: -1 } }]), 'virtual_hosts[0].routes[0].route.timeout', /non-negative/);
  expectError(oneVhost([{ match: { prefix: '/' }, route: { cluster_header: 'bad header' } }]), 'virtual_hosts[0].routes[0].route.cluster_header', /invalid header name/);
  expectError(oneVhost([{ match: { prefix: '/' }, route: { cluster: 'c', hash_policy: [{ terminal: true }] } }]),
    'virtual_hosts[0].routes[0].route.hash_policy[0]', /one of header, cookie/);
  expectError(oneVhost([ok], { virtual_clusters: [{ name: 'vc', headers: [] }] }), 'virtual_hosts[0].virtual_clusters[0].headers', /must define 'headers'/);
  expectError(oneVhost([ok], { require_tls: 'SOMETIMES' }), 'virtual_hosts[0].require_tls', /unknown enum value/);
  expectError({ name: 'rc', internal_only_headers: ['ok', 'bad header'], virtual_hosts: [] }, 'internal_only_headers[1]', /invalid header name/);
});

test('direct_response validation and bodies', () => {
  expectError(oneVhost([{ match: { prefix: '/' }, direct_response: { status: 100 } }]), 'virtual_hosts[0].routes[0].direct_response.status', /\[200, 600\)/);
  expectError(oneVhost([{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'x'.repeat(4097) } } }]),
    'virtual_hosts[0].routes[0].direct_response.body', /response body size is 4097 bytes; maximum is 4096/);
  assert.doesNotThrow(() => compileRouteConfig(oneVhost([{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'x'.repeat(5000) } } }],
    {}, { max_direct_response_body_size_bytes: 5000 })));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'remora-router-'));
  try {
    const f = path.join(dir, 'body.txt');
    fs.writeFileSync(f, 'from file');
    const rc = compileRouteConfig(oneVhost([
      { match: { path: '/f' }, direct_response: { status: 200, body: { filename: f } } },
      { match: { path: '/b' }, direct_response: { status: 200, body: { inline_bytes: Buffer.from([1, 2]) } } },
    ]));
    assert.equal(rc.route(req('/f'), 0)!.route.directResponse!.body!.toString(), 'from file');
    assert.deepEqual([...rc.route(req('/b'), 0)!.route.directResponse!.body!], [1, 2]);
    expectError(oneVhost([{ match: { prefix: '/' }, direct_response: { status: 200, body: { filename: path.join(dir, 'nope') } } }]),
      'virtual_hosts[0].routes[0].direct_response.body.filename', /cannot read response body file/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  process.env.REMORA_ROUTER_BODY = 'env body';
  const rc = compileRouteConfig(oneVhost([{ match: { prefix: '/' }, direct_response: { status: 200, body: { environment_variable: 'REMORA_ROUTER_BODY' } } }]));
  assert.equal(rc.route(req('/'), 0)!.route.directResponse!.body!.toString(), 'env body');
  expectError(oneVhost([{ match: { prefix: '/' }, direct_response: { status: 200, body: { environment_variable: 'REMORA_ROUTER_NOPE_' } } }]),
    'virtual_hosts[0].routes[0].direct_response.body.environment_variable', /doesn't exist/);
});

test('config remora cannot honour is rejected, not ignored', () => {
  expectError({ name: 'rc', vhds: { config_source: { ads: {} } }, virtual_hosts: [] }, 'vhds', /not supported/);
  expectError(oneVhost([], { matcher: { matcher_list: {} } }), 'virtual_hosts[0].matcher', /not supported/);
  expectError(oneVhost([{ match: { path_match_policy: { name: 'x' } }, route: { cluster: 'c' } }]), 'virtual_hosts[0].routes[0].match.path_match_policy', /not supported/);
  expectError(oneVhost([{ match: { prefix: '/' }, route: { cluster: 'c', path_rewrite_policy: { name: 'x' } } }]),
    'virtual_hosts[0].routes[0].route.path_rewrite_policy', /not supported/);
  expectError(oneVhost([{ match: { prefix: '/' }, filter_action: {} }]), 'virtual_hosts[0].routes[0].filter_action', /not supported/);
  expectError(oneVhost([{ match: { prefix: '/' }, route: { cluster: 'c', retry_policy_typed_config: { '@type': 'x' } } }]),
    'virtual_hosts[0].routes[0].route.retry_policy_typed_config', /not supported/);
  expectError(oneVhost([ok], { retry_policy_typed_config: { '@type': 'x' } }), 'virtual_hosts[0].retry_policy_typed_config', /not supported/);
  expectError(oneVhost([{ match: { prefix: '/' }, route: { inline_cluster_specifier_plugin: { extension: { name: 'p' } } } }]),
    'virtual_hosts[0].routes[0].route.inline_cluster_specifier_plugin', /not supported/);
  expectError({ name: 'rc', cluster_specifier_plugins: [{ extension: { name: 'p', typed_config: { '@type': 'type.googleapis.com/x.P' } } }], virtual_hosts: [] },
    'cluster_specifier_plugins[0].extension', /Didn't find a registered implementation for 'p'/);
  expectError(oneVhost([{ match: { prefix: '/' }, route: { cluster_specifier_plugin: 'missing' } }]),
    'virtual_hosts[0].routes[0].route.cluster_specifier_plugin', /Unknown cluster specifier plugin name: missing/);
  expectError(oneVhost([{ match: { prefix: '/', headers: [{ name: 'x', string_match: { custom: { name: 'c' } } }] }, route: { cluster: 'c' } }]),
    'virtual_hosts[0].routes[0].match.headers[0].string_match.custom', /not supported/);
  expectError(oneVhost([{ match: { prefix: '/' }, route: { cluster: 'c' }, typed_per_filter_config: { f: { '@type': 'x/y.Z', '@unknown': true } } }]),
    'virtual_hosts[0].routes[0].typed_per_filter_config[f]', /unknown type/);
});

test('optional cluster specifier plugins behave like Envoy\'s null plugin (the route never matches)', () => {
  const rc = compileRouteConfig({
    name: 'rc',
    cluster_specifier_plugins: [{ extension: { name: 'p', typed_config: { '@type': 'type.googleapis.com/x.P' } }, is_optional: true }],
    virtual_hosts: [{ name: 'v', domains: ['*'], routes: [
      { match: { prefix: '/' }, route: { cluster_specifier_plugin: 'p' } },
      { match: { prefix: '/' }, route: { inline_cluster_specifier_plugin: { extension: { name: 'q' }, is_optional: true } } },
      { match: { prefix: '/' }, route: { cluster: 'fallback' } },
    ] }],
  });
  assert.equal(rc.route(req('/x'), 0)!.clusterName, 'fallback');
});

test('validate_clusters with a cluster lookup', () => {
  const known = new Set(['a', 'w', 'm']);
  const hasCluster = (n: string) => known.has(n);
  const cfg = (c: string, extra: object = {}) => oneVhost([{ match: { prefix: '/' }, route: { cluster: c } }], {}, extra);
  expectError(cfg('nope', { validate_clusters: true }), 'virtual_hosts[0].routes[0].route.cluster', /route: unknown cluster 'nope'/, { hasCluster });
  expectError(cfg('nope'), 'virtual_hosts[0].routes[0].route.cluster', /unknown cluster/, { hasCluster, validateClustersDefault: true });
  assert.doesNotThrow(() => compileRouteConfig(cfg('nope'), { hasCluster }), 'RDS default: no validation');
  assert.doesNotThrow(() => compileRouteConfig(cfg('nope', { validate_clusters: false }), { hasCluster, validateClustersDefault: true }));
  expectError(oneVhost([{ match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'w', weight: 1 }, { name: 'x', weight: 1 }] } } }], {}, { validate_clusters: true }),
    'virtual_hosts[0].routes[0].route.weighted_clusters.clusters[1].name', /unknown cluster 'x'/, { hasCluster });
  expectError(oneVhost([{ match: { prefix: '/' }, route: { cluster: 'a', request_mirror_policies: [{ cluster: 'shadow' }] } }], {}, { validate_clusters: true }),
    'virtual_hosts[0].routes[0].route.request_mirror_policies[0].cluster', /unknown cluster 'shadow'/, { hasCluster });
});

test('malformed plain objects fail as ConfigError, never as TypeError', () => {
  const base = () => ({
    name: 'rc',
    request_headers_to_add: [{ header: { key: 'x', value: 'v' } }],
    virtual_hosts: [{
      name: 'vh', domains: ['a.com', '*'],
      retry_policy: { retry_on: '5xx', retry_back_off: { base_interval: 10 } },
      routes: [
        { match: { prefix: '/', headers: [{ name: 'h', string_match: { exact: 'v' } }], query_parameters: [{ name: 'q' }] },
          route: { cluster: 'c', timeout: 100, hash_policy: [{ header: { header_name: 'x' } }], upgrade_configs: [{ upgrade_type: 'websocket' }] },
          response_headers_to_add: [{ header: { key: 'y', value: '%REQ(x)%' } }] },
        { match: { safe_regex: { regex: 'a' } }, redirect: { host_redirect: 'b' } },
        { match: { path: '/w' }, route: { weighted_clusters: { clusters: [{ name: 'a', weight: 1 }] } } },
        { match: { path: '/d' }, direct_response: { status: 200, body: { inline_string: 'x' } } },
      ],
    }],
  });
  const junk: unknown[] = [null, 42, 'str', [], {}, true, -1];
  let cases = 0;
  // Replace every value in the tree, one at a time, with each junk value.
  const visit = (node: unknown, set: (v: unknown) => void, restore: () => void, root: object) => {
    for (const j of junk) {
      set(j);
      cases++;
      try {
        compileRouteConfig(root);
      } catch (e) {
        assert.ok(e instanceof ConfigError, `non-ConfigError ${String(e)} for ${JSON.stringify(j)}`);
      }
      restore();
    }
    if (node && typeof node === 'object') {
      const o = node as Record<string, unknown>;
      for (const k of Object.keys(o)) {
        const orig = o[k];
        visit(orig, (v) => { o[k] = v; }, () => { o[k] = orig; }, root);
      }
    }
  };
  const root = base();
  const o = root as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const orig = o[k];
    visit(orig, (v) => { o[k] = v; }, () => { o[k] = orig; }, root);
  }
  assert.ok(cases > 300, `${cases} cases`);
  assert.throws(() => compileRouteConfig(null), ConfigError);
  assert.throws(() => compileRouteConfig('x'), ConfigError);
});
