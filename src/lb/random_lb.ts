// RANDOM (Envoy RandomLoadBalancer): a uniformly random host of the chosen source; weights are ignored.
import type { Host, PrioritySetView } from '../cluster/types';
import { LoadBalancerBase, type CommonLbSettings, type HostSource, type LbDeps } from './lb_base';

export class RandomLoadBalancer extends LoadBalancerBase<null> {
  constructor(prioritySet: PrioritySetView, common: CommonLbSettings, deps: LbDeps) {
    super(prioritySet, common, deps);
    this.refresh();
  }

  protected newState(): null { return null; }
  protected resetState(): void { /* stateless */ }

  protected pick(source: HostSource<null>): Host | null {
    const hosts = source.hosts;
    if (hosts.length === 0) return null;
    return hosts[this.random() % hosts.length];
  }
}
