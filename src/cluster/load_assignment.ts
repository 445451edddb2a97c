// ClusterLoadAssignment parsing (static load_assignment and EDS): endpoints with priority,
// locality (+ locality weight), endpoint weight, health status, hostname and metadata.
import * as net from 'node:net';
import { ConfigError, joinPath } from '../config/errors';
import type { Plain } from '../config/plain';
import type { Locality } from './types';
import { DEFAULT_OVERPROVISIONING_FACTOR } from './host_set';
import { EMPTY_LOCALITY, HostImpl, edsHealthFlags, localityKey } from './host';

export interface EndpointSpec {
  /** IP literal ('ip' mode), DNS name ('dns' mode), or the pipe path. */
  address: string;
  port: number;
  pipePath: string;
  /** endpoint.hostname ('' when unset). */
  hostname: string;
  weight: number;
  priority: number;
  locality: Locality;
  metadata: Plain;
  healthFlags: number;
  /** Field path of the lb_endpoint (for messages). */
  path: string;
}

export interface ParsedAssignment {
  endpoints: EndpointSpec[];
  /** Per priority: locality key -> locality load_balancing_weight. */
  localityWeights: Map<string, number>[];
  /** Highest priority index present + 1 (0 when there are no locality groups). */
  priorityCount: number;
  overprovisioningFactor: number;
  weightedPriorityHealth: boolean;
}

/**
 * Parse a plain ClusterLoadAssignment. mode 'ip': addresses must be IP literals or pipes
 * (STATIC, EDS); mode 'dns': addresses are names to resolve (STRICT_DNS, LOGICAL_DNS).
 */
export function parseLoadAssignment(cla: Plain, path: string, mode: 'ip' | 'dns'): ParsedAssignment {
  const policy = cla?.policy;
  const policyPath = joinPath(path, 'policy');
  let overprovisioningFactor = DEFAULT_OVERPROVISIONING_FACTOR;
  let weightedPriorityHealth = false;
  if (policy) {
    if (Array.isArray(policy.drop_overloads) && policy.drop_overloads.length > 0) {
      throw new ConfigError(joinPath(policyPath, 'drop_overloads'), 'drop overloads are not supported');
    }
    if (policy.endpoint_stale_after !== undefined && policy.endpoint_stale_after > 0) {
      throw new ConfigError(joinPath(policyPath, 'endpoint_stale_after'), 'not supported');
    }
    if (policy.overprovisioning_factor !== undefined) {
      if (!(policy.overprovisioning_factor > 0)) throw new ConfigError(joinPath(policyPath, 'overprovisioning_factor'), 'must be greater than 0');
      overprovisioningFactor = policy.overprovisioning_factor;
    }
    weightedPriorityHealth = policy.weighted_priority_health === true;
  }

  const endpoints: EndpointSpec[] = [];
  const localityWeights: Map<string, number>[] = [];
  let priorityCount = 0;
  const groups: Plain[] = cla?.endpoints ?? [];
  groups.forEach((g, gi) => {
    const gp = `${joinPath(path, 'endpoints')}[${gi}]`;
    if (g.load_balancer_endpoints || g.leds_cluster_locality_config) {
      throw new ConfigError(joinPath(gp, g.load_balancer_endpoints ? 'load_balancer_endpoints' : 'leds_cluster_locality_config'), 'LEDS is not supported');
    }
    const priority: number = g.priority ?? 0;
    if (!Number.isInteger(priority) || priority < 0) throw new ConfigError(joinPath(gp, 'priority'), 'must be a non-negative integer');
    const locality: Locality = g.locality
      ? { region: g.locality.region ?? '', zone: g.locality.zone ?? '', sub_zone: g.locality.sub_zone ?? '' }
      : EMPTY_LOCALITY;
    const lw = g.load_balancing_weight;
    if (lw !== undefined && !(Number.isInteger(lw) && lw >= 1)) throw new ConfigError(joinPath(gp, 'load_balancing_weight'), 'must be at least 1');
    while (localityWeights.length <= priority) localityWeights.push(new Map());
    if (lw !== undefined) localityWeights[priority].set(localityKey(locality), lw);
    priorityCount = Math.max(priorityCount, priority + 1);
    const lbEndpoints: Plain[] = g.lb_endpoints ?? [];
    lbEndpoints.forEach((e, ei) => {
      const ep = `${joinPath(gp, 'lb_endpoints')}[${ei}]`;
      let endpoint: Plain = e.endpoint;
      let endpointPath = joinPath(ep, 'endpoint');
      if (endpoint === undefined && e.endpoint_name !== undefined) {
        endpoint = cla.named_endpoints?.[e.endpoint_name];
        endpointPath = `${joinPath(path, 'named_endpoints')}[${e.endpoint_name}]`;
        if (endpoint === undefined) throw new ConfigError(joinPath(ep, 'endpoint_name'), `unknown named endpoint "${e.endpoint_name}"`);
      }
      if (endpoint === undefined) throw new ConfigError(ep, 'endpoint is required');
      const w = e.load_balancing_weight;
      if (w !== undefined && !(Number.isInteger(w) && w >= 1)) throw new ConfigError(joinPath(ep, 'load_balancing_weight'), 'must be at least 1');
      if (Array.isArray(endpoint.additional_addresses) && endpoint.additional_addresses.length > 0) {
        throw new ConfigError(joinPath(endpointPath, 'additional_addresses'), 'additional endpoint addresses are not supported');
      }
      const addr = parseAddress(endpoint.address, joinPath(endpointPath, 'address'), mode);
      endpoints.push({
        address: addr.address, port: addr.port, pipePath: addr.pipePath,
        hostname: endpoint.hostname ?? '',
        weight: w ?? 1,
        priority,
        locality,
        metadata: e.metadata?.filter_metadata ?? {},
        healthFlags: edsHealthFlags(e.health_status),
        path: ep,
      });
    });
  });
  return { endpoints, localityWeights, priorityCount, overprovisioningFactor, weightedPriorityHealth };
}

export function parseAddress(a: Plain, path: string, mode: 'ip' | 'dns'): { address: string; port: number; pipePath: string } {
  if (!a) throw new ConfigError(path, 'address is required');
  if (a.pipe) {
    if (mode === 'dns') throw new ConfigError(joinPath(path, 'pipe'), 'DNS clusters need a socket_address');
    const p = a.pipe.path;
    if (typeof p !== 'string' || p === '') throw new ConfigError(joinPath(path, 'pipe.path'), 'must not be empty');
    return { address: p, port: 0, pipePath: p };
  }
  if (a.envoy_internal_address) throw new ConfigError(joinPath(path, 'envoy_internal_address'), 'internal addresses are not supported');
  const sa = a.socket_address;
  if (!sa) throw new ConfigError(path, 'socket_address is required');
  const sp = joinPath(path, 'socket_address');
  if (sa.protocol && sa.protocol !== 'TCP') throw new ConfigError(joinPath(sp, 'protocol'), `unsupported protocol ${sa.protocol}`);
  if (sa.resolver_name) throw new ConfigError(joinPath(sp, 'resolver_name'), `unknown address resolver "${sa.resolver_name}"`);
  if (sa.named_port !== undefined) throw new ConfigError(joinPath(sp, 'named_port'), 'named ports are not supported');
  const port = sa.port_value;
  if (port === undefined) throw new ConfigError(joinPath(sp, 'port_value'), 'port_value is required');
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new ConfigError(joinPath(sp, 'port_value'), `invalid port ${port}`);
  const address: string = sa.address ?? '';
  if (address === '') throw new ConfigError(joinPath(sp, 'address'), 'must not be empty');
  if (mode === 'ip') {
    if (net.isIP(address) === 0) {
      throw new ConfigError(joinPath(sp, 'address'),
        `malformed IP address: ${address}. Consider setting resolver_name or setting cluster type to 'STRICT_DNS' or 'LOGICAL_DNS'`);
    }
    if (port === 0) throw new ConfigError(joinPath(sp, 'port_value'), 'port 0 is not a valid upstream port');
  }
  return { address, port, pipePath: '' };
}

/** A host for an endpoint spec at a resolved (or literal) address. */
export function hostFromSpec(s: EndpointSpec, address = s.address, hostname = s.hostname): HostImpl {
  return new HostImpl({
    address, port: s.port, pipePath: s.pipePath, hostname, weight: s.weight, priority: s.priority,
    locality: s.locality, metadata: s.metadata, healthFlags: s.healthFlags,
  });
}
