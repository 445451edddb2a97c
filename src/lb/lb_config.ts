// Load-balancing config of a cluster: lb_policy (+ round_robin/least_request_lb_config,
// common_lb_config) or the load_balancing_policy extension list. Anything that would change
// host selection and that remora lacks is a ConfigError naming the field.
import { ConfigError, joinPath } from '../config/errors';
import type { Plain } from '../config/plain';
import type { PrioritySetView } from '../cluster/types';
import { DEFAULT_COMMON_LB, type CommonLbSettings, type LbDeps, type LoadBalancer } from './lb_base';
import { DEFAULT_LEAST_REQUEST, LeastRequestLoadBalancer, type LeastRequestSettings } from './least_request';
import { RandomLoadBalancer } from './random_lb';
import { RoundRobinLoadBalancer } from './round_robin';

export type LbPolicyName = 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM';

export interface LbPolicyConfig {
  policy: LbPolicyName;
  common: CommonLbSettings;
  leastRequest: LeastRequestSettings;
}

const POLICY_TYPES: Record<string, LbPolicyName> = {
  'envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin': 'ROUND_ROBIN',
  'envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest': 'LEAST_REQUEST',
  'envoy.extensions.load_balancing_policies.random.v3.Random': 'RANDOM',
};

function typeName(url: string | undefined): string {
  if (!url) return '';
  const slash = url.lastIndexOf('/');
  return slash >= 0 ? url.slice(slash + 1) : url;
}

/** Parse and validate the LB config of a plain Cluster; `path` is the cluster's path. */
export function parseLbConfig(cluster: Plain, path = ''): LbPolicyConfig {
  const common = parseCommonLbConfig(cluster.common_lb_config, joinPath(path, 'common_lb_config'));
  const subset = cluster.lb_subset_config;
  if (subset && Array.isArray(subset.subset_selectors) && subset.subset_selectors.length > 0) {
    throw new ConfigError(joinPath(path, 'lb_subset_config'), 'subset load balancing is not supported');
  }

  const lbp = cluster.load_balancing_policy;
  if (lbp && Array.isArray(lbp.policies) && lbp.policies.length > 0) {
    const seen: string[] = [];
    for (let i = 0; i < lbp.policies.length; i++) {
      const tec = lbp.policies[i]?.typed_extension_config;
      const cfg = tec?.typed_config;
      const name = typeName(cfg?.['@type']);
      const policy = POLICY_TYPES[name];
      if (!policy) { seen.push(name || tec?.name || '?'); continue; }
      const p = `${joinPath(path, 'load_balancing_policy')}.policies[${i}].typed_extension_config.typed_config`;
      rejectSlowStart(cfg.slow_start_config, joinPath(p, 'slow_start_config'));
      const c = cfg.locality_lb_config
        ? { ...common, ...parseLocalityConfig(cfg.locality_lb_config, joinPath(p, 'locality_lb_config')) }
        : common;
      const lr = policy === 'LEAST_REQUEST' ? parseLeastRequest(cfg, p) : DEFAULT_LEAST_REQUEST;
      return { policy, common: c, leastRequest: lr };
    }
    throw new ConfigError(joinPath(path, 'load_balancing_policy.policies'),
      `no supported load balancing policy (got ${seen.join(', ')}; supported: ${Object.keys(POLICY_TYPES).join(', ')})`);
  }

  const lbPolicy: string = cluster.lb_policy ?? 'ROUND_ROBIN';
  switch (lbPolicy) {
    case 'ROUND_ROBIN':
      rejectSlowStart(cluster.round_robin_lb_config?.slow_start_config, joinPath(path, 'round_robin_lb_config.slow_start_config'));
      return { policy: 'ROUND_ROBIN', common, leastRequest: DEFAULT_LEAST_REQUEST };
    case 'LEAST_REQUEST': {
      const cfg = cluster.least_request_lb_config;
      const p = joinPath(path, 'least_request_lb_config');
      rejectSlowStart(cfg?.slow_start_config, joinPath(p, 'slow_start_config'));
      return { policy: 'LEAST_REQUEST', common, leastRequest: cfg ? parseLeastRequest(cfg, p) : DEFAULT_LEAST_REQUEST };
    }
    case 'RANDOM':
      return { policy: 'RANDOM', common, leastRequest: DEFAULT_LEAST_REQUEST };
    case 'LOAD_BALANCING_POLICY_CONFIG':
      throw new ConfigError(joinPath(path, 'lb_policy'), 'LOAD_BALANCING_POLICY_CONFIG requires load_balancing_policy');
    default:
      throw new ConfigError(joinPath(path, 'lb_policy'), `unsupported load balancing policy ${lbPolicy}`);
  }
}

function rejectSlowStart(ss: Plain | undefined, path: string): void {
  if (ss) throw new ConfigError(path, 'slow start is not supported');
}

function parseLeastRequest(cfg: Plain, path: string): LeastRequestSettings {
  const choiceCount = cfg.choice_count ?? 2;
  if (!Number.isInteger(choiceCount) || choiceCount < 2) throw new ConfigError(joinPath(path, 'choice_count'), 'must be at least 2');
  const bias = cfg.active_request_bias?.default_value ?? 1;
  if (!(bias >= 0) || !Number.isFinite(bias)) throw new ConfigError(joinPath(path, 'active_request_bias'), `invalid active_request_bias ${bias}: must be a finite number >= 0`);
  const method = cfg.selection_method ?? 'N_CHOICES';
  if (method !== 'N_CHOICES' && method !== 'FULL_SCAN') throw new ConfigError(joinPath(path, 'selection_method'), `unsupported selection method ${method}`);
  return { choiceCount, activeRequestBias: bias, fullScan: method === 'FULL_SCAN', enableFullScan: cfg.enable_full_scan === true };
}

function parseLocalityConfig(cfg: Plain, path: string): Partial<CommonLbSettings> {
  if (cfg.locality_weighted_lb_config) return { localityWeighted: true, failTrafficOnPanic: false };
  if (cfg.zone_aware_lb_config) return { localityWeighted: false, failTrafficOnPanic: zoneAware(cfg.zone_aware_lb_config, joinPath(path, 'zone_aware_lb_config')) };
  return {};
}

/**
 * Zone-aware routing needs the local cluster's membership (cluster_manager.local_cluster_name),
 * which remora does not track; Envoy does no zone-aware routing without it either, so only
 * fail_traffic_on_panic has an effect.
 */
function zoneAware(cfg: Plain, path: string): boolean {
  const re = cfg.routing_enabled?.value;
  if (re !== undefined && !(re >= 0 && re <= 100)) throw new ConfigError(joinPath(path, 'routing_enabled'), 'must be between 0 and 100');
  return cfg.fail_traffic_on_panic === true;
}

export function parseCommonLbConfig(cfg: Plain | undefined, path: string): CommonLbSettings {
  if (!cfg) return DEFAULT_COMMON_LB;
  let panicThreshold = DEFAULT_COMMON_LB.panicThreshold;
  const hpt = cfg.healthy_panic_threshold;
  if (hpt) {
    const v = hpt.value ?? 0;
    if (!(v >= 0 && v <= 100)) throw new ConfigError(joinPath(path, 'healthy_panic_threshold'), 'must be between 0 and 100');
    panicThreshold = Math.round(v);
  }
  if (cfg.close_connections_on_host_set_change === true) {
    throw new ConfigError(joinPath(path, 'close_connections_on_host_set_change'), 'not supported');
  }
  const loc = parseLocalityConfig(cfg, path);
  return { ...DEFAULT_COMMON_LB, panicThreshold, ...loc };
}

/** Build the load balancer for a priority set. */
export function createLoadBalancer(cfg: LbPolicyConfig, prioritySet: PrioritySetView, deps: LbDeps): LoadBalancer {
  switch (cfg.policy) {
    case 'LEAST_REQUEST': return new LeastRequestLoadBalancer(prioritySet, cfg.common, cfg.leastRequest, deps);
    case 'RANDOM': return new RandomLoadBalancer(prioritySet, cfg.common, deps);
    default: return new RoundRobinLoadBalancer(prioritySet, cfg.common, deps);
  }
}
