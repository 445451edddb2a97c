// The part every load balancer shares (Envoy LoadBalancerBase + ZoneAwareLoadBalancerBase):
// choose a priority by priority load, handle panic, optionally choose a locality by weight,
// then let the policy pick a host from the chosen host source. Host sources are persistent
// objects rebuilt on refresh(), so a pick allocates nothing.
import type { Host, LoadBalancerContext, PrioritySetView, HostSetView } from '../cluster/types';
import type { Counter } from '../stats/stats';
import { EdfScheduler } from './edf';
import { PriorityLoad, choosePriority, computePriorityLoad } from './priority_load';
import type { RandomSource } from './random_source';

export interface LoadBalancer {
  /** A host, or null when none can be chosen. Runs the retry host-predicate loop. */
  chooseHost(ctx: LoadBalancerContext | undefined): Host | null;
  /** Rebuild from the priority set after membership or health changed. */
  refresh(): void;
}

/** Settings common to every policy (from common_lb_config / locality_lb_config). */
export interface CommonLbSettings {
  /** healthy_panic_threshold as an integer percentage, default 50. */
  panicThreshold: number;
  /** locality_weighted_lb_config set. */
  localityWeighted: boolean;
  /** zone_aware_lb_config.fail_traffic_on_panic. */
  failTrafficOnPanic: boolean;
}

export const DEFAULT_COMMON_LB: CommonLbSettings = { panicThreshold: 50, localityWeighted: false, failTrafficOnPanic: false };

export interface LbDeps {
  /** Incremented on every pick that lands in a priority in panic. */
  lbHealthyPanic: Counter;
  random: RandomSource;
}

/** A list of hosts to pick from plus the policy's state for it (scheduler, rotation index). */
export interface HostSource<S> {
  hosts: readonly Host[];
  state: S;
}

interface PriorityEntry<S> {
  all: HostSource<S>;
  healthy: HostSource<S>;
  degraded: HostSource<S>;
  healthyPerLocality: HostSource<S>[];
  degradedPerLocality: HostSource<S>[];
  healthyLocalities: EdfScheduler<number> | null;
  degradedLocalities: EdfScheduler<number> | null;
}

export abstract class LoadBalancerBase<S> implements LoadBalancer {
  protected readonly random: RandomSource;
  private readonly lbHealthyPanic: Counter;
  private readonly load = new PriorityLoad();
  private entries: PriorityEntry<S>[] = [];

  constructor(protected readonly prioritySet: PrioritySetView, protected readonly common: CommonLbSettings, deps: LbDeps) {
    this.random = deps.random;
    this.lbHealthyPanic = deps.lbHealthyPanic;
  }

  /** Fresh policy state for a new host source. */
  protected abstract newState(): S;
  /** Hosts of a source changed: rebuild its state. */
  protected abstract resetState(state: S, hosts: readonly Host[]): void;
  /** Pick a host from a source (null when it is empty). */
  protected abstract pick(source: HostSource<S>): Host | null;

  /** Call from the subclass constructor once its own fields are set. */
  refresh(): void {
    const sets = this.prioritySet.hostSets;
    computePriorityLoad(sets, this.common.panicThreshold, this.load);
    const entries = this.entries;
    while (entries.length < sets.length) {
      entries.push({
        all: this.source(), healthy: this.source(), degraded: this.source(),
        healthyPerLocality: [], degradedPerLocality: [], healthyLocalities: null, degradedLocalities: null,
      });
    }
    entries.length = sets.length;
    for (let p = 0; p < sets.length; p++) {
      const hs = sets[p];
      const e = entries[p];
      this.setSource(e.all, hs.hosts);
      this.setSource(e.healthy, hs.healthyHosts);
      this.setSource(e.degraded, hs.degradedHosts);
      if (this.common.localityWeighted) {
        e.healthyLocalities = this.localitySources(hs, hs.healthyHostsPerLocality, e.healthyPerLocality, e.healthyLocalities);
        e.degradedLocalities = this.localitySources(hs, hs.degradedHostsPerLocality, e.degradedPerLocality, e.degradedLocalities);
      }
    }
  }

  chooseHost(ctx: LoadBalancerContext | undefined): Host | null {
    let host = this.chooseHostOnce();
    if (host === null || ctx === undefined || ctx.shouldSelectAnotherHost === undefined) return host;
    const attempts = (ctx.hostSelectionRetryCount ?? 0) + 1;
    for (let i = 1; i < attempts && ctx.shouldSelectAnotherHost(host); i++) {
      const next = this.chooseHostOnce();
      if (next === null) return null;
      host = next;
    }
    // Envoy returns the last host even when the predicate rejected every attempt.
    return host;
  }

  /** One selection: priority, panic, locality, then the policy's pick. */
  chooseHostOnce(): Host | null {
    const entries = this.entries;
    if (entries.length === 0) return null;
    const load = this.load;
    let choice = load.fixedChoice;
    if (choice < 0) choice = choosePriority((this.random() % 100) + 1, load);
    const p = choice >> 1;
    const degraded = (choice & 1) === 1;
    const e = entries[p];
    if (load.panic[p]) {
      this.lbHealthyPanic.value++;
      if (this.common.failTrafficOnPanic) return null;
      return this.pick(e.all);
    }
    if (this.common.localityWeighted) {
      const sched = degraded ? e.degradedLocalities : e.healthyLocalities;
      if (sched !== null) {
        const li = sched.pick()!;
        return this.pick(degraded ? e.degradedPerLocality[li] : e.healthyPerLocality[li]);
      }
    }
    return this.pick(degraded ? e.degraded : e.healthy);
  }

  /** Current priority loads (for tests and admin). */
  priorityLoad(): Readonly<PriorityLoad> { return this.load; }

  private source(): HostSource<S> {
    return { hosts: [], state: this.newState() };
  }

  private setSource(src: HostSource<S>, hosts: readonly Host[]): void {
    src.hosts = hosts;
    this.resetState(src.state, hosts);
  }

  /**
   * Per-locality sources and the locality scheduler (Envoy HostSetImpl::rebuildLocalityScheduler):
   * effective weight = locality weight * min(1, overprovisioning * eligible / (hosts - excluded)).
   * Null when no locality has a positive effective weight.
   */
  private localitySources(hs: HostSetView, eligible: readonly (readonly Host[])[], sources: HostSource<S>[],
    sched: EdfScheduler<number> | null): EdfScheduler<number> | null {
    while (sources.length < eligible.length) sources.push(this.source());
    sources.length = eligible.length;
    const s = sched ?? new EdfScheduler<number>();
    s.clear();
    for (let i = 0; i < eligible.length; i++) {
      this.setSource(sources[i], eligible[i]);
      const hostCount = hs.hostsPerLocality[i].length - hs.excludedHostsPerLocality[i].length;
      if (hostCount <= 0) continue;
      const ratio = Math.min(1, (hs.overprovisioningFactor / 100) * (eligible[i].length / hostCount));
      const w = hs.localityWeights[i] * ratio;
      if (w > 0) s.add(w, i);
    }
    return s.size > 0 ? s : null;
  }
}

/** True when every host has the same weight (then policies use the cheap unweighted pick). */
export function weightsEqual(hosts: readonly Host[]): boolean {
  if (hosts.length < 2) return true;
  const w = hosts[0].weight;
  for (let i = 1; i < hosts.length; i++) if (hosts[i].weight !== w) return false;
  return true;
}
