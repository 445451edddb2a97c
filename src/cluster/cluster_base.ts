// What every cluster type shares (Envoy ClusterImplBase): info, priority set, load balancer,
// the updateHosts() seam, membership stats and initialization.
import type { Logger } from '../server/context';
import type { Plain } from '../config/plain';
import { createLoadBalancer, type LbPolicyConfig } from '../lb/lb_config';
import type { LoadBalancer } from '../lb/lb_base';
import type { RandomSource } from '../lb/random_source';
import type { ClusterInfoImpl } from './cluster_info';
import { HostImpl } from './host';
import { PrioritySetImpl } from './host_set';
import { parseLoadAssignment, hostFromSpec, type ParsedAssignment } from './load_assignment';
import {
  type Cluster, type Host, type HostSetUpdateParams, type LoadBalancerContext, type OutlierDetectorView,
} from './types';

export interface ClusterDeps {
  log: Logger;
  random: RandomSource;
  localZone: string;
}

export type MemberUpdateCallback = (added: readonly Host[], removed: readonly Host[]) => void;

export abstract class ClusterBase implements Cluster {
  readonly prioritySet: PrioritySetImpl;
  outlierDetector: OutlierDetectorView | null = null;
  protected readonly lb: LoadBalancer;
  protected readonly log: Logger;
  private _initialized = false;
  private initCbs: (() => void)[] = [];
  private memberCbs: MemberUpdateCallback[] = [];
  protected stopped = false;

  constructor(readonly info: ClusterInfoImpl, lbConfig: LbPolicyConfig, deps: ClusterDeps) {
    this.log = deps.log;
    this.prioritySet = new PrioritySetImpl(deps.localZone);
    this.prioritySet.getOrCreate(0);
    this.lb = createLoadBalancer(lbConfig, this.prioritySet, { lbHealthyPanic: info.stats.lb_healthy_panic, random: deps.random });
  }

  /** Begin host discovery (static: set hosts now; DNS: first query; EDS: wait for an assignment). */
  abstract start(): void;

  get initialized(): boolean { return this._initialized; }

  onInitialized(cb: () => void): void {
    if (this._initialized) cb();
    else this.initCbs.push(cb);
  }

  protected markInitialized(): void {
    if (this._initialized) return;
    this._initialized = true;
    const cbs = this.initCbs;
    this.initCbs = [];
    for (const cb of cbs) {
      try { cb(); } catch (e) { this.log.error(`cluster ${this.info.name}: init callback failed: ${(e as Error).message}`); }
    }
  }

  /** Pick a host; null when none is available (counted as upstream_cx_none_healthy). */
  chooseHost(ctx: LoadBalancerContext | undefined): Host | null {
    const h = this.lb.chooseHost(ctx);
    if (h === null) this.info.stats.upstream_cx_none_healthy.value++;
    return h;
  }

  hostsByPriority(): ReadonlyArray<ReadonlyArray<Host>> {
    return this.prioritySet.hostSets.map((hs) => hs.hosts);
  }

  /** Called with the hosts added and removed by each membership change (pools drain removed hosts). */
  addMemberUpdateCallback(cb: MemberUpdateCallback): () => void {
    this.memberCbs.push(cb);
    return () => { this.memberCbs = this.memberCbs.filter((x) => x !== cb); };
  }

  updateHosts(priority: number, hosts: Host[], params?: HostSetUpdateParams): void {
    this.setHosts([{ priority, hosts, params }]);
  }

  /**
   * Apply several priorities at once. Hosts are matched by key against every current host
   * (any priority) so a host that moves between priorities keeps its stats and pools.
   */
  protected setHosts(updates: { priority: number; hosts: Host[]; params?: HostSetUpdateParams }[]): void {
    const current = new Map<string, HostImpl[]>();
    const before = new Set<Host>();
    for (const hs of this.prioritySet.hostSets) {
      for (const h of hs.hosts) {
        before.add(h);
        const l = current.get(h.key);
        if (l) l.push(h); else current.set(h.key, [h]);
      }
    }
    let changed = false;
    const after = new Set<Host>();
    const reused = new Set<HostImpl>();
    for (const u of updates) {
      const hs = this.prioritySet.getOrCreate(u.priority);
      const next: HostImpl[] = [];
      for (const h of u.hosts) {
        const incoming = h instanceof HostImpl ? h : adopt(h);
        if (incoming.priority !== u.priority) incoming.priority = u.priority;
        const candidates = current.get(incoming.key);
        let chosen: HostImpl = incoming;
        if (candidates) {
          const old = candidates.find((c) => !reused.has(c) && c !== incoming);
          if (old) {
            if (old.updateFrom(incoming)) changed = true;
            chosen = old;
          }
        }
        reused.add(chosen);
        next.push(chosen);
        after.add(chosen);
      }
      if (u.params?.overprovisioningFactor !== undefined) hs.overprovisioningFactor = u.params.overprovisioningFactor;
      if (u.params?.weightedPriorityHealth !== undefined) hs.weightedPriorityHealth = u.params.weightedPriorityHealth;
      hs.setHosts(next, u.params?.localityWeights);
    }
    // Hosts of priorities not in this update stay members.
    const updated = new Set(updates.map((u) => u.priority));
    for (const hs of this.prioritySet.hostSets) if (!updated.has(hs.priority)) for (const h of hs.hosts) after.add(h);
    const added: Host[] = [];
    const removed: Host[] = [];
    for (const h of after) if (!before.has(h)) added.push(h);
    for (const h of before) if (!after.has(h)) removed.push(h);
    if (added.length || removed.length) {
      changed = true;
      this.info.stats.membership_change.value++;
    }
    this.afterMembershipChange();
    if (changed) {
      for (const cb of this.memberCbs) {
        try { cb(added, removed); } catch (e) { this.log.error(`cluster ${this.info.name}: member update callback failed: ${(e as Error).message}`); }
      }
    }
  }

  refreshHealth(): void {
    for (const hs of this.prioritySet.hostSets) hs.rebuild();
    this.afterMembershipChange();
  }

  private afterMembershipChange(): void {
    const s = this.info.stats;
    let total = 0, healthy = 0, degraded = 0, excluded = 0, maxWeight = 0;
    for (const hs of this.prioritySet.hostSets) {
      total += hs.hosts.length;
      healthy += hs.healthyHosts.length;
      degraded += hs.degradedHosts.length;
      excluded += hs.excludedHosts.length;
      for (const h of hs.hosts) if (h.weight > maxWeight) maxWeight = h.weight;
    }
    s.membership_total.set(total);
    s.membership_healthy.set(healthy);
    s.membership_degraded.set(degraded);
    s.membership_excluded.set(excluded);
    s.max_host_weight.set(maxWeight);
    this.lb.refresh();
  }

  /** Replace all priorities from a parsed assignment (STATIC and EDS). */
  protected applyParsed(pa: ParsedAssignment): void {
    const perPriority: Host[][] = [];
    for (let p = 0; p < pa.priorityCount; p++) perPriority.push([]);
    for (const s of pa.endpoints) perPriority[s.priority].push(hostFromSpec(s));
    const n = Math.max(pa.priorityCount, this.prioritySet.hostSets.length);
    const updates = [];
    for (let p = 0; p < n; p++) {
      updates.push({
        priority: p,
        hosts: perPriority[p] ?? [],
        params: { localityWeights: pa.localityWeights[p] ?? new Map(), overprovisioningFactor: pa.overprovisioningFactor, weightedPriorityHealth: pa.weightedPriorityHealth },
      });
    }
    this.setHosts(updates);
  }

  /** Stop timers; the cluster keeps answering chooseHost with its last hosts. */
  shutdown(): void {
    this.stopped = true;
  }
}

/** Wrap a foreign Host implementation so the cluster can manage it. */
function adopt(h: Host): HostImpl {
  const impl = new HostImpl({
    address: h.address, port: h.port, pipePath: h.pipePath, hostname: h.hostname, weight: h.weight,
    priority: h.priority, locality: h.locality, metadata: h.metadata, healthFlags: h.healthFlags,
  });
  return impl;
}

export class StaticCluster extends ClusterBase {
  constructor(info: ClusterInfoImpl, lbConfig: LbPolicyConfig, deps: ClusterDeps, private readonly assignment: ParsedAssignment | null) {
    super(info, lbConfig, deps);
  }
  start(): void {
    if (this.assignment) this.applyParsed(this.assignment);
    this.markInitialized();
  }
}

/**
 * EDS: hosts come from ClusterLoadAssignments that the xDS client hands to applyLoadAssignment().
 * Initialized by the first assignment.
 */
export class EdsCluster extends ClusterBase {
  /** The last assignment applied (carried over when the cluster is replaced with the same service name). */
  lastAssignment: Plain | undefined;

  start(): void { /* waits for applyLoadAssignment */ }

  /** Apply a plain ClusterLoadAssignment. Throws ConfigError (path relative to the assignment). */
  applyLoadAssignment(cla: Plain, path = ''): void {
    const s = this.info.stats;
    s.update_attempt.value++;
    let pa: ParsedAssignment;
    try {
      pa = parseLoadAssignment(cla, path, 'ip');
    } catch (e) {
      s.update_rejected.value++;
      throw e;
    }
    this.lastAssignment = cla;
    this.applyParsed(pa);
    s.update_success.value++;
    if (pa.endpoints.length === 0) s.update_empty.value++;
    this.markInitialized();
  }
}
