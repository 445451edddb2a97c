// Upstream hosts (Envoy HostImpl). Per-host stats are plain Counter/Gauge objects that are
// NOT registered in the stats store: Envoy shows them only in /clusters.
import { Counter, Gauge } from '../stats/stats';
import type { Plain } from '../config/plain';
import {
  HealthFlag, HostHealth, UNHEALTHY_FLAGS, DEGRADED_FLAGS, EXCLUDED_FLAGS,
  type Host, type HostStats, type HostOutlierView, type Locality,
} from './types';

/** Envoy's ALL_HOST_STATS, counters first then gauges (the order /clusters?format=json uses). */
export function makeHostStats(): HostStats {
  return {
    cx_connect_fail: new Counter('cx_connect_fail'),
    cx_total: new Counter('cx_total'),
    rq_error: new Counter('rq_error'),
    rq_success: new Counter('rq_success'),
    rq_timeout: new Counter('rq_timeout'),
    rq_total: new Counter('rq_total'),
    cx_active: new Gauge('cx_active'),
    rq_active: new Gauge('rq_active'),
  };
}

export const EMPTY_LOCALITY: Locality = Object.freeze({ region: '', zone: '', sub_zone: '' });

export function localityKey(l: Locality): string {
  return l.region + '\u0000' + l.zone + '\u0000' + l.sub_zone;
}

export function compareLocality(a: Locality, b: Locality): number {
  if (a.region !== b.region) return a.region < b.region ? -1 : 1;
  if (a.zone !== b.zone) return a.zone < b.zone ? -1 : 1;
  if (a.sub_zone !== b.sub_zone) return a.sub_zone < b.sub_zone ? -1 : 1;
  return 0;
}

/** Envoy Address::Instance::asString(): 1.2.3.4:80, [::1]:80, or the pipe path. */
export function addressKey(address: string, port: number, pipePath = ''): string {
  if (pipePath) return pipePath;
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** Health flag bits for an endpoint's EDS health_status (Envoy's mapping). */
export function edsHealthFlags(status: string | undefined): number {
  switch (status) {
    case 'UNHEALTHY':
    case 'TIMEOUT':
      return HealthFlag.FailedEdsHealth;
    case 'DRAINING':
      return HealthFlag.EdsStatusDraining;
    case 'DEGRADED':
      return HealthFlag.DegradedEdsHealth;
    default:
      return 0;
  }
}

const EDS_FLAGS = HealthFlag.FailedEdsHealth | HealthFlag.EdsStatusDraining | HealthFlag.DegradedEdsHealth;

export interface HostInit {
  address: string;
  port: number;
  pipePath?: string;
  hostname?: string;
  weight?: number;
  priority?: number;
  locality?: Locality;
  metadata?: Plain;
  healthFlags?: number;
}

export class HostImpl implements Host {
  key: string;
  address: string;
  port: number;
  pipePath: string;
  hostname: string;
  weight: number;
  priority: number;
  locality: Locality;
  metadata: Plain;
  canary: boolean;
  healthFlags: number;
  /** Replaceable so /clusters can render other stat sets (Envoy's counters()/gauges()). */
  stats: HostStats;
  readonly pools = new Map<string, unknown>();
  outlier: HostOutlierView | null = null;

  constructor(init: HostInit) {
    this.address = init.address;
    this.port = init.port;
    this.pipePath = init.pipePath ?? '';
    this.key = addressKey(this.address, this.port, this.pipePath);
    this.hostname = init.hostname ?? '';
    this.weight = init.weight ?? 1;
    this.priority = init.priority ?? 0;
    this.locality = init.locality ?? EMPTY_LOCALITY;
    this.metadata = init.metadata ?? {};
    this.canary = isCanary(this.metadata);
    this.healthFlags = init.healthFlags ?? 0;
    this.stats = makeHostStats();
  }

  /** Requests outstanding; the same number as stats.rq_active (one source of truth). */
  get activeRequests(): number { return this.stats.rq_active.value; }
  set activeRequests(v: number) { this.stats.rq_active.set(v); }

  healthy(): boolean { return (this.healthFlags & UNHEALTHY_FLAGS) === 0; }

  health(): HostHealth {
    const f = this.healthFlags;
    if (f & UNHEALTHY_FLAGS) return HostHealth.Unhealthy;
    if (f & DEGRADED_FLAGS) return HostHealth.Degraded;
    return HostHealth.Healthy;
  }

  excluded(): boolean { return (this.healthFlags & EXCLUDED_FLAGS) !== 0; }

  /**
   * Take over the config-derived attributes of `next` (a freshly parsed host with the same key),
   * keeping this object's stats, pools, outlier state and non-EDS health flags.
   * Returns true when something load balancing cares about changed.
   */
  updateFrom(next: HostImpl): boolean {
    let changed = false;
    if (this.weight !== next.weight) { this.weight = next.weight; changed = true; }
    if (this.priority !== next.priority) { this.priority = next.priority; changed = true; }
    const eds = next.healthFlags & EDS_FLAGS;
    if ((this.healthFlags & EDS_FLAGS) !== eds) { this.healthFlags = (this.healthFlags & ~EDS_FLAGS) | eds; changed = true; }
    if (this.locality.region !== next.locality.region || this.locality.zone !== next.locality.zone || this.locality.sub_zone !== next.locality.sub_zone) {
      this.locality = next.locality; changed = true;
    }
    this.hostname = next.hostname;
    this.metadata = next.metadata;
    this.canary = next.canary;
    return changed;
  }
}

/**
 * LOGICAL_DNS's single host: its address follows the latest DNS answer, so new connections
 * go to the newest address while pools and stats stay with the one host object.
 */
export class LogicalHost extends HostImpl {
  setAddress(address: string): void {
    this.address = address;
    this.key = addressKey(address, this.port);
  }
}

function isCanary(metadata: Plain): boolean {
  const lb = metadata && typeof metadata === 'object' ? metadata['envoy.lb'] : undefined;
  return !!lb && typeof lb === 'object' && lb.canary === true;
}
