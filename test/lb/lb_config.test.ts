import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { parse } from '../../src/config/json';
import { ConfigError } from '../../src/config/errors';
import { parseLbConfig } from '../../src/lb/lb_config';

const cluster = (extra: object) => parse('envoy.config.cluster.v3.Cluster', { name: 'c', connect_timeout: '1s', ...extra });

function throwsAt(fn: () => unknown, path: string, re?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.path, path);
    if (re) assert.match(e.message, re);
    return true;
  });
}

test('lb config: defaults (ROUND_ROBIN, panic 50%)', () => {
  const c = parseLbConfig(cluster({}));
  assert.equal(c.policy, 'ROUND_ROBIN');
  assert.deepEqual(c.common, { panicThreshold: 50, localityWeighted: false, failTrafficOnPanic: false });
});

test('lb config: LEAST_REQUEST options', () => {
  const c = parseLbConfig(cluster({ lb_policy: 'LEAST_REQUEST', least_request_lb_config: { choice_count: 3, active_request_bias: { default_value: 0.5, runtime_key: 'k' } } }));
  assert.equal(c.policy, 'LEAST_REQUEST');
  assert.equal(c.leastRequest.choiceCount, 3);
  assert.equal(c.leastRequest.activeRequestBias, 0.5);
});

test('lb config: common_lb_config panic threshold, locality weighted, zone aware fail_traffic_on_panic', () => {
  assert.equal(parseLbConfig(cluster({ common_lb_config: { healthy_panic_threshold: { value: 25.4 } } })).common.panicThreshold, 25);
  assert.equal(parseLbConfig(cluster({ common_lb_config: { locality_weighted_lb_config: {} } })).common.localityWeighted, true);
  assert.equal(parseLbConfig(cluster({ common_lb_config: { zone_aware_lb_config: { fail_traffic_on_panic: true } } })).common.failTrafficOnPanic, true);
});

test('lb config: unsupported policies are errors naming lb_policy', () => {
  for (const p of ['MAGLEV', 'RING_HASH', 'CLUSTER_PROVIDED']) {
    throwsAt(() => parseLbConfig(cluster({ lb_policy: p })), 'lb_policy', new RegExp(`lb_policy: unsupported load balancing policy ${p}`));
  }
  throwsAt(() => parseLbConfig(cluster({ lb_policy: 'MAGLEV' }), 'static_resources.clusters[3]'), 'static_resources.clusters[3].lb_policy');
});

test('lb config: slow start and subsets are rejected with their paths', () => {
  throwsAt(() => parseLbConfig(cluster({ round_robin_lb_config: { slow_start_config: { slow_start_window: '10s' } } })), 'round_robin_lb_config.slow_start_config');
  throwsAt(() => parseLbConfig(cluster({ lb_policy: 'LEAST_REQUEST', least_request_lb_config: { slow_start_config: {} } })), 'least_request_lb_config.slow_start_config');
  throwsAt(() => parseLbConfig(cluster({ lb_subset_config: { subset_selectors: [{ keys: ['version'] }] } })), 'lb_subset_config');
  throwsAt(() => parseLbConfig(cluster({ common_lb_config: { close_connections_on_host_set_change: true } })), 'common_lb_config.close_connections_on_host_set_change');
});

test('lb config: load_balancing_policy picks the first supported policy', () => {
  const c = parseLbConfig(cluster({
    load_balancing_policy: { policies: [
      { typed_extension_config: { name: 'x', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.load_balancing_policies.maglev.v3.Maglev' } } },
      { typed_extension_config: { name: 'lr', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest', choice_count: 4, locality_lb_config: { locality_weighted_lb_config: {} } } } },
    ] },
  }));
  assert.equal(c.policy, 'LEAST_REQUEST');
  assert.equal(c.leastRequest.choiceCount, 4);
  assert.equal(c.common.localityWeighted, true);
  throwsAt(() => parseLbConfig(cluster({
    load_balancing_policy: { policies: [{ typed_extension_config: { name: 'x', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.load_balancing_policies.maglev.v3.Maglev' } } }] },
  })), 'load_balancing_policy.policies', /Maglev/);
});

test('lb config: invalid numbers in hand-built plain configs', () => {
  throwsAt(() => parseLbConfig({ name: 'c', lb_policy: 'LEAST_REQUEST', least_request_lb_config: { choice_count: 1 } }), 'least_request_lb_config.choice_count');
  throwsAt(() => parseLbConfig({ name: 'c', lb_policy: 'LEAST_REQUEST', least_request_lb_config: { active_request_bias: { default_value: -1 } } }), 'least_request_lb_config.active_request_bias');
  throwsAt(() => parseLbConfig({ name: 'c', common_lb_config: { healthy_panic_threshold: { value: 101 } } }), 'common_lb_config.healthy_panic_threshold');
});
