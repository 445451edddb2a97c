// The cluster manager (Envoy ClusterManagerImpl, main-thread part): builds clusters from plain
// Cluster configs, replaces them atomically on update, removes them, and feeds EDS assignments.
import { ConfigError, joinPath } from '../config/errors';
import type { Plain } from '../config/plain';
import type { Logger } from '../server/context';
import type { Counter, Gauge, Store } from '../stats/stats';
import { defaultRandom, type RandomSource } from '../lb/random_source';
import { EdsCluster, type ClusterBase } from './cluster_base';
import { buildCluster } from './cluster_factory';
import type { ClusterInfoImpl } from './cluster_info';
import type { DnsResolveFn } from './dns';
import type { Cluster, ClusterManager, ClusterUpdateCallbacks } from './types';

export interface ClusterManagerContext {
  stats: Store;
  log: Logger;
  /** The local node's zone (node.locality.zone): its localities sort first. */
  localZone?: string;
  /** Random source for load balancers (tests inject a seeded one). */
  random?: RandomSource;
  /** Replaces node:dns for STRICT_DNS / LOGICAL_DNS clusters (tests). */
  dnsResolve?: DnsResolveFn;
}

interface Entry {
  cluster: ClusterBase;
  /** Serialized config + addedViaApi, to skip identical updates. */
  fingerprint: string;
}

export class ClusterManagerImpl implements ClusterManager {
  private readonly clusters = new Map<string, Entry>();
  private readonly callbacks: ClusterUpdateCallbacks[] = [];
  private readonly random: RandomSource;
  private readonly cmStats: { cluster_added: Counter; cluster_modified: Counter; cluster_removed: Counter; active_clusters: Gauge };

  constructor(private readonly ctx: ClusterManagerContext) {
    this.random = ctx.random ?? defaultRandom;
    const s = ctx.stats.scope('cluster_manager.');
    this.cmStats = {
      cluster_added: s.counter('cluster_added'),
      cluster_modified: s.counter('cluster_modified'),
      cluster_removed: s.counter('cluster_removed'),
      active_clusters: s.gauge('active_clusters'),
    };
  }

  get(name: string): Cluster | undefined {
    return this.clusters.get(name)?.cluster;
  }

  /** Clusters in the order they were first added. */
  *all(): IterableIterator<Cluster> {
    for (const e of this.clusters.values()) yield e.cluster;
  }

  addOrUpdate(config: Plain, opts?: { addedViaApi?: boolean; versionInfo?: string; path?: string }): Cluster {
    const path = opts?.path ?? '';
    const addedViaApi = opts?.addedViaApi ?? false;
    if (!config || typeof config !== 'object') throw new ConfigError(path, 'cluster config must be an object');
    const name = config.name;
    if (typeof name !== 'string' || name === '') throw new ConfigError(joinPath(path, 'name'), 'cluster name must not be empty');
    const existing = this.clusters.get(name);
    if (existing && addedViaApi && !existing.cluster.info.addedViaApi) {
      // Envoy: a static cluster cannot be modified through CDS; the update is skipped.
      this.ctx.log.warn(`cluster ${name}: static cluster cannot be updated via the API; update skipped`);
      return existing.cluster;
    }
    const fingerprint = fingerprintOf(config, addedViaApi);
    if (existing && existing.fingerprint === fingerprint) return existing.cluster;

    const cluster = buildCluster(config, {
      path,
      addedViaApi,
      versionInfo: opts?.versionInfo ?? '',
      scopeFor: (obs) => this.ctx.stats.scope(`cluster.${obs}.`),
      deps: { log: this.ctx.log, random: this.random, localZone: this.ctx.localZone ?? '' },
      dnsResolve: this.ctx.dnsResolve,
    });

    if (existing) {
      const old = existing.cluster;
      old.shutdown();
      if (old.info.observabilityName !== cluster.info.observabilityName) (old.info as ClusterInfoImpl).statsImpl.remove(this.ctx.stats);
      this.cmStats.cluster_modified.value++;
    } else {
      this.cmStats.cluster_added.value++;
    }
    this.clusters.set(name, { cluster, fingerprint });
    this.cmStats.active_clusters.set(this.clusters.size);
    cluster.start();
    // EDS: keep serving the last assignment while the control plane re-sends it (Envoy's EDS resource cache).
    if (existing && existing.cluster instanceof EdsCluster && cluster instanceof EdsCluster && existing.cluster.lastAssignment !== undefined
      && existing.cluster.info.edsServiceName === cluster.info.edsServiceName) {
      try {
        cluster.applyLoadAssignment(existing.cluster.lastAssignment);
      } catch (e) {
        this.ctx.log.warn(`cluster ${name}: previous assignment no longer applies: ${(e as Error).message}`);
      }
    }
    for (const cb of this.callbacks) {
      try { cb.onClusterAddOrUpdate?.(cluster); } catch (e) { this.ctx.log.error(`cluster update callback failed: ${(e as Error).message}`); }
    }
    return cluster;
  }

  /** Remove a cluster; with viaApi, static clusters are kept (Envoy: CDS cannot remove them). */
  remove(name: string, opts?: { viaApi?: boolean }): boolean {
    const e = this.clusters.get(name);
    if (!e) return false;
    if (opts?.viaApi && !e.cluster.info.addedViaApi) return false;
    e.cluster.shutdown();
    this.clusters.delete(name);
    e.cluster.info.statsImpl.remove(this.ctx.stats);
    this.cmStats.cluster_removed.value++;
    this.cmStats.active_clusters.set(this.clusters.size);
    for (const cb of this.callbacks) {
      try { cb.onClusterRemoval?.(name); } catch (err) { this.ctx.log.error(`cluster removal callback failed: ${(err as Error).message}`); }
    }
    return true;
  }

  applyLoadAssignment(clusterName: string, cla: Plain, path = ''): boolean {
    const c = this.clusters.get(clusterName)?.cluster;
    if (!c) return false;
    if (!(c instanceof EdsCluster)) throw new ConfigError(path, `cluster ${clusterName} is not an EDS cluster`);
    c.applyLoadAssignment(cla, path);
    return true;
  }

  addUpdateCallbacks(cb: ClusterUpdateCallbacks): () => void {
    this.callbacks.push(cb);
    return () => {
      const i = this.callbacks.indexOf(cb);
      if (i >= 0) this.callbacks.splice(i, 1);
    };
  }

  shutdown(): void {
    for (const e of this.clusters.values()) e.cluster.shutdown();
  }
}

function fingerprintOf(config: Plain, addedViaApi: boolean): string {
  try {
    return (addedViaApi ? '1' : '0') + JSON.stringify(config);
  } catch {
    return String(Math.random());
  }
}
