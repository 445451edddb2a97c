// STRICT_DNS and LOGICAL_DNS clusters.
//
// STRICT_DNS: every lb_endpoint's name is resolved every dns_refresh_rate (default 5 s; the
// answer's TTL with respect_dns_ttl) and each address becomes a host carrying the endpoint's
// weight, priority, locality, metadata and health status.
// LOGICAL_DNS: a single endpoint; one host whose address follows the first address of the latest
// answer, so new connections go to the newest address while existing ones are untouched.
// A failed resolution keeps the last good hosts and retries after dns_failure_refresh_rate
// (exponential backoff between base_interval and max_interval) or dns_refresh_rate.
// The cluster is initialized once every endpoint has had its first answer or failure.
import { ConfigError, joinPath } from '../config/errors';
import type { Plain } from '../config/plain';
import type { LbPolicyConfig } from '../lb/lb_config';
import { ClusterBase, type ClusterDeps } from './cluster_base';
import type { ClusterInfoImpl } from './cluster_info';
import { resolverForCluster, type DnsLookupFamily, type DnsResolveFn } from './dns';
import { LogicalHost, type HostImpl } from './host';
import { hostFromSpec, type EndpointSpec, type ParsedAssignment } from './load_assignment';
import type { Host } from './types';

export const DEFAULT_DNS_REFRESH_MS = 5000;
const FAMILIES = new Set(['AUTO', 'V4_ONLY', 'V6_ONLY', 'V4_PREFERRED', 'ALL']);

export interface DnsSettings {
  refreshMs: number;
  respectTtl: boolean;
  family: DnsLookupFamily;
  failureBaseMs: number;
  failureMaxMs: number;
  resolve: DnsResolveFn;
}

export function parseDnsSettings(c: Plain, path: string, override?: DnsResolveFn): DnsSettings {
  const refreshMs = c.dns_refresh_rate ?? DEFAULT_DNS_REFRESH_MS;
  if (!(refreshMs >= 1)) throw new ConfigError(joinPath(path, 'dns_refresh_rate'), 'must be at least 1ms');
  const family = c.dns_lookup_family ?? 'AUTO';
  if (!FAMILIES.has(family)) throw new ConfigError(joinPath(path, 'dns_lookup_family'), `unknown DNS lookup family ${family}`);
  let failureBaseMs = refreshMs;
  let failureMaxMs = refreshMs;
  const fr = c.dns_failure_refresh_rate;
  if (fr) {
    const fp = joinPath(path, 'dns_failure_refresh_rate');
    failureBaseMs = fr.base_interval ?? 0;
    if (!(failureBaseMs >= 1)) throw new ConfigError(joinPath(fp, 'base_interval'), 'must be at least 1ms');
    failureMaxMs = fr.max_interval ?? failureBaseMs * 10;
    if (!(failureMaxMs > failureBaseMs)) throw new ConfigError(joinPath(fp, 'max_interval'), 'must be greater than base_interval');
  }
  return {
    refreshMs, respectTtl: c.respect_dns_ttl === true, family: family as DnsLookupFamily, failureBaseMs, failureMaxMs,
    resolve: resolverForCluster(c, path, override),
  };
}

/** One name being resolved on its own schedule. */
class Target {
  timer: NodeJS.Timeout | null = null;
  done = false;
  failures = 0;
  constructor(readonly spec: EndpointSpec) {}
}

export abstract class DnsClusterBase extends ClusterBase {
  protected readonly targets: Target[];
  private pendingFirst: number;

  constructor(info: ClusterInfoImpl, lbConfig: LbPolicyConfig, deps: ClusterDeps,
    protected readonly dns: DnsSettings, protected readonly assignment: ParsedAssignment) {
    super(info, lbConfig, deps);
    this.targets = assignment.endpoints.map((s) => new Target(s));
    this.pendingFirst = this.targets.length;
  }

  start(): void {
    if (this.targets.length === 0) { this.markInitialized(); return; }
    for (const t of this.targets) this.resolve(t);
  }

  private resolve(t: Target): void {
    if (this.stopped) return;
    t.timer = null;
    this.info.stats.update_attempt.value++;
    this.dns.resolve(t.spec.address, this.dns.family).then(
      (a) => {
        if (this.stopped) return;
        this.info.stats.update_success.value++;
        t.failures = 0;
        try {
          this.onAnswer(t, a.addresses);
        } catch (e) {
          this.log.error(`cluster ${this.info.name}: applying DNS answer for ${t.spec.address}: ${(e as Error).message}`);
        }
        const ttlMs = this.dns.respectTtl && a.ttlSec > 0 ? a.ttlSec * 1000 : 0;
        this.schedule(t, ttlMs || this.dns.refreshMs);
        this.firstDone(t);
      },
      (e) => {
        if (this.stopped) return;
        this.info.stats.update_failure.value++;
        this.log.debug(`cluster ${this.info.name}: DNS resolution of ${t.spec.address} failed: ${(e as Error).message}`);
        const backoff = Math.min(this.dns.failureMaxMs, this.dns.failureBaseMs * 2 ** Math.min(t.failures, 30));
        t.failures++;
        this.schedule(t, backoff);
        this.firstDone(t);
      },
    );
  }

  private schedule(t: Target, ms: number): void {
    if (this.stopped) return;
    t.timer = setTimeout(() => this.resolve(t), ms);
    t.timer.unref();
  }

  private firstDone(t: Target): void {
    if (t.done) return;
    t.done = true;
    if (--this.pendingFirst === 0) this.markInitialized();
  }

  protected abstract onAnswer(t: Target, addresses: string[]): void;

  override shutdown(): void {
    super.shutdown();
    for (const t of this.targets) if (t.timer) { clearTimeout(t.timer); t.timer = null; }
  }
}

export class StrictDnsCluster extends DnsClusterBase {
  private readonly hostsOf = new Map<Target, HostImpl[]>();

  protected onAnswer(t: Target, addresses: string[]): void {
    const s = t.spec;
    const hostname = s.hostname || s.address;
    const prev = this.hostsOf.get(t);
    if (prev && prev.length === addresses.length && prev.every((h, i) => h.address === addresses[i])) return;
    this.hostsOf.set(t, addresses.map((a) => hostFromSpec(s, a, hostname)));
    // Rebuild the target's priority from every target of that priority.
    const hosts: Host[] = [];
    for (const other of this.targets) {
      if (other.spec.priority !== s.priority) continue;
      const hs = this.hostsOf.get(other);
      if (hs) for (const h of hs) hosts.push(h);
    }
    const pa = this.assignment;
    this.updateHosts(s.priority, hosts, {
      localityWeights: pa.localityWeights[s.priority], overprovisioningFactor: pa.overprovisioningFactor,
      weightedPriorityHealth: pa.weightedPriorityHealth,
    });
  }
}

export class LogicalDnsCluster extends DnsClusterBase {
  private host: LogicalHost | null = null;

  protected onAnswer(t: Target, addresses: string[]): void {
    // An empty answer keeps the current address (Envoy only updates on a non-empty response).
    if (addresses.length === 0) return;
    const s = t.spec;
    if (this.host === null) {
      const h = new LogicalHost({
        address: addresses[0], port: s.port, hostname: s.hostname || s.address, weight: s.weight, priority: s.priority,
        locality: s.locality, metadata: s.metadata, healthFlags: s.healthFlags,
      });
      this.host = h;
      const pa = this.assignment;
      this.updateHosts(s.priority, [h], {
        localityWeights: pa.localityWeights[s.priority], overprovisioningFactor: pa.overprovisioningFactor,
        weightedPriorityHealth: pa.weightedPriorityHealth,
      });
    } else if (this.host.address !== addresses[0]) {
      this.host.setAddress(addresses[0]);
    }
  }

  /** The logical host (null before the first answer). */
  logicalHost(): Host | null { return this.host; }
}
