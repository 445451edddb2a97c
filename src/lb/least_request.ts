// LEAST_REQUEST (Envoy LeastRequestLoadBalancer).
//  - Equal weights: power of N choices (choice_count, default 2): sample N hosts at random and
//    keep the one with the fewest active requests. FULL_SCAN (or enable_full_scan with
//    choice_count >= hosts) scans every host from a random start instead.
//  - Different weights: EDF where a host's weight is re-evaluated at each pick as
//    weight / (active_requests + 1) ^ active_request_bias (default bias 1.0; 0 = plain weighted RR).
import type { Host, PrioritySetView } from '../cluster/types';
import { EdfScheduler } from './edf';
import { LoadBalancerBase, weightsEqual, type CommonLbSettings, type HostSource, type LbDeps } from './lb_base';

export interface LeastRequestSettings {
  choiceCount: number;
  activeRequestBias: number;
  /** selection_method FULL_SCAN. */
  fullScan: boolean;
  /** enable_full_scan: full scan when choice_count >= number of hosts. */
  enableFullScan: boolean;
}

export const DEFAULT_LEAST_REQUEST: LeastRequestSettings = { choiceCount: 2, activeRequestBias: 1, fullScan: false, enableFullScan: false };

interface LrState {
  edf: EdfScheduler<Host> | null;
}

export class LeastRequestLoadBalancer extends LoadBalancerBase<LrState> {
  private readonly choiceCount: number;
  private readonly bias: number;
  private readonly fullScan: boolean;
  private readonly enableFullScan: boolean;
  /** Bound once: the EDF weight function (no per-pick closure). */
  private readonly hostWeight: (h: Host) => number;

  constructor(prioritySet: PrioritySetView, common: CommonLbSettings, lr: LeastRequestSettings, deps: LbDeps) {
    super(prioritySet, common, deps);
    this.choiceCount = lr.choiceCount;
    this.bias = lr.activeRequestBias;
    this.fullScan = lr.fullScan;
    this.enableFullScan = lr.enableFullScan;
    this.hostWeight = this.weightOf.bind(this);
    this.refresh();
  }

  private weightOf(h: Host): number {
    const bias = this.bias;
    if (bias === 0) return h.weight;
    const active = h.activeRequests + 1;
    return bias === 1 ? h.weight / active : h.weight / Math.pow(active, bias);
  }

  protected newState(): LrState {
    return { edf: null };
  }

  protected resetState(state: LrState, hosts: readonly Host[]): void {
    if (weightsEqual(hosts)) { state.edf = null; return; }
    const edf = state.edf ?? new EdfScheduler<Host>();
    edf.clear();
    for (const h of hosts) edf.add(this.weightOf(h), h);
    state.edf = edf;
  }

  protected pick(source: HostSource<LrState>): Host | null {
    const st = source.state;
    if (st.edf !== null) return st.edf.pickAndAdd(this.hostWeight) ?? null;
    const hosts = source.hosts;
    const n = hosts.length;
    if (n === 0) return null;
    if (this.fullScan || (this.enableFullScan && this.choiceCount >= n)) {
      const start = this.random() % n;
      let best = hosts[start];
      for (let i = 1; i < n; i++) {
        const h = hosts[(start + i) % n];
        if (h.activeRequests < best.activeRequests) best = h;
      }
      return best;
    }
    let best = hosts[this.random() % n];
    for (let c = 1; c < this.choiceCount; c++) {
      const h = hosts[this.random() % n];
      if (h.activeRequests < best.activeRequests) best = h;
    }
    return best;
  }
}
