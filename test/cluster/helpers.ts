import { parse } from '../../src/config/json';
import { Store } from '../../src/stats/stats';
import type { Logger } from '../../src/server/context';
import { ClusterManagerImpl, type ClusterManagerContext } from '../../src/cluster/cluster_manager';
import { ConfigError } from '../../src/config/errors';
import * as assert from 'node:assert/strict';
import { seededRandom } from '../../src/lb/random_source';

export const lines: string[] = [];
export const quietLog: Logger = {
  trace: () => {}, debug: () => {}, info: () => {},
  warn: (m) => { lines.push(m); }, error: (m) => { lines.push(m); }, critical: (m) => { lines.push(m); },
};

/** A Cluster in plain form, decoded and validated like a bootstrap/CDS cluster. */
export function cluster(json: object): ReturnType<typeof parse> {
  return parse('envoy.config.cluster.v3.Cluster', json);
}

export function cla(json: object): ReturnType<typeof parse> {
  return parse('envoy.config.endpoint.v3.ClusterLoadAssignment', json);
}

export function manager(extra?: Partial<ClusterManagerContext>): { cm: ClusterManagerImpl; store: Store } {
  const store = new Store();
  const cm = new ClusterManagerImpl({ stats: store, log: quietLog, random: seededRandom(1), ...extra });
  return { cm, store };
}

export function sa(address: string, port: number): object {
  return { address: { socket_address: { address, port_value: port } } };
}

export function staticCluster(name: string, endpoints: [string, number][], extra?: object): object {
  return {
    name, type: 'STATIC', connect_timeout: '1s',
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: endpoints.map(([a, p]) => ({ endpoint: sa(a, p) })) }] },
    ...extra,
  };
}

export function throwsAt(fn: () => unknown, path: string, re?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.path, path, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
}
