// Hosts per priority, partitioned by health and locality (Envoy HostSetImpl / PrioritySetImpl).
// Rebuilt whenever membership or health changes; load balancers read the arrays directly.
import { HostHealth, type Host, type HostSetView, type Locality, type PrioritySetView } from './types';
import { compareLocality, localityKey, type HostImpl } from './host';

export const DEFAULT_OVERPROVISIONING_FACTOR = 140;

export class HostSetImpl implements HostSetView {
  hosts: HostImpl[] = [];
  healthyHosts: Host[] = [];
  degradedHosts: Host[] = [];
  excludedHosts: Host[] = [];
  localities: Locality[] = [];
  hostsPerLocality: Host[][] = [];
  healthyHostsPerLocality: Host[][] = [];
  degradedHostsPerLocality: Host[][] = [];
  excludedHostsPerLocality: Host[][] = [];
  localityWeights: number[] = [];
  overprovisioningFactor = DEFAULT_OVERPROVISIONING_FACTOR;
  weightedPriorityHealth = false;
  private weightsByLocality: ReadonlyMap<string, number> = new Map();

  constructor(readonly priority: number, private readonly localZone = '') {}

  /** Replace membership and rebuild every partition. */
  setHosts(hosts: HostImpl[], localityWeights: ReadonlyMap<string, number> | undefined): void {
    this.hosts = hosts;
    if (localityWeights) this.weightsByLocality = localityWeights;
    this.rebuild();
  }

  /** Re-partition after health flags changed. */
  rebuild(): void {
    const healthy: Host[] = [];
    const degraded: Host[] = [];
    const excluded: Host[] = [];
    // Localities sorted like Envoy's std::map<Locality, ..., LocalityLess>, the local zone first.
    const byKey = new Map<string, number>();
    const locs: Locality[] = [];
    for (const h of this.hosts) {
      const k = localityKey(h.locality);
      if (!byKey.has(k)) { byKey.set(k, -1); locs.push(h.locality); }
    }
    const lz = this.localZone;
    locs.sort((a, b) => {
      if (lz) {
        const al = a.zone === lz, bl = b.zone === lz;
        if (al !== bl) return al ? -1 : 1;
      }
      return compareLocality(a, b);
    });
    locs.forEach((l, i) => byKey.set(localityKey(l), i));
    const perLoc: Host[][] = locs.map(() => []);
    const healthyPerLoc: Host[][] = locs.map(() => []);
    const degradedPerLoc: Host[][] = locs.map(() => []);
    const excludedPerLoc: Host[][] = locs.map(() => []);
    for (const h of this.hosts) {
      const li = byKey.get(localityKey(h.locality))!;
      perLoc[li].push(h);
      if (h.excluded()) { excluded.push(h); excludedPerLoc[li].push(h); continue; }
      const hh = h.health();
      if (hh === HostHealth.Healthy) { healthy.push(h); healthyPerLoc[li].push(h); }
      else if (hh === HostHealth.Degraded) { degraded.push(h); degradedPerLoc[li].push(h); }
    }
    this.healthyHosts = healthy;
    this.degradedHosts = degraded;
    this.excludedHosts = excluded;
    this.localities = locs;
    this.hostsPerLocality = perLoc;
    this.healthyHostsPerLocality = healthyPerLoc;
    this.degradedHostsPerLocality = degradedPerLoc;
    this.excludedHostsPerLocality = excludedPerLoc;
    this.localityWeights = locs.map((l) => this.weightsByLocality.get(localityKey(l)) ?? 0);
  }
}

export class PrioritySetImpl implements PrioritySetView {
  hostSets: HostSetImpl[] = [];
  constructor(private readonly localZone = '') {}

  /** The host set for a priority, creating empty ones up to it (Envoy getOrCreateHostSet). */
  getOrCreate(priority: number): HostSetImpl {
    while (this.hostSets.length <= priority) this.hostSets.push(new HostSetImpl(this.hostSets.length, this.localZone));
    return this.hostSets[priority];
  }

  /** Every host in every priority. */
  allHosts(): HostImpl[] {
    const out: HostImpl[] = [];
    for (const hs of this.hostSets) for (const h of hs.hosts) out.push(h);
    return out;
  }
}
