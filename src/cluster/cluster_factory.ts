// Validate a plain Cluster and build the cluster object for its discovery type.
// Config that would change traffic and that remora lacks is a ConfigError naming the field
// (relative to the cluster, prefixed with `path`).
import { ConfigError, joinPath } from '../config/errors';
import type { Plain } from '../config/plain';
import { lookup } from '../common/registry';
import type { Scope } from '../stats/stats';
import { parseLbConfig } from '../lb/lb_config';
import { ClusterInfoImpl, typeName } from './cluster_info';
import { EdsCluster, StaticCluster, type ClusterBase, type ClusterDeps } from './cluster_base';
import { LogicalDnsCluster, StrictDnsCluster, parseDnsSettings } from './dns_cluster';
import { parseLoadAssignment } from './load_assignment';
import type { DnsResolveFn } from './dns';

const RAW_BUFFER = 'envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer';
const RAW_BUFFER_NAMES = new Set(['envoy.transport_sockets.raw_buffer', 'raw_buffer']);
const DEFAULT_UPSTREAM_CONFIGS = new Set([
  'envoy.extensions.upstreams.http.generic.v3.GenericConnectionPoolProto',
  'envoy.extensions.upstreams.http.http.v3.HttpConnectionPoolProto',
  'envoy.extensions.upstreams.http.tcp.v3.TcpConnectionPoolProto',
  'envoy.extensions.upstreams.tcp.generic.v3.GenericConnectionPoolProto',
]);

function checkTransportSocket(ts: Plain, path: string): void {
  const t = typeName(ts.typed_config?.['@type']);
  if (t === RAW_BUFFER || (!t && RAW_BUFFER_NAMES.has(ts.name))) return;
  if (!lookup('transport_socket', t || ts.name || '')) {
    throw new ConfigError(path, `unsupported transport socket "${ts.typed_config?.['@type'] ?? ts.name}"`);
  }
}

/** Cluster fields remora cannot honour yet (everything else is read by the cluster or its pools). */
export function validateClusterFields(c: Plain, path: string): void {
  const p = (f: string) => joinPath(path, f);
  if (typeof c.name !== 'string' || c.name === '') throw new ConfigError(p('name'), 'cluster name must not be empty');
  if (c.cluster_type) {
    throw new ConfigError(p('cluster_type'), `unsupported custom cluster type "${c.cluster_type.typed_config?.['@type'] ?? c.cluster_type.name}"`);
  }
  if (Array.isArray(c.health_checks) && c.health_checks.length > 0) {
    throw new ConfigError(p('health_checks'), 'active health checking is not supported');
  }
  if (c.outlier_detection) throw new ConfigError(p('outlier_detection'), 'outlier detection is not supported');
  if (c.transport_socket) checkTransportSocket(c.transport_socket, p('transport_socket'));
  (c.transport_socket_matches ?? []).forEach((m: Plain, i: number) => {
    if (m.transport_socket) checkTransportSocket(m.transport_socket, `${p('transport_socket_matches')}[${i}].transport_socket`);
  });
  // remora runs no upstream network filters: only extensions registered as no-ops (Istio's
  // metadata exchange) are accepted.
  (c.filters ?? []).forEach((f: Plain, i: number) => {
    const t = typeName(f.typed_config?.['@type']);
    const factory = lookup('network_filter', t || f.name || '');
    if (!factory || !factory.noop) {
      throw new ConfigError(`${p('filters')}[${i}]`, `unsupported upstream network filter "${f.typed_config?.['@type'] ?? f.name}"`);
    }
  });
  if (c.upstream_config) {
    const t = typeName(c.upstream_config.typed_config?.['@type']);
    if (!DEFAULT_UPSTREAM_CONFIGS.has(t)) throw new ConfigError(p('upstream_config'), `unsupported upstream config "${c.upstream_config.typed_config?.['@type']}"`);
  }
}

export interface BuildOptions {
  path: string;
  addedViaApi: boolean;
  versionInfo: string;
  scopeFor: (observabilityName: string) => Scope;
  deps: ClusterDeps;
  /** Replaces node:dns for DNS clusters (tests inject failures). */
  dnsResolve?: DnsResolveFn;
}

/** Validate and build (not start) a cluster. */
export function buildCluster(c: Plain, o: BuildOptions): ClusterBase {
  const path = o.path;
  validateClusterFields(c, path);
  const lb = parseLbConfig(c, path);
  const type: string = c.type ?? 'STATIC';
  const supported = ['STATIC', 'STRICT_DNS', 'LOGICAL_DNS', 'EDS'];
  if (!supported.includes(type)) {
    throw new ConfigError(joinPath(path, 'type'), `unsupported cluster type ${type}`);
  }
  if (type === 'EDS' && !c.eds_cluster_config) {
    throw new ConfigError(joinPath(path, 'eds_cluster_config'), 'cannot create an EDS cluster without an EDS config');
  }
  // Everything that can fail is parsed before ClusterInfoImpl registers the cluster's stats.
  const info = () => new ClusterInfoImpl(c, path, o.scopeFor, { addedViaApi: o.addedViaApi, versionInfo: o.versionInfo, lbPolicy: lb.policy });
  const laPath = joinPath(path, 'load_assignment');
  switch (type) {
    case 'STRICT_DNS': {
      const dns = parseDnsSettings(c, path, o.dnsResolve);
      const pa = parseLoadAssignment(c.load_assignment, laPath, 'dns');
      return new StrictDnsCluster(info(), lb, o.deps, dns, pa);
    }
    case 'LOGICAL_DNS': {
      const dns = parseDnsSettings(c, path, o.dnsResolve);
      const groups: Plain[] = c.load_assignment?.endpoints ?? [];
      if (groups.length !== 1 || (groups[0].lb_endpoints ?? []).length !== 1) {
        throw new ConfigError(joinPath(laPath, 'endpoints'),
          'LOGICAL_DNS clusters must have a single locality_lb_endpoint and a single lb_endpoint');
      }
      const pa = parseLoadAssignment(c.load_assignment, laPath, 'dns');
      return new LogicalDnsCluster(info(), lb, o.deps, dns, pa);
    }
    case 'EDS':
      return new EdsCluster(info(), lb, o.deps);
    default: {
      const pa = c.load_assignment ? parseLoadAssignment(c.load_assignment, laPath, 'ip') : null;
      return new StaticCluster(info(), lb, o.deps, pa);
    }
  }
}
