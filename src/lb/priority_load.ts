// Envoy's priority load computation (LoadBalancerBase::recalculatePerPriorityState,
// recalculatePerPriorityPanic, recalculateLoadInTotalPanic, choosePriority).
//
// Each priority's availability = min(100, overprovisioning_factor * healthy / (hosts - excluded)),
// likewise for degraded hosts. Load (percent, integers summing to 100) goes to priorities in order
// until used up, first by healthy availability, then by degraded availability, scaled up when the
// total availability is below 100. A priority whose healthy+degraded share is below the panic
// threshold is "in panic" (balance across all its hosts); when every priority is in panic the load
// is split by host count.
import type { HostSetView } from '../cluster/types';

export class PriorityLoad {
  healthyLoad: number[] = [];
  degradedLoad: number[] = [];
  healthAvailability: number[] = [];
  degradedAvailability: number[] = [];
  panic: boolean[] = [];
  /**
   * When only one (priority, availability) target has load, its encoded choice
   * (priority * 2 + 1 for degraded); -1 when a random draw is needed.
   */
  fixedChoice = -1;
}

function sizeTo(a: unknown[], n: number, fill: unknown): void {
  a.length = n;
  a.fill(fill as never);
}

export function isHostSetInPanic(hs: HostSetView, panicThreshold: number): boolean {
  const hostCount = hs.hosts.length - hs.excludedHosts.length;
  const healthyPercent = hostCount === 0 ? 0 : (100 * hs.healthyHosts.length) / hostCount;
  const degradedPercent = hostCount === 0 ? 0 : (100 * hs.degradedHosts.length) / hostCount;
  return healthyPercent + degradedPercent < panicThreshold;
}

/** Distribute totalLoad by availability; returns [first priority with availability or -1, load left]. */
function distributeLoad(load: number[], avail: number[], totalLoad: number, normalizedTotal: number, out: [number, number]): void {
  let first = -1;
  for (let i = 0; i < avail.length; i++) {
    if (first < 0 && avail[i] > 0) first = i;
    load[i] = Math.min(totalLoad, Math.floor((avail[i] * 100) / normalizedTotal));
    totalLoad -= load[i];
  }
  out[0] = first;
  out[1] = totalLoad;
}

const tmpA: [number, number] = [0, 0];
const tmpB: [number, number] = [0, 0];

/** Recompute every priority's load and panic state. panicThreshold is a percentage 0..100. */
export function computePriorityLoad(sets: readonly HostSetView[], panicThreshold: number, out: PriorityLoad): void {
  const n = sets.length;
  sizeTo(out.healthyLoad, n, 0);
  sizeTo(out.degradedLoad, n, 0);
  sizeTo(out.healthAvailability, n, 0);
  sizeTo(out.degradedAvailability, n, 0);
  sizeTo(out.panic, n, false);
  out.fixedChoice = -1;
  if (n === 0) return;

  let healthSum = 0;
  let degradedSum = 0;
  for (let p = 0; p < n; p++) {
    const hs = sets[p];
    const hostCount = hs.hosts.length - hs.excludedHosts.length;
    if (hostCount <= 0) continue;
    let healthyWeight = 0;
    let degradedWeight = 0;
    let totalWeight = 0;
    if (hs.weightedPriorityHealth) {
      for (const h of hs.healthyHosts) healthyWeight += h.weight;
      for (const h of hs.degradedHosts) degradedWeight += h.weight;
      for (const h of hs.hosts) totalWeight += h.weight;
      for (const h of hs.excludedHosts) totalWeight -= h.weight;
    } else {
      healthyWeight = hs.healthyHosts.length;
      degradedWeight = hs.degradedHosts.length;
      totalWeight = hostCount;
    }
    if (totalWeight <= 0) continue;
    const of = hs.overprovisioningFactor;
    out.healthAvailability[p] = Math.min(100, Math.floor((of * healthyWeight) / totalWeight));
    out.degradedAvailability[p] = Math.min(100, Math.floor((of * degradedWeight) / totalWeight));
    healthSum += out.healthAvailability[p];
    degradedSum += out.degradedAvailability[p];
  }
  const normalizedTotal = Math.min(100, healthSum + degradedSum);

  if (normalizedTotal > 0) {
    distributeLoad(out.healthyLoad, out.healthAvailability, 100, normalizedTotal, tmpA);
    distributeLoad(out.degradedLoad, out.degradedAvailability, tmpA[1], normalizedTotal, tmpB);
    const remaining = tmpB[1];
    if (remaining !== 0) {
      if (tmpA[0] !== -1) out.healthyLoad[tmpA[0]] += remaining;
      else out.degradedLoad[tmpB[0]] += remaining;
    }
  }

  // Panic.
  if (panicThreshold === 0 && normalizedTotal === 0) {
    // Nothing is available and panic is disabled: all load on P0, which has no healthy host to pick.
    out.healthyLoad[0] = 100;
    out.fixedChoice = 0;
    return;
  }
  let allPanic = true;
  for (let p = 0; p < n; p++) {
    // Never panic when the normalized total availability is 100%.
    out.panic[p] = normalizedTotal === 100 ? false : isHostSetInPanic(sets[p], panicThreshold);
    if (!out.panic[p]) allPanic = false;
  }
  if (allPanic) {
    let totalHosts = 0;
    for (const hs of sets) totalHosts += hs.hosts.length;
    out.degradedLoad.fill(0);
    if (totalHosts === 0) {
      out.healthyLoad.fill(0);
      out.healthyLoad[0] = 100;
    } else {
      let total = 100;
      let firstNonEmpty = -1;
      for (let p = 0; p < n; p++) {
        const c = sets[p].hosts.length;
        if (firstNonEmpty === -1 && c !== 0) firstNonEmpty = p;
        const l = Math.floor((100 * c) / totalHosts);
        out.healthyLoad[p] = l;
        total -= l;
      }
      out.healthyLoad[firstNonEmpty] += total;
    }
  }

  // A single target with all the load needs no random draw.
  let targets = 0;
  let choice = -1;
  for (let p = 0; p < n; p++) {
    if (out.healthyLoad[p] > 0) { targets++; choice = p * 2; }
    if (out.degradedLoad[p] > 0) { targets++; choice = p * 2 + 1; }
  }
  out.fixedChoice = targets === 1 ? choice : -1;
}

/**
 * Pick a priority for hash in 1..100 (Envoy choosePriority): healthy loads first, then degraded.
 * Returns priority * 2, plus 1 when the degraded hosts of that priority are to be used.
 */
export function choosePriority(hash: number, pl: PriorityLoad): number {
  let aggregate = 0;
  const h = pl.healthyLoad;
  for (let p = 0; p < h.length; p++) {
    aggregate += h[p];
    if (hash <= aggregate) return p * 2;
  }
  const d = pl.degradedLoad;
  for (let p = 0; p < d.length; p++) {
    aggregate += d[p];
    if (hash <= aggregate) return p * 2 + 1;
  }
  return 0;
}
