// Circuit breakers (Envoy ResourceManagerImpl): one ResourceManager per routing priority.
// inc()/dec() keep the `circuit_breakers.<priority>.*_open` gauges (and `remaining_*` with
// track_remaining) current; the overflow counters (upstream_cx_overflow, upstream_rq_pending_overflow,
// upstream_rq_retry_overflow) are incremented by the caller that gets canCreate() === false.
import { ConfigError, joinPath } from '../config/errors';
import type { Plain } from '../config/plain';
import type { Gauge, Scope } from '../stats/stats';
import type { ResourceLimit, ResourceManager } from './types';

export const DEFAULT_MAX_CONNECTIONS = 1024;
export const DEFAULT_MAX_PENDING_REQUESTS = 1024;
export const DEFAULT_MAX_REQUESTS = 1024;
export const DEFAULT_MAX_RETRIES = 3;
/** max_connection_pools default: unlimited (Envoy uses uint64 max). */
export const UNLIMITED = Number.MAX_SAFE_INTEGER;

export class ResourceLimitImpl implements ResourceLimit {
  count = 0;
  constructor(private readonly limit: number, private readonly open: Gauge | null, private readonly remaining: Gauge | null) {
    if (remaining) remaining.set(limit);
  }
  get max(): number { return this.limit; }
  canCreate(): boolean { return this.count < this.max; }
  inc(): void { this.count++; this.update(); }
  dec(): void { if (this.count > 0) this.count--; this.update(); }
  protected update(): void {
    const max = this.max;
    if (this.open) this.open.set(this.count >= max ? 1 : 0);
    if (this.remaining) this.remaining.set(max > this.count ? max - this.count : 0);
  }
}

/**
 * Retries limited by a retry budget: max = max(budget_percent% of (active + pending requests),
 * min_retry_concurrency) (Envoy RetryBudgetImpl).
 */
export class RetryBudgetLimit extends ResourceLimitImpl {
  constructor(private readonly budgetPercent: number, private readonly minConcurrency: number,
    private readonly requests: ResourceLimit, private readonly pending: ResourceLimit,
    open: Gauge | null, remaining: Gauge | null) {
    super(minConcurrency, open, remaining);
  }
  override get max(): number {
    const active = this.requests.count + this.pending.count;
    return Math.max(Math.floor(this.budgetPercent / 100 * active), this.minConcurrency);
  }
}

export class ResourceManagerImpl implements ResourceManager {
  constructor(
    readonly connections: ResourceLimit,
    readonly pendingRequests: ResourceLimit,
    readonly requests: ResourceLimit,
    readonly retries: ResourceLimit,
    readonly connectionPools: ResourceLimit,
  ) {}
}

export interface CircuitBreakerSettings {
  managers: [ResourceManager, ResourceManager];
  /** per_host_thresholds max_connections, Infinity when unset. */
  perHostMaxConnections: number;
}

const PRIORITIES = ['DEFAULT', 'HIGH'] as const;

/** Build both priorities' resource managers from `circuit_breakers` (path = the cluster's path). */
export function buildCircuitBreakers(cb: Plain | undefined, scope: Scope, path: string): CircuitBreakerSettings {
  const thresholds: Plain[] = cb?.thresholds ?? [];
  const cbPath = joinPath(path, 'circuit_breakers');
  thresholds.forEach((t, i) => {
    const p = t.priority ?? 'DEFAULT';
    if (p !== 'DEFAULT' && p !== 'HIGH') throw new ConfigError(`${cbPath}.thresholds[${i}].priority`, `unknown routing priority ${p}`);
    const pct = t.retry_budget?.budget_percent?.value;
    if (pct !== undefined && !(pct >= 0 && pct <= 100)) throw new ConfigError(`${cbPath}.thresholds[${i}].retry_budget.budget_percent`, 'must be between 0 and 100');
  });
  const managers = PRIORITIES.map((prio) => {
    // Envoy takes the first threshold entry for the priority.
    const t: Plain | undefined = thresholds.find((x) => (x.priority ?? 'DEFAULT') === prio);
    const sc = scope.scope(`circuit_breakers.${prio.toLowerCase()}.`);
    const track = !!t?.track_remaining;
    const g = (name: string) => sc.gauge(name);
    const rg = (name: string) => (track ? sc.gauge(name) : null);
    const connections = new ResourceLimitImpl(t?.max_connections ?? DEFAULT_MAX_CONNECTIONS, g('cx_open'), rg('remaining_cx'));
    const pending = new ResourceLimitImpl(t?.max_pending_requests ?? DEFAULT_MAX_PENDING_REQUESTS, g('rq_pending_open'), rg('remaining_pending'));
    const requests = new ResourceLimitImpl(t?.max_requests ?? DEFAULT_MAX_REQUESTS, g('rq_open'), rg('remaining_rq'));
    let retries: ResourceLimit;
    const budget = t?.retry_budget;
    if (budget) {
      const pct = budget.budget_percent?.value ?? 20;
      retries = new RetryBudgetLimit(pct, budget.min_retry_concurrency ?? 3, requests, pending, g('rq_retry_open'), rg('remaining_retries'));
    } else {
      retries = new ResourceLimitImpl(t?.max_retries ?? DEFAULT_MAX_RETRIES, g('rq_retry_open'), rg('remaining_retries'));
    }
    const pools = new ResourceLimitImpl(t?.max_connection_pools ?? UNLIMITED, g('cx_pool_open'), rg('remaining_cx_pools'));
    return new ResourceManagerImpl(connections, pending, requests, retries, pools);
  }) as [ResourceManager, ResourceManager];

  const perHost: Plain[] = cb?.per_host_thresholds ?? [];
  let perHostMaxConnections = Infinity;
  // Envoy honours only max_connections (DEFAULT priority) per host and ignores the other fields.
  perHost.forEach((t) => {
    if ((t.priority ?? 'DEFAULT') === 'DEFAULT' && t.max_connections !== undefined && perHostMaxConnections === Infinity) {
      perHostMaxConnections = t.max_connections;
    }
  });
  return { managers, perHostMaxConnections };
}
