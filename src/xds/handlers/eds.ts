// EDS: ClusterLoadAssignments by service name (eds_cluster_config.service_name, else the
// cluster name). Each EDS cluster (active or warming, dynamic or static) holds a reference on
// its service name; the names with references are the EDS subscription.
//
// - An assignment is validated (parseLoadAssignment: addresses, weights, priorities, LEDS...)
//   before anything is applied; one bad assignment NACKs the whole response.
// - An assignment for a name no cluster asked for is NACKed (`ClusterLoadAssignment "<name>":
//   no cluster uses this EDS service name`), except for names dropped recently (a response
//   that crossed our unsubscribe), which are ignored.
// - Accepted assignments are cached (Envoy's EDS resource cache): a cluster that is (re)built
//   for a cached name warms from the cache at once instead of waiting for the control plane to
//   resend it; the cache entry goes when the last cluster using the name goes.
// - Host health (health_status UNHEALTHY / DRAINING / DEGRADED...) is the cluster code's
//   (edsHealthFlags): such hosts are not picked.
// - Removal (delta removed_resources): clusters keep their hosts; a warming cluster finishes
//   warming without hosts (Envoy: update_empty + init complete). TTL expiry: the hosts go.
import type { Plain } from '../../config/plain';
import type { Logger } from '../../server/context';
import { parseLoadAssignment } from '../../cluster/load_assignment';
import { TYPE, type ResourceHandler, type ResourceUpdate } from '../types';
import { NamedSubscriptions, XdsRejection, checkDuplicates, jsonOf, rejectResource, type JsonSource } from './common';

export const CLA_TYPE = 'envoy.config.endpoint.v3.ClusterLoadAssignment';

export interface CachedAssignment {
  readonly name: string;
  /** Plain ClusterLoadAssignment. */
  readonly assignment: Plain;
  readonly json: JsonSource;
  readonly versionInfo: string;
  /** ms since the epoch. */
  readonly lastUpdated: number;
}

/** What EDS tells the clusters side (CdsHandler). */
export interface AssignmentSink {
  onAssignment(serviceName: string, a: CachedAssignment): void;
  onAssignmentRemoved(serviceName: string): void;
}

const RECENT_LIMIT = 4096;

export class EdsHandler implements ResourceHandler {
  readonly subscriptions: NamedSubscriptions;
  private readonly cache = new Map<string, CachedAssignment>();
  /** Names unsubscribed recently (insertion order = age), tolerated in responses. */
  private readonly recent = new Set<string>();
  private sink: AssignmentSink | null = null;

  constructor(private readonly log: Logger) {
    this.subscriptions = new NamedSubscriptions(TYPE.ENDPOINT, log);
  }

  setSink(sink: AssignmentSink): void { this.sink = sink; }

  /** A cluster needs this service name. */
  watch(serviceName: string): void {
    this.recent.delete(serviceName);
    this.subscriptions.ref(serviceName);
  }

  /** A cluster no longer needs this service name. */
  unwatch(serviceName: string): void {
    this.subscriptions.unref(serviceName);
    if (!this.subscriptions.has(serviceName)) {
      this.cache.delete(serviceName);
      this.recent.add(serviceName);
      if (this.recent.size > RECENT_LIMIT) this.recent.delete(this.recent.values().next().value as string);
    }
  }

  cached(serviceName: string): CachedAssignment | undefined { return this.cache.get(serviceName); }

  apply(update: ResourceUpdate): void {
    checkDuplicates('ClusterLoadAssignment', update.added);
    const accepted: CachedAssignment[] = [];
    const now = Date.now();
    for (const r of update.added) {
      const name = r.name;
      if (!this.subscriptions.has(name)) {
        if (this.recent.has(name)) {
          this.log.debug(`eds: ignoring assignment for "${name}": no longer subscribed`);
          continue;
        }
        throw new XdsRejection(`ClusterLoadAssignment "${name}": no cluster uses this EDS service name (unknown cluster)`);
      }
      try {
        parseLoadAssignment(r.resource, '', 'ip');
      } catch (e) {
        throw rejectResource('ClusterLoadAssignment', name, e);
      }
      accepted.push({ name, assignment: r.resource, json: jsonOf(r), versionInfo: r.version || update.versionInfo, lastUpdated: now });
    }
    // Commit: nothing below throws.
    for (const a of accepted) {
      this.cache.set(a.name, a);
      this.sink?.onAssignment(a.name, a);
    }
    for (const name of update.removed) {
      if (!this.subscriptions.has(name)) continue;
      this.cache.delete(name);
      this.sink?.onAssignmentRemoved(name);
    }
  }

  onExpired(_typeUrl: string, names: string[]): void {
    const now = Date.now();
    for (const name of names) {
      if (!this.subscriptions.has(name)) continue;
      this.log.warn(`eds: assignment "${name}" expired (TTL); removing its endpoints`);
      const a: CachedAssignment = { name, assignment: { cluster_name: name, endpoints: [], named_endpoints: {} }, json: () => ({ cluster_name: name }), versionInfo: '', lastUpdated: now };
      this.cache.set(name, a);
      this.sink?.onAssignment(name, a);
    }
  }

  /** EndpointsConfigDump.dynamic_endpoint_configs (proto3 JSON), sorted by name. */
  configDump(): object[] {
    return [...this.cache.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((a) => ({
      version_info: a.versionInfo,
      endpoint_config: { '@type': TYPE.ENDPOINT, ...(a.json() ?? { cluster_name: a.name }) },
      last_updated: new Date(a.lastUpdated).toISOString(),
    }));
  }

  stop(): void { this.subscriptions.stop(); }
}
