// Builds real priority sets (src/cluster HostImpl / PrioritySetImpl) for load balancer tests.
import { HostImpl } from '../../src/cluster/host';
import { PrioritySetImpl } from '../../src/cluster/host_set';
import { localityKey } from '../../src/cluster/host';
import type { Locality } from '../../src/cluster/types';
import { Counter } from '../../src/stats/stats';
import type { LbDeps } from '../../src/lb/lb_base';
import type { RandomSource } from '../../src/lb/random_source';

export interface H { ip?: string; port?: number; weight?: number; flags?: number; zone?: string; }

/** hosts[p] = host specs of priority p. */
export function prioritySet(hosts: H[][], opts?: { localityWeights?: Record<string, number>[]; overprovisioningFactor?: number }): PrioritySetImpl {
  const ps = new PrioritySetImpl();
  let n = 0;
  hosts.forEach((list, p) => {
    const hs = ps.getOrCreate(p);
    if (opts?.overprovisioningFactor !== undefined) hs.overprovisioningFactor = opts.overprovisioningFactor;
    const impls = list.map((h) => {
      n++;
      const locality: Locality = { region: 'r', zone: h.zone ?? '', sub_zone: '' };
      return new HostImpl({ address: h.ip ?? `10.0.${p}.${n}`, port: h.port ?? 80, weight: h.weight ?? 1, priority: p, healthFlags: h.flags ?? 0, locality });
    });
    const lw = new Map<string, number>();
    for (const [zone, w] of Object.entries(opts?.localityWeights?.[p] ?? {})) lw.set(localityKey({ region: 'r', zone, sub_zone: '' }), w);
    hs.setHosts(impls, lw);
  });
  return ps;
}

/** Returns 0, 1, 2, ... (mod 2^32): makes priority choice (random % 100) walk every percentile once per 100 picks. */
export function counterRandom(start = 0): RandomSource {
  let i = start >>> 0;
  return () => { const v = i; i = (i + 1) >>> 0; return v; };
}

export function deps(random: RandomSource): LbDeps & { lbHealthyPanic: Counter } {
  return { random, lbHealthyPanic: new Counter('lb_healthy_panic') };
}

/** Count picks per host key. */
export function countPicks(pick: () => { key: string } | null, n: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const h = pick();
    const k = h ? h.key : 'null';
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}
