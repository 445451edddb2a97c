// Per-worker upstream connection pools, cached on the Host (host.pools) by
// protocol. A pool belongs to one ClusterInfo: when the cluster is updated
// (new ClusterInfo object) the old pool drains and a new one is created.
import type { Cluster, ClusterInfo, ClusterManager, Host } from '../../../../cluster/types';
import type { PoolAccounting } from './accounting';
import { H1Pool } from './h1_pool';
import { H2Pool } from './h2_pool';

const live = new Set<PoolAccounting>();

export function h1PoolFor(host: Host, info: ClusterInfo): H1Pool {
  let p = host.pools.get('h1') as H1Pool | undefined;
  if (p !== undefined && p.info === info && !p.closed) return p;
  if (p !== undefined) { p.close(); live.delete(p); }
  p = new H1Pool(host, info);
  host.pools.set('h1', p);
  live.add(p);
  return p;
}

export function h2PoolFor(host: Host, info: ClusterInfo): H2Pool {
  let p = host.pools.get('h2') as H2Pool | undefined;
  if (p !== undefined && p.info === info && !p.closed) return p;
  if (p !== undefined) { p.close(); live.delete(p); }
  p = new H2Pool(host, info);
  host.pools.set('h2', p);
  live.add(p);
  return p;
}

/**
 * Close a host's pools (host removed from its cluster, or cluster removed).
 * graceful: in-flight requests finish and idle connections close; otherwise
 * everything is destroyed now (in-flight requests see a connection termination).
 */
export function destroyHostPools(host: Host, graceful = true): void {
  for (const key of ['h1', 'h2']) {
    const p = host.pools.get(key) as PoolAccounting | undefined;
    if (p === undefined) continue;
    host.pools.delete(key);
    live.delete(p);
    if (graceful) p.close(); else p.destroy();
  }
}

/** Close every pool this worker opened (server shutdown, test teardown). */
export function closeAllPools(graceful = false): void {
  for (const p of live) {
    if (graceful) p.close(); else p.destroy();
    for (const key of ['h1', 'h2']) if (p.host.pools.get(key) === p) p.host.pools.delete(key);
  }
  live.clear();
}

/** Number of live pools (tests). */
export function livePoolCount(): number { return live.size; }

/** Gracefully close the pools of cluster `name` that do not belong to `keep` (null: all of them). */
function closeClusterPools(name: string, keep: ClusterInfo | null): void {
  for (const p of [...live]) {
    if (p.info.name !== name || p.info === keep) continue;
    live.delete(p);
    for (const key of ['h1', 'h2']) if (p.host.pools.get(key) === p) p.host.pools.delete(key);
    p.close();
  }
}

type MemberWatchable = Cluster & {
  addMemberUpdateCallback?(cb: (added: readonly Host[], removed: readonly Host[]) => void): () => void;
};
const watchedClusters = new WeakSet<Cluster>();
function watchMembers(c: Cluster): void {
  const w = c as MemberWatchable;
  if (watchedClusters.has(c) || typeof w.addMemberUpdateCallback !== 'function') return;
  watchedClusters.add(c);
  w.addMemberUpdateCallback((_added, removed) => {
    for (const h of removed) destroyHostPools(h, true);
  });
}

const watchedManagers = new WeakSet<ClusterManager>();
/**
 * Keep this worker's pools in step with the cluster manager: a replaced cluster's old pools
 * drain, a removed cluster's pools drain, and hosts leaving a cluster drain their pools.
 * Idempotent; the router filter factory calls it with its cluster manager.
 */
export function watchClusterManager(cm: ClusterManager): void {
  if (watchedManagers.has(cm) || typeof cm.addUpdateCallbacks !== 'function') return;
  watchedManagers.add(cm);
  cm.addUpdateCallbacks({
    onClusterAddOrUpdate(c: Cluster) { closeClusterPools(c.info.name, c.info); watchMembers(c); },
    onClusterRemoval(name: string) { closeClusterPools(name, null); },
  });
  for (const c of cm.all()) watchMembers(c);
}
