// ROUND_ROBIN (Envoy RoundRobinLoadBalancer): equal weights rotate through the hosts from a
// random starting offset; different weights use an EDF schedule (smooth weighted interleaving).
import type { Host, PrioritySetView } from '../cluster/types';
import { EdfScheduler } from './edf';
import { LoadBalancerBase, weightsEqual, type CommonLbSettings, type HostSource, type LbDeps } from './lb_base';

interface RrState {
  /** Rotation index; persists across refreshes like Envoy's rr_indexes_. */
  rr: number;
  /** Non-null when weights differ. */
  edf: EdfScheduler<Host> | null;
}

export class RoundRobinLoadBalancer extends LoadBalancerBase<RrState> {
  private readonly seed: number;

  constructor(prioritySet: PrioritySetView, common: CommonLbSettings, deps: LbDeps) {
    super(prioritySet, common, deps);
    this.seed = deps.random();
    this.refresh();
  }

  protected newState(): RrState {
    return { rr: this.seed, edf: null };
  }

  protected resetState(state: RrState, hosts: readonly Host[]): void {
    if (weightsEqual(hosts)) { state.edf = null; return; }
    const edf = state.edf ?? new EdfScheduler<Host>();
    edf.clear();
    for (const h of hosts) edf.add(h.weight, h);
    // Start at a seed-dependent point of the schedule so that proxies don't move in lockstep.
    const offset = this.seed % hosts.length;
    for (let i = 0; i < offset; i++) edf.pick();
    state.edf = edf;
  }

  protected pick(source: HostSource<RrState>): Host | null {
    const st = source.state;
    if (st.edf !== null) return st.edf.pick() ?? null;
    const hosts = source.hosts;
    if (hosts.length === 0) return null;
    const i = st.rr % hosts.length;
    st.rr = (st.rr + 1) >>> 0;
    return hosts[i];
  }
}
