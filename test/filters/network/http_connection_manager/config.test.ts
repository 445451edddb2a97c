import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { lookup } from '../../../../src/common/registry';
import { ConfigError } from '../../../../src/config/errors';
import { compileRouteConfig } from '../../../../src/router';
import type { Plain } from '../../../../src/config/plain';
import { compileHcmConfig, HCM_TYPE, HCM_NAME } from '../../../../src/filters/network/http_connection_manager/config';
import type { RouteConfigProvider } from '../../../../src/filters/network/http_connection_manager/route_provider';
import { Harness, hcmConfig, filter, request } from './harness';
import { seen } from './test_filters';

const ctx = { path: 'hcm' };

function err(cfg: Plain, extraCtx: Record<string, unknown> = {}): ConfigError {
  try {
    compileHcmConfig(cfg, { ...ctx, ...extraCtx });
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e;
  }
  assert.fail('expected a ConfigError');
}

test('registered as a terminal network filter under its type URL and canonical name', () => {
  const f = lookup('network_filter', 'type.googleapis.com/' + HCM_TYPE);
  assert.ok(f);
  assert.equal(lookup('network_filter', HCM_NAME), f);
  const product = f.create({ '@type': HCM_TYPE, ...hcmConfig([filter('test.remora.Echo')]) }, ctx) as { terminal: boolean; name: string };
  assert.equal(product.terminal, true);
  assert.equal(product.name, HCM_NAME);
});

test('defaults', () => {
  const c = compileHcmConfig(hcmConfig([filter('test.remora.Echo')]), ctx);
  assert.equal(c.serverName, 'envoy');
  assert.equal(c.generateRequestId, true);
  assert.equal(c.maxRequestHeadersKb, 60);
  assert.equal(c.maxHeadersCount, 100);
  assert.equal(c.streamIdleTimeoutMs, 300000);
  assert.equal(c.requestTimeoutMs, 0);
  assert.equal(c.drainTimeoutMs, 5000);
  assert.equal(c.idleTimeoutMs, 3600000);
  assert.equal(c.h2.maxConcurrentStreams, 100);
  assert.equal(c.useRemoteAddress, false);
});

test('http_filters: unknown non-optional rejected naming the entry and type URL; optional skipped', () => {
  const e = err(hcmConfig([filter('x.Unknown'), filter('test.remora.Echo')]));
  assert.equal(e.path, 'http_filters[0]');
  assert.match(e.message, /type\.googleapis\.com\/x\.Unknown/);
  const c = compileHcmConfig(hcmConfig([{ ...filter('x.Unknown'), is_optional: true }, filter('test.remora.Echo')]), ctx);
  assert.equal(c.filters.length, 1);
  const e2 = err(hcmConfig([filter('test.remora.Pause')]));
  assert.equal(e2.path, 'http_filters[0]');
  assert.match(e2.message, /last filter/);
  const e3 = err(hcmConfig([filter('test.remora.Echo', {}, 'a'), filter('test.remora.Echo', {}, 'b')]));
  assert.equal(e3.path, 'http_filters[0]');
  const e4 = err(hcmConfig([]));
  assert.equal(e4.path, 'http_filters');
  const e5 = err(hcmConfig([{ name: 'ecds', config_discovery: { config_source: { ads: {} } } }, filter('test.remora.Echo')]));
  assert.equal(e5.path, 'http_filters[0].config_discovery');
});

test('unsupported traffic-changing fields are rejected with their path', () => {
  const base = hcmConfig([filter('test.remora.Echo')]);
  const cases: Array<[Plain, string]> = [
    [{ ...base, stat_prefix: '' }, 'stat_prefix'],
    [{ ...base, codec_type: 'HTTP3' }, 'codec_type'],
    [{ ...base, http2_protocol_options: { allow_connect: true } }, 'http2_protocol_options.allow_connect'],
    [{ ...base, upgrade_configs: [{ upgrade_type: 'CONNECT' }] }, 'upgrade_configs[0].upgrade_type'],
    [{ ...base, original_ip_detection_extensions: [{ name: 'x' }] }, 'original_ip_detection_extensions'],
    [{ ...base, proxy_100_continue: true }, 'proxy_100_continue'],
    [{ ...base, http_protocol_options: { allow_chunked_length: true } }, 'http_protocol_options.allow_chunked_length'],
    [{ ...base, request_id_extension: { typed_config: { '@type': 'type.googleapis.com/x.Other' } } }, 'request_id_extension.typed_config'],
    [{ ...base, max_request_headers_kb: 9000 }, 'max_request_headers_kb'],
  ];
  for (const [cfg, path] of cases) assert.equal(err(cfg).path, path, path);
  const { route_config: _rc, ...noRoute } = base;
  assert.equal(err({ ...noRoute, scoped_routes: { name: 's' } }).path, 'scoped_routes');
  assert.equal(err(noRoute).path, 'route_specifier');
  const bad = hcmConfig([filter('test.remora.Echo')]);
  bad.route_config.virtual_hosts[0].routes[0].match = { safe_regex: { regex: '(' } };
  assert.match(err(bad).path, /^route_config\.virtual_hosts\[0\]\.routes\[0\]\.match/);
});

test('harmless fields are accepted (Istio sidecar HCM shape)', () => {
  const c = compileHcmConfig({
    ...hcmConfig([filter('test.remora.Echo')]),
    stream_idle_timeout: 0, normalize_path: true, path_with_escaped_slashes_action: 'KEEP_UNCHANGED', use_remote_address: false,
    upgrade_configs: [{ upgrade_type: 'websocket' }],
    request_id_extension: { typed_config: { '@type': 'type.googleapis.com/envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig', use_request_id_for_trace_sampling: true } },
    tracing: { client_sampling: { value: 100 }, random_sampling: { value: 1 }, overall_sampling: { value: 100 } },
    forward_client_cert_details: 'APPEND_FORWARD', set_current_client_cert_details: { subject: true, dns: true, uri: true },
    server_name: 'istio-envoy', http2_protocol_options: { max_concurrent_streams: 100 }, delayed_close_timeout: 1000,
    http3_protocol_options: {},
  }, ctx);
  assert.equal(c.streamIdleTimeoutMs, 0);
  assert.equal(c.serverName, 'istio-envoy');
  assert.equal(c.upgrades.get('websocket')?.enabled, true);
});

test('rds: rejected without a provider; with one, route tables swap atomically for new streams', async () => {
  const { route_config: rcPlain, ...noRoute } = hcmConfig([filter('test.remora.Echo')]);
  const rds = { ...noRoute, rds: { route_config_name: 'r', config_source: { ads: {} } } };
  assert.equal(err(rds).path, 'rds');
  const mk = (routeName: string) => compileRouteConfig({ ...rcPlain, virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ name: routeName, match: { prefix: '/' }, route: { cluster: 'c' } }] }] });
  let current = mk('old');
  const provider: RouteConfigProvider = { current: () => current };
  const h = await Harness.start({ ...noRoute, rds: rds.rds, http_filters: [filter('test.remora.Pause', { delay_ms: 150 }), filter('test.remora.Echo', { clear_route_cache: true })] },
    { ctx: { rdsProviderFactory: () => provider } });
  try {
    const inflight = request(h.port, { path: '/a' });
    await new Promise((r) => setTimeout(r, 40));
    current = mk('new');
    const fresh = await request(h.port, { path: '/b' });
    assert.equal(JSON.parse(fresh.body.toString()).route, 'new');
    assert.equal(JSON.parse((await inflight).body.toString()).route, 'old');
  } finally { await h.close(); }
});

test('typed_per_filter_config compiled through the registry; HttpFilter.disabled enabled per route', async () => {
  const cfg = hcmConfig([filter('test.remora.Headers', {}, 'hdr'), filter('test.remora.Echo')]);
  cfg.http_filters[0].disabled = true;
  cfg.route_config.virtual_hosts[0].routes.unshift({
    name: 'enabled', match: { prefix: '/on' }, route: { cluster: 'c' },
    typed_per_filter_config: {
      hdr: { '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig', disabled: false },
      'test.remora.Echo': { '@type': 'type.googleapis.com/test.remora.EchoPerRoute', value: 42 },
    },
  });
  const h = await Harness.start(cfg);
  try {
    const on = JSON.parse((await request(h.port, { path: '/on' })).body.toString());
    assert.equal(on.headers['x-req-filter'], 'added');
    assert.deepEqual(on.perFilter, { compiled: true, value: 42 });
    const off = JSON.parse((await request(h.port, { path: '/off' })).body.toString());
    assert.equal(off.headers['x-req-filter'], undefined);
    assert.equal(off.perFilter, null);
    assert.equal(seen.decodeHeaders >= 2, true);
  } finally { await h.close(); }
});

test('route features the router does not implement yet are rejected with the field path, not ignored', () => {
  const base = 'route_config.virtual_hosts[0].routes[0].route';
  const m = err(hcmConfig([filter('test.remora.Echo')], {}, { request_mirror_policies: [{ cluster: 'c' }] }));
  assert.equal(m.path, `${base}.request_mirror_policies`);
  assert.match(m.message, /mirroring is not supported/);
  const h = err(hcmConfig([filter('test.remora.Echo')], {}, { hedge_policy: { initial_requests: 2 } }));
  assert.equal(h.path, `${base}.hedge_policy`);
  const r = err(hcmConfig([filter('test.remora.Echo')], {}, { internal_redirect_policy: {} }));
  assert.equal(r.path, `${base}.internal_redirect_policy`);
  const cfg = hcmConfig([filter('test.remora.Echo')]);
  cfg.route_config.virtual_hosts[0].hedge_policy = { initial_requests: 2 };
  assert.equal(err(cfg).path, 'route_config.virtual_hosts[0].hedge_policy');
});
